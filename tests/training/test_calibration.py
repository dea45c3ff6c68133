import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from venn_abers import VennAbers

from training.calibration import apply_calibrator, compare_calibrators, fit_calibrator


class Overconfident(ClassifierMixin, BaseEstimator):
    """Knows the ranking but squares the odds: a deliberately mis-calibrated model."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        true = X["p"].to_numpy()
        odds = (true / (1 - true)) ** 2.5
        p = odds / (1 + odds)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class Squashed(Overconfident):
    """Overconfident, with the raw log-odds a booster's `decision_function` gives."""

    def decision_function(self, X):
        p = self.predict_proba(X)[:, 1]
        return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"p": rng.uniform(0.02, 0.6, 6000)})
    y = (rng.random(6000) < X["p"]).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize("method", ["platt", "isotonic", "venn_abers"])
def test_calibrator_improves_log_loss(data, method):
    X, y = data
    fit_X, fit_y, test_X, test_y = X[:4000], y[:4000], X[4000:], y[4000:]
    model = Overconfident().fit(fit_X, fit_y)
    before = log_loss(test_y, model.predict_proba(test_X)[:, 1])
    calibrated = fit_calibrator(model, fit_X, fit_y, method)
    after = log_loss(test_y, calibrated.predict_proba(test_X)[:, 1])
    assert after < before - 0.02


def test_comparison_ranks_no_calibration_last(data):
    X, y = data
    losses = compare_calibrators(Overconfident().fit(X, y), X, y, ["none", "platt", "isotonic"])
    assert max(losses, key=losses.__getitem__) == "none"


@pytest.mark.parametrize(
    ("method", "sklearn_method"), [("platt", "sigmoid"), ("isotonic", "isotonic")]
)
def test_platt_and_isotonic_equal_scikit_learns_calibration_of_a_frozen_model(
    data, method, sklearn_method
):
    """The probabilities the code saved before calibrators read scores, to 1e-12."""
    X, y = data
    model = Squashed().fit(X, y)
    theirs = CalibratedClassifierCV(FrozenEstimator(model), method=sklearn_method).fit(X, y)
    ours = fit_calibrator(model, X, y, method)
    np.testing.assert_allclose(
        ours.predict_proba(X)[:, 1], theirs.predict_proba(X)[:, 1], rtol=0, atol=1e-12
    )
    grid = np.linspace(0.001, 0.999, 500)
    raw = pd.DataFrame({"p": 1 / (1 + np.exp(-(np.log(grid / (1 - grid)) / 2.5)))})
    np.testing.assert_allclose(
        apply_calibrator(ours, model.predict_proba(raw)[:, 1]),
        theirs.predict_proba(raw)[:, 1],
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.filterwarnings("ignore:All-NaN slice")
def test_venn_abers_and_none_equal_their_definitions(data):
    X, y = data
    model = Overconfident().fit(X, y)
    p = model.predict_proba(X)
    expected, _ = VennAbers().fit(p, y, precision=4).predict_proba(p)
    got = fit_calibrator(model, X, y, "venn_abers").predict_proba(X)
    np.testing.assert_allclose(got[:, 1], expected[:, 1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fit_calibrator(model, X, y, "none").predict_proba(X), p)


def test_an_unknown_method_names_the_known_ones(data):
    X, y = data
    with pytest.raises(ValueError, match="unknown calibration method 'beta'.*venn_abers"):
        fit_calibrator(Overconfident().fit(X, y), X, y, "beta")
