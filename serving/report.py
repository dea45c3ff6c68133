"""The weekly risk review as one self-contained HTML page (charts inline, no network).

`render` turns a scored week and the latest evaluation and comparison into HTML through the
Jinja2 template `serving/templates/report.html.j2`; every chart is a PNG embedded as base64
(`serving/charts.py`). Accounts are shown by the export's display name where it has one, by
id otherwise; managers by `csm_id` (the data contract has no manager name). Every span of time
the probabilities cover is the model's horizon, never a number written into the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from evaluation.backtest import list_label
from evaluation.compare import QUIET_DAYS, STALE_DAYS, disagreement_masks, is_quiet, is_stale
from serving import charts
from serving.curves import curve_horizons, renewals_due
from serving.formats import age, lead, money, pct, points, rating, renewal, text
from serving.glossary import glossary
from serving.params import ReportParams, ScoreParams
from serving.skew import SkewCheck

HEALTH_METRICS = ("roc_auc", "brier", "ece", "top_decile_lift", "top_decile_churned_mrr_share")
HEALTH_RANKINGS = {
    "model": "Model",
    "logistic": "Logistic regression",
    "manager_rating": "Manager rating",
    "days_since_contact": "Days since contact",
    "base_rate": "Base rate",
}


def read_summary(summary: dict[str, Any], horizon_days: int) -> dict[str, Any]:
    """The summary with its horizon stated and its figures under the horizon-free keys.

    Weeks scored before the horizon was stated wrote `expected_churned_mrr_90d` and the like;
    their horizon is taken to be `horizon_days`.
    """
    out = dict(summary)
    out.setdefault("horizon_days", horizon_days)
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
                "name": text(r.get("account_name")),
                "csm_id": text(r["csm_id"]) or "–",
                "segment": r["segment"].replace("_", " ") if isinstance(r["segment"], str) else "–",
                "mrr": money(r["mrr"]),
                "probability": pct(r["probability"]),
                "tier": int(r["tier"]),
                "revenue_at_risk": money(r["revenue_at_risk"]),
                "rating": rating(r["manager_rating"]),
                "rating_age": age(r["rating_age_days"]),
                "contact": age(r["days_since_contact"]),
                "change": pct(r["probability_change"], signed=True),
                "reasons_up": list(r["reasons_up"]),
                "reasons_down": list(r["reasons_down"]),
                "movers": list(r["movers"]),
                "renewal": renewal(r),
            }
        )
    return rows


def _call_list(scores: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """The call list's rows, each with its risk curve drawn when the week has one."""
    head = scores.head(n)
    rows = _account_rows(head)
    if not curve_horizons(scores.columns):
        return rows
    drawn = charts.curve_sparklines(head)
    pictures = [{"curve_chart": uri, "curve_alt": alt} for uri, alt in drawn]
    return [r | p for r, p in zip(rows, pictures, strict=True)]


def _renewals(scores: pd.DataFrame, params: ReportParams) -> dict[str, Any] | None:
    """Renewals due within `renewal_days`, the most at stake first (None without a curve)."""
    if not curve_horizons(scores.columns):
        return None
    due = renewals_due(scores, params.renewal_days)
    rows = _account_rows(due.head(params.call_list))
    stakes = [money(v) for v in due["at_stake"].head(params.call_list)]
    return {
        "days": params.renewal_days,
        "count": len(due),
        "mrr": money(due["mrr"].sum()),
        "at_stake": money(due["at_stake"].sum()),
        "rows": [r | {"at_stake": stake} for r, stake in zip(rows, stakes, strict=True)],
    }


def _label(row: pd.Series) -> str:
    """An account as a person knows it: its name, else its id."""
    return text(row.get("account_name")) or str(row["account_id"])


