"""Live scoring of feature rows without pandas: the same booster and calibrator, in microseconds.

The saved `ChurnModel` reads a DataFrame; for one row that costs milliseconds in pandas. Here
a row (a mapping of feature -> value) becomes the float vector LightGBM saw in training
(category levels -> their training codes, missing -> NaN; an unseen level or a number far
outside the training range is refused by name), and the booster, TreeSHAP
and the calibrator run on it directly. Tests check it equals `ChurnModel.predict_proba` and
`evaluation.explain.explain`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.reasons import quotable, sentence
from serving.curves import live_curve
from serving.params import ScoreParams
from training.calibration import apply_calibrator
from training.model import EPS, ChurnModel
from training.tiers import assign_tiers

if TYPE_CHECKING:
    from training.bundle import ModelMeta

NUMERIC = {"float", "int"}


class FeatureError(ValueError):
    """A feature payload that does not match the model's manifest."""

    def __init__(self, row: int, feature: str, rule: str) -> None:
        super().__init__(f"row {row}, feature {feature!r}: {rule}")
        self.row, self.feature, self.rule = row, feature, rule


@dataclass(frozen=True)
class ReasonRule:
    """How many reasons each way a score states, and the smallest contribution worth one.

    The defaults are `ScoreParams`'; the API uses the settings of the week it serves.
    """

    up: int = ScoreParams().reasons_up
    down: int = ScoreParams().reasons_down
    min_contribution: float = ScoreParams().min_contribution

    @classmethod
    def of_week(cls, summary: Mapping[str, Any]) -> ReasonRule:
        """The rule a scored week's summary.json records (defaults for what it does not)."""
        rule = cls()
        return cls(
            up=int(summary.get("reasons_up", rule.up)),
            down=int(summary.get("reasons_down", rule.down)),
            min_contribution=float(summary.get("min_contribution", rule.min_contribution)),
        )

    def pick(self, contributions: np.ndarray) -> tuple[list[int], list[int]]:
        """Indices of the strongest quotable contributions up and down, strongest first."""
        c = contributions
        up = [j for j in np.argsort(-c, kind="stable")[: self.up] if c[j] > self.min_contribution]
        down = [
            j for j in np.argsort(c, kind="stable")[: self.down] if c[j] < -self.min_contribution
        ]
        return [int(j) for j in up], [int(j) for j in down]


