from pathlib import Path

import pytest

from data.params import BaseParams, ValidateParams
from data.stages import generate, validate


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo world (raw/ and truth/), shared by the end-to-end tests."""
    out = tmp_path_factory.mktemp("world") / "demo"
    generate(out, n_accounts=150, seed=7)
    return out


@pytest.fixture(scope="session")
def validated(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("validate") / "validate"
    validate(small_world / "raw", out, BaseParams(), ValidateParams())
    return out


@pytest.fixture(scope="session")
def featured(validated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.params import FeaturesParams
    from features.stages import features

    out = tmp_path_factory.mktemp("features") / "features"
    features(validated, out, BaseParams(), FeaturesParams())
    return out


def model_stages(featured: Path, root: Path) -> Path:
    """train, evaluate, explain and compare on `featured`, everything under `root`."""
    from training.params import CompareParams, EvaluateParams, ExplainParams, TrainParams
    from training.stages import compare, evaluate, explain, train

    quick = TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20)
    mlflow_dir = root / "mlflow"
    base, evaluation = BaseParams(), EvaluateParams()
    train(featured, root / "train", base, quick, evaluation, mlflow_dir=mlflow_dir)
    evaluate(featured, root / "train", root / "evaluate", base, evaluation, mlflow_dir=mlflow_dir)
    explain(
        featured, root / "train", root / "explain", base, ExplainParams(plot_rows=500), mlflow_dir
    )
    compare(
        featured,
        root / "train",
        root / "evaluate",
        root / "explain",
        root / "compare",
        base,
        CompareParams(),
        evaluation,
        mlflow_dir=mlflow_dir,
    )
    return root


@pytest.fixture(scope="session")
def modeled(featured: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model stages on the small world (one run per test worker)."""
    return model_stages(featured, tmp_path_factory.mktemp("modeled"))
