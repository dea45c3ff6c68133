"""The weekly page on three inline accounts: names, horizon, signed reasons, a phone's layout."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd
import pytest

from evaluation.compare import QUIET_DAYS, STALE_DAYS
from serving.glossary import GLOSSARY
from serving.params import ReportParams
from serving.report import HEALTH_METRICS, render
from serving.scoring import week_summary

VOID = {"meta", "img", "br", "hr", "input", "link"}


class Page(HTMLParser):
    """Every element of a page with its attributes, ancestors and text (enough for these tests)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {
            "tag": tag,
            "attrs": dict(attrs),
            "classes": (dict(attrs).get("class") or "").split(),
            "ancestors": list(self._open),
            "text": "",
        }
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.elements if e["tag"] == tag and (cls is None or cls in e["classes"])
        ]


def _summary(scores: pd.DataFrame, horizon_days: int) -> dict[str, Any]:
    return week_summary(scores, scores[["mrr"]].assign(probability=0.2)) | {
        "as_of": "2026-03-02",
        "previous_as_of": "2026-02-23",
        "horizon_days": horizon_days,
        "model": {"name": "churn-risk", "version": "3", "alias": "champion"},
        "scored_at": "2026-03-02T06:00:00+00:00",
        "min_contribution": 0.005,
        "skew": None,
    }


EVALUATION = {
    name: {
        "roc_auc": auc,
        "brier": 0.09,
        "ece": 0.015,
        "top_decile_lift": 3.7,
        "top_decile_churned_mrr_share": 0.22,
    }
    for name, auc in [("model", 0.86), ("logistic", 0.8), ("manager_rating", 0.6)]
} | {
    "test_period": {"start": "2025-08-04", "end": "2026-01-26"},
    "backtest": {
        "top_20": {
            "model": {"precision": 0.68, "churned_mrr_share": 0.07, "median_lead_days": 33.5},
            "managers": {"precision": 0.03, "churned_mrr_share": 0.02, "median_lead_days": None},
        }
    },
}
SIDE = {"model_brier": 0.19, "rating_brier": 0.23, "churned_share": 0.26, "mean_probability": 0.27}
COMPARISON = {
    "agreement": {
        "kappa_quadratic": 0.2,
        "metrics": {"model": {"roc_auc": 0.87}, "rating": {"roc_auc": 0.59}},
    },
    "who_was_right": {"model_sees_risk": SIDE, "manager_sees_risk": SIDE},
}


def _page(scores: pd.DataFrame, summary: dict[str, Any], horizon_days: int = 90) -> str:
    return render(
        scores,
        summary,
        ReportParams(),
        horizon_days=horizon_days,
        evaluation=EVALUATION,
        comparison=COMPARISON,
    )


def _section(html: str, start: str, end: str) -> str:
    return html.split(f'id="{start}"')[1].split(f'id="{end}"')[0]


