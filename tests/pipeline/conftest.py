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
