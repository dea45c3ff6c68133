"""The training rows' reference profile, and how far a later week's features moved from it.

`profile_rows` bins every feature of the rows a model was fitted on (numbers: training
quantiles; categories and flags: their training levels; missing values: a bin of their own) and
keeps each bin's share of the rows; `train` saves it in `model.json`, so scoring and the API
never reread the feature table. `compare_to_profile` puts a later frame through the same bins
and measures, per feature, the population stability index and the missing share.
Frames in, frames and plain objects out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2

if TYPE_CHECKING:
    from training.bundle import ModelMeta

BINS = 10  # equal-mass bins of a numeric feature's training values (ties merge bins)
EPS = 1e-4  # floor of a bin's share in the PSI, so an empty bin adds a large but finite term
CATEGORICAL_DTYPES = ("category", "bool")  # manifest dtypes binned by level, not by quantile
CHANCE_LEVEL = 0.999  # a PSI sampling alone reaches this rarely is worth a look
PROFILE_KEY = "reference_profile"  # where `model.json` keeps the profile
COMPARISON_COLUMNS = [
    "feature",
    "psi",
    "chance_psi",
    "missing_share",
    "training_missing_share",
]


@dataclass(frozen=True)
class FeatureProfile:
    """One feature's bins and the share of training rows in each.

    Numeric: `edges` cut the values into `len(edges) + 1` right-closed bins, then a missing
    bin. Categorical: one bin per training level, one for levels never seen in training, then
    a missing bin. `shares` follows that order and sums to 1.
    """

    kind: Literal["numeric", "categorical"]
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()
    # The smallest and largest training value of a numeric feature (None: not recorded).
    low: float | None = None
    high: float | None = None

    @property
    def missing_share(self) -> float:
        """Share of training rows where the feature is missing."""
        return self.shares[-1]


@dataclass(frozen=True)
class ReferenceProfile:
    """Every feature's profile over the training rows, and which rows those were."""

    features: dict[str, FeatureProfile]
    rows: int
    start: dt.date  # first and last snapshot date of the training rows
    end: dt.date
    # The model's own churn probability on those rows, binned the same way (None: not given),
    # so a later week's scores can be compared with them (the monitor's score PSI).
    score: FeatureProfile | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (inverse of `from_dict`)."""
        return {
            "rows": self.rows,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "features": {name: _flat(f) for name, f in self.features.items()},
            **({"score": _flat(self.score)} if self.score is not None else {}),
        }

    @classmethod
    def from_dict(cls, flat: Mapping[str, Any]) -> ReferenceProfile:
        """Inverse of `as_dict`."""
        return cls(
            features={name: _unflat(f) for name, f in flat["features"].items()},
            rows=int(flat["rows"]),
            start=dt.date.fromisoformat(flat["start"]),
            end=dt.date.fromisoformat(flat["end"]),
            score=_unflat(flat["score"]) if flat.get("score") else None,
        )


def _flat(f: FeatureProfile) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "shares": list(f.shares),
        **({"edges": list(f.edges)} if f.kind == "numeric" else {}),
        **({"low": f.low, "high": f.high} if f.low is not None else {}),
        **({"levels": list(f.levels)} if f.kind == "categorical" else {}),
    }


def _unflat(f: Mapping[str, Any]) -> FeatureProfile:
    return FeatureProfile(
        kind=f["kind"],
        shares=tuple(float(s) for s in f["shares"]),
        edges=tuple(float(e) for e in f.get("edges", ())),
        levels=tuple(str(v) for v in f.get("levels", ())),
        low=None if f.get("low") is None else float(f["low"]),
        high=None if f.get("high") is None else float(f["high"]),
    )


def saved_profile(meta: ModelMeta) -> ReferenceProfile | None:
    """The profile a model's `model.json` holds; None for models trained before it existed."""
    flat = meta.reference_profile
    return None if flat is None else ReferenceProfile.from_dict(flat)


def profile_rows(
    rows: pd.DataFrame,
    entries: Sequence[Mapping[str, Any]],
    bins: int = BINS,
    scores: Sequence[float] | np.ndarray | None = None,
) -> ReferenceProfile:
    """The reference profile of `rows` (the training rows) for the manifest `entries`.

    `scores`, the model's churn probability of each row, adds their profile (`score`).
    """
    if rows.empty:
        raise ValueError("no rows to profile")
    features: dict[str, FeatureProfile] = {}
    for entry in entries:
        name = entry["name"]
        if entry["dtype"] in CATEGORICAL_DTYPES:
            levels = tuple(sorted(_labels(rows[name]).dropna().unique().tolist()))
            features[name] = profile_values(rows[name], bins, levels=levels)
        else:
            features[name] = profile_values(rows[name], bins)
    dates = pd.to_datetime(rows["as_of"]).dt.date
    score = None if scores is None else profile_values(pd.Series(np.asarray(scores)), bins)
    return ReferenceProfile(features, len(rows), dates.min(), dates.max(), score)


