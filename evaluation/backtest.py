"""Replay past weeks as weekly meetings: whom each list would have called, and who left.

`evaluate` replays the test weeks with the evaluated model. `churn backtest` replays the last
year with rolling origins: on each origin Monday T the recipe is refitted on the rows whose
label was known on T (as the production model is), and its model scores T and the following
Mondays; their outcomes, known now, judge what those meetings would have got.

For every test Monday two call lists of the same length are drawn: the model's (highest
probability first) and the managers' (rating 1 first, then 2, ...; never rated last; within a
rating, the larger MRR first, as a manager with no other signal would). Each list is scored on
what happened: precision (share that churned within the horizon), the share of that week's
churned MRR it holds, and the median days from the meeting to the churn.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from training.metrics import score  # noqa: E402

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


def backtest_figure(table: pd.DataFrame, horizon_days: int = 90) -> Figure:
    """Weekly precision of the model's and the managers' call lists (churn within the horizon)."""
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
        ax.set_ylabel(f"Churned within {horizon_days} days (%)")
        ax.tick_params(axis="x", rotation=30)
        ax.legend()
    fig.suptitle("Replayed weekly meetings: how many on each list really left")
    fig.tight_layout()
    return fig


# Rolling origins: what the weekly meetings would have got ---------------------------------


@dataclass(frozen=True)
class Origin:
    """A Monday a run would have trained on, and the Mondays its model then scored."""

    day: dt.date
    scored: tuple[dt.date, ...]


def origins(
    dates: list[dt.date], span_weeks: int, every_weeks: int, scored_weeks: int
) -> list[Origin]:
    """Origins every `every_weeks` over the last `span_weeks` labeled Mondays, oldest first.

    Each origin scores itself and the next `scored_weeks - 1` Mondays, all of them labeled
    now, as a model retrained every `every_weeks` weeks would have.
    """
    dates = sorted(dates)
    last_origin = len(dates) - scored_weeks
    first = max(0, len(dates) - span_weeks)
    picks = range(last_origin, first - 1, -every_weeks)
    return [Origin(dates[i], tuple(dates[i : i + scored_weeks])) for i in sorted(picks)]


def origin_metrics(
    weeks: pd.DataFrame, lists: pd.DataFrame, bins: int, call_list: str
) -> pd.DataFrame:
    """Per origin: ROC AUC, Brier, ECE, top decile and call-list figures of both rankings."""
    records = []
    for day, part in weeks.groupby("origin", sort=True):
        m = score(part["churned"], part["probability"], part["mrr"], bins)
        record: dict[str, Any] = {"origin": day, "rows": len(part)}
        record |= {k: m[k] for k in HEADLINE}
        week_lists = lists[lists["as_of"].isin(set(part["as_of"]))]
        for (size, ranking), chosen in week_lists.groupby(["list", "ranking"]):
            if size in ("top_10pct", call_list):
                name = "top_decile" if size == "top_10pct" else "call_list"
                record[f"{ranking}_{name}_precision"] = float(chosen["precision"].mean())
                record[f"{ranking}_{name}_churned_mrr_share"] = float(
                    chosen["churned_mrr_share"].mean()
                )
        records.append(record)
    return pd.DataFrame(records)


HEADLINE = ("roc_auc", "brier", "ece", "base_rate", "mean_probability", "top_decile_lift")


def pooled_summary(weeks: pd.DataFrame, lists: pd.DataFrame, bins: int) -> dict[str, Any]:
    """The figures over every scored week of every origin, and the lists' weekly means."""
    m = score(weeks["churned"], weeks["probability"], weeks["mrr"], bins)
    return {
        "rows": len(weeks),
        "weeks": int(weeks["as_of"].nunique()),
        "origins": int(weeks["origin"].nunique()),
        **{k: m[k] for k in HEADLINE},
        "top_decile_churned_mrr_share": m.get("top_decile_churned_mrr_share"),
        "lists": backtest_summary(lists),
    }


def origins_figure(table: pd.DataFrame, test_auc: float | None) -> Figure:
    """ROC AUC and call-list precision per origin, the managers' list beside the model's."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    when = pd.to_datetime(table["origin"])
    left.plot(when, table["roc_auc"], "-o", ms=3, label="rolling origins")
    if test_auc is not None:
        left.axhline(test_auc, color="grey", ls=":", label="test weeks (evaluate)")
    left.set_title("ROC AUC of the 4 Mondays each origin scored")
    left.legend()
    for ranking, style in zip(RANKINGS, ("-o", "--s"), strict=True):
        column = f"{ranking}_call_list_precision"
        if column in table:
            right.plot(when, table[column] * 100, style, ms=3, label=ranking)
    right.plot(when, table["base_rate"] * 100, ":", color="grey", label="all accounts")
    right.set_title("Call list: share that churned")
    right.set_ylabel("%")
    right.legend()
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle("Rolling-origin backtest: what each retrained model's meetings would have got")
    fig.tight_layout()
    return fig
