"""Training rows leave out the first weeks, whose windows reach back before the export."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.manifest import Manifest, SnapshotDates
from training.frames import full_windows_from, longest_window_days, split_frames
from training.splits import Period, Splits

D = dt.date


def _rows(first: dt.date, weeks: int) -> pd.DataFrame:
    dates = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    return pd.DataFrame({"as_of": dates, "churned": [i % 2 for i in range(weeks)]})


def _splits(first: dt.date, inner_weeks: int) -> Splits:
    week = dt.timedelta(weeks=1)
    inner_end = first + (inner_weeks - 1) * week
    return Splits(
        train=Period(first, inner_end + 20 * week),
        validation=Period(inner_end + 14 * week, inner_end + 20 * week),
        calibration=Period(inner_end + 34 * week, inner_end + 40 * week),
        test=Period(inner_end + 54 * week, inner_end + 60 * week),
        inner_train_end=inner_end,
        shrunk=False,
    )


def test_the_longest_window_and_the_first_date_that_reads_it_whole() -> None:
    manifest = Manifest(
        features=[{"window": "90d"}, {"window": "12w"}, {"window": None}, {"window": "7d"}],
        export_date=D(2024, 6, 3),
        horizon_days=90,
        snapshot_dates=SnapshotDates(first=D(2024, 1, 1)),
    )
    assert longest_window_days(manifest) == 90
    assert full_windows_from(manifest) == D(2024, 3, 31)
    bare = Manifest(features=[], export_date=D(2024, 6, 3), horizon_days=90)
    assert full_windows_from(bare) is None


def test_training_rows_start_once_windows_are_whole_unless_the_export_is_short() -> None:
    first = D(2024, 1, 1)
    rows = _rows(first, 120)
    full_from = first + dt.timedelta(days=90)
    frames = split_frames(rows, _splits(first, 30), full_from)
    assert frames["inner"]["as_of"].min() >= full_from
    assert frames["train"]["as_of"].min() >= full_from
    assert frames["inner"]["as_of"].nunique() == 30 - 13
    assert len(frames["test"]) == 7  # other periods untouched
    kept = split_frames(rows, _splits(first, 15), full_from)  # 2 whole weeks only: keep all
    assert kept["inner"]["as_of"].min() == first
    assert split_frames(rows, _splits(first, 30))["inner"]["as_of"].min() == first
