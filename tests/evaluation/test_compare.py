"""The model-versus-managers figures on fixtures whose answer is known."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from evaluation import compare as cmp
from evaluation.plots import compare_figures

WEEKS = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(4)]


def book(seed: int = 0, n: int = 2400) -> pd.DataFrame:
    """Three managers: A rates from the true risk, B shuffles, C is noisy."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 6, n)
    churned = (rng.random(n) < p).astype(int)
    csm = np.array(["A", "B", "C"])[np.arange(n) % 3]
    by_truth = 4 - np.digitize(p, np.quantile(p, [0.25, 0.5, 0.75]))  # high risk -> 1
    rating = by_truth.astype(float)
    b = csm == "B"
    rating[b] = rng.permutation(rating[b])
    c = csm == "C"
    rating[c] = np.clip(rating[c] + rng.integers(-1, 2, c.sum()), 1, 4)
    rating[rng.random(n) < 0.1] = np.nan
    probability = np.clip(p + rng.normal(0, 0.03, n), 0.001, 0.999)
    return pd.DataFrame(
        {
            "account_id": [f"X{i // 4:04d}" for i in range(n)],
            "as_of": [WEEKS[i % 4] for i in range(n)],
            "churned": churned,
            "probability": probability,
            "tier": 4 - np.digitize(probability, np.quantile(probability, [0.25, 0.5, 0.75])),
            "manager_rating": pd.array(rating, dtype="Float64"),
            "rating_probability": np.where(
                np.isnan(rating), np.nan, 0.4 / np.nan_to_num(rating, nan=1)
            ),
            "rating_age_days": pd.array(rng.integers(0, 300, n).astype(float), dtype="Float64"),
            "days_since_contact": pd.array(rng.integers(0, 200, n).astype(float), dtype="Float64"),
            "csm_id": csm,
            "segment": "low_touch",
            "mrr": rng.lognormal(6, 1, n),
        }
    )


def test_kappa_and_spearman_match_scikit_learn_and_scipy():
    rows = book()
    summary = cmp.agreement(rows)
    rated = rows[rows["manager_rating"].notna()]
    tier, rating = rated["tier"].astype(int), rated["manager_rating"].astype(int)
    assert summary["kappa_quadratic"] == pytest.approx(
        cohen_kappa_score(tier, rating, weights="quadratic")
    )
    assert summary["kappa_linear"] == pytest.approx(
        cohen_kappa_score(tier, rating, weights="linear")
    )
    assert summary["spearman"] == pytest.approx(spearmanr(tier, rating).statistic)
    expected = pd.crosstab(tier, rating).reindex(index=[1, 2, 3, 4], columns=[1, 2, 3, 4])
    assert summary["confusion"] == expected.fillna(0).astype(int).to_numpy().tolist()
    assert sum(map(sum, summary["confusion"])) == summary["rated_rows"] == len(rated)


def test_shuffled_ratings_rank_at_chance_and_truthful_ones_best():
    managers = cmp.per_manager(book()).set_index("csm_id")
    assert abs(managers.loc["B", "rating_auc"] - 0.5) < 0.07
    assert managers["rating_auc"].idxmax() == "A"
    assert managers.loc["A", "rating_auc"] > managers.loc["C", "rating_auc"] > 0.55
    assert managers["accounts"].sum() >= 600 and (managers["rows"] == 800).all()
    # The book's churn per rating is the same on every line; A's top risk churns most.
    assert managers["book_churn_rate_r1"].nunique() == 1
    assert managers.loc["A", "churn_rate_r1"] > managers.loc["A", "churn_rate_r4"]


def test_staleness_and_quiet_accounts_use_each_accounts_latest_week():
    rows = book().head(8).copy()  # accounts X0000 and X0001, four weeks each
    rows["csm_id"] = "A"
    rows["rating_age_days"] = pd.array([200, 200, 200, 10, 95, 95, 95, None], dtype="Float64")
    rows["days_since_contact"] = pd.array([1, 1, 1, 120, 5, 5, 5, 5], dtype="Float64")
    line = cmp.per_manager(rows).iloc[0]
    # X0000 was last rated 10 days before its latest week; X0001's rating is missing there.
    assert line["stale_share"] == 0.5
    assert line["not_contacted_90d"] == 1


