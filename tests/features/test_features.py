"""Exact feature values on a few hand-built rows: midnight boundaries, window edges, sources."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from data.params import BaseParams
from features.params import FeaturesParams
from features.stages import features

T = pd.Timestamp
EXPORT = dt.date(2024, 4, 1)
NOON = pd.Timedelta(hours=12)


def tables() -> dict[str, pd.DataFrame]:
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "created_at": [T("2024-01-01"), T("2024-01-01")],
            "name": ["Acme GmbH", None],  # optional: b has none
            "segment": ["high_touch", "low_touch"],
            "csm_id": ["m1", "m2"],
            "industry": ["retail", None],
            "region": ["eu", "us"],
        }
    )
    subs = pd.DataFrame(
        [
            ("a", "2024-01-01", "2024-01-31", 100.0, "pro"),
            ("a", "2024-02-01", "2024-02-29", 100.0, "pro"),
            ("a", "2024-03-01", "2024-03-31", 150.0, "max"),
            ("a", "2024-03-04", None, 50.0, "addon"),  # starts on as_of: unseen by its features
            ("b", "2024-01-01", "2024-01-31", 80.0, "pro"),
        ],
        columns=["account_id", "start_date", "end_date", "mrr", "plan"],
    )
    usage = pd.DataFrame(
        [
            ("a", T("2024-03-03 23:59:59.999999"), "login", "u1", 1.0),
            ("a", T("2024-03-04 00:00:00"), "login", "u2", 1.0),  # on as_of: excluded
            ("a", T("2024-02-26 00:00:00"), "report", "u1", 1.0),  # as_of - 7 days: inside 7d
            ("a", T("2024-02-25 23:59:59"), "export", "u3", 2.0),
            ("a", T("2024-02-05 00:00:00"), "share", "u1", 1.0),  # as_of - 28 days: inside 28d
            ("a", T("2024-02-04 12:00:00"), "login", "u4", 3.0),
            ("a", T("2024-02-10 12:00:00"), "login", "u4", 0.0),  # quantity 0: not activity
            ("b", T("2024-02-20 12:00:00"), "login", "u9", 1.0),
        ],  # after b churned
        columns=["account_id", "occurred_at", "event_type", "user_id", "quantity"],
    )
    tickets = pd.DataFrame(
        [
            ("t1", "a", T("2024-03-01 10:00"), T("2024-03-04 00:00"), "high", 5),
            ("t2", "a", T("2024-02-01 00:00"), T("2024-02-03 00:00"), "normal", 2),
            ("t3", "a", T("2024-03-04 00:00"), None, "urgent", None),
        ],
        columns=["ticket_id", "account_id", "opened_at", "closed_at", "priority", "csat"],
    )
    contacts = pd.DataFrame(
        [
            ("a", T("2024-03-03 23:00"), "call", "outbound"),
            ("a", T("2024-02-20 09:00"), "email", "inbound"),
            ("a", T("2024-03-04 00:00"), "email", "inbound"),
        ],
        columns=["account_id", "occurred_at", "channel", "direction"],
    )
    ratings = pd.DataFrame(
        [
            ("a", T("2024-01-15"), 3, 2),
            ("a", T("2024-02-19"), 2, None),
            ("a", T("2024-02-19"), 1, 3),
            ("a", T("2024-03-04"), 4, 3),
        ],
        columns=["account_id", "rated_at", "risk_rating", "communication_level"],
    )
    return {
        "accounts": accounts,
        "subscriptions": subs,
        "usage_events": usage,
        "tickets": tickets,
        "contacts": contacts,
        "manager_ratings": ratings,
    }


def build(write_validated, tmp_path: Path, data: dict, name: str = "out", **params):
    out = tmp_path / name
    # These hand-built tables start their sources on different days on purpose; the calendar
    # start rule has its own test below.
    settings = {"event_types": ["export"], "history_start": "subscriptions"} | params
    features(write_validated(data, EXPORT), out, BaseParams(), FeaturesParams(**settings))
    snaps = pd.read_parquet(out / "snapshots.parquet")
    snaps["as_of"] = pd.to_datetime(snaps["as_of"])
    return snaps.set_index(["account_id", "as_of"]), json.loads((out / "manifest.json").read_text())


@pytest.fixture
def built(write_validated, tmp_path):
    return build(write_validated, tmp_path, tables())


def test_usage_windows_and_the_midnight_boundary(built) -> None:
    row = built[0].loc[("a", T("2024-03-04"))]
    expected = {
        "usage_events_7d": 2,
        "usage_active_days_7d": 2,
        "usage_active_users_7d": 1,
        "usage_event_types_7d": 2,
        "usage_type_export_7d": 0,
        "usage_events_28d": 5,
        "usage_active_days_28d": 4,
        "usage_active_users_28d": 2,
        "usage_event_types_28d": 4,
        "usage_type_export_28d": 2,
        "usage_events_90d": 8,
        "usage_active_days_90d": 5,
        "usage_active_users_90d": 3,
        "usage_event_types_90d": 4,
        "usage_type_export_90d": 2,
        "usage_events_per_user_28d": 2.5,
        "usage_trend_28d": 5 / 3,
        "usage_active_weeks_share_12w": 4 / 12,
        "usage_days_since_last_event": 1,
        "usage_never": False,
    }
    assert {k: row[k] for k in expected} == pytest.approx(expected)
    weeks = pd.Series([2, 2, 0, 1, 3] + [0] * 7)
    assert row["usage_weekly_events_cv_12w"] == pytest.approx(weeks.std(ddof=0) / weeks.mean())
    first = built[0].loc[("a", T("2024-01-01"))]
    assert first["usage_never"] and pd.isna(first["usage_days_since_last_event"])
    assert first["usage_events_28d"] == 0 and pd.isna(first["usage_trend_28d"])


def test_ticket_features_treat_a_ticket_closed_on_as_of_as_open(built) -> None:
    snaps = built[0]
    row = snaps.loc[("a", T("2024-03-04"))]
    assert row[
        [
            "tickets_opened_30d",
            "tickets_opened_90d",
            "tickets_high_urgent_30d",
            "tickets_open_now",
            "tickets_oldest_open_age_days",
            "tickets_days_since_last",
        ]
    ].tolist() == [1, 2, 1, 1, 3, 3]
    assert row["tickets_resolution_days_mean_90d"] == 2.0
    assert row["tickets_csat_mean_90d"] == row["tickets_csat_last"] == 2.0
    later = snaps.loc[("a", T("2024-03-11"))]
    assert later["tickets_csat_last"] == 5.0 and later["tickets_open_now"] == 1  # t3 now
    assert later["tickets_oldest_open_age_days"] == 7
    assert later["tickets_resolution_days_mean_90d"] == pytest.approx((2 + 62 / 24) / 2)
    assert later["tickets_high_urgent_30d"] == 2


def test_contact_and_rating_features(built) -> None:
    row = built[0].loc[("a", T("2024-03-04"))]
    assert row[
        [
            "contacts_days_since_last",
            "contacts_days_since_last_inbound",
            "contacts_30d",
            "contacts_90d",
        ]
    ].tolist() == [1, 13, 2, 2]
    assert row["contacts_inbound_share_90d"] == 0.5 and not row["contacts_never"]
    # Two ratings on 2024-02-19 read as the most cautious one; the 03-04 one is not yet seen.
    assert row[
        [
            "rating_current",
            "rating_age_days",
            "rating_change",
            "rating_communication_level",
            "rating_count",
        ]
    ].tolist() == [1, 14, -2, 3, 3]
    first = built[0].loc[("a", T("2024-01-15"))]
    assert first["rating_count"] == 0 and pd.isna(first["rating_current"])


def test_account_features_never_see_a_period_starting_on_as_of(built) -> None:
    row = built[0].loc[("a", T("2024-03-04"))]
    assert row[["account_tenure_days", "account_life", "account_life_days"]].tolist() == [63, 1, 63]
    assert row["account_mrr_now"] == 150.0 and row["account_mrr_change_90d"] == 150.0
    assert row["mrr"] == 200.0  # the extra column: MRR in force on as_of, add-on included
    assert row[
        [
            "account_plan",
            "account_billing_interval",
            "account_segment",
            "account_industry",
            "account_region",
        ]
    ].tolist() == ["max", "monthly", "high_touch", "retail", "eu"]
    assert row["account_days_to_renewal"] == 28  # monthly, as its own periods were
    assert row["csm_id"] == "m1" and row["segment"] == "high_touch"
    # The display name rides along for the report, never as a feature; none stays empty.
    assert row["account_name"] == "Acme GmbH"
    assert built[0].loc["b", "account_name"].isna().all()
    assert "account_name" not in [f["name"] for f in built[1]["features"]]


def test_events_after_a_churn_add_no_rows_and_do_not_touch_the_label(
    write_validated, tmp_path, built
) -> None:
    b = built[0].loc["b"]
    assert b.index.max() == T("2024-01-29")
    assert (pd.to_datetime(b["churn_date"]) == T("2024-01-31")).all()
    quiet = tables()
    quiet["usage_events"] = quiet["usage_events"][quiet["usage_events"]["account_id"] != "b"]
    without = build(write_validated, tmp_path, quiet, "quiet")[0].loc["b"]
    pd.testing.assert_series_equal(b["churned"], without["churned"])
    pd.testing.assert_index_equal(b.index, without.index)


def test_missing_sources_are_left_out_and_named(write_validated, tmp_path, built) -> None:
    full, _ = built
    few = {k: v for k, v in tables().items() if k in ("accounts", "subscriptions", "usage_events")}
    snaps, manifest = build(write_validated, tmp_path, few, "few")
    assert manifest["missing_sources"] == ["tickets", "contacts", "manager_ratings"]
    assert {f["source"] for f in manifest["features"]} == {"account", "usage"}
    assert not [c for c in snaps if c.startswith(("tickets_", "contacts_", "rating_"))]
    names = [f["name"] for f in manifest["features"]]
    pd.testing.assert_frame_equal(snaps[names], full[names])


def test_accounts_and_subscriptions_alone_still_run(write_validated, tmp_path) -> None:
    only = {k: v for k, v in tables().items() if k in ("accounts", "subscriptions")}
    snaps, manifest = build(write_validated, tmp_path, only, "only")
    assert manifest["event_types"] == [] and len(snaps) == manifest["rows"] > 0
    assert {f["source"] for f in manifest["features"]} == {"account"}


def test_manifest_describes_every_feature_column(built) -> None:
    snaps, manifest = built
    names = [f["name"] for f in manifest["features"]]
    assert list(snaps.columns) == [
        "life",
        "churned",
        "churn_date",
        "csm_id",
        "segment",
        "mrr",
        "account_name",
        *names,
    ]
    for f in manifest["features"]:
        assert f["dtype"] in {"float", "int", "bool", "category"} and f["description"]
        assert f["name"].startswith(f["source"] + "_")
    assert manifest["event_types"] == ["export"]
    assert manifest["snapshot_dates"] == {"first": "2024-01-01", "last": "2024-04-01", "count": 14}


def test_calendar_starts_when_every_source_has_history(write_validated, tmp_path) -> None:
    # Billing starts 2024-01-01 but the contacts export only on 2024-02-20: Mondays before
    # that would read "never contacted" where nothing is known.
    snaps, manifest = build(write_validated, tmp_path, tables(), history_start="all_sources")
    assert manifest["snapshot_dates"]["first"] == "2024-02-26"
    assert snaps.index.get_level_values("as_of").min() == T("2024-02-26")
    _, by_billing = build(write_validated, tmp_path, tables(), "billing")
    assert by_billing["snapshot_dates"]["first"] == "2024-01-01"


def test_features_needing_a_column_the_export_lacks_are_left_out(write_validated, tmp_path):
    folder = write_validated(tables(), EXPORT)
    report = json.loads((folder / "report.json").read_text())
    report["tables"]["tickets"]["missing_columns"] = ["closed_at", "csat"]
    report["tables"]["usage_events"]["missing_columns"] = ["user_id"]
    (folder / "report.json").write_text(json.dumps(report))
    out = tmp_path / "lacking"
    settings = FeaturesParams(event_types=["export"], history_start="subscriptions")
    manifest = features(folder, out, BaseParams(), settings)
    names = set(manifest.feature_names)
    gone = {"tickets_open_now", "tickets_csat_last", "usage_active_users_7d"}
    assert not names & gone and gone <= set(manifest.features_left_out)
    assert (
        manifest.features_left_out["tickets_open_now"] == "tickets.closed_at is not in the export"
    )
    assert "tickets_opened_30d" in names and "usage_events_7d" in names
    assert not gone & set(pd.read_parquet(out / "snapshots.parquet").columns)


def _renewal_features(write_validated, tmp_path, subs: list[tuple], name: str, **extra):
    data = tables()
    columns = ["account_id", "start_date", "end_date", "mrr", "plan", "billing_interval"]
    data["subscriptions"] = pd.DataFrame(subs, columns=columns)
    c = data["accounts"].iloc[[0]].assign(account_id="c")
    data["accounts"] = pd.concat([data["accounts"], c], ignore_index=True)
    snaps, _ = build(write_validated, tmp_path, data, name, **extra)
    cols = [c for c in snaps if c.startswith("account_")]
    return snaps[cols]


def test_the_renewal_is_read_from_start_and_interval_never_from_a_running_end(
    write_validated, tmp_path
):
    # The same history written three ways: billed to its end, open, and the period's end
    # rewritten to the day the contract ended early (b, 2024-03-10; c: plan changed 03-15).
    def history(a_end, b_end, c_end):
        return [
            ("a", "2024-01-01", "2024-01-31", 100.0, "pro", "monthly"),
            ("a", "2024-02-01", "2024-02-29", 100.0, "pro", "monthly"),
            ("a", "2024-03-01", a_end, 100.0, "pro", "monthly"),
            ("b", "2024-01-05", b_end, 80.0, "team", "annual"),
            ("c", "2024-01-01", c_end, 50.0, "pro", None),
        ]

    billed = history("2024-03-31", "2025-01-04", "2024-12-31")
    frames = {
        "billed": _renewal_features(write_validated, tmp_path, billed, "billed"),
        "open": _renewal_features(write_validated, tmp_path, history(None, None, None), "open"),
        "rewritten": _renewal_features(
            write_validated, tmp_path, history("2024-03-31", "2024-03-10", "2024-03-14"), "rw"
        ),
    }
    for name, got in frames.items():
        early = got[got.index.get_level_values("as_of") <= T("2024-03-04")]
        assert (
            len(early) == len(frames["billed"].loc[early.index]) == 29
        )  # a, c from 01-01, b from 01-08
        pd.testing.assert_frame_equal(early, frames["billed"].loc[early.index], obj=name)
    b = frames["billed"].loc["b"]
    assert b["account_billing_interval"].eq("annual").all()
    days = (T("2025-01-05") - b.index).days
    assert b["account_days_to_renewal"].tolist() == days.tolist()
    a = frames["billed"].loc[("a", T("2024-02-12"))]
    assert a["account_billing_interval"] == "monthly" and a["account_days_to_renewal"] == 18
    # c has no interval of its own: its plan's usual one (a's renewed "pro" period) times it
    # once that renewal is known (2024-02-02), and the anniversaries stand in before.
    c = frames["open"].loc["c"]
    assert pd.isna(c.loc[T("2024-01-29"), "account_billing_interval"])
    assert c.loc[T("2024-01-29"), "account_days_to_monthiversary"] == 3
    assert c.loc[T("2024-01-29"), "account_days_to_anniversary"] == 338
    assert c.loc[T("2024-02-05"), "account_billing_interval"] == "monthly"
    assert c.loc[T("2024-02-05"), "account_days_to_renewal"] == 25
    assert pd.isna(c.loc[T("2024-02-05"), "account_days_to_anniversary"])


def test_a_lapse_reads_days_since_the_paid_period_ended(write_validated, tmp_path):
    subs = [
        ("a", "2024-01-01", "2024-01-31", 100.0, "pro", "monthly"),
        ("a", "2024-02-20", None, 100.0, "pro", "monthly"),  # paid late: same life
    ]
    got = _renewal_features(write_validated, tmp_path, subs, "lapse")
    assert got.loc[("a", T("2024-02-12")), "account_days_to_renewal"] == -11
    assert got.loc[("a", T("2024-02-26")), "account_days_to_renewal"] == 23


def test_subscription_rows_that_are_not_billing_periods_time_the_renewal_by_anniversaries(
    write_validated, tmp_path
):
    # One row per unbroken subscription, its end filled in at cancellation: no row is renewed
    # by the next, so no interval is known and the anniversaries of the start time it.
    subs = [
        ("a", "2024-01-01", None, 100.0, "pro", None),
        ("b", "2024-01-01", "2024-02-14", 80.0, "pro", None),
    ]
    got = _renewal_features(write_validated, tmp_path, subs, "spells")
    assert got["account_billing_interval"].isna().all()
    assert got["account_days_to_renewal"].isna().all()
    got = got[got.index.get_level_values("as_of") > T("2024-01-01")]  # started that day
    as_of = got.index.get_level_values("as_of")
    assert got["account_days_to_anniversary"].tolist() == [
        (T(f"{d.year + 1}-01-01") - d).days for d in as_of
    ]
    assert got["account_days_to_monthiversary"].tolist() == [
        (d + pd.offsets.MonthBegin(0) - d).days for d in as_of
    ]
