"""Calibrators on top of a fitted, frozen classifier, and their comparison by log loss."""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold, KFold
from venn_abers import VennAbers

SKLEARN_METHODS = {"platt": "sigmoid", "isotonic": "isotonic"}


@contextlib.contextmanager
def _quiet_venn_abers() -> Iterator[None]:
    """Silence venn_abers' "All-NaN slice" warning, and only that.

    It takes nanmin over slices that are empty by design at the ends of the score range; its
    result is right, the warning only noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        yield


class VennAbersCalibrated(ClassifierMixin, BaseEstimator):
    """Inductive Venn-Abers on top of a frozen classifier (merged p0/p1 probability)."""

    def __init__(self, estimator: Any = None, precision: int | None = 4) -> None:
        self.estimator = estimator
        self.precision = precision

    def fit(self, X: pd.DataFrame, y: Any) -> VennAbersCalibrated:
        """Fit the Venn-Abers isotonic pair on the estimator's scores."""
        with _quiet_venn_abers():
            self.venn_abers_ = VennAbers().fit(
                self.estimator.predict_proba(X), np.asarray(y), precision=self.precision
            )
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities."""
        with _quiet_venn_abers():
            probs, _ = self.venn_abers_.predict_proba(self.estimator.predict_proba(X))
        return np.asarray(probs)


class Uncalibrated(ClassifierMixin, BaseEstimator):
    """The estimator's own probabilities, as a candidate that other calibrators must beat."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: pd.DataFrame, y: Any) -> Uncalibrated:
        """Nothing to learn."""
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The estimator's probabilities."""
        return self.estimator.predict_proba(X)


class _Precomputed(ClassifierMixin, BaseEstimator):
    """Stands in for a fitted classifier whose scores on the rows were computed once.

    Its input is a column of row numbers, so cross-fitting calibrators never re-runs the trees.
    """

    def __init__(self, proba: Any = None, decision: Any = None) -> None:
        self.proba = proba
        self.decision = decision

    def fit(self, X: Any, y: Any) -> _Precomputed:
        """Nothing to learn."""
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Stored probabilities of rows `X[:, 0]`."""
        return self.proba[np.asarray(X)[:, 0].astype(int)]

    def decision_function(self, X: Any) -> np.ndarray:
        """Stored raw scores of rows `X[:, 0]`."""
        return self.decision[np.asarray(X)[:, 0].astype(int)]

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def make_calibrator(estimator: Any, method: str) -> Any:
    """An unfitted calibrator of `method` around the already fitted `estimator`."""
    frozen = FrozenEstimator(estimator)
    if method in SKLEARN_METHODS:
        return CalibratedClassifierCV(frozen, method=SKLEARN_METHODS[method])
    if method == "venn_abers":
        return VennAbersCalibrated(frozen)
    if method == "none":
        return Uncalibrated(frozen)
    raise ValueError(f"unknown calibration method {method!r}")


def fit_calibrator(estimator: Any, X: pd.DataFrame, y: np.ndarray, method: str) -> Any:
    """Fit a calibrator of `method` on the calibration rows."""
    return make_calibrator(estimator, method).fit(X, y)


def compare_calibrators(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    methods: Sequence[str],
    groups: Any = None,
    folds: int = 4,
) -> dict[str, float]:
    """Cross-fitted log loss of each method on the calibration rows (lower is better).

    Scoring a calibrator on the rows it was fitted on flatters isotonic fits, so each fold is
    scored by a calibrator fitted on the other folds; folds keep whole snapshot dates together.
    """
    y = np.asarray(y)
    if groups is not None and len(np.unique(groups)) >= folds:
        cuts = list(GroupKFold(n_splits=folds).split(X, y, groups))
    else:
        cuts = list(KFold(n_splits=folds).split(X, y))
    proba = np.asarray(estimator.predict_proba(X))
    # Without a decision function scikit-learn calibrates the probability itself; so do we.
    has_decision = hasattr(estimator, "decision_function")
    decision = estimator.decision_function(X) if has_decision else proba[:, 1]
    scores = _Precomputed(proba, decision).fit(X, y)
    rows = np.arange(len(y)).reshape(-1, 1)
    losses: dict[str, float] = {}
    for method in methods:
        held_out = np.empty(len(y))
        template = make_calibrator(scores, method)
        for fit_rows, score_rows in cuts:
            fitted = clone(template).fit(rows[fit_rows], y[fit_rows])
            held_out[score_rows] = fitted.predict_proba(rows[score_rows])[:, 1]
        losses[method] = float(log_loss(y, np.clip(held_out, 1e-6, 1 - 1e-6), labels=[0, 1]))
    return losses


def apply_calibrator(calibrator: Any, raw_probability: np.ndarray) -> np.ndarray:
    """What a fitted calibrator makes of booster probabilities, without the booster.

    The explanations need the calibrated value of one log-odds (SHAP's base value) that no
    row of data produces, so the calibrator is run on a stand-in whose scores are given.
    """
    raw = np.clip(np.asarray(raw_probability, dtype=float), 1e-15, 1 - 1e-15)
    stand_in = _Precomputed(np.column_stack([1 - raw, raw]), np.log(raw / (1 - raw))).fit(
        None, None
    )
    if isinstance(calibrator, Uncalibrated):
        return raw
    rows = np.arange(raw.shape[0]).reshape(-1, 1)
    return np.asarray(rebind(calibrator, stand_in).predict_proba(rows))[:, 1]


def rebind(calibrator: Any, estimator: Any) -> Any:
    """A copy of a fitted calibrator that calibrates `estimator`'s scores instead.

    The calibrator keeps what it learned (the map from scores to probabilities) and reads the
    scores of another fitted classifier: a stand-in of precomputed scores for the explanations,
    or the production trees whose calibrator was fitted on out-of-time scores of other trees.
    """
    frozen = FrozenEstimator(estimator) if not isinstance(estimator, _Precomputed) else estimator
    if isinstance(calibrator, Uncalibrated | VennAbersCalibrated):
        swapped = copy.copy(calibrator)
        swapped.estimator = frozen
        return swapped
    if isinstance(calibrator, CalibratedClassifierCV):
        swapped = copy.copy(calibrator)
        swapped.estimator = frozen
        swapped.calibrated_classifiers_ = []
        for fitted in calibrator.calibrated_classifiers_:
            one = copy.copy(fitted)
            one.estimator = frozen
            swapped.calibrated_classifiers_.append(one)
        return swapped
    raise TypeError(f"unknown calibrator {type(calibrator).__name__}")


def fit_on_scores(method: str, proba: np.ndarray, y: np.ndarray) -> Any:
    """A calibrator of `method` fitted on given churn probabilities (rebind it before use).

    `proba` are scores of rows the scoring trees never saw (out of time); the raw log-odds
    Platt scaling reads are derived from them.
    """
    p = np.clip(np.asarray(proba, dtype=float), 1e-15, 1 - 1e-15)
    stand_in = _Precomputed(np.column_stack([1 - p, p]), np.log(p / (1 - p))).fit(None, None)
    rows = np.arange(len(p)).reshape(-1, 1)
    return make_calibrator(stand_in, method).fit(rows, np.asarray(y))
