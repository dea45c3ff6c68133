"""Every registered calibrator is complete, and goes through scikit-learn's estimator checks.

A calibrator reads one column of raw scores and refuses more, while most of scikit-learn's
checks fit on several feature columns: those are listed in `expected_failed_checks`, each with
its reason, and run as strict expected failures (one that starts passing fails the test).
The rest run as they are.

Not checked by `parametrize_with_checks`: `FeatureFrame`, `BoostedTrees` and `ChurnModel`
(training/model.py) select named feature columns of a DataFrame given by the manifest, so the
checks' unnamed arrays have no column they read; `Calibrated` (training/calibration.py) wraps
an already fitted classifier, like scikit-learn's `FrozenEstimator`, and has no default one.
Their behaviour is covered in test_model.py, test_calibration.py and test_production.py.
"""

import json
import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from training.calibrators import CALIBRATORS, ScoreCalibrator, scores_of
from training.params import TrainParams

_SEVERAL_COLUMNS = "fits on several feature columns; a calibrator reads one column of scores"
EXPECTED_FAILED_CHECKS = {
    name: _SEVERAL_COLUMNS
    for name in (
        "check_classifier_data_not_an_array",
        "check_classifiers_classes",
        "check_classifiers_one_label",
        "check_classifiers_train",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_supervised_y_2d",
    )
} | {"check_fit1d": "1-D scores are taken as one column on purpose (the trees' scores are 1-D)"}


@parametrize_with_checks(
    [calibrator() for calibrator in CALIBRATORS.values()],
    expected_failed_checks=lambda _: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _scores_and_labels(reads: str) -> tuple[np.ndarray, np.ndarray]:
    """Booster-like probabilities that overstate churn, as the raw score `reads` names."""
    rng = np.random.default_rng(7)
    p = rng.uniform(0.01, 0.9, 3000)
    y = (rng.uniform(size=p.size) < p * 0.6).astype(int)
    return scores_of(p, reads), y  # type: ignore[arg-type]


def check_calibrator(cls: type[ScoreCalibrator]) -> None:
    """Fail unless `cls` is a complete calibrator: the checks every registered one must pass."""
    assert issubclass(cls, ScoreCalibrator), f"{cls.__name__} is not a ScoreCalibrator"
    assert CALIBRATORS.get(cls.method) is cls, f"{cls.__name__} is not registered as {cls.method}"
    assert cls.reads in ("log_odds", "probability"), f"{cls.__name__} reads {cls.reads!r}"
    scores, y = _scores_and_labels(cls.reads)
    calibrator = cls()
    assert calibrator.fit(scores, y) is calibrator, "fit does not return self"
    grid = np.linspace(0.0, 1.0, 2001)
    churn = calibrator.calibrate(grid)
    assert churn.shape == grid.shape, "the map does not give one probability per score"
    assert np.all((churn >= 0) & (churn <= 1)), "probabilities outside [0, 1]"
    assert np.all(np.diff(churn) >= 0), "the map is not monotone non-decreasing"
    proba = calibrator.predict_proba(scores)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, err_msg="probabilities do not add to 1")
    again = pickle.loads(pickle.dumps(calibrator))
    np.testing.assert_array_equal(again.calibrate(grid), churn, err_msg="pickle changes the map")
    document = json.loads(json.dumps(calibrator.export()))
    assert (document["method"], document["reads"]) == (cls.method, cls.reads)


@pytest.mark.parametrize("method", sorted(CALIBRATORS))
def test_every_registered_calibrator_is_complete(method):
    check_calibrator(CALIBRATORS[method])


class _NoMap(ScoreCalibrator):
    method, reads = "no_map", "probability"

    def _fit(self, scores, y):
        pass


class _Decreasing(ScoreCalibrator):
    method, reads = "decreasing", "probability"

    def _fit(self, scores, y):
        pass

    def _map(self, scores):
        return 1 - scores

    def _numbers(self):
        return {}


class _OutOfRange(_Decreasing):
    method = "out_of_range"

    def _map(self, scores):
        return 2 * scores


class _ReturnsNone(_Decreasing):
    method = "returns_none"

    def _map(self, scores):
        return scores

    def fit(self, X, y):
        super().fit(X, y)


class _Unpicklable(_ReturnsNone):
    method = "unpicklable"

    def fit(self, X, y):
        self.hook_ = lambda: None  # a lambda cannot be pickled
        return super(_ReturnsNone, self).fit(X, y)


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (_NoMap, NotImplementedError),
        (_Decreasing, AssertionError),
        (_OutOfRange, AssertionError),
        (_ReturnsNone, AssertionError),
        (_Unpicklable, (pickle.PicklingError, AttributeError)),
    ],
)
def test_an_incomplete_calibrator_fails_the_checks(broken, error, monkeypatch):
    monkeypatch.setitem(CALIBRATORS, broken.method, broken)
    with pytest.raises(error):
        check_calibrator(broken)


def test_an_unregistered_calibrator_fails_the_checks():
    with pytest.raises(AssertionError, match="not registered"):
        check_calibrator(_Decreasing)


def test_params_name_only_registered_calibrators():
    assert TrainParams(calibration_methods=sorted(CALIBRATORS)).calibration_methods
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        TrainParams(calibration_methods=["platt", "beta"])
