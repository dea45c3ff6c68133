"""How far the newest week moved from the rows the model learned from: features and score.

The features go through the training profile kept in `model.json` and the skew guard's rule
(`training.profile.compare_to_profile`, `serving.skew.check_skew`: one home each); the score
is binned like a feature, against the model's own probabilities on its training rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from serving.skew import SkewCheck, check_skew
from training.profile import (
    EPS,
    FeatureProfile,
    ReferenceProfile,
    bin_shares,
    chance_psi,
    compare_to_profile,
    profile_values,
    psi,
)


def feature_drift(
    profile: ReferenceProfile,
    week: pd.DataFrame,
    descriptions: Mapping[str, str],
    max_psi: float,
    max_missing_increase: float,
) -> tuple[SkewCheck, pd.DataFrame]:
    """The drifting features of `week` (named and described) and every feature's PSI."""
    comparison = compare_to_profile(profile, week)
    check = check_skew(
        comparison,
        descriptions,
        max_psi=max_psi,
        max_missing_increase=max_missing_increase,
        training_start=str(profile.start),
        training_end=str(profile.end),
        training_rows=profile.rows,
        rows=len(week),
    )
    table = comparison.assign(
        description=comparison["feature"].map(lambda f: descriptions.get(f, f)),
        drifting=comparison["feature"].isin({f.name for f in check.flagged}),
    ).sort_values("psi", ascending=False)
    return check, table.reset_index(drop=True)


def score_reference(probability: np.ndarray) -> FeatureProfile:
    """The score's bins and shares over the training rows (when the profile lacks them)."""
    return profile_values(pd.Series(np.asarray(probability, dtype=float)))


def score_drift(
    reference: FeatureProfile, probability: np.ndarray, training_rows: int, max_psi: float
) -> dict[str, Any]:
    """PSI of this week's probabilities against the training rows', and whether it is past."""
    values = pd.Series(np.asarray(probability, dtype=float))
    shares = bin_shares(reference, values)
    expected = np.asarray(reference.shares)
    value = psi(expected, shares, max(EPS, 0.5 / max(len(values), 1)))
    bar = max(max_psi, chance_psi(expected, shares, len(values), training_rows))
    return {
        "psi": round(value, 4),
        "psi_threshold": round(bar, 4),
        "drifting": bool(value > bar),
        "mean_probability": round(float(values.mean()), 4),
    }
