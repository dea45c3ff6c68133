"""Labels of the risk curve: churn within each horizon and by the next renewal, censored.

Every label here is computed from the snapshot table's `churn_date` (a life's last day, set
only once `last_day + grace_gap_days < export_date`) and, for the renewal, from the feature
`account_days_to_renewal` (the next renewal as known on `as_of`, whichever way the export
writes a still-running row: see `features/accounts.py`). Nothing is learned here.

- **Horizon h**: `churned_{h}d` = 1 when the churn date is in `[as_of, as_of + h)`; unknown
  (censored) while `as_of + h + grace_gap_days > export_date`, as the headline label
  (`features/lives.py`) with `h = horizon_days`.
- **Next renewal** R: `as_of + account_days_to_renewal`; NaT when the interval is unknown. In a
  payment lapse the renewal already passed (R < as_of): the decision is due now.
- **By renewal**: `churned_by_renewal` = 1 when the churn date is in
  `[as_of, max(R, as_of) + grace_gap_days)`: the account leaves at its next renewal or
  before it (a last day written up to the grace gap after the renewal still counts). Unknown
  while that window plus the grace gap runs past the export, and when R is unknown.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from features.lives import day_numbers

RENEWAL_FEATURE = "account_days_to_renewal"
NEXT_RENEWAL = "next_renewal"
RENEWAL_LABEL = "churned_by_renewal"
RENEWAL_PROBABILITY = "p_churn_by_renewal"


def probability_column(horizon_days: int) -> str:
    """`p_churn_90d` for 90: the column of the probability of churn within the horizon."""
    return f"p_churn_{horizon_days}d"


def label_column(horizon_days: int) -> str:
    """`churned_90d` for 90: the column of the label of the horizon."""
    return f"churned_{horizon_days}d"


def horizon_of(column: str) -> int | None:
    """90 for `p_churn_90d`: the horizon of a probability column (None for any other)."""
    match = re.fullmatch(r"p_churn_(\d+)d", column)
    return int(match.group(1)) if match else None


def _export_day(export_date: dt.date) -> int:
    return int(day_numbers(pd.Series([export_date]))[0])


def _label(churn: np.ndarray, as_of: np.ndarray, end: np.ndarray, known: np.ndarray) -> pd.Series:
    """1 when `as_of <= churn < end`, 0 otherwise, <NA> where not `known`."""
    out = pd.array(np.where((churn >= as_of) & (churn < end), 1, 0), dtype="Int8")
    out[~known] = pd.NA
    return pd.Series(out)


def horizon_label(
    frame: pd.DataFrame, horizon_days: int, grace_gap_days: int, export_date: dt.date
) -> pd.Series:
    """Churned within `horizon_days` of `as_of` (Int8, <NA> while censored), index of `frame`."""
    as_of, churn = day_numbers(frame["as_of"]), day_numbers(frame["churn_date"])
    end = as_of + horizon_days
    known = end + grace_gap_days <= _export_day(export_date)
    return _label(churn, as_of, end, known).set_axis(frame.index)


def next_renewal(frame: pd.DataFrame) -> pd.Series:
    """The next renewal date known on `as_of` (datetime64; NaT when the interval is unknown)."""
    if RENEWAL_FEATURE not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
    days = pd.to_timedelta(frame[RENEWAL_FEATURE].astype("Float64").astype(float), unit="D")
    return (pd.to_datetime(frame["as_of"]) + days).astype("datetime64[s]")


def renewal_window_days(frame: pd.DataFrame, grace_gap_days: int) -> pd.Series:
    """Days from `as_of` to the end of the renewal window (float; NaN when R is unknown)."""
    days = (
        frame[RENEWAL_FEATURE].astype("Float64").astype(float) if RENEWAL_FEATURE in frame else None
    )
    if days is None:
        return pd.Series(np.nan, index=frame.index)
    return days.clip(lower=0) + grace_gap_days


def renewal_label(frame: pd.DataFrame, grace_gap_days: int, export_date: dt.date) -> pd.Series:
    """Churned by the next renewal (Int8; <NA> while censored or when R is unknown)."""
    window = renewal_window_days(frame, grace_gap_days).to_numpy()
    as_of, churn = day_numbers(frame["as_of"]), day_numbers(frame["churn_date"])
    has = ~np.isnan(window)
    end = as_of + np.where(has, window, 0).astype(np.int64)
    known = has & (end + grace_gap_days <= _export_day(export_date))
    return _label(churn, as_of, end, known).set_axis(frame.index)


def curve_labels(
    frame: pd.DataFrame, horizons: list[int], grace_gap_days: int, export_date: dt.date
) -> pd.DataFrame:
    """Every horizon's label and the renewal label, one column each, index of `frame`."""
    columns = {
        label_column(h): horizon_label(frame, h, grace_gap_days, export_date) for h in horizons
    }
    columns[RENEWAL_LABEL] = renewal_label(frame, grace_gap_days, export_date)
    return pd.DataFrame(columns, index=frame.index)
