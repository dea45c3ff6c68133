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

from training.calibration import Calibrated
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


def export_calibrator(calibrator: Calibrated | None, method: str) -> dict[str, Any]:
    """A fitted calibrator as numbers (`reads`: the booster output it maps)."""
    if calibrator is None:
        return {"method": "none", "reads": "probability"}
    document = calibrator.calibrator_.export()
    if document["method"] != method:
        raise TypeError(f"the model names {method!r} but holds a {document['method']} calibrator")
    return document
