"""Who was right at the renewal, on small books whose answer is known."""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from scipy.stats import binomtest

from evaluation import renewal as rn
from evaluation.plots import renewal_figure

AS_OF = dt.date(2026, 1, 5)
EXPORT = dt.date(2026, 12, 31)  # 360 days after AS_OF
GRACE = 30


def book(groups: list[tuple[int, int, float | None, int, int, int]]) -> tuple[pd.DataFrame, ...]:
    """Comparison rows and snapshots, one account per row, all on AS_OF.

    Each group: (rows, tier, rating, days to the renewal, how many churned, churn day after
    AS_OF). A renewal 340 days away is censored at EXPORT (its window closes on day 370).
    """
    rows, snaps = [], []
    for g, (n, tier, rating, days, churned, churn_day) in enumerate(groups):
        for i in range(n):
            account = f"G{g}-{i:03d}"
            churn = AS_OF + dt.timedelta(days=churn_day) if i < churned else None
            rows.append(
                {
                    "account_id": account,
                    "as_of": AS_OF,
                    "churned": int(churn is not None and churn_day < 90),
                    "probability": 0.5,
                    "tier": tier,
                    "manager_rating": rating,
                }
            )
            snaps.append(
                {
                    "account_id": account,
                    "as_of": AS_OF,
                    "churn_date": churn,
                    "account_days_to_renewal": float(days),
                }
            )
    frame = pd.DataFrame(rows).astype({"manager_rating": "Float64"})
    return frame, pd.DataFrame(snaps)


MANAGER, MODEL, NEITHER = (4, 1.0), (1, 4.0), (3, 3.0)


def labeled(groups: list[tuple[int, int, float | None, int, int, int]]) -> pd.DataFrame:
    rows, snaps = book(groups)
    return rn.with_renewal(rows, snaps, GRACE, EXPORT)


# The manager's far renewals: 10 known (8 leave on day 100, after the 90-day horizon), 4 censored.
# The model's near renewals: 40 known, 4 leave on day 5. Beside them, rows in neither list.
KNOWN_ANSWER = [
    (10, *MANAGER, 200, 8, 100),
    (4, *MANAGER, 340, 0, 0),
    (40, *MODEL, 10, 4, 5),
    (30, *NEITHER, 200, 3, 100),
    (40, *NEITHER, 10, 20, 5),
    (5, 1, None, 10, 5, 5),  # unrated: in neither list
]


def test_counts_censored_rates_and_verdicts_on_a_known_book():
    judged = rn.judge_lists(labeled(KNOWN_ANSWER), confidence=0.95, min_known=10)
    manager, model, base = judged["manager_sees_risk"], judged["model_sees_risk"], judged["base"]
    assert (base["rows"], base["known"], base["unknown"]) == (129, 125, 4)
    assert base["churned_by_renewal"] == 8 + 4 + 3 + 20 + 5
    assert (manager["rows"], manager["known"], manager["unknown"]) == (14, 10, 4)
    assert manager["churn_rate_by_renewal"] == pytest.approx(0.8)
    assert manager["churn_rate_horizon"] == 0  # left on day 100: the 90-day label says "stayed"
    # Base at the same distance: 11 of the 40 known rows 200 days out; 24 of 80 at 10 days.
    assert manager["base_rate_same_distance"] == pytest.approx(11 / 40)
    assert manager["base_rate_all_rows"] == pytest.approx(40 / 125)
    assert manager["verdict"] == "manager" and manager["saw_risk"] == "manager"
    assert manager["days_to_renewal"] == {"median": 200, "q1": 200, "q3": 305, "unknown": 0}
    assert (model["rows"], model["known"], model["unknown"]) == (40, 40, 0)
    assert model["churn_rate_by_renewal"] == pytest.approx(0.1)
    assert model["churn_rate_horizon"] == pytest.approx(0.1)
    assert model["base_rate_same_distance"] == pytest.approx(29 / 85)  # unrated rows count
    assert model["verdict"] == "manager"  # the model saw risk; they churned less than the rest


