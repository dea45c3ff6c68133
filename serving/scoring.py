"""One week's scores: probability, tier, reasons, and what moved since the week before.

Frames in, a frame out. The previous week is re-scored with the same model, so a change in
probability always comes from the account's data, never from a retrained model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaluation.explain import Explanation, explain_batches, reason_frame
from evaluation.reasons import quotable, sentence
from features.labels import NEXT_RENEWAL
from features.manifest import Manifest
from training.curve import is_curve_column, predict_curve
from training.model import ChurnModel
from training.tiers import assign_tiers

if TYPE_CHECKING:
    from training.bundle import ModelMeta

# snapshot column -> score column, copied as they are (missing columns stay empty)
CONTEXT = {
    "rating_current": "manager_rating",
    "rating_age_days": "rating_age_days",
    "rating_communication_level": "communication_level",
    "contacts_days_since_last": "days_since_contact",
    "segment": "segment",
    "csm_id": "csm_id",
    "mrr": "mrr",
    "account_name": "account_name",
}
# The columns of scores.parquet and scores.csv, in order, for every writer and reader.
# Columns are only ever appended: a CRM import may map scores.csv by position.
SCORE_COLUMNS = (
    "rank",
    "account_id",
    "as_of",
    "probability",
    "tier",
    "revenue_at_risk",
    "manager_rating",
    "rating_age_days",
    "communication_level",
    "days_since_contact",
    "segment",
    "csm_id",
    "mrr",
    "previous_probability",
    "probability_change",
    "reasons_up",
    "reasons_down",
    "movers",
    "account_name",  # the export's display name (empty when it has none)
)
LIST_COLUMNS = ("reasons_up", "reasons_down", "movers")


def score_week(
    model: ChurnModel,
    meta: ModelMeta,
    manifest: Manifest,
    week: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    reasons_up: int = 3,
    reasons_down: int = 2,
    movers: int = 2,
    min_contribution: float = 0.005,
    batch_rows: int = 50_000,
    progress: Any = None,
) -> pd.DataFrame:
    """Scores of every row of `week` (one snapshot date), ranked by revenue at risk."""
    week = week.reset_index(drop=True)
    now = explain_batches(model, week, batch_rows, progress)
    reasons = reason_frame(now, week, manifest, reasons_up, reasons_down, min_contribution)
    out = week[["account_id", "as_of"]].copy()
    out["probability"] = now.probability
    out["tier"] = assign_tiers(now.probability, meta.tiers)
    for source, target in CONTEXT.items():
        out[target] = week.get(source, pd.NA)
    out["mrr"] = out["mrr"].astype(float)
    out["revenue_at_risk"] = out["mrr"].fillna(0.0) * out["probability"]
    out["reasons_up"] = reasons["reasons_up"]
    out["reasons_down"] = reasons["reasons_down"]
    out["previous_probability"] = np.nan
    out["movers"] = [[] for _ in range(len(out))]
    if previous is not None and len(previous):
        _add_changes(
            out, now, week, model, manifest, previous, movers, min_contribution, batch_rows
        )
    out["probability_change"] = out["probability"] - out["previous_probability"]
    curve = predict_curve(model, week, meta.horizon(manifest.horizon_days), now.probability)
    out = pd.concat([out, curve.drop(columns=["as_of"], errors="ignore")], axis=1)
    out = out.sort_values(
        ["revenue_at_risk", "probability", "account_id"], ascending=[False, False, True]
    )
    out["rank"] = np.arange(1, len(out) + 1)
    return out[score_columns(out)].reset_index(drop=True)


def score_columns(scores: pd.DataFrame) -> list[str]:
    """SCORE_COLUMNS, then the risk curve's columns `scores` holds (`training/curve.py`).

    The curve's columns come last, in the model's order: the probability within each horizon
    (`p_churn_30d`, ...), the next renewal and the probability of churn by it.
    """
    return [*SCORE_COLUMNS, *(c for c in scores.columns if is_curve_column(c))]


def _add_changes(
    out: pd.DataFrame,
    now: Explanation,
    week: pd.DataFrame,
    model: ChurnModel,
    manifest: Manifest,
    previous: pd.DataFrame,
    n: int,
    min_contribution: float,
    batch_rows: int,
) -> None:
    """Previous probability, and the drivers whose contribution moved most, in place."""
    keys = ["account_id", "life"] if "life" in week and "life" in previous else ["account_id"]
    previous = previous.drop_duplicates(keys).reset_index(drop=True)
    where = week[keys].merge(previous[keys].assign(_row=np.arange(len(previous))), how="left")
    found = where["_row"].notna().to_numpy()
    if not found.any():
        return
    rows = where.loc[found, "_row"].astype(int).to_numpy()
    before = explain_batches(model, previous.iloc[rows], batch_rows)
    out.loc[found, "previous_probability"] = before.probability
    moved = now.contributions[found] - before.contributions
    entries = manifest.entries()
    records: list[dict[str, Any]] = week.loc[found].to_dict("records")  # type: ignore[assignment]
    texts = mover_texts(moved, now.features, entries, records, n, min_contribution)
    out.loc[found, "movers"] = pd.Series(texts, index=out.index[found], dtype=object)


def mover_texts(
    moved: np.ndarray,
    features: list[str],
    entries: dict[str, dict[str, Any]],
    records: list[dict[str, Any]],
    n: int,
    min_contribution: float,
) -> list[list[str]]:
    """Per row, the `n` quotable drivers whose contribution moved most, with the change.

    `moved` holds this week's contribution minus last week's (rows x features, probability
    points); a move smaller than `min_contribution` is not worth a sentence.
    """
    said_of = [[quotable(entries[name], r) for name in features] for r in records]
    moved = np.where(np.array(said_of, dtype=bool).reshape(moved.shape), moved, 0.0)
    order = np.argsort(-np.abs(moved), axis=1, kind="stable")[:, :n]
    texts = []
    for i, js in enumerate(order):
        said = []
        for j in js:
            if abs(moved[i, j]) < min_contribution:
                continue
            entry = entries[features[j]]
            said.append(f"{sentence(entry, records[i])} ({moved[i, j] * 100:+.1f} pts)")
        texts.append(said)
    return texts


def csv_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores as a CRM imports them: one line per account, lists joined by ' | '.

    Dates are plain ISO dates (`2026-03-02`, no time part; empty when unknown).
    """
    out = scores[score_columns(scores)].copy()
    for column in LIST_COLUMNS:
        out[column] = out[column].map(lambda items: " | ".join(items))
    for column in ("as_of", NEXT_RENEWAL):
        if column in out:
            out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d")
    return out


