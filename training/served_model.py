"""The registered model's code: MLflow runs this file to load a version ("models from code").

It imports no project code, so a registered version loads and serves wherever mlflow,
lightgbm, numpy, pandas and scipy are installed (`mlflow models serve -m
models:/churn-risk@champion`), whatever the Python version. `training.registry.log_model`
hands MLflow this file's path with two artifacts written by `training/portable.py`: the
booster in LightGBM's own text format and a JSON document (features, category levels,
calibrator, clipping, tier cut points). The project never imports this module: running it
sets MLflow's current code model.

It restates three rules whose homes are in the project: `FeatureFrame`'s column handling,
the calibrators' `predict_proba` and `training.tiers.assign_tiers`;
`tests/training/test_served_model.py` checks that it gives exactly what `ChurnModel` gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from scipy.special import expit

FORMAT = "churn-risk/1"  # training.portable.FORMAT, the document this file reads


class ChurnRisk(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """Churn probability within the horizon and the 1-4 tier (1 = highest risk) of each row."""

    def load_context(self, context: Any) -> None:
        """Read the booster and the document saved with the version."""
        self.booster = lgb.Booster(model_file=context.artifacts["booster"])
        self.document = json.loads(Path(context.artifacts["document"]).read_text())
        if self.document.get("format") != FORMAT:
            raise ValueError(f"model document {self.document.get('format')!r} is not {FORMAT}")

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        """One row per input row: `probability` (double) and `tier` (long)."""
        doc = self.document
        frame = feature_frame(model_input, doc["features"], doc["categories"])
        probability = churn_probability(self.booster, frame, doc["calibration"], doc["clip"])
        tier = assign_tier(probability, doc["tier_cuts"])
        return pd.DataFrame({"probability": probability, "tier": tier}, index=model_input.index)


def feature_frame(
    rows: pd.DataFrame, features: list[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """The booster's input: numbers as float, categories at the training levels (else missing)."""
    if missing := [c for c in features if c not in rows.columns]:
        raise ValueError(f"feature columns missing from the input: {missing}")
    columns: dict[str, Any] = {}
    for name in features:
        if name in categories:
            values = rows[name].astype("object")
            known = values.isin(categories[name])
            columns[name] = pd.Categorical(values.where(known, None), categories=categories[name])
        else:
            columns[name] = rows[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(columns, index=rows.index)


def churn_probability(
    booster: lgb.Booster, frame: pd.DataFrame, calibration: dict[str, Any], clip: float
) -> np.ndarray:
    """The calibrated probability of churn, kept `clip` away from 0 and 1."""
    if calibration["reads"] == "log_odds":
        score = np.asarray(booster.predict(frame, raw_score=True), dtype=float)
    else:
        score = np.asarray(booster.predict(frame), dtype=float)
    method = calibration["method"]
    if method == "none":
        churn = score
    elif method == "venn_abers":
        c = np.asarray(calibration["c"])
        p0 = np.asarray(calibration["p0"])[np.searchsorted(c, score, "right")]
        p1 = np.asarray(calibration["p1"])[np.searchsorted(c, score, "left")]
        churn = p1 / (1 - p0 + p1)
    elif "sigmoid" in calibration:  # Platt; scikit-learn averages its calibrated classifiers
        churn = np.zeros(len(score))
        for a, b in calibration["sigmoid"]:
            churn += expit(-(a * score + b))
        churn /= len(calibration["sigmoid"])
    elif "isotonic" in calibration:
        churn = np.zeros(len(score))
        for x, y in calibration["isotonic"]:
            churn += np.interp(np.clip(score, x[0], x[-1]), x, y)
        churn /= len(calibration["isotonic"])
    else:
        raise ValueError(f"unknown calibration {method!r}")
    return np.clip(churn, clip, 1 - clip)


def assign_tier(probability: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Tier 1-4 of each probability: 1 above the first cut, 4 at or below the third."""
    c1, c2, c3 = cuts
    return np.select([probability > c1, probability > c2, probability > c3], [1, 2, 3], 4).astype(
        np.int64
    )


mlflow.models.set_model(ChurnRisk())
