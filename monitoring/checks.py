"""The monitor's three checks on the champion: drift, calibration (with its refit), verdict.

Each takes the loaded model, its `model.json` and frames; none opens a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.manifest import Manifest
from monitoring.drift import feature_drift, score_drift, score_reference
from monitoring.params import MonitorParams
from monitoring.recalibration import calibration_by_week, calibration_in_the_large, recalibrate
from monitoring.rules import Evidence, recommend
from training.params import EvaluateParams
from training.profile import saved_profile

if TYPE_CHECKING:
    from training.bundle import ModelMeta

Predict = Callable[[Any, pd.DataFrame], np.ndarray]


def _since(meta: ModelMeta) -> tuple[dt.date | None, str]:
    """The last week the model's probabilities learned from, and what learned from it."""
    from monitoring.stages import data_through

    if meta.role == "recalibrated" and meta.calibrated_through:
        return dt.date.fromisoformat(meta.calibrated_through), "its recalibration"
    return data_through(meta), "its trees"


def _training_rows(meta: ModelMeta, rows: pd.DataFrame) -> pd.DataFrame:
    profile = saved_profile(meta)
    if profile is None:
        return rows.head(0)
    return rows[(rows["as_of"] >= profile.start) & (rows["as_of"] <= profile.end)]


def drift_check(
    model: Any,
    meta: ModelMeta,
    manifest: Manifest,
    snapshots: pd.DataFrame,
    rows: pd.DataFrame,
    newest: dt.date,
    params: MonitorParams,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """PSI of every feature and of the score, newest week against the training rows."""
    profile = saved_profile(meta)
    week = snapshots[snapshots["as_of"] == newest]
    if profile is None:
        note = "the model has no reference profile (trained before the skew guard)"
        empty = {"status": "skipped", "note": note, "flagged": []}
        return {"features": empty, "score": {"psi": None, "note": note}}, pd.DataFrame()
    entries = [*(meta.feature_manifest or []), *manifest.features]
    descriptions = {f["name"]: f["description"] for f in entries}
    check, table = feature_drift(
        profile, week, descriptions, params.max_psi, params.max_missing_increase
    )
    reference, source = profile.score, "the training rows' scores saved with the model"
    if reference is None:
        train = _training_rows(meta, rows)
        reference = score_reference(model.predict_proba(train)[:, 1]) if len(train) else None
        source = f"the training weeks ({profile.start} to {profile.end}) re-scored"
    probability = model.predict_proba(week)[:, 1]
    score: dict[str, Any] = {"psi": None, "note": "no training rows to compare the score with"}
    if reference is not None:
        score = score_drift(reference, probability, profile.rows, params.max_score_psi)
        score["reference"] = source
    features = check.model_dump(mode="json")
    return {"features": features, "score": score}, table


@dataclass
class Calibration:
    """The calibration check's figures, and the refitted model when there is one."""

    summary: dict[str, Any]
    by_week: pd.DataFrame
    model: Any = None  # the recalibrated ChurnModel, or None
    meta: dict[str, Any] = field(default_factory=dict)  # what its model.json adds or replaces
    rows: pd.DataFrame | None = None  # the weeks it was fitted on


def calibration_check(
    model: Any,
    meta: ModelMeta,
    rows: pd.DataFrame,
    params: MonitorParams,
    evaluate: EvaluateParams,
    predict: Predict,
) -> Calibration:
    """Calibration in the large over the newest labeled weeks the model never learned from."""
    since, learner = _since(meta)
    after = rows if since is None else rows[rows["as_of"] > since]
    limit = params.max_calibration_drift
    base = {"limit": limit, "since": str(since), "weeks_after": int(after["as_of"].nunique())}
    if after["as_of"].nunique() < params.recalibration_weeks:
        note = (
            f"{after['as_of'].nunique()} labeled weeks after {since} (what {learner} learned "
            f"from); the check waits for {params.recalibration_weeks}"
        )
        by_week = calibration_by_week(after["as_of"], after["churned"], predict(model, after))
        return Calibration(base | {"status": "waiting", "note": note}, by_week)
    probability = predict(model, after)
    by_week = calibration_by_week(after["as_of"], after["churned"], probability)
    recent_dates = sorted(after["as_of"].unique())[-params.recalibration_weeks :]
    recent = after["as_of"].isin(recent_dates).to_numpy()
    drift = calibration_in_the_large(after["churned"][recent], probability[recent])
    first, last = str(recent_dates[0]), str(recent_dates[-1])
    summary = base | {
        "status": "drifting" if abs(drift) > limit else "holds",
        "weeks": [first, last],
        "calibration_in_the_large": round(drift, 4),
        "mean_predicted": round(float(probability[recent].mean()), 4),
        "churn_rate": round(float(after["churned"][recent].mean()), 4),
    }
    if abs(drift) <= limit:
        summary["note"] = f"holds: {drift:+.3f} over {first} to {last} (limit {limit})"
        return Calibration(summary, by_week)
    if not params.recalibrate:
        summary["note"] = (
            f"drifts {drift:+.3f} over {first} to {last} (limit {limit}); "
            "monitor.recalibrate is off"
        )
        return Calibration(summary, by_week)
    checked = Calibration(summary, by_week)
    return _recalibrated(model, meta, rows, after[recent], drift, checked, evaluate, predict)


def _recalibrated(
    model: Any,
    meta: ModelMeta,
    rows: pd.DataFrame,
    fit_rows: pd.DataFrame,
    drift: float,
    checked: Calibration,
    evaluate: EvaluateParams,
    predict: Predict,
) -> Calibration:
    """The calibrator refitted on `fit_rows` (the drifting weeks) on the frozen trees."""
    first, last = checked.summary["weeks"]
    limit = checked.summary["limit"]
    method = meta.calibration_method or "none"
    method = "platt" if method == "none" else method  # "none" has nothing to refit
    fitted = recalibrate(model, fit_rows, fit_rows["churned"], method)
    new_p = predict(fitted, fit_rows)
    summary = checked.summary | {
        "status": "recalibrated",
        "method": method,
        "recalibrated_calibration_in_the_large": round(
            calibration_in_the_large(fit_rows["churned"], new_p), 4
        ),
        "note": (
            f"drifted {drift:+.3f} over {first} to {last} (limit {limit}): calibrator "
            f"({method}) refitted on those weeks on the frozen trees; it scores from the next "
            "scoring run on"
        ),
    }
    new_meta = _recalibrated_meta(fitted, meta, rows, fit_rows, new_p, method, first, last)
    new_meta["tiers"] = _tiers(new_p, fit_rows, evaluate.rating_feature, meta)
    after_by_week = calibration_by_week(fit_rows["as_of"], fit_rows["churned"], new_p)
    by_week = checked.by_week.merge(
        after_by_week[["as_of", "mean_predicted"]].rename(
            columns={"mean_predicted": "recalibrated_predicted"}
        ),
        on="as_of",
        how="left",
    )
    return Calibration(summary, by_week, fitted, new_meta, fit_rows)


def _tiers(p: np.ndarray, rows: pd.DataFrame, rating: str, meta: ModelMeta) -> Any:
    """Tier cut points refitted on the recalibration weeks (same rule as in training)."""
    from training.tiers import fit_tiers

    if rating not in rows:
        return meta.tiers
    return fit_tiers(p, rows[rating].astype("Float64").to_numpy(dtype=float, na_value=np.nan))


def _recalibrated_meta(fitted, meta, rows, fit_rows, new_p, method, first, last) -> dict:
    """The `model.json` fields a recalibrated model changes (lineage, profile's score)."""
    from monitoring.stages import data_through

    profile = meta.reference_profile
    if profile is not None:
        train = _training_rows(meta, rows)
        profile = {k: v for k, v in profile.items() if k != "score"}
        if len(train):
            flat = score_reference(fitted.predict_proba(train)[:, 1])
            profile["score"] = {"kind": flat.kind, "shares": list(flat.shares)} | {
                "edges": list(flat.edges)
            }
    vouched = meta.vouched_by or {
        "model_version": meta.model_version,
        "mlflow_run_id": meta.mlflow_run_id,
    }
    return {
        "role": "recalibrated",
        "recalibrated_from": meta.model_version,
        "recalibrated_from_run_id": meta.mlflow_run_id,
        "calibrated_on": [first, last],
        "calibrated_through": last,
        "calibration_method": method,
        "data_through": str(data_through(meta)),
        "vouched_by": vouched,
        "recalibrated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "calibration_rows": len(fit_rows),
        "reference_profile": profile,
    }


def verdict(
    summary: dict[str, Any],
    meta: ModelMeta,
    newest: dt.date,
    params: MonitorParams,
    vouched_auc: float | None,
) -> dict[str, Any]:
    """The retrain recommendation from the summary's figures (see `monitoring.rules`)."""
    from monitoring.stages import data_through

    through = data_through(meta)
    cal = summary["calibration"]
    recal_drift = None
    if meta.role == "recalibrated" and cal.get("calibration_in_the_large") is not None:
        recal_drift = cal["calibration_in_the_large"]
    realized = summary["realized"]
    evidence = Evidence(
        realized_auc=realized.get("roc_auc") if realized.get("weeks") else None,
        vouched_auc=vouched_auc,
        drifting_features=[f["name"] for f in summary["drift"]["features"].get("flagged", [])],
        score_psi=summary["drift"]["score"].get("psi"),
        recalibrated_drift=recal_drift,
        model_age_weeks=(newest - through).days / 7 if through else None,
    )
    out = recommend(evidence, params)
    out["vouched_auc"] = vouched_auc
    return out
