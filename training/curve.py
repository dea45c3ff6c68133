"""The risk curve: P(churn within each horizon) and P(churn by the next renewal), monotone.

The headline model (`ChurnModel`, horizon `horizon_days`) gives `probability`, unchanged. One
more calibrated `ChurnModel` per other horizon and one for the renewal label (see
`features/labels.py`), fitted with the headline's recipe by `training/curve_fit.py`, give the
rest. Separately calibrated models need not be monotone, so `RiskCurve.predict` repairs the
curve around the headline, which never moves:

- shorter horizons are capped by the next longer one (`p_30 <= p_60 <= p_90`),
- longer ones are floored by the next shorter one (`p_90 <= p_180`),
- the renewal probability, whose window lasts `d` days, is clipped between the horizons that
  bracket `d` (0 below the shortest, no cap past the longest): its window holds the shorter
  one's and lies inside the longer one's.

Each clip only moves a probability that broke the order towards the one it broke it with, so a
model already monotone is left as it is; `evaluate` reports how many rows were repaired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.labels import (
    NEXT_RENEWAL,
    RENEWAL_LABEL,
    RENEWAL_PROBABILITY,
    horizon_of,
    next_renewal,
    probability_column,
    renewal_window_days,
)
from training.model import ChurnModel

RENEWAL = "by_renewal"  # the renewal target's name beside "30d", "60d", ...


def target_name(horizon_days: int) -> str:
    """`30d` for 30: a horizon's name as a target of the curve."""
    return f"{horizon_days}d"


def probability_of(target: str) -> str:
    """The probability column of a target (`p_churn_30d`, `p_churn_by_renewal`)."""
    return RENEWAL_PROBABILITY if target == RENEWAL else f"p_churn_{target}"


def label_of(target: str) -> str:
    """The label column of a target (`churned_30d`, `churned_by_renewal`)."""
    return RENEWAL_LABEL if target == RENEWAL else f"churned_{target}"


@dataclass
class RiskCurve:
    """The fitted models of the curve's other targets, beside a headline model.

    `models` maps a target (`30d`, `60d`, `180d`, `by_renewal`) to its calibrated model;
    `periods` maps it to the time splits it was fitted and judged on (`Splits.as_dict()`).
    """

    horizons: tuple[int, ...]
    headline: int
    grace_gap_days: int
    models: dict[str, ChurnModel]
    periods: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        """Every target of the curve in order: the horizons, then the renewal."""
        return [target_name(h) for h in self.horizons] + [RENEWAL]

    def raw(self, frame: pd.DataFrame, headline: np.ndarray) -> pd.DataFrame:
        """Each target's calibrated probability before the monotone repair."""
        out = {probability_column(self.headline): np.asarray(headline, dtype=float)}
        for target, model in self.models.items():
            out[probability_of(target)] = model.predict_proba(frame)[:, 1]
        return pd.DataFrame(out, index=frame.index)

    def predict(self, frame: pd.DataFrame, headline: np.ndarray) -> pd.DataFrame:
        """The monotone curve, the next renewal and the renewal's probability, per row."""
        return self.repaired(frame, self.raw(frame, headline))

    def repaired(self, frame: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
        """`predict` from the targets' raw probabilities (`raw`) of the rows of `frame`."""
        out = repair(raw, self.horizons, self.headline)
        renewal = None
        if RENEWAL_PROBABILITY in raw:
            window = renewal_window_days(frame, self.grace_gap_days).to_numpy()
            renewal = _bracket(raw[RENEWAL_PROBABILITY].to_numpy(), window, out, self.horizons)
        out[NEXT_RENEWAL] = next_renewal(frame) if "as_of" in frame else pd.NaT
        if renewal is not None:
            out[RENEWAL_PROBABILITY] = renewal
        return out


def repair(raw: pd.DataFrame, horizons: tuple[int, ...], headline: int) -> pd.DataFrame:
    """The horizons' probabilities made monotone around the headline, which stays as it is."""
    out = pd.DataFrame(index=raw.index)
    out[probability_column(headline)] = raw[probability_column(headline)]
    at = horizons.index(headline)
    for i in range(at - 1, -1, -1):  # down from the headline: capped by the next longer one
        column, longer = probability_column(horizons[i]), probability_column(horizons[i + 1])
        out[column] = np.minimum(raw[column], out[longer])
    for i in range(at + 1, len(horizons)):  # up from it: floored by the next shorter one
        column, shorter = probability_column(horizons[i]), probability_column(horizons[i - 1])
        out[column] = np.maximum(raw[column], out[shorter])
    return out[[probability_column(h) for h in horizons]]


def _bracket(
    p: np.ndarray, window: np.ndarray, curve: pd.DataFrame, horizons: tuple[int, ...]
) -> np.ndarray:
    """`p` clipped between the curve at the horizons bracketing each row's window (NaN: none)."""
    values = curve[[probability_column(h) for h in horizons]].to_numpy()
    low = np.zeros(len(p))
    high = np.ones(len(p))
    for i, h in enumerate(horizons):
        low = np.where(window >= h, values[:, i], low)
        high = np.where(window <= h, np.minimum(high, values[:, i]), high)
    out = np.clip(p, low, np.maximum(low, high))
    return np.where(np.isnan(window), np.nan, out)


def predict_curve(
    model: ChurnModel,
    frame: pd.DataFrame,
    horizon_days: int,
    headline: np.ndarray | None = None,
) -> pd.DataFrame:
    """The curve of `model` for `frame` (index of `frame`); `headline`: its probabilities, if known.

    A model fitted before the curve existed (no `curve_`) gives its headline column alone.
    """
    if headline is None:
        headline = model.predict_proba(frame)[:, 1]
    curve: RiskCurve | None = getattr(model, "curve_", None)
    if curve is None:
        return pd.DataFrame({probability_column(horizon_days): headline}, index=frame.index)
    return curve.predict(frame, headline)


def is_curve_column(name: str) -> bool:
    """Whether a scores column belongs to the curve (`p_churn_30d`, `next_renewal`, ...)."""
    return horizon_of(name) is not None or name in (NEXT_RENEWAL, RENEWAL_PROBABILITY)
