"""The weekly page's rules and tables on inline rows: disagreements, managers, movers."""

from __future__ import annotations

import pandas as pd

from evaluation.compare import QUIET_DAYS, STALE_DAYS, disagreement_masks, is_quiet, is_stale
from serving.report import _disagreements, _managers, _risers_and_fallers, read_summary
from serving.scoring import SCORE_COLUMNS


def _scores(rows: list[dict]) -> pd.DataFrame:
    """Score rows with the given values; the rest of SCORE_COLUMNS filled plainly."""
    base = {
        "as_of": pd.Timestamp("2026-03-02"),
        "probability": 0.1,
        "tier": 3,
        "revenue_at_risk": 10.0,
        "manager_rating": 3,
        "rating_age_days": 10,
        "communication_level": 2,
        "days_since_contact": 5,
        "segment": "high_touch",
        "csm_id": "csm_01",
        "mrr": 100.0,
        "previous_probability": 0.1,
        "reasons_up": [],
        "reasons_down": [],
        "movers": [],
        "account_name": None,
    }
    frame = pd.DataFrame(
        [base | {"rank": i + 1, "account_id": f"A{i + 1}"} | row for i, row in enumerate(rows)]
    )
    frame["probability_change"] = frame["probability"] - frame["previous_probability"]
    return frame[list(SCORE_COLUMNS)]


def test_the_disagreement_rule():
    tier = pd.Series([1, 2, 2, 3, 4, 4, 4, 1])
    rating = pd.Series([3, 4, 2, 1, 2, 1, 3, None])
    model_sees, manager_sees = disagreement_masks(tier, rating)
    assert model_sees.tolist() == [True, True, False, False, False, False, False, False]
    assert manager_sees.tolist() == [False, False, False, False, True, True, False, False]


def test_stale_and_quiet_counts_and_their_edges():
    assert (STALE_DAYS, QUIET_DAYS) == (90, 90)
    ages = pd.Series([89, 90, None, 400])
    assert is_stale(ages).tolist() == [False, True, True, True]  # never rated is stale
    contact = pd.Series([90, 91, None, 3])
    assert is_quiet(contact).tolist() == [False, True, True, False]  # never contacted is quiet


def test_the_page_lists_each_kind_of_disagreement():
    scores = _scores(
        [
            {"tier": 1, "manager_rating": 4, "mrr": 10.0},  # the data sees risk
            {"tier": 2, "manager_rating": 3, "mrr": 20.0},  # the data sees risk
            {"tier": 4, "manager_rating": 1, "mrr": 50.0},  # the manager sees risk
            {"tier": 4, "manager_rating": 2, "mrr": 500.0},  # the manager sees risk
            {"tier": 4, "manager_rating": None},  # unrated: neither
            {"tier": 3, "manager_rating": 1},  # not sharp enough: neither
        ]
    )
    lists = _disagreements(scores, n=5)
    assert [r["account_id"] for r in lists["model_sees_risk"]] == ["A1", "A2"]  # by rank
    assert [r["account_id"] for r in lists["manager_sees_risk"]] == ["A4", "A3"]  # by MRR
    assert [r["account_id"] for r in _disagreements(scores, n=1)["manager_sees_risk"]] == ["A4"]


def test_the_managers_table_counts_stale_and_quiet_accounts():
    scores = _scores(
        [
            {"csm_id": "csm_01", "rating_age_days": 90, "days_since_contact": 90, "tier": 1},
            {"csm_id": "csm_01", "rating_age_days": 89, "days_since_contact": 91},
            {"csm_id": None, "rating_age_days": None, "days_since_contact": None},
            {"csm_id": "csm_02", "revenue_at_risk": 900.0, "account_name": "Acme"},
        ]
    )
    scores.loc[scores["account_id"] == "A4", "days_since_contact"] = None
    table = {m["csm_id"]: m for m in _managers(scores, n=1)}
    assert [m["csm_id"] for m in _managers(scores, n=1)] == ["csm_02", "csm_01", "unassigned"]
    assert (table["csm_01"]["stale"], table["csm_01"]["quiet"]) == (1, 1)
    assert (table["csm_01"]["accounts"], table["csm_01"]["tier12"]) == (2, 1)
    assert table["csm_01"]["quiet_list"] == "A2"
    assert (table["unassigned"]["stale"], table["unassigned"]["quiet"]) == (1, 1)
    assert table["csm_02"]["quiet_list"] == "Acme"  # by name where the export has one
    assert [r["account_id"] for r in table["csm_01"]["top"]] == ["A1"]


def test_risers_and_fallers_are_the_biggest_changes_either_way():
    scores = _scores(
        [
            {"probability": 0.5, "previous_probability": 0.2},
            {"probability": 0.3, "previous_probability": 0.25},
            {"probability": 0.1, "previous_probability": 0.4},
            {"probability": 0.2, "previous_probability": 0.2},  # unchanged: in neither
            {"probability": 0.2, "previous_probability": None},  # new: in neither
        ]
    )
    moved = _risers_and_fallers(scores, n=5)
    assert [r["account_id"] for r in moved["risers"]] == ["A1", "A2"]
    assert [r["account_id"] for r in moved["fallers"]] == ["A3"]
    assert [r["change"] for r in moved["risers"]] == ["+30.0 pts", "+5.0 pts"]
    assert [r["account_id"] for r in _risers_and_fallers(scores, n=1)["risers"]] == ["A1"]


def test_an_old_summary_is_read_under_the_horizon_free_keys():
    old = {
        "expected_churned_mrr_90d": 5.0,
        "by_segment": {"smb": {"accounts": 3, "expected_churned_mrr_90d": 2.0}},
    }
    read = read_summary(old, horizon_days=90)
    assert (read["horizon_days"], read["expected_churned_mrr"]) == (90, 5.0)
    assert read["by_segment"]["smb"]["expected_churned_mrr"] == 2.0
    assert read_summary(old | {"horizon_days": 60}, 90)["horizon_days"] == 60
