"""Realized figures of scored lists once their outcomes are known: one row per list and week.

A list is a week's probabilities for its accounts, either as scored that Monday (`as_scored`)
or as the recipe would have given it, replayed later (`replayed`). Once the week's labels are
final, its figures are the ones a person checks a forecast with: ROC AUC, Brier score, the
calibration in the large (mean predicted minus the realized churn rate), the precision of the
riskiest tenth, and the expected against the realized count of churns. A week the model
learned from (on or before its `data_through`) is in-sample: shown, never judged.
Frames in, frames out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

AS_SCORED, REPLAYED = "as_scored", "replayed"
LIST_COLUMNS = ["source", "as_of", "model", "data_through", "account_id", "probability", "mrr"]
FIGURES = [
    "rows",
    "expected_churns",
    "realized_churns",
    "expected_rate",
    "realized_rate",
    "calibration_in_the_large",
    "roc_auc",
    "brier",
    "top_decile_precision",
    "expected_churned_mrr",
    "realized_churned_mrr",
]
WEEK_COLUMNS = ["source", "as_of", "model", "data_through", "in_sample", *FIGURES]


def week_figures(
    churned: Any, probability: Any, mrr: Any = None, top_share: float = 0.1
) -> dict[str, float]:
    """Realized figures of one list: `churned` 0/1 outcomes beside its `probability`."""
    y = np.asarray(churned, dtype=float)
    p = np.asarray(probability, dtype=float)
    money = np.zeros_like(p) if mrr is None else np.nan_to_num(np.asarray(mrr, dtype=float))
    n_top = max(1, math.ceil(len(y) * top_share))
    top = np.argsort(-p, kind="stable")[:n_top]
    both = 0 < y.sum() < len(y)
    return {
        "rows": float(len(y)),
        "expected_churns": float(p.sum()),
        "realized_churns": float(y.sum()),
        "expected_rate": float(p.mean()),
        "realized_rate": float(y.mean()),
        "calibration_in_the_large": float(p.mean() - y.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "top_decile_precision": float(y[top].mean()),
        "expected_churned_mrr": float((money * p).sum()),
        "realized_churned_mrr": float((money * y).sum()),
    }


def join_outcomes(lists: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Lists with each account's final label (`outcomes`: account_id, as_of, churned).

    Accounts without a final label that week (none should be left) drop out of the join.
    """
    labels = outcomes[["account_id", "as_of", "churned"]]
    return lists.merge(labels, on=["account_id", "as_of"], how="inner")


def realized_weeks(joined: pd.DataFrame, top_share: float = 0.1) -> pd.DataFrame:
    """One row per (source, week, model): figures and whether the week is in-sample.

    `joined` holds LIST_COLUMNS and `churned`; `data_through` is the last week the list's model
    learned from (missing: unknown, counted as in-sample so it is never judged).
    """
    records = []
    for (source, as_of, model), part in joined.groupby(
        ["source", "as_of", "model"], sort=True, dropna=False
    ):
        through = part["data_through"].iloc[0]
        in_sample = bool(pd.isna(through) or through >= as_of)
        figures = week_figures(part["churned"], part["probability"], part["mrr"], top_share)
        records.append(
            {
                "source": source,
                "as_of": as_of,
                "model": model,
                "data_through": through,
                "in_sample": in_sample,
                **figures,
            }
        )
    return pd.DataFrame(records, columns=WEEK_COLUMNS)


def judged(weeks: pd.DataFrame, newest: int) -> pd.DataFrame:
    """The newest `newest` out-of-sample weeks, a scored list preferred to a replayed one."""
    out = weeks[~weeks["in_sample"].astype(bool)].copy()
    out["_order"] = (out["source"] != AS_SCORED).astype(int)
    out = out.sort_values(["as_of", "_order"]).drop_duplicates("as_of", keep="first")
    return out.drop(columns="_order").tail(newest).reset_index(drop=True)


def pooled(joined: pd.DataFrame, weeks: pd.DataFrame, top_share: float = 0.1) -> dict[str, Any]:
    """Figures over every row of the given weeks' lists together (the judged weeks' verdict)."""
    keys = weeks[["source", "as_of", "model"]]
    rows = joined.merge(keys, on=["source", "as_of", "model"], how="inner")
    if rows.empty:
        return {"weeks": 0}
    figures = week_figures(rows["churned"], rows["probability"], rows["mrr"], top_share)
    return {
        "weeks": len(weeks),
        "first": str(weeks["as_of"].min()),
        "last": str(weeks["as_of"].max()),
        **figures,
    }
