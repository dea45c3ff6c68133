"""What the risk API serves: one scored week and the model that scored it, loaded together.

`load(settings)` reads the scored week (`CHURN_SCORES_DIR`) and the model (`CHURN_MODEL`) into
one immutable `Loaded` bundle, or raises `LoadError` saying what is missing; a bundle is
never half-filled, so a failed load leaves the caller with whatever it served before.

The two must agree. A scored week's `summary.json` names the model version that scored it:
with `CHURN_MODEL=champion` the API serves that very version (the champion may have moved on,
say after the monitor recalibrated it, before the next week is scored; live predictions then
still come from the model that made the lookups). With a model folder, a different version is
an error.

`identity(settings)` is the cheap fingerprint of what `load` would read now (the scored
week's files, the monitor's summary, and the model named): the watcher reloads when it
differs from the loaded bundle's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from serving.settings import Settings

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger("churn.api")


class LoadError(Exception):
    """Scores or model cannot be loaded; the message names what is missing or disagrees."""


@dataclass(frozen=True)
class Loaded:
    """Scores and model, loaded together and swapped together."""

    lookup: dict[str, bytes]  # account id -> AccountRisk JSON
    records: dict[str, dict[str, Any]]
    as_of: str
    model_card: dict[str, Any]
    predictor: Any  # serving.live.LivePredictor
    identity: tuple[Any, ...]
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


# ---------------------------------------------------------------- what would be loaded
def _stat(path: Path) -> tuple[str, int] | None:
    try:
        return str(path.resolve()), path.stat().st_mtime_ns
    except OSError:
        return None


def _summary(folder: Path) -> dict[str, Any]:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def identity(settings: Settings) -> tuple[Any, ...]:
    """A fingerprint of the scored week and model `load(settings)` would read now (cheap)."""
    folder = Path(settings.scores_dir)
    monitor = _stat(_monitor_summary(settings))
    scores = _stat(folder / "scores.parquet"), _stat(folder / "summary.json"), monitor
    if settings.model != "champion":
        return scores, _stat(Path(settings.model) / "model.json")
    scored_by = (_summary(folder).get("model") or {}).get("mlflow_run_id")
    if scored_by:  # the week names its model: the champion's moves do not matter here
        return scores, scored_by
    return scores, _champion_run(settings), _stat(settings.train_dir / "production" / "model.json")


def _monitor_summary(settings: Settings) -> Path:
    """The monitor's last summary: `outputs/monitor` beside the train folder."""
    return Path(settings.train_dir).parent / "monitor" / "summary.json"


def _champion_run(settings: Settings) -> str | None:
    from serving.models import champion_version

    version = champion_version(settings.mlflow_dir, settings.train_dir)
    return None if version is None else str(version.run_id)


