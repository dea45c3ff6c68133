"""The model beside the managers' 1-4 ratings on the test weeks: agreement, staleness, who is right.

Frames in, dicts and frames out (the figures are `evaluation.plots.compare_figures`). `rows`
holds one row per account and test week with account_id, as_of, churned (0/1), probability,
tier (1-4), manager_rating (1-4 or missing), rating_probability (the rating calibrated on the
calibration period), rating_age_days, days_since_contact (missing = never), csm_id, segment
and mrr.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import brier_score_loss, cohen_kappa_score, roc_auc_score

from training.metrics import score

LEVELS = (1, 2, 3, 4)
AGE_BUCKETS = ("< 30 days", "30-90 days", "90-180 days", "> 180 days", "never rated")
STALE_DAYS = 90
QUIET_DAYS = 90
KINDS = ("model_sees_risk", "manager_sees_risk")


def is_stale(rating_age_days: pd.Series) -> pd.Series:
    """Ratings STALE_DAYS old or older, or never given (True)."""
    return (rating_age_days.astype("Float64") >= STALE_DAYS).fillna(True)


def is_quiet(days_since_contact: pd.Series) -> pd.Series:
    """Accounts without a manager contact for over QUIET_DAYS, or ever (True)."""
    return (days_since_contact.astype("Float64") > QUIET_DAYS).fillna(True)


def disagreement_masks(tier: pd.Series, manager_rating: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Where the data sees risk the manager doesn't, and the reverse (KINDS, as two masks).

    The model's tier 1-2 against a rating of 3-4; a rating of 1-2 against tier 4. An
    unrated account is in neither.
    """
    rating = manager_rating.astype("Float64")
    model_sees = ((tier <= 2) & (rating >= 3)).fillna(False).to_numpy(bool)
    manager_sees = ((rating <= 2) & (tier == 4)).fillna(False).to_numpy(bool)
    return model_sees, manager_sees


DISAGREEMENT_COLUMNS = [
    "account_id",
    "as_of",
    "kind",
    "probability",
    "tier",
    "manager_rating",
    "rating_probability",
    "rating_age_days",
    "days_since_contact",
    "mrr",
    "revenue_at_risk",
    "csm_id",
    "segment",
    "churned",
    "right",
    "reasons",
]


def json_safe(value: Any) -> Any:
    """JSON-safe scalars: numpy to python, NaN to None."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _auc(y: pd.Series, score_: pd.Series) -> float:
    """ROC AUC, NaN when only one class (or nothing) is there."""
    ok = score_.notna()
    y, s = y[ok].astype(int), score_[ok].astype(float)
    return float(roc_auc_score(y, s)) if y.nunique() == 2 else math.nan


def _brier(y: pd.Series, p: pd.Series) -> float:
    ok = p.notna()
    return float(brier_score_loss(y[ok].astype(int), p[ok].astype(float))) if ok.any() else math.nan


def _rated(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["manager_rating"].notna()]


def _churn_by(rows: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    out = []
    for level in LEVELS:
        part = rows[rows[column] == level]
        out.append(
            {
                "level": level,
                "rows": len(part),
                "churned": int(part["churned"].sum()),
                "churn_rate": float(part["churned"].mean()) if len(part) else None,
            }
        )
    return out


def agreement(
    rows: pd.DataFrame, combined: np.ndarray | None = None, ece_bins: int = 10
) -> dict[str, Any]:
    """Tier against rating on the rated rows, and the model, rating and both as predictors."""
    rated = _rated(rows)
    out: dict[str, Any] = {"rated_rows": len(rated), "unrated_rows": len(rows) - len(rated)}
    if rated.empty:
        return out
    tier = rated["tier"].astype(int).to_numpy()
    rating = rated["manager_rating"].astype(int).to_numpy()
    confusion = pd.crosstab(tier, rating).reindex(index=LEVELS, columns=LEVELS, fill_value=0)
    y, mrr = rated["churned"].astype(int), rated["mrr"]
    metrics = {
        "model": score(y, rated["probability"], mrr, ece_bins),
        "rating": score(y, rated["rating_probability"], mrr, ece_bins),
    }
    if combined is not None:
        metrics["both"] = score(y, combined, mrr, ece_bins)
    out |= {
        "confusion_labels": list(LEVELS),
        "confusion": confusion.to_numpy().tolist(),
        "kappa_linear": cohen_kappa_score(tier, rating, weights="linear", labels=list(LEVELS)),
        "kappa_quadratic": cohen_kappa_score(
            tier, rating, weights="quadratic", labels=list(LEVELS)
        ),
        "spearman": spearmanr(tier, rating).statistic,
        "spearman_probability": spearmanr(-rated["probability"], rating).statistic,
        "churn_by_rating": _churn_by(rated, "manager_rating"),
        "churn_by_tier": _churn_by(rows, "tier"),
        "metrics": metrics,
    }
    return json_safe(out)


def _age_bucket(age: pd.Series) -> pd.Series:
    a = age.astype("Float64")
    labels = np.select(
        [
            a.isna().to_numpy(),
            (a < 30).fillna(False),
            (a < 90).fillna(False),
            (a < 180).fillna(False),
        ],
        [AGE_BUCKETS[4], AGE_BUCKETS[0], AGE_BUCKETS[1], AGE_BUCKETS[2]],
        AGE_BUCKETS[3],
    )
    return pd.Series(labels, index=age.index)


def by_rating_age(rows: pd.DataFrame) -> pd.DataFrame:
    """How good the rating and the model are, by how old the rating is."""
    bucket = _age_bucket(rows["rating_age_days"])
    records = []
    for name in AGE_BUCKETS:
        part = rows[bucket == name]
        y = part["churned"]
        records.append(
            {
                "bucket": name,
                "rows": len(part),
                "churn_rate": float(y.mean()) if len(part) else math.nan,
                "rating_auc": _auc(y, -part["manager_rating"].astype("Float64")),
                "rating_brier": _brier(
                    y, part["rating_probability"].where(part["manager_rating"].notna())
                ),
                "model_auc": _auc(y, part["probability"]),
                "model_brier": _brier(y, part["probability"]),
            }
        )
    return pd.DataFrame(records)


def _latest(rows: pd.DataFrame) -> pd.DataFrame:
    """Each account's latest test row."""
    return rows.sort_values("as_of").drop_duplicates("account_id", keep="last")


