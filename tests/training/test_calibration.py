import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss

from training.calibration import compare_calibrators, fit_calibrator


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
