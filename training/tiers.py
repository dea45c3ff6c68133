"""Model tiers on the managers' 1-4 scale (1 = highest risk).

Cut points are learned once, on the calibration period, so that each tier holds the share of
accounts the managers give the matching rating there; they are saved with the model
(`model.json`, key `tiers`) so evaluation, comparison, scoring and the API all use the same.
Without any rating in the period the tiers hold DEFAULT_SHARES of the accounts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

LEVELS = (1, 2, 3, 4)
DEFAULT_SHARES = (0.1, 0.2, 0.3, 0.4)  # highest risk first, when no manager rates anything


def fit_tiers(probability: ArrayLike, ratings: ArrayLike) -> dict[str, Any]:
    """Cut points on `probability` whose tier shares match the shares of `ratings` (1-4).

    Returns {"cuts": [c1, c2, c3], "shares": [s1..s4], "source": ...}: tier 1 is
    probability > c1, tier 2 > c2, tier 3 > c3, tier 4 the rest. Tied probabilities fall
    together into the lower-risk tier, so a model that cannot tell accounts apart never
    raises a crowd of them to a higher tier.
    """
    p = np.asarray(probability, dtype=float)
    r = np.asarray(ratings, dtype=float)
    r = r[np.isfinite(r)]
    if r.size:
        shares = np.array([(r == level).mean() for level in LEVELS])
        source = "manager ratings on the calibration period"
    else:
        shares = np.array(DEFAULT_SHARES)
        source = "default shares (no manager ratings on the calibration period)"
    above = np.cumsum(shares)[:3]  # share of accounts in tiers 1..k
    cuts = np.quantile(p, 1.0 - above, method="lower") if p.size else np.ones(3)
    # A tier the managers never use stays empty: probabilities stay below 1, and a cut equal
    # to the one before leaves nothing between them.
    cuts = np.where(above <= 0.0, 1.0, cuts)
    return {
        "cuts": [float(c) for c in cuts],
        "shares": [float(s) for s in shares],
        "source": source,
    }


def assign_tiers(probability: ArrayLike, tiers: dict[str, Any]) -> np.ndarray:
    """Tier 1-4 of each probability under the saved cut points."""
    c1, c2, c3 = tiers["cuts"]
    p = np.asarray(probability, dtype=float)
    return np.select([p > c1, p > c2, p > c3], [1, 2, 3], 4).astype(np.int64)
