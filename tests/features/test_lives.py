"""Churn lives, snapshot rows and labels on a few hand-built subscriptions."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.lives import build_lives, build_snapshots, snapshot_dates

D = dt.date
FAR = D(2026, 1, 5)  # an export date long after every churn below


def subs(*periods: tuple[str, D, D | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"account_id": a, "start_date": s, "end_date": e, "mrr": 10.0} for a, s, e in periods]
    )


def snaps(frame: pd.DataFrame, export: D = FAR, horizon: int = 90, grace: int = 30):
    lives = build_lives(frame, grace)
    dates = snapshot_dates(frame["start_date"].min(), export, "W-MON")
    out = build_snapshots(lives, dates, export, horizon, grace)
    return out.assign(as_of=out["as_of"].dt.date, churn_date=out["churn_date"].dt.date)


def test_restart_29_days_after_the_end_is_the_same_life_31_is_a_new_one() -> None:
    frame = subs(
        ("same", D(2024, 1, 1), D(2024, 1, 31)),
        ("same", D(2024, 2, 29), D(2024, 3, 31)),  # 29 days after Jan 31
        ("new", D(2024, 1, 1), D(2024, 1, 31)),
        ("new", D(2024, 3, 2), D(2024, 3, 31)),  # 31 days after Jan 31
    )
    lives = build_lives(frame, grace_gap_days=30)
    assert lives.groupby("account_id")["life"].max().to_dict() == {"same": 1, "new": 2}
    assert lives.loc[lives["account_id"] == "same", "last_day"].dt.date.tolist() == [D(2024, 3, 31)]
    new = lives[lives["account_id"] == "new"]
    assert new["life_start"].dt.date.tolist() == [D(2024, 1, 1), D(2024, 3, 2)]
    assert new["last_day"].dt.date.tolist() == [D(2024, 1, 31), D(2024, 3, 31)]


def test_exactly_the_grace_gap_keeps_the_life() -> None:
    frame = subs(("a", D(2024, 1, 1), D(2024, 1, 31)), ("a", D(2024, 3, 1), None))
    assert build_lives(frame, grace_gap_days=30)["life"].tolist() == [1]
    assert build_lives(frame, grace_gap_days=29)["life"].tolist() == [1, 2]


def test_a_payment_lapse_keeps_its_snapshots_and_labels_the_final_churn() -> None:
    # Paid Jan 1-Jan 20, lapse, paid again Feb 5 - Mar 31, then gone.
    out = snaps(subs(("a", D(2024, 1, 1), D(2024, 1, 20)), ("a", D(2024, 2, 5), D(2024, 3, 31))))
    lapse = out[out["as_of"] == D(2024, 1, 29)]  # a Monday inside the lapse
    assert len(lapse) == 1 and lapse["life"].item() == 1
    assert lapse["churn_date"].item() == D(2024, 3, 31)
    assert lapse["churned"].item() == 1
    assert out["as_of"].max() == D(2024, 3, 25)  # no row after the last paid day
    assert set(out["life"]) == {1}


def test_a_still_running_period_never_churns_and_recent_rows_are_unlabeled() -> None:
    export = D(2024, 12, 2)
    out = snaps(subs(("a", D(2024, 1, 1), None)), export=export)
    assert out["churn_date"].isna().all()
    assert out["as_of"].max() == export  # open lives run to the export date
    # Labeled iff as_of + 90 + 30 <= export, i.e. as_of <= 2024-08-04.
    labeled = out[out["churned"].notna()]
    assert labeled["as_of"].max() == D(2024, 7, 29)
    assert (labeled["churned"] == 0).all()
    assert out.loc[out["as_of"] == D(2024, 8, 5), "churned"].isna().all()


def test_label_boundary_is_exact_in_days() -> None:
    # as_of 2024-08-05 is labeled with an export of 2024-12-03 (8-05 + 120 days = 12-03).
    out = snaps(subs(("a", D(2024, 1, 1), None)), export=D(2024, 12, 3))
    assert out.loc[out["as_of"] == D(2024, 8, 5), "churned"].tolist() == [0]


def test_a_snapshot_on_the_churn_day_is_the_last_row_and_is_churned() -> None:
    out = snaps(subs(("a", D(2024, 1, 1), D(2024, 4, 1))))  # 2024-04-01 is a Monday
    last = out.iloc[-1]
    assert last["as_of"] == last["churn_date"] == D(2024, 4, 1)
    assert last["churned"] == 1
    # The window is [as_of, as_of + 90): 90 days before the churn is in, 91 is out.
    by_date = dict(zip(out["as_of"], out["churned"], strict=True))
    assert by_date[D(2024, 1, 8)] == 1  # churn 84 days later
    assert by_date[D(2024, 1, 1)] == 0  # churn 91 days later


def test_a_churn_is_unknown_until_the_grace_gap_has_passed() -> None:
    frame = subs(("a", D(2024, 1, 1), D(2024, 3, 31)))
    assert snaps(frame, export=D(2024, 4, 30))["churn_date"].isna().all()  # 3-31 + 30 = 4-30
    known = snaps(frame, export=D(2024, 5, 1))
    assert (known["churn_date"] == D(2024, 3, 31)).all()
    # The churn is known, but the horizon plus the grace gap reaches past the export date:
    # the label stays unknown, as it does for the accounts that did not churn that week.
    assert known.loc[known["as_of"] == D(2024, 3, 25), "churned"].isna().all()
    assert known.loc[known["as_of"] == D(2024, 1, 1), "churned"].tolist() == [0]


def test_a_second_life_has_its_own_rows_churn_and_label() -> None:
    out = snaps(subs(("a", D(2024, 1, 1), D(2024, 1, 31)), ("a", D(2024, 6, 3), D(2024, 9, 30))))
    first, second = out[out["life"] == 1], out[out["life"] == 2]
    assert first["as_of"].tolist() == [D(2024, 1, d) for d in (1, 8, 15, 22, 29)]
    assert (first["churn_date"] == D(2024, 1, 31)).all() and (first["churned"] == 1).all()
    assert second["as_of"].min() == D(2024, 6, 3)
    assert (second["churn_date"] == D(2024, 9, 30)).all()
    assert not out["as_of"].between(D(2024, 2, 1), D(2024, 6, 2)).any()  # churned: no rows
    assert out["churned"].dtype == "Int8" and out["life"].dtype == "int32"
