"""The fitted model as plain parts: LightGBM's own text model and one JSON-ready document.

What MLflow registers is read back by `training/served_model.py` with LightGBM, NumPy and
pandas only, so a registered version loads wherever those are installed, whatever scikit-learn
or venn-abers version is (or is not) there, and on any Python. The document holds what the
booster does not: the features in order, each categorical feature's levels (unseen levels are
missing, as in `FeatureFrame`), the calibrator as numbers, the clipping and the tier cut points.

Each calibrator reads what it was fitted on: Platt and isotonic map the booster's raw log-odds
(scikit-learn's `decision_function`), Venn-Abers and "none" its probability.
"""

from __future__ import annotations

from typing import Any

from sklearn.calibration import CalibratedClassifierCV
from sklearn.isotonic import IsotonicRegression

from training.calibration import Uncalibrated, VennAbersCalibrated
from training.model import EPS, ChurnModel

FORMAT = "churn-risk/1"  # what `served_model.py` reads; bump it when the document changes


def export_model(model: ChurnModel, tiers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The booster's text model and the document that turns its scores into risk and tier.

    Args:
        model: a fitted `ChurnModel` (evaluated, production or recalibrated).
        tiers: the cut points saved with it (`model.json`, key `tiers`).

    Returns:
        (LightGBM model text, JSON-ready document).
    """
    trees = model.trees_
    document = {
        "format": FORMAT,
        "features": list(model.features),
        "categories": {c: list(levels) for c, levels in trees.columns_.categories_.items()},
        "calibration": export_calibrator(model.calibrator_, model.calibration_method_),
        "clip": EPS,
        "tier_cuts": [float(c) for c in tiers["cuts"]],
    }
    return trees.booster_.booster_.model_to_string(), document


def export_calibrator(calibrator: Any, method: str) -> dict[str, Any]:
    """A fitted calibrator as numbers (`reads`: the booster output it maps)."""
    if calibrator is None or isinstance(calibrator, Uncalibrated):
        return {"method": "none", "reads": "probability"}
    if isinstance(calibrator, VennAbersCalibrated):
        fitted = calibrator.venn_abers_
        return {
            "method": "venn_abers",
            "reads": "probability",
            "c": fitted.c_.tolist(),
            "p0": fitted.p0_[:, 1].tolist(),
            "p1": fitted.p1_[:, 1].tolist(),
        }
    if isinstance(calibrator, CalibratedClassifierCV):
        # One map per calibrated classifier; scikit-learn averages their probabilities.
        maps = [_one_map(one.calibrators[0]) for one in calibrator.calibrated_classifiers_]
        kinds = {kind for kind, _ in maps}
        if len(kinds) == 1:
            kind = kinds.pop()
            return {"method": method, "reads": "log_odds", kind: [m for _, m in maps]}
    raise TypeError(f"cannot export a {type(calibrator).__name__} calibrator ({method})")


def _one_map(calibrator: Any) -> tuple[str, Any]:
    if hasattr(calibrator, "a_") and hasattr(calibrator, "b_"):  # Platt: expit(-(a z + b))
        return "sigmoid", [float(calibrator.a_), float(calibrator.b_)]
    if isinstance(calibrator, IsotonicRegression) and calibrator.out_of_bounds == "clip":
        # Its first and last thresholds are the fitted range, so interpolating between
        # thresholds and holding the ends is scikit-learn's clip-then-interpolate.
        return "isotonic", [calibrator.X_thresholds_.tolist(), calibrator.y_thresholds_.tolist()]
    raise TypeError(f"cannot export a {type(calibrator).__name__} calibration map")
