"""The calibrators: each maps one raw score of the trees to the probability of churn.

A calibrator is a scikit-learn classifier on one column, the raw score it `reads`: the
booster's log-odds (Platt, isotonic) or its probability (Venn-Abers, none). `fit` learns the
map from scores and 0/1 labels, `predict_proba` applies it, `export` writes it as numbers for
the portable document (`training/portable.py`). Adding a method is one class here and its
entry in `CALIBRATORS`; the tests in tests/training/test_estimators.py run over every entry.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from math import log
from typing import Any, ClassVar, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data
from venn_abers import VennAbers

Reads = Literal["log_odds", "probability"]


class ScoreCalibrator(ClassifierMixin, BaseEstimator):
    """A map from one column of raw scores to calibrated probabilities of classes 0 and 1."""

    method: ClassVar[str]  # the name `TrainParams.calibration_methods` uses
    reads: ClassVar[Reads]  # which raw score of the trees it maps

    def fit(self, X: Any, y: Any) -> Any:
        """Learn the map from scores `X` (one column, or 1-D) and 0/1 labels `y`."""
        scores, labels = validate_data(self, _column(X), y, ensure_min_samples=2)
        target = type_of_target(labels, input_name="y", raise_unknown=True)
        if target != "binary":
            raise ValueError(f"Only binary classification is supported; y is {target}.")
        _one_column(scores)
        self.classes_ = np.unique(labels)
        self._fit(scores[:, 0], (labels == self.classes_[1]).astype(int))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities of the scores `X`; column 1 is the positive class."""
        check_is_fitted(self, "classes_")
        scores = validate_data(self, _column(X), reset=False)
        churn = np.asarray(self._map(scores[:, 0]), dtype=float)
        return np.column_stack([1 - churn, churn])

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class."""
        churn = self.predict_proba(X)[:, 1]
        return self.classes_[(churn >= 0.5).astype(int)]

    def __sklearn_tags__(self) -> Any:
        """Binary classification on one column of scores."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def calibrate(self, raw_probability: Any) -> np.ndarray:
        """The calibrated probability of booster probabilities (converted to what it reads)."""
        return self.predict_proba(scores_of(raw_probability, self.reads))[:, 1]

    def export(self) -> dict[str, Any]:
        """The fitted map as JSON-ready numbers: `method`, `reads` and the method's own keys."""
        check_is_fitted(self, "classes_")
        return {"method": self.method, "reads": self.reads} | self._numbers()

    def _fit(self, scores: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _map(self, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _numbers(self) -> dict[str, Any]:
        raise NotImplementedError


def scores_of(raw_probability: Any, reads: Reads) -> np.ndarray:
    """Booster probabilities as the raw score a calibrator reads (log-odds from the clipped p)."""
    p = np.clip(np.asarray(raw_probability, dtype=float), 1e-15, 1 - 1e-15)
    return p if reads == "probability" else np.log(p / (1 - p))


def _one_column(scores: np.ndarray) -> None:
    if scores.shape[1] != 1:
        raise ValueError(f"a calibrator reads one column of raw scores, got {scores.shape[1]}")


def _column(X: Any) -> Any:
    """A 1-D array of scores as one column; anything else unchanged (validated later)."""
    array = np.asarray(X)
    return array.reshape(-1, 1) if array.ndim == 1 else X


class NoCalibration(ScoreCalibrator):
    """The trees' own probability, the candidate every other method must beat."""

    method = "none"
    reads = "probability"

    def _fit(self, scores: np.ndarray, y: np.ndarray) -> None:
        self.fitted_rows_ = len(scores)

    def _map(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def _numbers(self) -> dict[str, Any]:
        return {}


class Platt(ScoreCalibrator):
    """Platt scaling of the log-odds: `expit(-(a z + b))`, with Platt's smoothed targets."""

    method = "platt"
    reads = "log_odds"

    def _fit(self, scores: np.ndarray, y: np.ndarray) -> None:
        self.a_, self.b_ = _platt_fit(scores, y)

    def _map(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(expit(-(self.a_ * scores + self.b_)))

    def _numbers(self) -> dict[str, Any]:
        return {"sigmoid": [[self.a_, self.b_]]}  # a list: older documents averaged several


class Isotonic(ScoreCalibrator):
    """Isotonic regression of the labels on the log-odds, held flat beyond the fitted range."""

    method = "isotonic"
    reads = "log_odds"

    def _fit(self, scores: np.ndarray, y: np.ndarray) -> None:
        self.isotonic_ = IsotonicRegression(out_of_bounds="clip").fit(scores, y)

    def _map(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(self.isotonic_.predict(scores))

    def _numbers(self) -> dict[str, Any]:
        # The first and last thresholds are the fitted range, so interpolating between
        # thresholds and holding the ends is the clip-then-interpolate of `predict`.
        fitted = self.isotonic_
        return {"isotonic": [[fitted.X_thresholds_.tolist(), fitted.y_thresholds_.tolist()]]}


class VennAbersCalibrator(ScoreCalibrator):
    """Inductive Venn-Abers on the probability (the merged p0/p1 probability)."""

    method = "venn_abers"
    reads = "probability"

    def __init__(self, precision: int | None = 4) -> None:
        self.precision = precision

    def _fit(self, scores: np.ndarray, y: np.ndarray) -> None:
        with _quiet_venn_abers():
            self.venn_abers_ = VennAbers().fit(_two_columns(scores), y, precision=self.precision)

    def _map(self, scores: np.ndarray) -> np.ndarray:
        with _quiet_venn_abers():
            probs, _ = self.venn_abers_.predict_proba(_two_columns(scores))
        return np.asarray(probs)[:, 1]

    def _numbers(self) -> dict[str, Any]:
        fitted = self.venn_abers_
        return {
            "c": fitted.c_.tolist(),
            "p0": fitted.p0_[:, 1].tolist(),
            "p1": fitted.p1_[:, 1].tolist(),
        }


CALIBRATORS: dict[str, type[ScoreCalibrator]] = {
    c.method: c for c in (NoCalibration, Platt, Isotonic, VennAbersCalibrator)
}


def _two_columns(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - p, p])


@contextlib.contextmanager
def _quiet_venn_abers() -> Iterator[None]:
    """Silence venn_abers' "All-NaN slice" warning, and only that.

    It takes nanmin over slices that are empty by design at the ends of the score range; its
    result is right, the warning only noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        yield


def _platt_fit(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's (a, b), fitted as scikit-learn's sigmoid calibration does (to the last digit).

    Targets are smoothed by Platt's priors; the log loss of `expit(-(a z + b))` is minimised by
    L-BFGS-B from `a = 0`; scores are scaled into [-1, 1] first when they reach 30 in size.
    """
    scale = float(np.max(np.abs(z)))
    scale = scale if scale >= 30 else 1.0
    f = z / scale if scale != 1.0 else z
    prior0 = float(np.sum(y <= 0))
    prior1 = y.shape[0] - prior0
    t = np.where(y > 0, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))

    def loss_grad(ab: np.ndarray) -> tuple[float, np.ndarray]:
        loss, g = _half_binomial(t, -(ab[0] * f + ab[1]))
        return float(loss.sum()), np.asarray([-g @ f, -g.sum()], dtype=np.float64)

    start = np.array([0.0, log((prior0 + 1.0) / (prior1 + 1.0))])
    options = {"gtol": 1e-6, "ftol": 64 * np.finfo(float).eps}
    ab = minimize(loss_grad, start, method="L-BFGS-B", jac=True, options=options).x
    return float(ab[0] / scale), float(ab[1])


def _half_binomial(t: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log loss of `expit(raw)` against targets `t`, and its gradient in `raw`."""
    neg = raw <= 0
    e = np.exp(np.where(neg, raw, -raw))
    loss_neg = np.where(raw <= -37, e, np.log1p(e)) - t * raw
    loss_pos = np.where(raw <= 18, np.log1p(e), e) + (1 - t) * raw
    grad_neg = ((1 - t) * e - t) / (1 + e)
    grad_pos = ((1 - t) - t * e) / (1 + e)
    return np.where(neg, loss_neg, loss_pos), np.where(neg, grad_neg, grad_pos)
