"""The params models' defaults are params.yaml's values, section by section, field by field.

Each section's model is found where the `churn` commands name it (`("train", TrainParams)`
in a `*/cli.py`), so a section that moves to another package is still checked.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
# Settings a test or a one-off run changes, left out of params.yaml on purpose.
CODE_ONLY = {"features": {"history_start"}}


def _imported_names(tree: ast.AST, package: str) -> dict[str, str]:
    """Name -> module of every `from X import Y` in a module, inside functions too."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {a.asname or a.name: node.module for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            module = f"{base}.{node.module}" if node.module else base
            found |= {a.asname or a.name: module for a in node.names}
    return found


def section_models() -> dict[str, type[BaseModel]]:
    """Each params section named in a `*/cli.py` with the model the command validates it by."""
    models: dict[str, type[BaseModel]] = {}
    for cli in sorted(ROOT.glob("*/cli.py")):
        tree = ast.parse(cli.read_text())
        names = _imported_names(tree, cli.parent.name)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Tuple) and len(node.elts) == 2):
                continue
            section, model = node.elts
            named = isinstance(model, ast.Name) and model.id in names
            if isinstance(section, ast.Constant) and named:
                module = importlib.import_module(names[model.id])
                models[section.value] = getattr(module, model.id)
    return models


MODELS = section_models()


def test_every_section_of_params_yaml_has_a_model_and_every_model_a_section():
    assert set(MODELS) == set(PARAMS)


def test_every_params_model_builds_from_its_defaults():
    for model in MODELS.values():
        assert model() == model.model_validate({})


@pytest.mark.parametrize("section", sorted(PARAMS))
def test_defaults_equal_params_yaml(section: str) -> None:
    model, written = MODELS[section], PARAMS[section]
    fields = set(model.model_fields)
    assert set(written) - fields == set(), f"{section}: in params.yaml, not in {model.__name__}"
    assert fields - set(written) == CODE_ONLY.get(section, set()), (
        f"{section}: fields of {model.__name__} missing from params.yaml"
    )
    defaults, read = model(), model.model_validate(written)
    differing: dict[str, Any] = {
        name: (getattr(defaults, name), getattr(read, name))
        for name in written
        if getattr(defaults, name) != getattr(read, name)
    }
    assert differing == {}, f"{section}: {model.__name__} default vs params.yaml"
