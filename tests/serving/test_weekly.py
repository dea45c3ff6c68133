from pathlib import Path

import pytest

import serving.weekly
from data.errors import ContractError
from serving.weekly import run_weekly


def test_the_weekly_run_without_dvc_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    find_spec = serving.weekly.importlib.util.find_spec
    monkeypatch.setattr(
        serving.weekly.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "dvc" else find_spec(name, *a),
    )
    with pytest.raises(ContractError, match=r"dvc: not installed: .*uv sync --group dvc"):
        run_weekly(tmp_path)


def test_the_weekly_run_with_dvc_goes_on_to_look_for_the_model(tmp_path: Path):
    with pytest.raises(ContractError, match="no trained model"):
        run_weekly(tmp_path)
