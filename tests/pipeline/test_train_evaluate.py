"""End to end: the generated world's features through `train` and `evaluate` (MLflow in tmp)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from data.params import BaseParams
from evaluation.stages.evaluate import evaluate
from training.params import EvaluateParams, TrainParams
from training.stages import train

QUICK = TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20)


@pytest.fixture(scope="module")
def evaluated(featured: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model")
    mlflow_dir = root / "mlflow"
    train(featured, root / "train", BaseParams(), QUICK, EvaluateParams(), mlflow_dir=mlflow_dir)
    evaluate(
        featured,
        root / "train",
        root / "evaluate",
        BaseParams(),
        EvaluateParams(),
        mlflow_dir=mlflow_dir,
    )
    return root


def test_evaluate_scores_every_test_row_beside_the_baselines(evaluated: Path) -> None:
    preds = pd.read_parquet(evaluated / "evaluate" / "predictions.parquet")
    for column in (
        "account_id",
        "as_of",
        "churned",
        "probability",
        "raw_score",
        "manager_rating",
        "segment",
        "mrr",
    ):
        assert column in preds.columns
    assert preds["churned"].notna().all()
    assert preds["probability"].between(0, 1).all()
    assert preds["as_of"].nunique() == EvaluateParams().test_weeks
    metrics = json.loads((evaluated / "evaluate" / "metrics.json").read_text())
    assert metrics  # and the model learned something real on a small world:
    model_auc = _find(metrics, "model", "roc_auc")
    assert model_auc > 0.65
    assert model_auc > _find(metrics, "base_rate", "roc_auc")


def _find(metrics: dict, name: str, key: str) -> float:
    """The metric `key` of `name`, wherever the evaluate stage nests it."""
    stack = [metrics]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if name in node and isinstance(node[name], dict) and key in node[name]:
                return float(node[name][key])
            stack.extend(node.values())
    raise KeyError(f"{name}.{key} not in evaluate metrics")
