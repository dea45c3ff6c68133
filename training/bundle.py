"""Where `train` leaves its models, and how every later stage loads one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

from data.io import read_json
from training.model import ChurnModel

EVALUATED = "model"  # `train`'s folder of the model the test weeks judge
PRODUCTION = "production"  # `train`'s folder of the model that scores (see serving.models)
PRODUCTION_CAL = "production_calibration.parquet"  # the production calibrator's rows


def load_model(model_dir: Path) -> tuple[ChurnModel, dict[str, Any]]:
    """The saved estimator and its `model.json`, as every consumer loads them."""
    model_dir = Path(model_dir)
    return joblib.load(model_dir / "model.joblib"), read_json(model_dir / "model.json")
