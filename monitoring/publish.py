"""Write the monitor's files, register a recalibrated model, log the pass to MLflow."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd

from data.io import write_json
from monitoring.checks import Calibration
from monitoring.params import MonitorParams

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger(__name__)


def clean(value: Any) -> Any:
    """JSON-ready: NaN and infinities to null, numbers rounded to 4 decimals, dates as text."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def publish(
    tmp: Path,
    summary: dict[str, Any],
    weeks: pd.DataFrame,
    cal: Calibration,
    drift_table: pd.DataFrame,
    meta: ModelMeta,
    params: MonitorParams,
    mlflow_dir: Path,
) -> None:
    """Everything the stage writes into `tmp` (the folder that becomes `outputs/monitor`)."""
    from evaluation.stages.common import save_figures
    from monitoring import plots

    (tmp / "plots").mkdir()
    weeks.to_csv(tmp / "weeks.csv", index=False)
    cal.by_week.to_csv(tmp / "calibration.csv", index=False)
    drift_table.to_csv(tmp / "drift.csv", index=False)
    horizon = meta.horizon(90)
    figures = {"expected_vs_realized": plots.expected_vs_realized(weeks, horizon)}
    if len(cal.by_week):
        recal = cal.by_week.get("recalibrated_predicted")
        after = None
        if recal is not None:
            after = cal.by_week.dropna(subset=["recalibrated_predicted"]).rename(
                columns={"recalibrated_predicted": "mean_predicted"}
            )
        figures["calibration"] = plots.calibration_weeks(cal.by_week, after, horizon)
    if len(drift_table):
        figures["feature_psi"] = plots.feature_psi(drift_table, params.max_psi)
    save_figures(figures, tmp / "plots")
    tracked = bool(meta.mlflow_run_id) and (
        (mlflow_dir / "mlflow.db").exists() or bool(os.environ.get("MLFLOW_TRACKING_URI"))
    )
    if cal.model is not None:
        summary["calibration"]["recalibrated"] = _register(tmp, cal, meta, tracked)
    if tracked:
        summary["mlflow_run_id"] = _log_pass(tmp, summary, weeks, meta)
    write_json(clean(summary), tmp / "summary.json")


def _register(tmp: Path, cal: Calibration, meta: ModelMeta, tracked: bool) -> dict[str, Any]:
    """Save the recalibrated model; register it as the champion when MLflow tracks the model."""
    from serving.models import ARTIFACT_PATH
    from training import registry
    from training.bundle import META, MODEL_FILE

    folder = tmp / "recalibrated"
    folder.mkdir()
    joblib.dump(cal.model, folder / MODEL_FILE)
    new_meta = meta.with_(**cal.meta)
    if not tracked:
        write_json(clean(new_meta.document()), folder / META)
        log.warning("no MLflow store: the recalibrated model is saved, not registered")
        return {"version": None, "note": "saved under recalibrated/, not registered"}
    s = cal.summary
    vouched = (new_meta.vouched_by or {}).get("model_version")
    tags = {
        "recalibrated_from": str(meta.model_version),
        # The gate compares later models with the recipe that vouches for this one.
        "vouched_by_version": str(vouched),
        "calibrated_on": f"{s['weeks'][0]}..{s['weeks'][1]}",
        "calibration_method": s["method"],
        "calibration_drift_before": f"{s['calibration_in_the_large']:+.4f}",
        "calibration_drift_after": f"{s['recalibrated_calibration_in_the_large']:+.4f}",
        "calibration_drift_limit": str(s["limit"]),
    }

    def write_meta(run_id: str, version: str) -> None:
        saved = new_meta.with_(mlflow_run_id=run_id, model_version=version)
        write_json(clean(saved.document()), folder / META)

    assert cal.rows is not None  # a recalibrated model comes with the rows it was fitted on
    metrics = {"calibration_in_the_large": {"before": s["calibration_in_the_large"]}}
    metrics["calibration_in_the_large"]["after"] = s["recalibrated_calibration_in_the_large"]
    run_id, version = registry.register_recalibrated(
        cal.model, cal.rows, new_meta, tags, metrics, write_meta, folder, ARTIFACT_PATH
    )
    log.warning(
        "recalibrated %s v%s -> v%s, now the champion: it scores from the next scoring run on",
        meta.model_name,
        meta.model_version,
        version,
    )
    return {"version": version, "mlflow_run_id": run_id, "tags": tags}


def _log_pass(tmp: Path, summary: dict[str, Any], weeks: pd.DataFrame, meta: ModelMeta) -> str:
    """A monitor run: the summary's figures, realized figures per week, the files."""
    from training import tracking

    figures: dict[str, Any] = {k: summary[k] for k in ("realized", "calibration")}
    figures["score_psi"] = summary["drift"]["score"].get("psi")
    figures["drifting_features"] = len(summary["drift"]["features"].get("flagged", []))
    figures["retrain"] = int(summary["recommendation"]["retrain"])
    series: dict[str, list[tuple[int, float]]] = {}
    for row in weeks[~weeks["in_sample"].astype(bool)].itertuples():
        step = pd.Timestamp(str(row.as_of)).toordinal()  # the week, as a day number
        for name in ("roc_auc", "calibration_in_the_large", "brier"):
            series.setdefault(f"{row.source}.{name}", []).append((step, float(getattr(row, name))))
    tags = {
        "model_name": str(meta.model_name),
        "model_version": str(meta.model_version),
        "monitored_run_id": str(meta.mlflow_run_id),
        "newest_week": summary["newest_week"],
        "retrain": str(summary["recommendation"]["retrain"]).lower(),
    }
    return tracking.log_monitor_run(f"monitor {summary['newest_week']}", tags, figures, series, tmp)
