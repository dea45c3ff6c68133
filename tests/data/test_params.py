from pathlib import Path

import pytest

from data.errors import ParamsError
from data.params import BaseParams, ValidateParams, load_section, read_params


def test_repo_params_file_validates_every_section() -> None:
    raw = read_params(Path(__file__).parents[2] / "params.yaml")
    base = load_section(raw, "base", BaseParams)
    assert base.horizon_days == 90 and base.grace_gap_days == 30
    assert load_section(raw, "validate", ValidateParams).max_orphan_share == 0.01


def test_misspelt_key_names_section_and_key() -> None:
    with pytest.raises(ParamsError, match=r"base\.horizon_dayz"):
        load_section({"base": {"horizon_dayz": 60}}, "base", BaseParams)


def test_wrong_type_names_key() -> None:
    with pytest.raises(ParamsError, match=r"validate\.max_orphan_share"):
        load_section({"validate": {"max_orphan_share": "lots"}}, "validate", ValidateParams)


def test_sections_are_frozen() -> None:
    base = BaseParams()
    with pytest.raises(Exception, match="frozen"):
        base.seed = 1  # type: ignore[misc]
