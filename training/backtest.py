"""Replay the test weeks as weekly meetings: whom each list would have called, and who left.

For every test Monday two call lists of the same length are drawn: the model's (highest
probability first) and the managers' (rating 1 first, then 2, ...; never rated last; within a
rating, the larger MRR first, as a manager with no other signal would). Each list is scored on
what happened: precision (share that churned within the horizon), the share of that week's
churned MRR it holds, and the median days from the meeting to the churn.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

RANKINGS = ("model", "managers")


def _ordered(week: pd.DataFrame, ranking: str) -> pd.DataFrame:
    if ranking == "model":
        return week.sort_values(["probability", "mrr"], ascending=[False, False], kind="stable")
    rating = week["manager_rating"].astype("Float64").fillna(99)
    return week.assign(_r=rating).sort_values(["_r", "mrr"], ascending=[True, False], kind="stable")


def backtest(preds: pd.DataFrame, k_fixed: int = 20, k_share: float = 0.10) -> pd.DataFrame:
    """One row per (week, list size, ranking): precision, churned MRR caught, lead time.

    `preds` needs as_of, churned, probability, manager_rating, mrr and churn_date.
    """
    records = []
    for as_of, week in preds.groupby("as_of", sort=True):
        churned_mrr = float((week["mrr"].fillna(0) * week["churned"]).sum())
        sizes = {
            f"top_{k_fixed}": k_fixed,
            f"top_{round(k_share * 100)}pct": math.ceil(k_share * len(week)),
        }
        for size_name, k in sizes.items():
            for ranking in RANKINGS:
                top = _ordered(week, ranking).head(k)
                hit = top[top["churned"] == 1]
                lead = (
                    pd.to_datetime(hit["churn_date"]) - pd.Timestamp(str(as_of))
                ).dt.days.dropna()
                records.append(
                    {
                        "as_of": as_of,
                        "list": size_name,
                        "k": len(top),
                        "ranking": ranking,
                        "precision": float(top["churned"].mean()) if len(top) else math.nan,
                        "churned": len(hit),
                        "churned_mrr_share": float(hit["mrr"].fillna(0).sum()) / churned_mrr
                        if churned_mrr
                        else math.nan,
                        "median_lead_days": float(lead.median()) if len(lead) else math.nan,
                        "week_churn_rate": float(week["churned"].mean()),
                    }
                )
    return pd.DataFrame(records)


def list_label(name: str) -> str:
    """`top_10pct` -> `top 10%` (names are MLflow-safe; labels are for people)."""
    return name.replace("_", " ").replace("pct", "%")


def backtest_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Means over the weeks of each (list, ranking)."""
    out: dict[str, Any] = {}
    for (size, ranking), part in table.groupby(["list", "ranking"], sort=True):
        out.setdefault(str(size), {})[str(ranking)] = {
            "weeks": len(part),
            "precision": float(part["precision"].mean()),
            "churned_mrr_share": float(part["churned_mrr_share"].mean()),
            "median_lead_days": float(part["median_lead_days"].median()),
        }
    return out


def backtest_figure(table: pd.DataFrame) -> Figure:
    """Weekly precision of the model's and the managers' call lists."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (size, part) in zip(axes, table.groupby("list", sort=True), strict=False):
        for ranking, style in zip(RANKINGS, ("-o", "--s"), strict=True):
            line = part[part["ranking"] == ranking]
            when = pd.to_datetime(line["as_of"])
            ax.plot(when, line["precision"] * 100, style, ms=3, label=ranking)
        base = part.drop_duplicates("as_of")
        ax.plot(
            pd.to_datetime(base["as_of"]),
            base["week_churn_rate"] * 100,
            ":",
            color="grey",
            label="all accounts",
        )
        ax.set_title(f"Call list: {list_label(str(size))}")
        ax.set_ylabel("Churned within 90 days (%)")
        ax.tick_params(axis="x", rotation=30)
        ax.legend()
    fig.suptitle("Replayed weekly meetings: how many on each list really left")
    fig.tight_layout()
    return fig