# ---------------------------------------------------------------- loading
def load_scores(folder: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """AccountRisk records of a scored week folder; LoadError when it has none."""
    import pandas as pd  # here, not at the top: `churn serve` answers /healthz before this

    from serving.curves import curve_fields, curve_horizons

    def _int(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    def _float(value: Any) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    path = Path(folder) / "scores.parquet"
    if not Path(folder).exists():
        raise LoadError("CHURN_SCORES_DIR holds no scored week (run `churn score`)")
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise LoadError("CHURN_SCORES_DIR has no scores.parquet (run `churn score`)") from None
    except Exception as err:  # a torn or foreign file: say so, keep serving the old one
        raise LoadError(f"scores.parquet cannot be read ({type(err).__name__})") from None
    if frame.empty:
        raise LoadError("scores.parquet has no rows")
    horizons = curve_horizons(frame.columns)  # none in a week scored before the risk curve
    records: dict[str, dict[str, Any]] = {}
    for r in frame.to_dict("records"):
        records[str(r["account_id"])] = {
            "account_id": str(r["account_id"]),
            "as_of": str(pd.Timestamp(r["as_of"]).date()),
            "probability": float(r["probability"]),
            "tier": int(r["tier"]),
            "manager_rating": _int(r["manager_rating"]),
            "rating_age_days": _int(r["rating_age_days"]),
            "days_since_contact": _int(r["days_since_contact"]),
            "revenue_at_risk": float(r["revenue_at_risk"]),
            "probability_change": _float(r["probability_change"]),
            "reasons_up": list(r["reasons_up"]),
            "reasons_down": list(r["reasons_down"]),
            "movers": list(r["movers"]),
            "model_version": None,  # set once the model is loaded
        } | curve_fields(r, horizons)
    return records, str(next(iter(records.values()))["as_of"])


def _model(settings: Settings, scored_by: dict[str, Any]) -> tuple[Any, ModelMeta]:
    """The model that scored the week: the named folder, or the registry's version."""
    from serving.models import load_run_model, load_scoring_model

    if settings.model != "champion":
        from training.bundle import META, MODEL_FILE

        folder = Path(settings.model)
        if not (folder / META).exists() or not (folder / MODEL_FILE).exists():
            raise LoadError("the CHURN_MODEL folder lacks model.joblib or model.json")
        from training.bundle import load_model

        model, meta = load_model(folder)
        if _disagree(scored_by.get("version"), meta.model_version):
            raise LoadError(
                f"the scored week was scored by model version {scored_by['version']}; "
                f"the CHURN_MODEL folder holds version {meta.model_version}"
            )
        return model, meta
    run = scored_by.get("mlflow_run_id")
    champion = _champion_run(settings)
    if run and run != champion:
        log.warning(
            "the champion has not scored a week yet; serving version %s, which scored this one",
            scored_by.get("version"),
        )
        try:
            model, meta = load_run_model(settings.train_dir, settings.mlflow_dir, run)
        except FileNotFoundError:
            raise LoadError(
                f"model version {scored_by.get('version')}, which scored the week, is neither in "
                "CHURN_TRAIN_DIR nor in the MLflow store (CHURN_MLFLOW_DIR)"
            ) from None
        return model, meta.with_(alias=None)
    local = settings.train_dir / "production" / "model.json"
    if run is None and champion is None and not local.exists():
        raise LoadError("no champion registered and no production model in CHURN_TRAIN_DIR")
    return load_scoring_model(settings.train_dir, settings.mlflow_dir)


def _disagree(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) != str(b)


def load(settings: Settings) -> Loaded:
    """Read the scored week and its model (slow; off the request path). LoadError if not both."""
    folder = Path(settings.scores_dir)
    seen = identity(settings)
    summary = _summary(folder)
    scored_by = summary.get("model") or {}
    records, as_of = load_scores(folder)  # first: cheaper to find missing than the model
    try:
        model, meta = _model(settings, scored_by)
    except LoadError:
        raise
    except Exception as err:  # the log has the whole story; the answer names the kind
        log.warning("the model cannot be loaded: %r", err)
        raise LoadError(f"the model cannot be loaded ({type(err).__name__})") from None
    version = meta.model_version or scored_by.get("version")
    for record in records.values():
        record["model_version"] = version
        record["horizon_days"] = meta.horizon_days
    manifest = meta.feature_manifest
    if manifest is None:
        from features.manifest import Manifest
        from features.snapshots import MANIFEST

        path = settings.features_dir / MANIFEST
        if not path.exists():
            raise LoadError("the model has no feature manifest, nor has CHURN_FEATURES_DIR")
        manifest = Manifest.load(path).features
    missing = sorted(set(model.features) - {f["name"] for f in manifest})
    if missing:
        raise LoadError(f"the feature manifest lacks the model's features {missing[:5]}")
    from serving.live import LivePredictor, ReasonRule

    predictor = LivePredictor(
        model,
        meta,
        manifest,
        reasons=ReasonRule.of_week(summary),  # the reasons the batch gave this very week
        range_margin=settings.predict_range_margin,
    )
    return Loaded(
        lookup={k: orjson.dumps(v) for k, v in records.items()},
        records=records,
        as_of=as_of,
        model_card=_card(settings, meta, predictor, as_of, summary),
        predictor=predictor,
        identity=seen,
    )


def _card(
    settings: Settings, meta: ModelMeta, predictor: Any, as_of: str, summary: dict[str, Any]
) -> dict[str, Any]:
    vouched = meta.vouched_by or {}
    test = vouched.get("test_metrics")
    metrics_path = settings.train_dir / "metrics.json"
    if test is None:  # a model saved before production refits: its own test figures
        test = json.loads(metrics_path.read_text()).get("test", {}) if metrics_path.exists() else {}
    card = {
        "name": meta.model_name,
        "version": meta.model_version,
        "alias": meta.alias,
        "trained_at": meta.trained_at,
        "horizon_days": meta.horizon_days,
        "role": meta.role,
        "data_through": meta.data_through,
        "vouched_by": vouched.get("model_version"),
        "calibration_method": meta.calibration_method,
        "test_metrics": test,
        "tiers": meta.tiers,
        "features": [
            {k: f.get(k) for k in ("name", "dtype", "unit", "description")}
            for f in predictor.entries.values()
        ],
        "scores_as_of": as_of,
        "skew": summary.get("skew"),
    }
    monitor_path = _monitor_summary(settings)
    if monitor_path.exists():
        card["monitor"] = monitor_card(json.loads(monitor_path.read_text()))
    return card


def monitor_card(summary: dict[str, Any]) -> dict[str, Any]:
    """The monitor's summary.json cut to what `GET /v1/model` shows."""
    cal, drift = summary.get("calibration", {}), summary.get("drift", {})
    advice = summary.get("recommendation", {})
    return {
        "status": summary.get("status", "unknown"),
        "newest_week": summary.get("newest_week"),
        "monitored_version": (summary.get("model") or {}).get("version"),
        "last_judged_week": (summary.get("weeks") or {}).get("last_judged_week"),
        "realized_roc_auc": (summary.get("realized") or {}).get("roc_auc"),
        "calibration": cal.get("status"),
        "calibration_in_the_large": cal.get("calibration_in_the_large"),
        "recalibrated_version": (cal.get("recalibrated") or {}).get("version"),
        "score_psi": (drift.get("score") or {}).get("psi"),
        "drifting_features": [f["name"] for f in (drift.get("features") or {}).get("flagged", [])],
        "retrain": bool(advice.get("retrain", False)),
        "reasons": advice.get("reasons", []),
    }