def test_accounts_appear_by_name_and_by_id_where_the_export_has_none(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", None])
    html = _page(scores, _summary(scores, 90))
    calls = Page(_section(html, "calls", "movers"))
    assert [e["text"] for e in calls.find("span", "name")] == ["Acme GmbH", "Globex", "ACC-00003"]
    # A named account keeps its id beside the name, for the CRM.
    first = calls.find("td", "wide")[0]["text"]
    assert "Acme GmbH" in first and "ACC-00001" in first
    # Managers: the contract has no manager name, so the page shows their ids and says so.
    managers = [e["text"] for e in calls.find("td") if e["attrs"].get("data-label") == "Manager"]
    assert managers == ["csm_01", "csm_02", "–"]
    notes = [e["text"] for e in Page(html).find("p", "note")]
    assert any("no manager names" in n for n in notes)
    assert "Not contacted for 90 days: Globex" in notes
    assert "Not contacted for 90 days: ACC-00003" in notes


def test_an_empty_name_falls_back_to_the_id(make_scores):
    scores = make_scores(["Acme GmbH", "  ", ""])
    calls = Page(_section(_page(scores, _summary(scores, 90)), "calls", "movers"))
    assert [e["text"] for e in calls.find("span", "name")] == [
        "Acme GmbH",
        "ACC-00002",
        "ACC-00003",
    ]


def test_a_week_scored_before_names_and_the_horizon_reached_the_scores_still_renders(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"]).drop(columns="account_name")
    old = _summary(scores, 90)
    old.pop("horizon_days")
    for key in ("expected_churned_mrr", "expected_churned_accounts"):
        old[f"{key}_90d"] = old.pop(key)
    for segment in old["by_segment"].values():
        segment["expected_churned_mrr_90d"] = segment.pop("expected_churned_mrr")
    html = _page(scores, old, horizon_days=45)
    calls = Page(_section(html, "calls", "movers"))
    assert [e["text"] for e in calls.find("span", "name")] == [
        "ACC-00001",
        "ACC-00002",
        "ACC-00003",
    ]
    assert "Expected churned MRR, 45 days" in html
    assert f'<div class="big">{sum(scores["revenue_at_risk"]):,.0f}</div>' in html


@pytest.mark.parametrize("horizon", [60, 120])
def test_every_span_the_probabilities_cover_is_the_models_horizon(horizon, make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"])
    # The summary's horizon (the model's) wins over the params' fallback.
    html = _page(scores, _summary(scores, horizon), horizon_days=90)
    text = re.sub(r"data:image/png;base64,[^\"']+", "", html)
    assert f"within {horizon} days" in text
    assert f"Expected churned MRR, {horizon} days" in text
    # The only 90s left are the staleness and quiet rules, which are not the horizon.
    assert STALE_DAYS == QUIET_DAYS == 90
    for rule in (f"older than {STALE_DAYS} d", f"for {QUIET_DAYS} d"):
        text = text.replace(rule, "")
    assert not re.search(r"\b90\b|_90d", text), re.findall(r".{0,60}\b90\b.{0,20}", text)


def test_reasons_are_marked_by_an_icon_not_by_colour_alone(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"])
    calls = Page(_section(_page(scores, _summary(scores, 90)), "calls", "movers"))
    raises, lowers = calls.find("li", "raises"), calls.find("li", "lowers")
    assert [e["text"] for e in raises] == [
        "▲Renewal in 7 days",
        "▲4 urgent tickets",
        "▲No call for 120 days",
    ]
    assert [e["text"] for e in lowers] == ["▼Logins usual"]
    header = [e["text"] for e in calls.find("th")][-1]
    assert "▲ raises" in header and "▼ lowers" in header


def test_every_metric_has_a_plain_meaning_beside_it(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"])
    page = Page(_page(scores, _summary(scores, 60)))
    health = {}
    for means in page.find("td", "means"):
        row = means["ancestors"][-1]
        cells = [e for e in page.find("td") if e["ancestors"] and e["ancestors"][-1] is row]
        assert cells[1] is means  # the meaning sits right beside the metric's name
        health[cells[0]["text"]] = means["text"]
    assert list(health) == [GLOSSARY[k][0] for k in HEALTH_METRICS]
    assert health["ROC AUC"] == GLOSSARY["roc_auc"][1]
    legend = {e["text"].rstrip(":") for e in page.find("dt")}
    assert {"Weighted kappa", "Precision", "Churned MRR caught", "Median lead time"} <= legend
    meanings = [e["text"] for e in page.find("dd")]
    assert "Share of the accounts on the list that churned within 60 days." in meanings


@pytest.mark.parametrize("curve", [False, True])
def test_the_page_fits_a_phone(curve, make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"], curve=curve)
    html = _page(scores, _summary(scores, 90))
    page = Page(html)
    viewport = [e for e in page.find("meta") if e["attrs"].get("name") == "viewport"]
    assert viewport and "width=device-width" in viewport[0]["attrs"]["content"]
    css = page.find("style")[0]["text"]
    phone = css.split("@media (max-width:")[1]
    assert re.search(r"table\.accounts tr \{ display: grid", phone)
    assert re.search(r"table\.accounts thead[^{]*\{ display: none", phone)
    # On a phone each account cell is labelled (its header is hidden) ...
    for td in page.find("td"):
        if any("accounts" in a["classes"] for a in td["ancestors"]):
            assert td["attrs"].get("data-label") or {"rank", "wide"} & set(td["classes"]), td
    # ... and every other table scrolls sideways inside its box instead of widening the page.
    for table in page.find("table"):
        if "accounts" not in table["classes"]:
            assert "scroll" in table["ancestors"][-1]["classes"], table["text"][:80]
    for img in page.find("img"):
        assert img["attrs"]["src"].startswith("data:image/png;base64,")
    assert re.search(r"img \{[^}]*max-width: 100%", css)


def _cells(page: Page, label: str) -> list[str]:
    return [e["text"].strip() for e in page.find("td") if e["attrs"].get("data-label") == label]


def test_the_call_list_shows_each_renewal_its_risk_by_then_and_the_curve(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"], curve=True)
    scores.loc[2, ["next_renewal", "p_churn_by_renewal"]] = [pd.NaT, float("nan")]
    calls = Page(_section(_page(scores, _summary(scores, 90)), "calls", "movers"))
    assert _cells(calls, "Renewal and risk curve") == [
        "2026-03-20in 18 d · 15% by then",
        "2026-02-2010 d overdue · 25% by then",
        "unknown",
    ]
    curves = calls.find("img", "curve")
    assert [c["attrs"]["alt"] for c in curves] == [
        "Chance of churn within 30, 60, 90, 180 days: 10%, 40%, 60%, 80%; "
        "15% by the renewal (in 18 d)",
        "Chance of churn within 30, 60, 90, 180 days: 25%, 28%, 30%, 45%; "
        "25% by the renewal (10 d overdue)",
        "Chance of churn within 30, 60, 90, 180 days: 1%, 3%, 5%, 9%",
    ]
    assert all(c["attrs"]["src"].startswith("data:image/png;base64,") for c in curves)
    legend = {e["text"].rstrip(":") for e in calls.find("dt")}
    assert {"Risk curve", "By renewal"} <= legend


@pytest.mark.parametrize(
    ("days", "listed"),
    [
        (90, ["Acme GmbH", "Globex", "Initech"]),
        (30, ["Acme GmbH", "Globex", "Initech"]),
        (29, ["Acme GmbH", "Globex"]),
        (5, ["Globex"]),
    ],
)
def test_renewals_due_are_ranked_by_the_revenue_they_are_expected_to_lose(
    days, listed, make_scores
):
    # Acme renews in 18 days (MRR 1000 x 15% = 150), Globex is 10 days overdue (500 x 25% =
    # 125), Initech renews in 30 days (100 x 3% = 3): Globex has the higher risk, Acme more
    # revenue at stake, and an overdue renewal is due now, whatever the window.
    scores = make_scores(["Acme GmbH", "Globex", "Initech"], curve=True)
    params = ReportParams(renewal_days=days)
    html = render(scores, _summary(scores, 90), params, horizon_days=90)
    view = Page(_section(html, "renewals", "movers"))
    assert [e["text"] for e in view.find("span", "name")] == listed
    heading = Page(html).find("h2")
    assert f"Renewals in the next {days} days" in [h["text"] for h in heading]
    stakes = {"Acme GmbH": "150", "Globex": "125", "Initech": "3"}
    assert _cells(view, "Expected loss / mo") == [stakes[n] for n in listed]
    row = {
        "Acme GmbH": ("in 18 d", "15%", "60%", "3 (12 d)"),
        "Globex": ("10 d overdue", "25%", "30%", "1 (200 d)"),
    }
    first = listed[0]
    got = tuple(
        _cells(view, k)[0] for k in ("Days to it", "By renewal", "Risk, 90 d", "Rating (age)")
    )
    assert got == row[first]
    note = view.find("p", "note")[0]["text"]
    assert f"{len(listed)} accounts renew within {days} days" in note
    assert "Ranked by MRR × chance of churn by the renewal" in note


def test_a_week_scored_before_the_curve_shows_no_renewal_and_no_curve(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"])
    html = _page(scores, _summary(scores, 90))
    page = Page(html)
    assert 'id="renewals"' not in html and 'href="#renewals"' not in html
    assert not page.find("img", "curve")
    assert not [th for th in page.find("th") if th["text"].startswith("Renewal")]
    curved = make_scores(["Acme GmbH", "Globex", "Initech"], curve=True)
    with_curve = Page(_page(curved, _summary(curved, 90)))
    assert [th for th in with_curve.find("th") if th["text"].startswith("Renewal")]
