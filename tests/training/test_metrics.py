import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training.metrics import (
    expected_calibration_error,
    riskiest_first,
    score,
    top_decile,
    top_decile_capture,
    truth_agreement,
)

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


def test_top_decile_capture_against_the_oracle():
    truth = np.array([0.9, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4])
    # 12 rows: the top tenth is 2 rows; the oracle's are 0.9 and 0.5.
    assert top_decile_capture(truth, truth) == pytest.approx(1.0)
    model = np.array([0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.7])
    assert top_decile_capture(truth, model) == pytest.approx((0.9 + 0.4) / 1.4)


def test_truth_agreement_of_a_probability():
    truth = np.array([0.1, 0.2, 0.3, 0.4])
    p = np.array([0.2, 0.1, 0.4, 0.6])
    m = truth_agreement(truth, p)
    assert m["spearman"] == pytest.approx(0.8)  # one swapped pair: 1 - 6 * 2 / (4 * 15)
    assert m["mae"] == pytest.approx((0.1 + 0.1 + 0.1 + 0.2) / 4)
    assert m["mean_probability"] == pytest.approx(0.325)
    assert m["mean_truth"] == pytest.approx(0.25)
    assert m["top_decile_capture"] == pytest.approx(1.0)


def test_truth_agreement_of_a_rating_has_no_error_or_mean():
    m = truth_agreement(np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0]), probability=False)
    assert m["spearman"] == pytest.approx(1.0)
    assert np.isnan(m["mae"]) and np.isnan(m["mean_probability"])


def test_riskiest_first_puts_rating_one_first_and_never_rated_last():
    rating = np.array([3, 1, np.nan, 1, 4, 2])
    place = riskiest_first(rating, seed=0)
    order = np.argsort(-place)
    assert set(order[:2]) == {1, 3}
    assert list(order[2:]) == [5, 0, 4, 2]
    assert np.array_equal(place, riskiest_first(rating, seed=0))
    ties = [tuple(np.argsort(-riskiest_first(rating, seed=s))[:2]) for s in range(20)]
    assert set(ties) == {(1, 3), (3, 1)}  # the tie is broken both ways across seeds