class LivePredictor:
    """Probability, tier and reasons of raw feature rows, validated against the manifest."""

    def __init__(
        self,
        model: ChurnModel,
        meta: ModelMeta,
        manifest: Sequence[Mapping[str, Any]],
        reasons: ReasonRule | None = None,
        range_margin: float | None = 1.0,
    ) -> None:
        self.model = model
        self.meta = meta
        self.features = list(model.features)
        entries = {f["name"]: dict(f) for f in manifest}
        self.entries = {name: entries.get(name, _fallback(name, model)) for name in self.features}
        self.codes = {
            name: {level: float(i) for i, level in enumerate(levels)}
            for name, levels in model.trees_.columns_.categories_.items()
        }
        self.ranges = accepted_ranges(meta, range_margin)
        self.booster = model.trees_.booster_.booster_
        self.reasons = reasons or ReasonRule()
        empty = np.full((1, len(self.features)), np.nan)
        f0 = float(np.asarray(self.booster.predict(empty, pred_contrib=True))[0, -1])
        self.base_log_odds = f0
        self.base_probability = float(self._calibrate(np.array([1 / (1 + math.exp(-f0))]))[0])

    def validate(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The float matrix of `rows`; FeatureError names the first bad feature."""
        known = set(self.features)
        X = np.empty((len(rows), len(self.features)))
        for i, row in enumerate(rows):
            extra = [k for k in row if k not in known]
            if extra:
                raise FeatureError(i, extra[0], "unknown feature (see GET /v1/model)")
            for j, name in enumerate(self.features):
                if name not in row:
                    raise FeatureError(i, name, "missing (send null for an unknown value)")
                X[i, j] = self._value(i, name, row[name])
        return X

    def _value(self, i: int, name: str, value: Any) -> float:
        dtype = self.entries[name]["dtype"]
        if value is None:
            return math.nan
        if dtype == "category":
            if not isinstance(value, str):
                raise FeatureError(i, name, f"expected a string (category), got {_kind(value)}")
            levels = self.codes.get(name, {})
            if value not in levels:
                known = ", ".join(sorted(levels)[:20])
                raise FeatureError(
                    i, name, f"unknown category {value!r} (known: {known}; send null if unknown)"
                )
            return levels[value]
        if dtype == "bool":
            if not isinstance(value, bool):
                raise FeatureError(i, name, f"expected true or false, got {_kind(value)}")
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FeatureError(i, name, f"expected a number, got {_kind(value)}")
        if not math.isfinite(value):
            raise FeatureError(i, name, "expected a finite number")
        if dtype == "int" and float(value) != int(value):
            raise FeatureError(i, name, "expected a whole number")
        if name in self.ranges:
            low, high = self.ranges[name]
            if not low <= value <= high:
                raise FeatureError(
                    i, name, f"{value:g} is outside the accepted range [{low:g}, {high:g}]"
                )
        return float(value)

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        calibrator = self.model.calibrator_
        p = raw if calibrator is None else apply_calibrator(calibrator, raw)
        return np.clip(p, EPS, 1 - EPS)

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result per row: probability, tier, and reasons either way."""
        X = self.validate(rows)
        contrib = np.asarray(self.booster.predict(X, pred_contrib=True))
        phi, f0 = contrib[:, :-1], contrib[:, -1]
        f = phi.sum(axis=1) + f0
        p = self._calibrate(1 / (1 + np.exp(-f)))
        delta = f - self.base_log_odds
        scale = np.where(
            np.abs(delta) > 1e-12, (p - self.base_probability) / np.where(delta == 0, 1, delta), 0.0
        )
        c = phi * scale[:, None]
        tiers = assign_tiers(p, self.meta.tiers)
        curves = self.curves(rows, p)
        out = []
        for i, row in enumerate(rows):
            ci = np.where([quotable(self.entries[n], row) for n in self.features], c[i], 0.0)
            up, down = self.reasons.pick(ci)
            out.append(
                {
                    "probability": float(p[i]),
                    "tier": int(tiers[i]),
                    "reasons_up": [sentence(self.entries[self.features[j]], row) for j in up],
                    "reasons_down": [sentence(self.entries[self.features[j]], row) for j in down],
                }
                | curves[i]
            )
        return out

    def curves(self, rows: Sequence[Mapping[str, Any]], p: np.ndarray) -> list[dict[str, Any]]:
        """Each row's risk curve and P(churn by the renewal) (`training/curve.py`), else nulls.

        `p`: the rows' headline probabilities, which the curve keeps as they are.
        """
        if getattr(self.model, "curve_", None) is None:  # a model trained before the curve
            return live_curve(None, rows)
        import pandas as pd

        from training.curve import predict_curve

        frame = pd.DataFrame.from_records(list(rows), columns=self.features)
        horizon = self.meta.horizon(self.model.curve_.headline)
        return live_curve(predict_curve(self.model, frame, horizon, p), rows)


def accepted_ranges(meta: ModelMeta, margin: float | None) -> dict[str, tuple[float, float]]:
    """Per numeric feature, the values live predict accepts: the training range, widened.

    A value further outside [low, high] than `margin` widths of that range is refused (a
    constant feature's width counts as max(|high|, 1)), and so is a negative value where
    every training value was >= 0: such a value is a caller's mistake (a sign lost, a unit
    mixed up, a sentinel like -1e20), not an account. Refusing beats clipping, since trees
    already treat everything beyond the range like its edge and would hide the mistake.
    None turns the check off; a model without a recorded range has none.
    """
    if margin is None:
        return {}
    features = (meta.reference_profile or {}).get("features", {})
    ranges = {}
    for name, f in features.items():
        low, high = f.get("low"), f.get("high")
        if low is None or high is None:
            continue
        width = high - low or max(abs(high), 1.0)
        lowest = low - margin * width
        ranges[name] = (max(lowest, 0.0) if low >= 0 else lowest, high + margin * width)
    return ranges


def _fallback(name: str, model: ChurnModel) -> dict[str, Any]:
    dtype = "category" if name in model.categorical else "float"
    return {"name": name, "dtype": dtype, "unit": "", "description": name.replace("_", " ")}


def _kind(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
