"""The `monitor` DVC stage: the scoring model's figures as outcomes arrive; files under out_dir.

Reads the features (labels that became final), the scored weeks (`outputs/score/<DATE>/`),
the replayed lists (`outputs/backtest/weeks.parquet`, when there) and the champion; writes
`weeks.csv`, `calibration.csv`, `drift.csv`, `summary.json` and `plots/` in one atomic swap,
and, past the calibration limit, `recalibrated/` (a new registered version, the champion).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from data.errors import ContractError
from data.io import atomic_dir, read_json
from data.params import BaseParams
from monitoring import realized
from monitoring.params import MonitorParams
from training.params import EvaluateParams

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["account_id", "probability", "mrr"]
REPLAY_COLUMNS = ["origin", "as_of", "account_id", "probability", "churned", "mrr"]


def data_through(meta: ModelMeta) -> dt.date | None:
    """The last labeled Monday the model's trees learned from (older models: train_end)."""
    value = meta.data_through or meta.splits.get("train_end")
    return dt.date.fromisoformat(str(value)) if value else None


def _checked(frame: pd.DataFrame, path: Path, columns: list[str]) -> pd.DataFrame:
    """`frame` with `columns`, probabilities in [0, 1], labels 0/1; else a ContractError."""
    for column in columns:
        if column not in frame.columns:
            raise ContractError(str(path), column, "required column missing")
    p = frame["probability"].astype(float)
    bad = ~p.between(0, 1)
    if bad.any():
        raise ContractError(str(path), "probability", "must lie in [0, 1]", int(bad.sum()))
    if "churned" in frame:
        bad = frame["churned"].notna() & ~frame["churned"].isin([0, 1])
        if bad.any():
            raise ContractError(str(path), "churned", "must be 0 or 1", int(bad.sum()))
    out = frame.copy()
    out["as_of"] = pd.to_datetime(out["as_of"]).dt.date
    return out


def _scored_lists(score_dir: Path, meta: ModelMeta) -> pd.DataFrame:
    """Every scored week's list with the scoring model and its `data_through`."""
    from training import tracking

    frames, known = [], {meta.mlflow_run_id: data_through(meta)}
    folders = sorted(Path(score_dir).glob("????-??-??")) if Path(score_dir).exists() else []
    for folder in folders:
        path = folder / "scores.parquet"
        if not path.exists():
            continue
        summary = read_json(folder / "summary.json")
        scores = pd.read_parquet(path, columns=SCORE_COLUMNS)
        scores = _checked(scores.assign(as_of=summary["as_of"]), path, SCORE_COLUMNS)
        model = summary.get("model") or {}
        run_id = model.get("mlflow_run_id")
        through = model.get("data_through")
        if through is None and run_id not in known:
            saved = tracking.run_file(run_id, "churn/model.json") if run_id else None
            known[run_id] = data_through(read_json(saved)) if saved else None
        through = dt.date.fromisoformat(through) if through else known.get(run_id)
        label = f"{model.get('name') or 'model'} v{model.get('version') or '?'}"
        frames.append(scores.assign(source=realized.AS_SCORED, model=label, data_through=through))
    if not frames:
        return pd.DataFrame(columns=[*realized.LIST_COLUMNS])
    return pd.concat(frames, ignore_index=True)[realized.LIST_COLUMNS]


def _replayed_lists(backtest_dir: Path | None) -> pd.DataFrame:
    """The recipe's replayed lists with their outcomes (none when there is no backtest)."""
    path = Path(backtest_dir or "") / "weeks.parquet"
    if backtest_dir is None or not path.exists():
        return pd.DataFrame(columns=[*realized.LIST_COLUMNS, "churned"])
    frame = _checked(pd.read_parquet(path), path, REPLAY_COLUMNS)
    frame = frame[frame["churned"].notna()]
    origin = pd.to_datetime(frame["origin"]).dt.date
    # The last labeled week each origin's model learned from (a horizon and grace before the
    # origin); a file without it is taken to have learned up to the day before its origin.
    if "data_through" in frame:
        through = pd.to_datetime(frame["data_through"]).dt.date
    else:
        through = origin.map(lambda day: day - dt.timedelta(days=1))
    return frame.assign(
        source=realized.REPLAYED,
        model="recipe trained " + origin.astype(str),
        data_through=through,
        churned=frame["churned"].astype(int),
    )[[*realized.LIST_COLUMNS, "churned"]]


