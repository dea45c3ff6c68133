"""The risk curve: monotone repair around the headline, censoring, and calibration per horizon.

The fixture is a small book whose accounts decide only at renewals (monthly or annual), each
time leaving with a probability set by one usage feature: churn within a horizon then depends
on how many renewals the window holds, which `account_days_to_renewal` tells.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from data.params import BaseParams
from features.labels import curve_labels
from features.manifest import Manifest
from training.curve import RiskCurve, predict_curve, repair
from training.curve_fit import (
    development_rows,
    fit_curves,
    fit_target,
    judged_weeks,
    target_rows,
)
from training.metrics import expected_calibration_error
from training.params import EvaluateParams, TrainParams
from training.production import Recipe
from training.splits import Period

EXPORT = dt.date(2025, 12, 29)
WEEKS = 150
FEATURES = [("usage", "float"), ("account_days_to_renewal", "int"), ("annual", "float")]


def _book(seed: int, accounts: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = EXPORT - dt.timedelta(weeks=WEEKS)
    rows = []
    for a in range(accounts):
        annual = rng.random() < 0.4
        period = 365 if annual else 30
        start = first - dt.timedelta(days=int(rng.integers(0, period)))
        usage = rng.gamma(2.0, 1.0)
        leave = 1 / (1 + np.exp(-(-1.0 - 1.2 * usage + (0.8 if annual else -1.5))))
        renewal, churn = start + dt.timedelta(days=period), None
        while renewal < EXPORT + dt.timedelta(days=800):
            if rng.random() < leave:
                churn = renewal - dt.timedelta(days=1)
                break
            renewal += dt.timedelta(days=period)
        known = churn if churn is not None and churn + dt.timedelta(days=30) < EXPORT else None
        for w in range(WEEKS):
            as_of = first + dt.timedelta(weeks=w)
            if churn is not None and as_of > churn:
                break
            next_renewal = start + dt.timedelta(days=period)
            while next_renewal < as_of:
                next_renewal += dt.timedelta(days=period)
            rows.append(
                (f"A{a:04d}", as_of, usage, (next_renewal - as_of).days, float(annual), known)
            )
    frame = pd.DataFrame(
        rows,
        columns=["account_id", "as_of", "usage", "account_days_to_renewal", "annual", "churn_date"],
    )
    frame["mrr"] = 100.0
    frame["churned"] = curve_labels(frame, [90], 30, EXPORT)["churned_90d"]
    return frame


def _manifest() -> Manifest:
    return Manifest.model_validate(
        {
            "id_columns": ["account_id", "as_of"],
            "label": "churned",
            "extra_columns": ["churn_date", "mrr"],
            "features": [
                {
                    "name": n,
                    "dtype": d,
                    "source": "account",
                    "window": None,
                    "unit": "",
                    "description": n,
                }
                for n, d in FEATURES
            ],
            "missing_sources": [],
            "export_date": EXPORT.isoformat(),
            "horizon_days": 90,
            "grace_gap_days": 30,
            "frequency": "W-MON",
            "event_types": [],
        }
    )


def test_the_repair_never_moves_the_headline_and_makes_every_curve_monotone() -> None:
    rng = np.random.default_rng(3)
    raw = pd.DataFrame(rng.random((500, 4)), columns=[f"p_churn_{h}d" for h in (30, 60, 90, 180)])
    fixed = repair(raw, (30, 60, 90, 180), 90)
    assert (fixed["p_churn_90d"] == raw["p_churn_90d"]).all()
    assert (np.diff(fixed.to_numpy(), axis=1) >= 0).all()
    ordered = raw.apply(np.sort, axis=1, result_type="broadcast")  # already monotone: untouched
    pd.testing.assert_frame_equal(repair(ordered, (30, 60, 90, 180), 90), ordered)
    # a headline at either end of the list works too
    assert (np.diff(repair(raw, (30, 60, 90, 180), 30).to_numpy(), axis=1) >= 0).all()
    assert (np.diff(repair(raw, (30, 60, 90, 180), 180).to_numpy(), axis=1) >= 0).all()


@pytest.fixture(scope="module")
def fitted() -> dict:
    book, manifest = _book(5), _manifest()
    base = BaseParams(seed=5)
    rows = book[book["churned"].notna()]
    headline = Period(*sorted(rows["as_of"].unique())[-26::25])
    recipe = Recipe(
        features=[n for n, _ in FEATURES],
        categorical=[],
        params={"learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 50, "n_jobs": 1},
        rounds=150,
        calibration_method="isotonic",
        seed=5,
    )
    params = TrainParams(
        calibration_weeks=13, validation_weeks=8, n_estimators=200, refit_calibration_blocks=1
    )
    evaluated, _, summary = fit_curves(
        book, manifest, recipe, headline, base, params, EvaluateParams()
    )
    dev = development_rows(target_rows(book, manifest, "90d"), "90d", headline, manifest)
    model = fit_target(dev, recipe, params).model  # the headline, as train fits it
    return {
        "book": book,
        "manifest": manifest,
        "curve": evaluated,
        "summary": summary,
        "headline": headline,
        "base": base,
        "model": model,
    }


def test_every_target_is_fitted_and_learns_only_from_labels_known_before_its_test_weeks(
    fitted,
) -> None:
    curve: RiskCurve = fitted["curve"]
    assert set(curve.models) == {"30d", "60d", "180d", "by_renewal"}
    assert curve.horizons == (30, 60, 90, 180)
    book, manifest = fitted["book"], fitted["manifest"]
    for target in curve.models:
        rows = target_rows(book, manifest, target)
        test = judged_weeks(rows, target, fitted["headline"], fitted["base"], 26)
        dev = development_rows(rows, target, test, manifest)
        ends = pd.to_datetime(dev["as_of"]) + pd.to_timedelta(
            dev["account_days_to_renewal"].clip(lower=0) + 60
            if target == "by_renewal"
            else int(target[:-1]) + 30,
            unit="D",
        )
        assert (ends <= pd.Timestamp(test.start)).all(), target
        assert fitted["summary"][target]["data_through"] < test.start.isoformat()


def test_each_horizon_is_calibrated_and_the_curve_monotone_on_its_test_weeks(fitted) -> None:
    curve: RiskCurve = fitted["curve"]
    book, manifest = fitted["book"], fitted["manifest"]
    for target in curve.targets:
        rows = target_rows(book, manifest, target)
        test = judged_weeks(rows, target, fitted["headline"], fitted["base"], 26)
        rows = rows[(rows["as_of"] >= test.start) & (rows["as_of"] <= test.end)]
        p = curve.predict(rows, fitted["model"].predict_proba(rows)[:, 1])
        column = "p_churn_by_renewal" if target == "by_renewal" else f"p_churn_{target}"
        ece = expected_calibration_error(rows["churned"], p[column].to_numpy())
        assert ece < 0.03, (target, ece)
        assert (np.diff(p[[f"p_churn_{h}d" for h in curve.horizons]].to_numpy(), axis=1) >= 0).all()


def test_a_model_without_a_curve_gives_its_headline_alone(fitted) -> None:
    class Plain:
        def predict_proba(self, frame):
            return np.column_stack([np.full(len(frame), 0.9), np.full(len(frame), 0.1)])

    got = predict_curve(Plain(), fitted["book"].head(3), 90)  # type: ignore[arg-type]
    assert list(got.columns) == ["p_churn_90d"] and (got["p_churn_90d"] == 0.1).all()


def test_evaluate_judges_each_target_on_its_own_weeks_and_writes_the_curve(fitted) -> None:
    from evaluation.curve import curve_metrics, judged_rows, monotone_share, with_curve

    model = fitted["model"]
    model.curve_ = fitted["curve"]
    book, manifest, headline = fitted["book"], fitted["manifest"], fitted["headline"]
    rows = judged_rows(model, book, manifest, headline)
    assert set(rows["target"]) == {"30d", "60d", "90d", "180d", "by_renewal"}
    for target in ("30d", "60d", "90d"):  # no longer than the headline: its test weeks
        dates = rows.loc[rows["target"] == target, "as_of"]
        assert dates.min() >= headline.start and dates.max() <= headline.end
    own = rows.loc[rows["target"] == "180d", "as_of"]
    assert own.max() <= EXPORT - dt.timedelta(days=210)  # only weeks whose label is known
    metrics = curve_metrics(rows, 10)
    assert metrics["90d"]["repaired_share"] == 0.0  # the headline never moves
    assert all(0.5 < m["roc_auc"] <= 1 for m in metrics.values())

    week = book[book["as_of"] == headline.end].reset_index(drop=True)
    preds = pd.DataFrame({"probability": model.predict_proba(week)[:, 1]})
    out = with_curve(preds, model, week, manifest)
    assert (out["p_churn_90d"] == out["probability"]).all()
    assert monotone_share(out, [30, 60, 90, 180]) == 1.0
    assert out["churned_180d"].isna().all()  # 180 + 30 days after the week: past the export
    assert out["churned_30d"].notna().all()
    assert out["next_renewal"].notna().all()
