"""End to end: `explain` and `compare` after `train` and `evaluate`, with and without ratings."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from data.params import BaseParams, ValidateParams
from data.stages import validate
from evaluation.params import CompareParams
from evaluation.stages.compare import compare
from features.params import FeaturesParams
from features.stages import features
from training.params import EvaluateParams

from .conftest import model_stages


def test_compare_writes_agreement_and_disagreements_with_reasons(modeled: Path) -> None:
    compared = modeled
    summary = json.loads((compared / "compare" / "summary.json").read_text())
    assert summary["status"] == "compared"
    agreement = summary["agreement"]
    assert -1 <= agreement["kappa_quadratic"] <= 1
    assert sum(map(sum, agreement["confusion"])) == agreement["rated_rows"] > 0
    worth = summary["without_manager_features"]
    assert "rating_current" in worth["dropped"] and 0 < worth["without"]["roc_auc"] < 1
    dis = pd.read_parquet(compared / "compare" / "disagreements.parquet")
    assert len(dis) and set(dis["kind"]) <= {"model_sees_risk", "manager_sees_risk"}
    assert dis["reasons"].map(len).gt(0).mean() > 0.5
    assert (dis["revenue_at_risk"].diff().dropna() <= 1e-9).all()
    managers = pd.read_parquet(compared / "compare" / "per_manager.parquet")
    preds = pd.read_parquet(compared / "evaluate" / "predictions.parquet")
    assert set(managers["csm_id"]) == set(preds["csm_id"].fillna("unassigned"))
    assert managers["accounts"].sum() >= preds["account_id"].nunique()
    assert (compared / "compare" / "plots" / "tier_vs_rating.png").exists()


def test_compare_judges_the_disagreements_at_the_renewal(
    modeled: Path, featured: Path, tmp_path: Path
) -> None:
    summary = json.loads((modeled / "compare" / "summary.json").read_text())
    renewal = summary["renewal"]
    assert list(renewal["weeks"]) == ["test_weeks"]  # no backtest given
    assert (
        renewal["base"]["test_weeks"]["rows"]
        == summary["agreement"]["rated_rows"] + (summary["agreement"]["unrated_rows"])
    )
    for kind in ("model_sees_risk", "manager_sees_risk"):
        entry = renewal[kind]["test_weeks"]
        assert entry["rows"] == summary["who_was_right"][kind]["rows"]
        assert entry["known"] + entry["unknown"] == entry["rows"]
        assert renewal[kind]["verdict"] in {"model", "manager", "too few known"}
    assert (modeled / "compare" / "plots" / "renewal.png").exists()
    # The test weeks written as the backtest writes its weeks: the same rows, the same figures.
    preds = pd.read_parquet(modeled / "evaluate" / "predictions.parquet")
    (tmp_path / "backtest").mkdir()
    preds.drop(columns="tier").to_parquet(tmp_path / "backtest" / "weeks.parquet")
    shutil.copytree(modeled / "mlflow", tmp_path / "mlflow")
    again = compare(
        featured,
        modeled / "train",
        modeled / "evaluate",
        modeled / "explain",
        tmp_path / "compare",
        BaseParams(),
        CompareParams(),
        EvaluateParams(),
        mlflow_dir=tmp_path / "mlflow",
        backtest_dir=tmp_path / "backtest",
    )["renewal"]
    assert list(again["weeks"]) == ["test_weeks", "backtest_weeks"]
    for kind in ("model_sees_risk", "manager_sees_risk", "base"):
        assert (
            again[kind]["backtest_weeks"]
            == again[kind]["test_weeks"]
            == renewal[kind]["test_weeks"]
        )


def test_an_export_without_ratings_has_nothing_to_compare(
    small_world: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("no-ratings")
    raw = root / "raw"
    shutil.copytree(small_world / "raw", raw)
    (raw / "manager_ratings.csv").unlink()
    validate(raw, root / "validate", BaseParams(), ValidateParams())
    features(root / "validate", root / "features", BaseParams(), FeaturesParams())
    model_stages(root / "features", root)
    summary = json.loads((root / "compare" / "summary.json").read_text())
    assert summary["status"].startswith("nothing to compare")
    assert pd.read_parquet(root / "compare" / "disagreements.parquet").empty
    assert pd.read_parquet(root / "explain" / "reasons.parquet")["reasons_up"].map(len).sum() > 0
