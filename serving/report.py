"""The weekly risk review as one self-contained HTML page (charts inline, no network).

`render` turns a scored week and the latest evaluation and comparison into HTML through the
Jinja2 template `serving/templates/report.html.j2`; every chart is a PNG embedded as base64.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from serving.params import ReportParams, ScoreParams  # noqa: E402
from serving.skew import SkewCheck  # noqa: E402
from training.backtest import list_label  # noqa: E402

TIER_COLORS = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f", 4: "#27ae60"}
STALE_DAYS = 90
QUIET_DAYS = 90


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _money(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}"


def _days(value: Any) -> str:
    if value is None or pd.isna(value):
        return "never"
    return f"{int(value)} d"


def _pct(value: Any, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value * 100:+.1f} pts" if signed else f"{value * 100:.0f}%"


def _points(share: float) -> str:
    """A probability share as points of probability: 0.005 -> "0.5 points"."""
    return f"{share * 100:g} points"


def _lead(days: Any) -> str:
    return "–" if days is None or pd.isna(days) else f"{days:.0f} d"


def _rating(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else str(int(value))


def _tier_chart(summary: dict[str, Any]) -> str:
    tiers = summary["accounts_by_tier"]
    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    levels = [1, 2, 3, 4]
    counts = [tiers.get(str(t), 0) for t in levels]
    colors = [TIER_COLORS[t] for t in levels][::-1]
    ax.barh([f"Tier {t}" for t in levels][::-1], counts[::-1], color=colors)
    for i, c in enumerate(counts[::-1]):
        ax.text(c, i, f" {c:,}", va="center", fontsize=9)
    ax.set_xlabel("Accounts")
    ax.set_title("Accounts by model tier (1 = highest risk)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _segment_chart(summary: dict[str, Any]) -> str:
    seg = summary["by_segment"]
    names = list(seg)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    at_risk = [seg[n]["expected_churned_mrr"] for n in names]
    mrr = [seg[n]["mrr"] for n in names]
    y = np.arange(len(names))
    ax.barh(y, mrr, color="#d5dbe3", label="MRR")
    ax.barh(y, at_risk, color="#c0392b", label="expected churned MRR (90 d)")
    ax.set_yticks(y, [n.replace("_", " ") for n in names])
    for i, (r, m) in enumerate(zip(at_risk, mrr, strict=True)):
        ax.text(m, i, f" {r / m:.0%} at risk" if m else "", va="center", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8, frameon=False)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlim(0, max(mrr + [1.0]) * 1.25)
    ax.set_xlabel("Monthly recurring revenue")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _reliability_chart(reliability: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(4, 4))
    for name, part in reliability.groupby("model", sort=False):
        if name in ("model", "manager_rating"):
            ax.plot(
                part["predicted"],
                part["observed"],
                "o-",
                ms=4,
                label="model" if name == "model" else "manager rating",
            )
    top = float(max(reliability["predicted"].max(), reliability["observed"].max()))
    ax.plot([0, top], [0, top], ":", color="grey", label="perfect")
    ax.set_xlabel("Predicted churn probability")
    ax.set_ylabel("Share that churned")
    ax.set_title("Reliability on the test weeks", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def _backtest_chart(backtest: pd.DataFrame) -> str:
    from training.backtest import backtest_figure

    return _png(backtest_figure(backtest))


def read_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with its figures under the horizon-free keys.

    Weeks scored before the summary stated `horizon_days` wrote `expected_churned_mrr_90d` and
    the like.
    """
    out = dict(summary)
    figures = ("expected_churned_mrr", "expected_churned_accounts", "previous_expected_churned_mrr")
    for key in figures:
        if key not in out and f"{key}_90d" in out:
            out[key] = out[f"{key}_90d"]
    out["by_segment"] = {
        name: {"expected_churned_mrr": s.get("expected_churned_mrr_90d")} | s
        for name, s in summary.get("by_segment", {}).items()
    }
    return out


def _account_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    rows = []
    for r in records:
        rows.append(
            {
                "rank": r["rank"],
                "account_id": r["account_id"],
                "csm_id": r["csm_id"] if isinstance(r["csm_id"], str) else "–",
                "segment": r["segment"].replace("_", " ") if isinstance(r["segment"], str) else "–",
                "mrr": _money(r["mrr"]),
                "probability": _pct(r["probability"]),
                "tier": int(r["tier"]),
                "revenue_at_risk": _money(r["revenue_at_risk"]),
                "rating": _rating(r["manager_rating"]),
                "rating_age": _days(r["rating_age_days"]),
                "contact": _days(r["days_since_contact"]),
                "change": _pct(r["probability_change"], signed=True),
                "reasons_up": list(r["reasons_up"]),
                "reasons_down": list(r["reasons_down"]),
                "movers": list(r["movers"]),
            }
        )
    return rows