def per_manager(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per account manager: how their ratings did, and how stale their book is."""
    rows = rows.assign(
        csm_id=rows["csm_id"].astype("object").where(rows["csm_id"].notna(), "unassigned")
    )
    book = {lv: rows.loc[rows["manager_rating"] == lv, "churned"].mean() for lv in LEVELS}
    records = []
    for csm, part in rows.groupby("csm_id", sort=True):
        rated = _rated(part)
        latest = _latest(part)
        stale = is_stale(latest["rating_age_days"])
        quiet = is_quiet(latest["days_since_contact"])
        record: dict[str, Any] = {
            "csm_id": csm,
            "accounts": part["account_id"].nunique(),
            "rows": len(part),
            "churn_rate": float(part["churned"].mean()),
            "rating_auc": _auc(rated["churned"], -rated["manager_rating"].astype(float)),
        }
        for lv in LEVELS:
            at = rated.loc[rated["manager_rating"] == lv, "churned"]
            record[f"churn_rate_r{lv}"] = float(at.mean()) if len(at) else math.nan
        for lv in LEVELS:
            record[f"book_churn_rate_r{lv}"] = float(book[lv]) if pd.notna(book[lv]) else math.nan
        record["optimism_bias"] = (
            float(rated["rating_probability"].mean() - rated["churned"].mean())
            if len(rated)
            else math.nan
        )
        record["stale_share"] = float(stale.mean())
        record["not_contacted_90d"] = int(quiet.sum())
        record["mean_probability"] = float(part["probability"].mean())
        records.append(record)
    columns = ["csm_id", "accounts", "rows", "churn_rate", "rating_auc"]
    columns += [f"churn_rate_r{lv}" for lv in LEVELS] + [f"book_churn_rate_r{lv}" for lv in LEVELS]
    columns += ["optimism_bias", "stale_share", "not_contacted_90d", "mean_probability"]
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values(["accounts", "csm_id"], ascending=[False, True]).reset_index(drop=True)


def disagreements(rows: pd.DataFrame, reasons: pd.DataFrame | None) -> pd.DataFrame:
    """Rows where model and manager disagree sharply, ranked by revenue at risk."""
    model_sees, manager_sees = disagreement_masks(rows["tier"], rows["manager_rating"])
    out = rows[model_sees | manager_sees].copy()
    out["kind"] = np.where(model_sees, KINDS[0], KINDS[1])[model_sees | manager_sees]
    out["revenue_at_risk"] = out["mrr"].astype(float) * out["probability"]
    churned = out["churned"].astype(bool)
    model_right = ((out["kind"] == KINDS[0]) & churned) | ((out["kind"] == KINDS[1]) & ~churned)
    out["right"] = np.where(model_right, "model", "manager")
    if reasons is not None and len(out):
        keyed = reasons.set_index(["account_id", "as_of"])["reasons_up"]
        found = keyed.reindex(pd.MultiIndex.from_frame(out[["account_id", "as_of"]]))
        out["reasons"] = [list(r) if isinstance(r, list | np.ndarray) else [] for r in found]
    else:
        out["reasons"] = [[] for _ in range(len(out))]
    out = out.sort_values(
        ["revenue_at_risk", "account_id", "as_of"], ascending=[False, True, True], kind="stable"
    )
    return out[DISAGREEMENT_COLUMNS].reset_index(drop=True)


def _counts(part: pd.DataFrame) -> dict[str, Any]:
    return {
        "rows": len(part),
        "accounts": int(part["account_id"].nunique()),
        "churned_share": float(part["churned"].mean()) if len(part) else None,
        "mean_probability": float(part["probability"].mean()) if len(part) else None,
        # Who was closer in probability terms (Brier on these rows; the rating as calibrated
        # on the calibration period): fairer than yes/no when the model says 25%.
        "model_brier": _brier(part["churned"], part["probability"]) if len(part) else None,
        "rating_brier": _brier(part["churned"], part["rating_probability"]) if len(part) else None,
        "model_right": int((part["right"] == "model").sum()),
        "manager_right": int((part["right"] == "manager").sum()),
    }


def who_was_right(dis: pd.DataFrame) -> dict[str, Any]:
    """Per kind of disagreement, how often each side was right.

    Counted on every row, and on each account once at its first disagreement of that kind
    ("first_week"): the yes/no count (the model is right when a "model sees risk" account
    churned, or a "manager sees risk" account did not), and each side's Brier score.
    """
    out: dict[str, Any] = {}
    for kind in KINDS:
        part = dis[dis["kind"] == kind]
        first = part.sort_values("as_of").drop_duplicates("account_id", keep="first")
        out[kind] = _counts(part) | {"first_week": _counts(first)}
    return json_safe(out)
