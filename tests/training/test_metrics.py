import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training.metrics import expected_calibration_error, score, top_decile

Y = np.array([0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1])
P = np.linspace(0.05, 0.9, 20)


def test_score_matches_scikit_learn():
    m = score(Y, P, bins=10)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(Y, P))
    assert m["pr_auc"] == pytest.approx(average_precision_score(Y, P))
    assert m["brier"] == pytest.approx(brier_score_loss(Y, P))
    assert m["log_loss"] == pytest.approx(log_loss(Y, P))
    assert m["base_rate"] == pytest.approx(0.3)


def test_ece_on_equal_mass_bins():
    y = np.array([0, 1, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.9])
    # Two bins of three: |1/3 - 0.2| and |2/3 - 0.6|, equally weighted.
    assert expected_calibration_error(y, p, bins=2) == pytest.approx((2 / 15 + 1 / 15) / 2)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5]), bins=1) == 0


def test_top_decile_lift_and_churned_mrr():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8] + [0.1] * 18)
    mrr = np.array([100.0] + [10.0] * 9 + [300.0] * 10)
    out = top_decile(y, p, mrr)
    assert out["top_decile_lift"] == pytest.approx(0.5 / 0.15)
    assert out["top_decile_lift_ceiling"] == pytest.approx(1 / 0.15)
    assert out["top_decile_churned_mrr_share"] == pytest.approx(100 / 700)