def _managers(scores: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    out = []
    csm = scores["csm_id"].astype("object").where(scores["csm_id"].notna(), "unassigned")
    for name, part in scores.groupby(csm, sort=True):
        stale = (part["rating_age_days"].astype("Float64") >= STALE_DAYS).fillna(True)
        quiet = (part["days_since_contact"].astype("Float64") > QUIET_DAYS).fillna(True)
        out.append(
            {
                "csm_id": name,
                "accounts": len(part),
                "at_risk": _money(part["revenue_at_risk"].sum()),
                "tier12": int((part["tier"] <= 2).sum()),
                "stale": int(stale.sum()),
                "quiet": int(quiet.sum()),
                "top": _account_rows(part.head(n)),
                "quiet_list": ", ".join(part.loc[quiet, "account_id"].head(12)),
            }
        )
    return sorted(out, key=lambda m: -float(m["at_risk"].replace(",", "") or 0))


def _disagreements(scores: pd.DataFrame, n: int) -> dict[str, list[dict[str, Any]]]:
    rating = scores["manager_rating"].astype("Float64")
    model_sees = ((scores["tier"] <= 2) & (rating >= 3)).fillna(False)
    manager_sees = ((rating <= 2) & (scores["tier"] == 4)).fillna(False)
    return {
        "model_sees_risk": _account_rows(scores[model_sees.to_numpy(bool)].head(n)),
        "manager_sees_risk": _account_rows(
            scores[manager_sees.to_numpy(bool)].sort_values("mrr", ascending=False).head(n)
        ),
    }


def _health(evaluation: dict | None) -> list[dict[str, str]]:
    if not evaluation:
        return []
    names = {
        "model": "Model",
        "logistic": "Logistic regression",
        "manager_rating": "Manager rating",
        "days_since_contact": "Days since contact",
        "base_rate": "Base rate",
    }
    rows = []
    for key, label in names.items():
        m = evaluation.get(key)
        if not m:
            continue
        rows.append(
            {
                "name": label,
                "auc": f"{m['roc_auc']:.3f}",
                "brier": f"{m['brier']:.4f}",
                "ece": f"{m['ece']:.4f}",
                "lift": f"{m['top_decile_lift']:.2f}",
                "mrr": _pct(m.get("top_decile_churned_mrr_share")),
            }
        )
    return rows


def render(
    scores: pd.DataFrame,
    summary: dict[str, Any],
    params: ReportParams,
    *,
    evaluation: dict | None = None,
    reliability: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    comparison: dict | None = None,
    monitor: dict | None = None,
    monitor_chart: bytes | None = None,
) -> str:
    """The HTML page of one scored week (`monitor`: the monitor's summary and chart PNG)."""
    env = Environment(
        loader=PackageLoader("serving", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    summary = read_summary(summary)
    change = scores.dropna(subset=["probability_change"])
    up = change.sort_values("probability_change", ascending=False).head(params.movers)
    down = change.sort_values("probability_change").head(params.movers)
    backtest_rows = []
    if evaluation and evaluation.get("backtest"):
        for size, by_ranking in evaluation["backtest"].items():
            for ranking, m in by_ranking.items():
                backtest_rows.append(
                    {
                        "list": list_label(size),
                        "ranking": ranking,
                        "precision": _pct(m["precision"]),
                        "mrr": _pct(m["churned_mrr_share"]),
                        "lead": _lead(m["median_lead_days"]),
                    }
                )
    context = {
        "summary": summary,
        "money": _money,
        "pct": _pct,
        "tier_colors": TIER_COLORS,
        "tier_chart": _tier_chart(summary),
        "segment_chart": _segment_chart(summary),
        "segments": summary["by_segment"],
        "call_list": _account_rows(scores.head(params.call_list)),
        "risers": _account_rows(up[up["probability_change"] > 0]),
        "fallers": _account_rows(down[down["probability_change"] < 0]),
        "disagreements": _disagreements(scores, params.disagreements),
        "who_was_right": (comparison or {}).get("who_was_right"),
        "agreement": (comparison or {}).get("agreement"),
        "managers": _managers(scores, params.manager_accounts),
        "health": _health(evaluation),
        "test_period": (evaluation or {}).get("test_period"),
        "reliability_chart": _reliability_chart(reliability) if reliability is not None else None,
        "backtest_rows": backtest_rows,
        "backtest_chart": _backtest_chart(backtest)
        if backtest is not None and len(backtest)
        else None,
        "stale_days": STALE_DAYS,
        "quiet_days": QUIET_DAYS,
        "min_points": _points(summary.get("min_contribution", ScoreParams().min_contribution)),
        "skew": SkewCheck.model_validate(summary["skew"]) if summary.get("skew") else None,
        "monitor": monitor,
        "monitor_chart": "data:image/png;base64," + base64.b64encode(monitor_chart).decode("ascii")
        if monitor_chart
        else None,
    }
    return env.get_template("report.html.j2").render(**context)