def test_rating_age_buckets_at_their_edges():
    ages = [29, 30, 89, 90, 179, 180, None]
    rows = pd.DataFrame({"rating_age_days": pd.array(ages, dtype="Float64")})
    assert cmp._age_bucket(rows["rating_age_days"]).tolist() == [
        "< 30 days",
        "30-90 days",
        "30-90 days",
        "90-180 days",
        "90-180 days",
        "> 180 days",
        "never rated",
    ]
    table = cmp.by_rating_age(book())
    assert table["bucket"].tolist() == list(cmp.AGE_BUCKETS)
    assert table["rows"].sum() == len(book())


def test_disagreements_carry_reasons_and_who_was_right():
    rows = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "a"],
            "as_of": [WEEKS[0], WEEKS[0], WEEKS[0], WEEKS[0], WEEKS[1]],
            "churned": [1, 0, 0, 1, 1],
            "probability": [0.6, 0.5, 0.02, 0.03, 0.7],
            "tier": [1, 2, 4, 4, 1],
            "manager_rating": pd.array([4, 3, 1, 2, 4], dtype="Float64"),
            "rating_probability": [0.05, 0.1, 0.4, 0.3, 0.05],
            "rating_age_days": pd.array([10, 20, 30, 40, 17], dtype="Float64"),
            "days_since_contact": pd.array([5, 5, 5, 5, 12], dtype="Float64"),
            "csm_id": "A",
            "segment": "high_touch",
            "mrr": [1000.0, 100.0, 5000.0, 10.0, 1000.0],
        }
    )
    reasons = pd.DataFrame(
        {
            "account_id": ["a", "c"],
            "as_of": [WEEKS[0], WEEKS[0]],
            "reasons_up": [["3 urgent tickets in the last 30 days"], ["Renewal in 10 days"]],
            "reasons_down": [[], []],
        }
    )
    dis = cmp.disagreements(rows, reasons)
    # Ranked by MRR x probability: 700, 600, 100, 50, 0.3.
    assert dis["account_id"].tolist() == ["a", "a", "c", "b", "d"]
    first = dis.set_index(["account_id", "as_of"])
    assert first.loc[("a", WEEKS[0]), "reasons"] == ["3 urgent tickets in the last 30 days"]
    assert first.loc[("a", WEEKS[1]), "reasons"] == []  # no explanation for that week
    assert first.loc[("a", WEEKS[0]), "kind"] == "model_sees_risk"
    assert first.loc[("a", WEEKS[0]), "right"] == "model"  # it churned
    assert first.loc[("b", WEEKS[0]), "right"] == "manager"  # it stayed
    assert first.loc[("c", WEEKS[0]), "kind"] == "manager_sees_risk"
    assert first.loc[("c", WEEKS[0]), "right"] == "model"  # it stayed
    assert first.loc[("d", WEEKS[0]), "right"] == "manager"  # it churned
    counts = cmp.who_was_right(dis)
    assert counts["model_sees_risk"]["rows"] == 3 and counts["model_sees_risk"]["accounts"] == 2
    assert counts["model_sees_risk"]["model_right"] == 2
    assert counts["model_sees_risk"]["first_week"]["rows"] == 2
    assert counts["manager_sees_risk"] | {"first_week": None} == {
        "rows": 2,
        "accounts": 2,
        "churned_share": 0.5,
        "mean_probability": 0.025,
        "model_brier": pytest.approx(((0.02 - 0) ** 2 + (0.03 - 1) ** 2) / 2),
        "rating_brier": pytest.approx(((0.4 - 0) ** 2 + (0.3 - 1) ** 2) / 2),
        "model_right": 1,
        "manager_right": 1,
        "first_week": None,
    }


def test_everything_works_without_any_rating():
    rows = book()
    rows["manager_rating"] = pd.array([None] * len(rows), dtype="Float64")
    rows["rating_probability"] = np.nan
    rows["rating_age_days"] = pd.array([None] * len(rows), dtype="Float64")
    summary = cmp.agreement(rows)
    assert summary == {"rated_rows": 0, "unrated_rows": len(rows)}
    assert cmp.disagreements(rows, None).empty
    assert cmp.per_manager(rows)["rating_auc"].isna().all()
    assert cmp.by_rating_age(rows)["rows"].tolist() == [0, 0, 0, 0, len(rows)]
    assert cmp.who_was_right(cmp.disagreements(rows, None))["model_sees_risk"]["rows"] == 0
    assert compare_figures(summary, cmp.by_rating_age(rows), cmp.per_manager(rows)) == {}


def test_figures_draw_every_view():
    rows = book()
    figs = compare_figures(cmp.agreement(rows), cmp.by_rating_age(rows), cmp.per_manager(rows))
    assert set(figs) == {"tier_vs_rating", "churn_by_level", "rating_age", "per_manager"}