def _managers(scores: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    out = []
    csm = scores["csm_id"].astype("object").where(scores["csm_id"].notna(), "unassigned")
    for name, part in scores.groupby(csm, sort=True):
        stale = is_stale(part["rating_age_days"])
        quiet = is_quiet(part["days_since_contact"])
        out.append(
            {
                "csm_id": name,
                "accounts": len(part),
                "at_risk": money(part["revenue_at_risk"].sum()),
                "tier12": int((part["tier"] <= 2).sum()),
                "stale": int(stale.sum()),
                "quiet": int(quiet.sum()),
                "top": _account_rows(part.head(n)),
                "quiet_list": "; ".join(part[quiet.to_numpy(bool)].head(12).apply(_label, axis=1)),
            }
        )
    return sorted(out, key=lambda m: -float(m["at_risk"].replace(",", "") or 0))


def _disagreements(scores: pd.DataFrame, n: int) -> dict[str, list[dict[str, Any]]]:
    model_sees, manager_sees = disagreement_masks(scores["tier"], scores["manager_rating"])
    return {
        "model_sees_risk": _account_rows(scores[model_sees].head(n)),
        "manager_sees_risk": _account_rows(
            scores[manager_sees].sort_values("mrr", ascending=False).head(n)
        ),
    }


def _health(evaluation: dict | None) -> dict[str, Any] | None:
    """The test-week metrics as rows of a metric each, a column per ranking."""
    if not evaluation:
        return None
    shown = [k for k in HEALTH_RANKINGS if evaluation.get(k)]
    rows = [
        {"metric": metric, "values": [_metric(metric, evaluation[k].get(metric)) for k in shown]}
        for metric in HEALTH_METRICS
    ]
    return {"rankings": [HEALTH_RANKINGS[k] for k in shown], "rows": rows}


def _metric(name: str, value: Any) -> str:
    if name == "top_decile_churned_mrr_share" or value is None:
        return pct(value)
    digits = {"brier": 4, "ece": 4, "top_decile_lift": 2}.get(name, 3)
    return f"{value:.{digits}f}"


def _backtest_rows(evaluation: dict | None) -> list[dict[str, str]]:
    rows = []
    for size, by_ranking in ((evaluation or {}).get("backtest") or {}).items():
        for ranking, m in by_ranking.items():
            rows.append(
                {
                    "list": list_label(size),
                    "ranking": ranking,
                    "precision": pct(m["precision"]),
                    "mrr": pct(m["churned_mrr_share"]),
                    "lead": lead(m["median_lead_days"]),
                }
            )
    return rows


def _risers_and_fallers(scores: pd.DataFrame, n: int) -> dict[str, list[dict[str, Any]]]:
    """The `n` accounts whose probability rose most since last week, and fell most."""
    change = scores.dropna(subset=["probability_change"])
    up = change.sort_values("probability_change", ascending=False).head(n)
    down = change.sort_values("probability_change").head(n)
    return {
        "risers": _account_rows(up[up["probability_change"] > 0]),
        "fallers": _account_rows(down[down["probability_change"] < 0]),
    }


def _model_health(
    evaluation: dict | None,
    reliability: pd.DataFrame | None,
    backtest: pd.DataFrame | None,
    horizon_days: int,
) -> dict[str, Any]:
    """The test weeks' metrics, reliability chart and backtest, where they are known."""
    return {
        "health": _health(evaluation),
        "test_period": (evaluation or {}).get("test_period"),
        "reliability_chart": charts.reliability_chart(reliability)
        if reliability is not None
        else None,
        "backtest_rows": _backtest_rows(evaluation),
        "backtest_chart": charts.backtest_chart(backtest, horizon_days)
        if backtest is not None and len(backtest)
        else None,
    }


def render(
    scores: pd.DataFrame,
    summary: dict[str, Any],
    params: ReportParams,
    *,
    horizon_days: int,
    evaluation: dict | None = None,
    reliability: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    comparison: dict | None = None,
    monitor: dict | None = None,
    monitor_chart: bytes | None = None,
) -> str:
    """The HTML page of one scored week (`monitor`: the monitor's summary and chart PNG).

    `horizon_days` is the horizon of a week whose summary does not state it (scored before
    the summary did); the summary's own horizon, the model's, wins.
    """
    env = Environment(
        loader=PackageLoader("serving", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    summary = read_summary(summary, horizon_days)
    horizon = summary["horizon_days"]
    context = {
        "summary": summary,
        "horizon": horizon,
        "glossary": glossary(horizon),
        "money": money,
        "pct": pct,
        "tier_colors": charts.TIER_COLORS,
        "tier_chart": charts.tier_chart(summary["accounts_by_tier"]),
        "segment_chart": charts.segment_chart(summary["by_segment"], horizon),
        "segments": summary["by_segment"],
        "curve": bool(curve_horizons(scores.columns)),
        "call_list": _call_list(scores, params.call_list),
        "renewals": _renewals(scores, params),
        **_risers_and_fallers(scores, params.movers),
        "disagreements": _disagreements(scores, params.disagreements),
        "who_was_right": (comparison or {}).get("who_was_right"),
        "agreement": (comparison or {}).get("agreement"),
        "managers": _managers(scores, params.manager_accounts),
        **_model_health(evaluation, reliability, backtest, horizon),
        "stale_days": STALE_DAYS,
        "quiet_days": QUIET_DAYS,
        "min_points": points(summary.get("min_contribution", ScoreParams().min_contribution)),
        "skew": SkewCheck.model_validate(summary["skew"]) if summary.get("skew") else None,
        "monitor": monitor,
        "monitor_chart": charts.png_uri(monitor_chart) if monitor_chart else None,
    }
    return env.get_template("report.html.j2").render(**context)
