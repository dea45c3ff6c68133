"""Shared fixtures: a synthetic Interface-B snapshots frame and manifest, and a model on it.

The training and evaluation tests use them (tests/training, tests/evaluation).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data.params import BaseParams
from features.manifest import Manifest
from training.params import EvaluateParams, TrainParams

HORIZON = 28
EXPORT = dt.date(2025, 3, 3)
N_DATES, N_ACCOUNTS = 60, 250

FEATURES = [
    ("usage_events_28d", "float", "usage", "Product events, last 28 days"),
    ("contacts_days_since_last", "float", "contacts", "Days since the last contact"),
    ("rating_current", "int", "rating", "Manager's risk rating in force (1 = highest risk)"),
    ("account_segment", "category", "account", "Service tier"),
]


def true_probability(frame: pd.DataFrame) -> np.ndarray:
    """The known relationship between the features and the label."""
    segment = frame["account_segment"].map({"smb": 0.6, "mid": 0.0, "ent": -0.8}).to_numpy(float)
    rating = frame["rating_current"].astype("Float64").fillna(2.5).to_numpy(float)
    days = frame["contacts_days_since_last"].astype("Float64").fillna(120).to_numpy(float)
    logit = -2.2 - 0.05 * frame["usage_events_28d"].to_numpy(float) + 0.5 * (rating - 2.5)
    return 1 / (1 + np.exp(-(logit + 0.01 * days + segment)))


def make_snapshots(seed: int = 0) -> pd.DataFrame:
    """Weekly snapshots of a few hundred accounts; the last weeks' labels are unknown."""
    rng = np.random.default_rng(seed)
    dates = [EXPORT - dt.timedelta(weeks=N_DATES - i) for i in range(N_DATES)]
    rows = len(dates) * N_ACCOUNTS
    frame = pd.DataFrame(
        {
            "account_id": pd.array([f"A{i:04d}" for i in range(N_ACCOUNTS)] * N_DATES, dtype="str"),
            "as_of": np.repeat(dates, N_ACCOUNTS),
            "life": pd.array(np.ones(rows), dtype="int32"),
        }
    )
    segments = rng.choice(["smb", "mid", "ent"], N_ACCOUNTS)
    frame["usage_events_28d"] = rng.gamma(2.0, 10.0, rows)
    days = rng.exponential(40, rows)
    frame["contacts_days_since_last"] = pd.array(np.where(rng.random(rows) < 0.1, np.nan, days))
    rating = rng.integers(1, 5, rows).astype(float)
    frame["rating_current"] = pd.array(np.where(rng.random(rows) < 0.2, np.nan, rating), "Int64")
    frame["account_segment"] = pd.array(np.tile(segments, N_DATES), dtype="str")
    churned = (rng.random(rows) < true_probability(frame)).astype(float)
    unknown = frame["as_of"] + dt.timedelta(days=HORIZON) > EXPORT
    frame["churned"] = pd.array(np.where(unknown, np.nan, churned)).astype("Int8")
    frame["churn_date"] = pd.NaT
    frame["csm_id"] = pd.array(np.tile([f"C{i % 7}" for i in range(N_ACCOUNTS)], N_DATES), "str")
    frame["segment"] = frame["account_segment"]
    frame["mrr"] = np.tile(rng.lognormal(6, 1, N_ACCOUNTS), N_DATES)
    return frame


def make_manifest(frame: pd.DataFrame) -> dict[str, Any]:
    """Interface-B manifest for `make_snapshots`."""
    return {
        "id_columns": ["account_id", "as_of", "life"],
        "label": "churned",
        "extra_columns": ["churn_date", "csm_id", "segment", "mrr"],
        "features": [
            {"name": n, "dtype": d, "source": s, "window": None, "unit": "", "description": text}
            for n, d, s, text in FEATURES
        ],
        "missing_sources": [],
        "export_date": EXPORT.isoformat(),
        "horizon_days": HORIZON,
        "grace_gap_days": 30,
        "frequency": "W-MON",
        "event_types": [],
        "rows": len(frame),
        "labeled_rows": int(frame["churned"].notna().sum()),
    }


@pytest.fixture(scope="session")
def snapshots() -> pd.DataFrame:
    return make_snapshots()


@pytest.fixture(scope="session")
def manifest(snapshots: pd.DataFrame) -> Manifest:
    return Manifest.model_validate(make_manifest(snapshots))


@pytest.fixture
def features_dir(tmp_path: Path, snapshots: pd.DataFrame, manifest: Manifest) -> Path:
    out = tmp_path / "features"
    out.mkdir()
    snapshots.to_parquet(out / "snapshots.parquet", index=False)
    manifest.save(out / "manifest.json")
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, snapshots, manifest) -> dict[str, Any]:
    """One train + evaluate run on the synthetic snapshots (MLflow in a temp folder)."""
    import os

    from evaluation.stages.evaluate import evaluate
    from training.stages import train

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    root = tmp_path_factory.mktemp("run")
    (root / "features").mkdir()
    snapshots.to_parquet(root / "features" / "snapshots.parquet", index=False)
    manifest.save(root / "features" / "manifest.json")
    base = BaseParams(horizon_days=HORIZON, seed=7)
    params = TrainParams(
        calibration_weeks=8,
        validation_weeks=4,
        min_train_weeks=4,
        n_trials=0,
        tuning_minutes=0,
        n_estimators=200,
        early_stopping_rounds=10,
        calibration_folds=3,
    )
    evaluation = EvaluateParams(test_weeks=8)
    metrics = train(root / "features", root / "train", base, params, evaluation, root / "mlflow")
    eval_metrics = evaluate(
        root / "features", root / "train", root / "evaluate", base, evaluation, root / "mlflow"
    )
    return {
        "root": root,
        "metrics": metrics,
        "eval_metrics": eval_metrics,
        "base": base,
        "params": params,
        "evaluate": evaluation,
    }


@pytest.fixture(scope="session")
def explained(trained) -> dict[str, Any]:
    """`explain` run on the trained fixture."""
    from evaluation.params import ExplainParams
    from evaluation.stages.explain import explain

    root = trained["root"]
    params = ExplainParams(plot_rows=500, dependence_plots=2, batch_rows=700)
    summary = explain(
        root / "features",
        root / "train",
        root / "explain",
        trained["base"],
        params,
        root / "mlflow",
    )
    return trained | {"explain": summary}