def week_summary(scores: pd.DataFrame, previous: pd.DataFrame | None) -> dict[str, Any]:
    """Headline figures of a scored week (and the change against the previous week).

    Expected churn is over the model's horizon, which the caller states as `horizon_days`;
    the keys name no horizon (weeks scored before it was a parameter wrote `..._90d`).
    """
    expected = float(scores["revenue_at_risk"].sum())
    summary: dict[str, Any] = {
        "accounts": len(scores),
        "mrr": float(scores["mrr"].fillna(0).sum()),
        "expected_churned_mrr": expected,
        "expected_churned_accounts": float(scores["probability"].sum()),
        "accounts_by_tier": {str(t): int((scores["tier"] == t).sum()) for t in (1, 2, 3, 4)},
        "by_segment": {
            str(seg): {
                "accounts": len(part),
                "mrr": float(part["mrr"].fillna(0).sum()),
                "expected_churned_mrr": float(part["revenue_at_risk"].sum()),
                "mean_probability": float(part["probability"].mean()),
            }
            for seg, part in scores.groupby(scores["segment"].fillna("unknown"), sort=True)
        },
    }
    if previous is not None:
        prev = float((previous["mrr"].fillna(0) * previous["probability"]).sum())
        summary["previous_expected_churned_mrr"] = prev
        summary["expected_churned_mrr_change"] = expected - prev
    return summary
