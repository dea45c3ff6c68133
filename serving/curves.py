"""The risk curve's columns of a scored week, as the report and the API read them.

`score` writes them after SCORE_COLUMNS (`serving/scoring.py`, `training/curve.py`): the
probability of churn within each horizon of the model's curve (`p_churn_30d`, ...), the next
renewal (`next_renewal`, NaT when unknown; in the past during a payment lapse) and the
probability of churn by it (`p_churn_by_renewal`, NaN when the renewal is unknown). A week
scored before the curve existed has none of them: every reader here answers None for it.
Imported lazily by the API (pandas is not loaded at start-up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from features.labels import (
    NEXT_RENEWAL,
    RENEWAL_FEATURE,
    RENEWAL_PROBABILITY,
    horizon_of,
    probability_column,
)


def curve_horizons(columns: Any) -> list[int]:
    """The horizons (days) whose probability `columns` hold, shortest first; [] for none."""
    return sorted(h for c in columns if (h := horizon_of(str(c))) is not None)


def _value(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _date(value: Any) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def renewal_of(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A scores row's next renewal (date), the days from `as_of` to it and P(churn by it).

    None for each where the row does not know it (no renewal, or scored before the curve);
    `days_to_renewal` is negative in a payment lapse (the renewal already passed).
    """
    renewal = _date(row.get(NEXT_RENEWAL))
    days = None if renewal is None else (renewal - pd.Timestamp(row["as_of"]).date()).days
    return {
        "next_renewal": renewal,
        "days_to_renewal": days,
        "p_churn_by_renewal": _value(row.get(RENEWAL_PROBABILITY)),
    }


def risk_curve(row: Mapping[Any, Any], horizons: list[int]) -> list[dict[str, Any]] | None:
    """[{horizon_days, probability}] of a scores row, shortest first; None without a curve."""
    points = [
        {"horizon_days": h, "probability": p}
        for h in horizons
        if (p := _value(row.get(probability_column(h)))) is not None
    ]
    return points or None


def curve_fields(row: Mapping[Any, Any], horizons: list[int]) -> dict[str, Any]:
    """The curve's fields of the API's `AccountRisk`, as JSON values (dates as ISO strings)."""
    renewal = renewal_of(row)
    when = renewal["next_renewal"]
    return renewal | {
        "next_renewal": None if when is None else when.isoformat(),
        "risk_curve": risk_curve(row, horizons),
    }


def live_curve(
    curve: pd.DataFrame | None, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per live row, the curve's fields of a `Prediction` from `predict_curve`'s frame.

    A live row has no `as_of`, so no renewal date: `days_to_renewal` is the row's feature.
    `curve` None (a model without a curve): no curve and no renewal probability.
    """
    horizons = [] if curve is None else curve_horizons(curve.columns)
    records = [{}] * len(rows) if curve is None else curve.to_dict("records")
    out = []
    for values, row in zip(records, rows, strict=True):
        days = row.get(RENEWAL_FEATURE)
        out.append(
            {
                "risk_curve": risk_curve(values, horizons) if len(horizons) > 1 else None,
                "next_renewal": None,
                "days_to_renewal": None if days is None else int(days),
                "p_churn_by_renewal": _value(values.get(RENEWAL_PROBABILITY)),
            }
        )
    return out


def renewals_due(scores: pd.DataFrame, days: int) -> pd.DataFrame:
    """Accounts whose next renewal is at most `days` after `as_of`, the most at stake first.

    A renewal already passed (a payment lapse) is due now and is kept. At stake: MRR x
    P(churn by the renewal), the revenue the renewal is expected to lose; ties go to the
    higher probability, then the account id. Empty for a week scored without the curve.
    """
    if NEXT_RENEWAL not in scores or RENEWAL_PROBABILITY not in scores:
        return scores.iloc[:0].assign(days_to_renewal=pd.Series(dtype=float), at_stake=0.0)
    as_of = pd.to_datetime(scores["as_of"]).dt.normalize()
    to_renewal = (pd.to_datetime(scores[NEXT_RENEWAL]).dt.normalize() - as_of).dt.days
    due = scores.assign(
        days_to_renewal=to_renewal,
        at_stake=scores["mrr"].fillna(0.0) * scores[RENEWAL_PROBABILITY],
    )
    due = due[due["days_to_renewal"].le(days) & due[RENEWAL_PROBABILITY].notna()]
    return due.sort_values(
        ["at_stake", RENEWAL_PROBABILITY, "account_id"], ascending=[False, False, True]
    )