def _predict_weeks(model: Any, rows: pd.DataFrame) -> np.ndarray:
    """The model's probability of every row, a week at a time with a progress bar."""
    from data.console import progress

    out = np.empty(len(rows))
    positions = pd.Series(np.arange(len(rows)), index=rows.index)
    for _, part in progress(rows.groupby("as_of", sort=True), desc="re-score weeks", unit="week"):
        out[positions[part.index].to_numpy()] = model.predict_proba(part)[:, 1]
    return out


def monitor(
    features_dir: Path,
    train_dir: Path,
    score_dir: Path,
    backtest_dir: Path | None,
    out_dir: Path,
    base: BaseParams,
    params: MonitorParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path,
) -> dict[str, Any]:
    """Realized figures, drift, calibration (and its refit), and a retrain recommendation."""
    from features.snapshots import read_features
    from monitoring.checks import calibration_check, drift_check, verdict
    from monitoring.publish import publish
    from serving.models import load_scoring_model
    from training.frames import labeled

    snapshots, manifest, _ = read_features(features_dir)
    out_dir = Path(out_dir)
    mlflow_dir = Path(mlflow_dir)
    model, meta = load_scoring_model(train_dir, mlflow_dir)
    rows = labeled(snapshots, manifest)
    newest = max(snapshots["as_of"])
    scored = realized.join_outcomes(_scored_lists(score_dir, meta), rows)
    joined = pd.concat([scored, _replayed_lists(backtest_dir)], ignore_index=True)
    weeks = realized.realized_weeks(joined, params.top_share)
    judged = realized.judged(weeks, params.judge_weeks)
    drift, drift_table = drift_check(model, meta, manifest, snapshots, rows, newest, params)
    cal = calibration_check(model, meta, rows, params, evaluate, _predict_weeks)
    summary: dict[str, Any] = {
        "status": "checked",
        "monitored_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "newest_week": str(newest),
        "model": {
            "name": meta.model_name,
            "version": meta.model_version,
            "mlflow_run_id": meta.mlflow_run_id,
            "role": meta.role or "evaluated",
            "data_through": str(data_through(meta)),
            "calibration_method": meta.calibration_method,
        },
        "weeks": {
            "as_scored": int((weeks["source"] == realized.AS_SCORED).sum()),
            "replayed": int((weeks["source"] == realized.REPLAYED).sum()),
            "in_sample": int(weeks["in_sample"].astype(bool).sum()),
            "judged": len(judged),
            "last_judged_week": str(judged["as_of"].max()) if len(judged) else None,
        },
        "realized": realized.pooled(joined, judged, params.top_share),
        "drift": drift,
        "calibration": cal.summary,
    }
    vouched = _vouched_auc(meta, mlflow_dir)
    summary["recommendation"] = verdict(summary, meta, newest, params, vouched)
    with atomic_dir(out_dir) as tmp:
        publish(tmp, summary, weeks, cal, drift_table, meta, params, mlflow_dir)
    _log(summary)
    return summary


def _vouched_auc(meta: ModelMeta, mlflow_dir: Path) -> float | None:
    """The test ROC AUC the model was vouched for (its own, or its vouching run's)."""
    import os

    from training import tracking

    run_id = (meta.vouched_by or {}).get("mlflow_run_id") or meta.mlflow_run_id
    if not run_id or not (
        (mlflow_dir / "mlflow.db").exists() or os.environ.get("MLFLOW_TRACKING_URI")
    ):
        return None
    tracking.use_store(mlflow_dir, meta.experiment)
    return tracking.run_metric(run_id, "test.roc_auc")


def _log(summary: dict[str, Any]) -> None:
    w, r, c = summary["weeks"], summary["realized"], summary["calibration"]
    log.info(
        "%d weeks as scored, %d replayed (%d in-sample); judged %d weeks up to %s: %s",
        w["as_scored"],
        w["replayed"],
        w["in_sample"],
        w["judged"],
        w["last_judged_week"],
        f"AUC {r['roc_auc']:.3f}, expected {r['expected_churns']:.0f} vs realized "
        f"{r['realized_churns']:.0f} churns"
        if r.get("weeks")
        else "nothing to judge yet",
    )
    d = summary["drift"]
    log.info(
        "newest week %s: score PSI %s; drifting features: %s",
        summary["newest_week"],
        d["score"]["psi"],
        ", ".join(f["name"] for f in d["features"]["flagged"]) or "none",
    )
    log.info("calibration: %s", c["note"])
    verdict = summary["recommendation"]
    log.info(
        "recommendation: %s%s",
        "retrain" if verdict["retrain"] else "no retrain",
        "".join(f"\n  - {reason}" for reason in verdict["reasons"]),
    )
