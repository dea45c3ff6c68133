import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from data.params import BaseParams, ValidateParams
from data.stages import generate, validate
from serving.settings import Settings


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
    from evaluation.params import CompareParams, ExplainParams
    from evaluation.stages.compare import compare
    from evaluation.stages.evaluate import evaluate
    from evaluation.stages.explain import explain
    from training.params import EvaluateParams, TrainParams
    from training.stages import train

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


@pytest.fixture(scope="session")
def started() -> Callable[..., contextlib.AbstractContextManager[TestClient]]:
    """`with started(app) as client:` a TestClient once the API's first load has finished.

    The API loads in the background so `/healthz` answers at once; tests wait for that load
    (successful or not) before they ask anything else.
    """

    @contextlib.contextmanager
    def start(app: FastAPI, seconds: float = 60) -> Iterator[TestClient]:
        with TestClient(app) as client:
            service = app.state.service
            deadline = time.monotonic() + seconds
            while service.loaded is None and service.attempted is None:
                assert time.monotonic() < deadline, "the API's first load never finished"
                time.sleep(0.02)
            while service.lock.locked():
                time.sleep(0.02)
            yield client

    return start


@pytest.fixture(scope="session")
def api_settings(featured: Path, modeled: Path) -> Settings:
    """The API on the small world's production model and its latest scored week.

    Keys: "other-key" and "test-key-123" read, "admin-key-456" may also reload.
    """
    from serving.params import ScoreParams
    from serving.stages import score

    score(featured, modeled / "train", modeled / "score", BaseParams(), ScoreParams(model="train"))
    return Settings(
        scores_dir=modeled / "score" / "latest",
        model=str(modeled / "train" / "production"),
        train_dir=modeled / "train",
        mlflow_dir=modeled / "mlflow",
        features_dir=featured,
        api_keys="other-key, test-key-123",
        admin_keys="admin-key-456",
        reload_min_seconds=0,
        max_batch=5,
        max_predict_rows=3,
        max_body_bytes=20_000,
        watch_seconds=0,
    )