def test_too_few_known_rows_give_no_verdict():
    judged = rn.judge_lists(labeled(KNOWN_ANSWER), confidence=0.95, min_known=11)
    assert judged["manager_sees_risk"]["verdict"] == rn.TOO_FEW
    assert judged["manager_sees_risk"]["known"] == 10  # still counted, never dropped
    assert judged["model_sees_risk"]["verdict"] == "manager"


def test_a_list_churning_like_its_distance_is_the_other_sides_win():
    """Far renewals churn more by their renewal: the plain rate of every row would flatter them."""
    groups = [(60, *MANAGER, 200, 24, 100), (60, *NEITHER, 200, 24, 100), (120, *NEITHER, 10, 0, 5)]
    manager = rn.judge_lists(labeled(groups), 0.95, 10)["manager_sees_risk"]
    assert manager["churn_rate_by_renewal"] == pytest.approx(0.4)
    assert manager["base_rate_same_distance"] == pytest.approx(0.4)
    assert manager["base_rate_all_rows"] == pytest.approx(0.2)
    assert manager["verdict"] == "model"
    assert manager["verdict_against_all_rows"] == "manager"


def test_the_model_is_right_when_its_list_churns_by_the_renewal():
    groups = [(40, *MODEL, 10, 36, 5), (40, *NEITHER, 10, 4, 5), (20, *MANAGER, 200, 1, 100)]
    judged = rn.judge_lists(labeled(groups), 0.95, 10)
    assert judged["model_sees_risk"]["verdict"] == "model"
    assert judged["manager_sees_risk"]["verdict"] == "model"


def test_labels_carried_by_the_rows_are_kept_and_a_missing_row_is_unknown():
    rows, snaps = book(KNOWN_ANSWER)
    labels = rn.with_renewal(rows, snaps, GRACE, EXPORT)
    assert rn.with_renewal(labels, snaps.head(0), GRACE, EXPORT) is labels
    missing = rn.with_renewal(rows, snaps.iloc[1:], GRACE, EXPORT)
    assert missing["churned_by_renewal"].isna().sum() == 5  # 4 censored, 1 not in the snapshots
    assert pd.isna(missing.loc[0, "next_renewal"])
    assert labels.loc[0, "next_renewal"] == pd.Timestamp(AS_OF) + pd.Timedelta(days=200)


@pytest.mark.parametrize(("k", "n"), [(8, 10), (0, 25), (25, 25), (669, 4276)])
def test_the_wilson_interval_matches_scipy(k: int, n: int):
    expected = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert rn.wilson_interval(k, n, 0.9) == pytest.approx((expected.low, expected.high))


def test_the_verdict_comes_from_the_first_source_with_enough_known_rows():
    few = labeled([(4, *MANAGER, 200, 4, 100), (10, *NEITHER, 200, 0, 100)])
    many = labeled(KNOWN_ANSWER)
    judged = {"test_weeks": rn.judge_lists(few, 0.95, 10), "backtest_weeks": None}
    judged["backtest_weeks"] = rn.judge_lists(many, 0.95, 10)
    lists = rn.per_list(judged)
    assert lists["manager_sees_risk"]["test_weeks"]["verdict"] == rn.TOO_FEW
    assert lists["manager_sees_risk"]["verdict"] == "manager"
    assert lists["manager_sees_risk"]["judged_on"] == "backtest_weeks"
    assert lists["base"]["test_weeks"]["rows"] == 14
    line = rn.describe(
        "manager_sees_risk", "test_weeks", judged["test_weeks"]["manager_sees_risk"], 90
    )
    assert "4 rows, 4 with the renewal label known (0 censored)" in line
    assert line.endswith(rn.TOO_FEW)


def test_the_figure_shows_each_list_on_each_source():
    judged = {"test_weeks": rn.judge_lists(labeled(KNOWN_ANSWER), 0.95, 10)}
    summary = {"weeks": {"test_weeks": rn.weeks_of(labeled(KNOWN_ANSWER))}} | rn.per_list(judged)
    fig = renewal_figure(summary, 90)
    assert len(fig.axes[0].containers) == 2  # one interval per list
    plt.close(fig)