def profile_values(
    values: pd.Series, bins: int = BINS, levels: Sequence[str] | None = None
) -> FeatureProfile:
    """One column's bins and shares: by `levels` when given, else by quantiles."""
    if levels is not None:
        bins_only = FeatureProfile("categorical", (), levels=tuple(levels))
    else:
        numbers = _numbers(values)
        present = numbers[~np.isnan(numbers)]
        cuts = np.quantile(present, np.arange(1, bins) / bins) if len(present) else []
        bins_only = FeatureProfile(
            "numeric",
            (),
            edges=tuple(float(e) for e in np.unique(cuts)),
            low=float(present.min()) if len(present) else None,
            high=float(present.max()) if len(present) else None,
        )
    return replace(bins_only, shares=tuple(float(s) for s in bin_shares(bins_only, values)))


def bin_shares(profile: FeatureProfile, values: pd.Series) -> np.ndarray:
    """Share of `values` in each of the profile's bins (missing last)."""
    if profile.kind == "numeric":
        numbers = _numbers(values)
        missing = np.isnan(numbers)
        index = np.searchsorted(np.asarray(profile.edges), numbers[~missing], side="left")
        counts = np.bincount(index, minlength=len(profile.edges) + 1).astype(float)
    else:
        labels = _labels(values)
        missing = labels.isna().to_numpy()
        position = {level: i for i, level in enumerate(profile.levels)}
        unseen = len(profile.levels)
        index = labels[~missing].map(lambda v: position.get(v, unseen)).to_numpy(dtype=int)
        counts = np.bincount(index, minlength=unseen + 1).astype(float)
    counts = np.append(counts, float(missing.sum()))
    return counts / max(len(values), 1)


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = EPS) -> float:
    """Population stability index of `actual` bin shares against `expected` ones.

    PSI = sum over bins b of (a_b - e_b) * ln(a_b / e_b), where a_b and e_b are the shares
    of the scored and the training rows in bin b, each floored at `eps` so an empty bin adds a
    large but finite term. Identical shares give 0; the usual reading is below 0.1
    stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
    """
    a = np.maximum(np.asarray(actual, dtype=float), eps)
    e = np.maximum(np.asarray(expected, dtype=float), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def chance_psi(expected: np.ndarray, actual: np.ndarray, rows: int, training_rows: int) -> float:
    """The PSI that sampling alone exceeds once in a thousand weeks, at these sample sizes.

    For two samples of one distribution, PSI / (1/n + 1/N) is about chi-squared with one
    degree of freedom fewer than the bins either sample fills; its 99.9% quantile times
    (1/n + 1/N) is the bar. It is 0.03 for 1,000 scored rows in 11 bins, 0.3 for 100.
    """
    filled = int(np.count_nonzero((np.asarray(expected) > 0) | (np.asarray(actual) > 0)))
    scale = 1 / max(rows, 1) + 1 / max(training_rows, 1)
    return float(chi2.ppf(CHANCE_LEVEL, max(filled - 1, 1)) * scale)


def compare_to_profile(profile: ReferenceProfile, frame: pd.DataFrame) -> pd.DataFrame:
    """Per profiled feature: PSI, its chance bar, and missing shares, `frame` vs training.

    The floor of an empty bin is half a row of `frame` (at least `EPS`), so a small week's
    empty bins weigh what its sampling makes them worth. A feature absent from `frame` counts
    as missing in every row.
    """
    eps = max(EPS, 0.5 / max(len(frame), 1))
    records = []
    for name, feature in profile.features.items():
        values = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
        shares = bin_shares(feature, values)
        expected = np.asarray(feature.shares)
        records.append(
            {
                "feature": name,
                "psi": psi(expected, shares, eps),
                "chance_psi": chance_psi(expected, shares, len(frame), profile.rows),
                "missing_share": float(shares[-1]),
                "training_missing_share": feature.missing_share,
            }
        )
    return pd.DataFrame(records, columns=COMPARISON_COLUMNS)


def _numbers(values: pd.Series) -> np.ndarray:
    return values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _labels(values: pd.Series) -> pd.Series:
    """Values as text levels (missing stays missing), the way categories are compared."""
    return values.astype("object").map(lambda v: None if pd.isna(v) else str(v))
