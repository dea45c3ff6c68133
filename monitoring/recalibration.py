"""Calibration of the frozen trees on labeled weeks after training, and its refit.

The champion re-scores the snapshot rows of labeled weeks it never learned from (features are
point in time, so that is what it would have said). Calibration in the large over the newest
weeks is the mean predicted probability minus the realized churn rate; past the limit, the
calibrator (the model's own method) is refitted on those weeks on top of the same trees.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from training.calibration import fit_calibrator
from training.model import ChurnModel

CALIBRATION_COLUMNS = ["as_of", "rows", "mean_predicted", "churn_rate", "drift"]


def calibration_by_week(as_of: pd.Series, churned: Any, probability: Any) -> pd.DataFrame:
    """Mean predicted against realized churn per week (drift = predicted - realized)."""
    frame = pd.DataFrame(
        {
            "as_of": np.asarray(as_of),
            "p": np.asarray(probability, dtype=float),
            "y": np.asarray(churned, dtype=float),
        }
    )
    out = frame.groupby("as_of", sort=True).agg(
        rows=("y", "size"), mean_predicted=("p", "mean"), churn_rate=("y", "mean")
    )
    out["drift"] = out["mean_predicted"] - out["churn_rate"]
    return out.reset_index()[CALIBRATION_COLUMNS]


def calibration_in_the_large(churned: Any, probability: Any) -> float:
    """Mean predicted probability minus the realized churn rate, over all rows."""
    return float(np.mean(np.asarray(probability, float)) - np.mean(np.asarray(churned, float)))


def recalibrate(model: ChurnModel, rows: pd.DataFrame, churned: Any, method: str) -> ChurnModel:
    """A copy of `model` whose calibrator (`method`) is refitted on `rows`; the trees are shared."""
    fitted = copy.copy(model)
    fitted.calibrator_ = fit_calibrator(model.trees_, rows, np.asarray(churned, dtype=int), method)
    fitted.calibration_method_ = method
    return fitted
