"""Scored weeks built inline: three accounts, with or without the risk curve's columns."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from serving.scoring import SCORE_COLUMNS

AS_OF = pd.Timestamp("2026-03-02")
# The risk curve of each account (p_churn_90d is its probability), its next renewal and
# P(churn by it): 18 days ahead, 10 days overdue (a payment lapse), 30 days ahead. In the order
# `score` writes them.
CURVE = {
    "p_churn_30d": [0.1, 0.25, 0.01],
    "p_churn_60d": [0.4, 0.28, 0.03],
    "p_churn_90d": [0.6, 0.3, 0.05],
    "p_churn_180d": [0.8, 0.45, 0.09],
    "next_renewal": pd.to_datetime(["2026-03-20", "2026-02-20", "2026-04-01"]),
    "p_churn_by_renewal": [0.15, 0.25, 0.03],
}


def scores_frame(names: list[str | None], curve: bool = False) -> pd.DataFrame:
    """A scored week of len(names) (at most 3) accounts; `curve`: with the curve's columns."""
    n = len(names)
    frame = pd.DataFrame(
        {
            "rank": range(1, n + 1),
            "account_id": [f"ACC-{i:05d}" for i in range(1, n + 1)],
            "as_of": AS_OF,
            "probability": [0.6, 0.3, 0.05][:n],
            "tier": [1, 2, 4][:n],
            "revenue_at_risk": [600.0, 150.0, 5.0][:n],
            "manager_rating": [3, 1, 2][:n],
            "rating_age_days": [12, 200, None][:n],
            "communication_level": [2, 3, None][:n],
            "days_since_contact": [3, 120, None][:n],
            "segment": ["high_touch", "low_touch", None][:n],
            "csm_id": ["csm_01", "csm_02", None][:n],
            "mrr": [1000.0, 500.0, 100.0][:n],
            "previous_probability": [0.5, 0.35, 0.05][:n],
            "reasons_up": [["Renewal in 7 days", "4 urgent tickets"], ["No call for 120 days"], []][
                :n
            ],
            "reasons_down": [["Logins usual"], [], []][:n],
            "movers": [["Renewal in 7 days (+8.0 pts)"], ["Fewer tickets (-5.0 pts)"], []][:n],
            "account_name": names,
        }
    )
    frame["probability_change"] = frame["probability"] - frame["previous_probability"]
    frame = frame[list(SCORE_COLUMNS)]
    if curve:
        frame = frame.assign(**{k: v[:n] for k, v in CURVE.items()})
    return frame


@pytest.fixture
def make_scores() -> Callable[..., pd.DataFrame]:
    """`make_scores(names, curve=False)`: see `scores_frame`."""
    return scores_frame
