"""A fitted classifier's raw score mapped by a calibrator, and the calibrators' comparison.

The calibrators themselves (fit and map on one column of raw scores) live in
`training/calibrators.py`; everything here goes through that interface only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted

from training.calibrators import CALIBRATORS, Reads, ScoreCalibrator, scores_of


class Calibrated(ClassifierMixin, BaseEstimator):
    """An already fitted classifier whose raw score a calibrator maps to probabilities.

    `fit` fits a clone of `calibrator` on the classifier's scores and leaves the classifier as
    it is; `bind` pairs the classifier with a calibrator fitted elsewhere.
    """

    def __init__(self, estimator: Any = None, calibrator: ScoreCalibrator | None = None) -> None:
        self.estimator = estimator
        self.calibrator = calibrator

    def fit(self, X: Any, y: Any) -> Calibrated:
        """Fit the calibrator on the estimator's raw scores of `X`."""
        calibrator = clone(self.calibrator)
        return _bound(self, calibrator.fit(raw_scores(self.estimator, X, calibrator.reads), y))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities of the rows `X`."""
        check_is_fitted(self, "calibrator_")
        reads = self.calibrator_.reads
        return self.calibrator_.predict_proba(raw_scores(self.estimator, X, reads))

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def calibrate(self, raw_probability: Any) -> np.ndarray:
        """What the calibrator makes of booster probabilities, without the booster."""
        check_is_fitted(self, "calibrator_")
        return self.calibrator_.calibrate(raw_probability)


def _bound(calibrated: Calibrated, fitted: ScoreCalibrator) -> Calibrated:
    calibrated.calibrator_ = fitted
    calibrated.classes_ = fitted.classes_
    return calibrated


def raw_scores(estimator: Any, X: Any, reads: Reads) -> np.ndarray:
    """The raw score a calibrator reads: log-odds from `decision_function`, else probability.

    A classifier without a decision function is calibrated on its probability (as
    scikit-learn does).
    """
    if reads == "log_odds" and hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(X), dtype=float)
    return np.asarray(estimator.predict_proba(X))[:, 1]


def make_calibrator(method: str) -> ScoreCalibrator:
    """An unfitted calibrator registered as `method`."""
    if method not in CALIBRATORS:
        raise ValueError(f"unknown calibration method {method!r} (known: {sorted(CALIBRATORS)})")
    return CALIBRATORS[method]()


def fit_calibrator(estimator: Any, X: pd.DataFrame, y: np.ndarray, method: str) -> Calibrated:
    """Fit a calibrator of `method` on the calibration rows scored by the fitted `estimator`."""
    return Calibrated(estimator, make_calibrator(method)).fit(X, y)


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
    The trees score the rows once; the calibrators only see those scores.
    """
    y = np.asarray(y)
    if groups is not None and len(np.unique(groups)) >= folds:
        cuts = list(GroupKFold(n_splits=folds).split(X, y, groups))
    else:
        cuts = list(KFold(n_splits=folds).split(X, y))
    scores: dict[str, np.ndarray] = {}
    losses: dict[str, float] = {}
    for method in methods:
        template = make_calibrator(method)
        if template.reads not in scores:
            scores[template.reads] = raw_scores(estimator, X, template.reads)
        column = scores[template.reads]
        held_out = np.empty(len(y))
        for fit_rows, score_rows in cuts:
            fitted = clone(template).fit(column[fit_rows], y[fit_rows])
            held_out[score_rows] = fitted.predict_proba(column[score_rows])[:, 1]
        losses[method] = float(log_loss(y, np.clip(held_out, 1e-6, 1 - 1e-6), labels=[0, 1]))
    return losses


def apply_calibrator(
    calibrator: Calibrated | ScoreCalibrator, raw_probability: np.ndarray
) -> np.ndarray:
    """What a fitted calibrator makes of booster probabilities, without the booster.

    The explanations need the calibrated value of one log-odds (SHAP's base value) that no
    row of data produces, so the calibrator maps the given scores directly.
    """
    return np.asarray(calibrator.calibrate(raw_probability), dtype=float)


def rebind(calibrator: ScoreCalibrator, estimator: Any) -> Calibrated:
    """The fitted `calibrator` reading the raw scores of another fitted classifier.

    The production calibrator is fitted on out-of-time scores of other trees (`fit_on_scores`)
    and then maps the scores of the trees fitted on every week.
    """
    check_is_fitted(calibrator, "classes_")
    return _bound(Calibrated(estimator, calibrator), calibrator)


def fit_on_scores(method: str, proba: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
    """A calibrator of `method` fitted on given churn probabilities (rebind it before use).

    `proba` are scores of rows the scoring trees never saw (out of time); a calibrator reading
    log-odds gets them from the clipped probabilities.
    """
    calibrator = make_calibrator(method)
    return calibrator.fit(scores_of(proba, calibrator.reads), np.asarray(y))


# Models saved before calibrators read scores hold one of the three objects below, bound to the
# trees; `from_legacy` turns each into the `Calibrated` the code saves today (same numbers).
# Remove this block once no such model.joblib is in use.


class Uncalibrated(BaseEstimator):
    """Only to unpickle older models: became `NoCalibration`."""


class VennAbersCalibrated(BaseEstimator):
    """Only to unpickle older models: became `VennAbersCalibrator`."""


def from_legacy(calibrator: Any, trees: Any) -> Any:
    """An older model's calibrator as a `Calibrated` reading `trees` (others unchanged)."""
    if isinstance(calibrator, Uncalibrated):
        fitted: ScoreCalibrator = CALIBRATORS["none"]()
    elif isinstance(calibrator, VennAbersCalibrated):
        fitted = CALIBRATORS["venn_abers"](precision=calibrator.precision)
        fitted.venn_abers_ = calibrator.venn_abers_
    elif isinstance(calibrator, CalibratedClassifierCV):
        fitted = _legacy_map(calibrator)
    else:
        return calibrator
    fitted.classes_ = np.array([0, 1])
    fitted.n_features_in_ = 1
    return rebind(fitted, trees)


def _legacy_map(calibrator: CalibratedClassifierCV) -> ScoreCalibrator:
    """The one map a scikit-learn 1.9 `CalibratedClassifierCV` of frozen trees fitted.

    This reads the fitted internals of scikit-learn's calibration; only older models need it.
    """
    (pair,) = calibrator.calibrated_classifiers_  # frozen trees: one map on every row
    (one,) = pair.calibrators
    if calibrator.method == "isotonic":
        fitted = CALIBRATORS["isotonic"]()
        fitted.isotonic_ = one
    else:
        fitted = CALIBRATORS["platt"]()
        fitted.a_, fitted.b_ = float(one.a_), float(one.b_)
    return fitted
