"""Churn lives, snapshot dates and labels, from the subscriptions table.

Rules (the data contract's, made exact):

- A **life** is a run of subscription periods of one account in which every restart begins
  at most `grace_gap_days` days after the latest end date seen so far
  (`start_date - covered_until <= grace_gap_days`: a restart 30 days after the end date is
  the same life, 31 days after is a new one). A period without `end_date` is still running.
- A life's **last day** is its latest `end_date` (none when a period is still running). Its
  **churn date** is that last day, but only once it is known: `last_day + grace_gap_days <
  export_date`; a later or open-ended last day is "not churned as far as known".
- A **snapshot row** exists for (account, life, as_of) when `life_start <= as_of <= last_day`
  (open-ended lives up to the export date). Snapshots that fall inside a lapse of at most
  the grace gap are kept: the account came back, so at that date its churn was not decided
  and it is a fair row to score. No row exists after the last day of a life, so a row on the
  churn day itself is the last row of that life.
- **Label** `churned` = 1 when the known churn date is in `[as_of, as_of + horizon_days)`;
  null when `as_of + horizon_days + grace_gap_days > export_date` (cannot be known yet),
  even when a churn is already known inside the window: labelling only the churns of those
  weeks would make them look all-churn to anything that trains or evaluates on them; else 0.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

_OPEN = np.iinfo(np.int64).max // 2  # stands for "still running" in day arithmetic
_EPOCH = np.datetime64("1970-01-01", "D")


def day_numbers(values: pd.Series) -> np.ndarray:
    """Dates as int days since 1970-01-01; missing as _OPEN."""
    stamps = pd.to_datetime(values)
    out = np.full(len(stamps), _OPEN, dtype=np.int64)
    ok = stamps.notna().to_numpy()
    out[ok] = (stamps[ok].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    return out


def _dates(days: np.ndarray) -> pd.Series:
    """Int days back to a datetime64 Series; _OPEN becomes NaT."""
    stamps = (_EPOCH + np.where(days >= _OPEN, 0, days).astype("timedelta64[D]")).astype(
        "datetime64[s]"
    )
    return pd.Series(np.where(days >= _OPEN, np.datetime64("NaT"), stamps), dtype="datetime64[s]")


def build_lives(subscriptions: pd.DataFrame, grace_gap_days: int) -> pd.DataFrame:
    """One row per (account_id, life): `life_start`, `last_day` (NaT = still running)."""
    subs = pd.DataFrame(
        {
            "account_id": subscriptions["account_id"].astype("str").to_numpy(),
            "start": day_numbers(subscriptions["start_date"]),
            "end": day_numbers(subscriptions["end_date"]),
        }
    ).sort_values(["account_id", "start", "end"], kind="stable", ignore_index=True)
    covered = subs.groupby("account_id", sort=False)["end"].cummax()
    previous = covered.groupby(subs["account_id"], sort=False).shift(1)
    new_life = previous.isna() | (subs["start"] - previous.fillna(0) > grace_gap_days)
    subs["life"] = new_life.astype(np.int32).groupby(subs["account_id"], sort=False).cumsum()
    lives = subs.groupby(["account_id", "life"], sort=True, as_index=False).agg(
        life_start=("start", "min"), last_day=("end", "max")
    )
    return pd.DataFrame(
        {
            "account_id": lives["account_id"].astype("str"),
            "life": lives["life"].astype("int32"),
            "life_start": _dates(lives["life_start"].to_numpy()),
            "last_day": _dates(lives["last_day"].to_numpy()),
        }
    )


def snapshot_dates(first_day: dt.date, export_date: dt.date, frequency: str) -> pd.DatetimeIndex:
    """Snapshot dates from the first `frequency` date on or after `first_day` to the export date."""
    return pd.date_range(pd.Timestamp(first_day), pd.Timestamp(export_date), freq=frequency)


def build_snapshots(
    lives: pd.DataFrame,
    dates: pd.DatetimeIndex,
    export_date: dt.date,
    horizon_days: int,
    grace_gap_days: int,
) -> pd.DataFrame:
    """One row per (account, life) active on each snapshot date, with `churn_date`, `churned`."""
    grid = (dates.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    export = int((np.datetime64(export_date, "D") - _EPOCH).astype(np.int64))
    start = day_numbers(lives["life_start"])
    last = day_numbers(lives["last_day"])
    lo = np.searchsorted(grid, start, side="left")
    hi = np.searchsorted(grid, np.minimum(last, export), side="right")
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lives)), counts)
    first = np.repeat(lo, counts)
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    as_of = grid[first + step] if len(owner) else np.array([], dtype=np.int64)

    churn = last[owner]
    known = churn + grace_gap_days < export  # _OPEN never passes
    inside = known & (churn < as_of + horizon_days)
    knowable = as_of + horizon_days + grace_gap_days <= export
    churned = pd.array(np.where(inside, 1, 0), dtype="Int8")
    churned[~knowable] = pd.NA
    return pd.DataFrame(
        {
            "account_id": lives["account_id"].to_numpy()[owner],
            "as_of": _dates(as_of),
            "life": lives["life"].to_numpy()[owner].astype("int32"),
            "life_start": _dates(start[owner]),
            "churn_date": _dates(np.where(known, churn, _OPEN)),
            "churned": churned,
        }
    )
