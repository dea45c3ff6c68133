"""The risk curve's labels: windows, censoring at the export, and the next renewal on the day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from data.params import BaseParams
from features.labels import (
    curve_labels,
    horizon_label,
    next_renewal,
    renewal_label,
)
from features.params import FeaturesParams
from features.stages import features

EXPORT = dt.date(2024, 12, 31)
D = dt.date


def _rows(*rows: tuple) -> pd.DataFrame:
    """(as_of, churn_date, days_to_renewal) rows."""
    return pd.DataFrame(rows, columns=["as_of", "churn_date", "account_days_to_renewal"])


def _listed(values: pd.Series) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values]


def test_a_horizon_counts_churns_in_as_of_plus_h_and_is_unknown_past_the_export() -> None:
    frame = _rows(
        (D(2024, 1, 1), D(2024, 1, 30), 10.0),  # day 29 of the window: inside 30
        (D(2024, 1, 1), D(2024, 1, 31), 10.0),  # day 30: outside 30, inside 60
        (D(2024, 1, 1), None, 10.0),
        (D(2024, 10, 1), None, 10.0),  # 60 + 30 days after: 2024-12-30, known; 90 not
        (D(2024, 11, 18), D(2024, 11, 20), 10.0),  # window + grace past the export
    )
    got = {h: _listed(horizon_label(frame, h, 30, EXPORT)) for h in (30, 60, 90)}
    assert got[30] == [1, 0, 0, 0, None]
    assert got[60] == [1, 1, 0, 0, None]
    assert got[90] == [1, 1, 0, None, None]


def test_every_curve_label_is_monotone_where_known() -> None:
    frame = _rows(
        *[(D(2023, 1, 2) + dt.timedelta(days=7 * i), D(2023, 9, 1), 100.0) for i in range(40)]
    )
    labels = curve_labels(frame, [30, 60, 90, 180], 30, EXPORT)
    known = labels.dropna()
    assert len(known) == 40  # 2023 dates: every window closed before the export
    for short, long in [
        ("churned_30d", "churned_60d"),
        ("churned_60d", "churned_90d"),
        ("churned_90d", "churned_180d"),
    ]:
        assert (known[short] <= known[long]).all()
    assert known["churned_180d"].sum() > known["churned_30d"].sum() > 0


def test_the_renewal_label_runs_to_the_renewal_plus_grace_and_waits_for_it() -> None:
    frame = _rows(
        (D(2024, 1, 1), D(2024, 7, 10), 190.0),  # renews 07-09: the churn 1 day later counts
        (D(2024, 1, 1), D(2024, 8, 9), 190.0),  # 31 days after the renewal: not this one
        (D(2024, 1, 1), None, None),  # interval unknown: no renewal, no label
        (D(2024, 3, 4), D(2024, 3, 10), -5.0),  # lapse: due now, window of the grace gap
        (D(2024, 10, 7), None, 60.0),  # window + grace runs past the export
    )
    assert _listed(renewal_label(frame, 30, EXPORT)) == [1, 0, None, 1, None]
    renewal = next_renewal(frame)
    assert renewal.iloc[0] == pd.Timestamp("2024-07-09")
    assert pd.isna(renewal.iloc[2])
    assert renewal.iloc[3] == pd.Timestamp("2024-02-28")  # in the past: the lapse


@pytest.mark.parametrize("until", ["2024-03-31", None])
def test_the_next_renewal_is_the_same_for_a_billed_and_an_open_running_period(
    write_validated, tmp_path, until
) -> None:
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b"],
            "created_at": [pd.Timestamp("2024-01-01")] * 2,
            "segment": ["high_touch", "low_touch"],
            "csm_id": ["m1", "m2"],
        }
    )
    columns = ["account_id", "start_date", "end_date", "mrr", "plan", "billing_interval"]
    subs = pd.DataFrame(
        [
            ("a", "2024-01-01", "2024-01-31", 100.0, "pro", "monthly"),
            ("a", "2024-02-01", "2024-02-29", 100.0, "pro", "monthly"),
            ("a", "2024-03-01", until, 100.0, "pro", "monthly"),
            ("b", "2024-01-05", "2025-01-04" if until else None, 80.0, "team", "annual"),
        ],
        columns=columns,
    )
    folder = write_validated({"accounts": accounts, "subscriptions": subs}, D(2024, 4, 1))
    features(folder, tmp_path / "f", BaseParams(), FeaturesParams(history_start="subscriptions"))
    snaps = pd.read_parquet(tmp_path / "f" / "snapshots.parquet").set_index(["account_id", "as_of"])
    renewal = next_renewal(snaps.reset_index()).set_axis(snaps.index)
    assert (renewal.loc["b"] == pd.Timestamp("2025-01-05")).all()
    a = renewal.loc["a"]
    assert a.loc[D(2024, 2, 12)] == pd.Timestamp("2024-03-01")
    assert a.loc[D(2024, 3, 25)] == pd.Timestamp("2024-04-01")
