"""Dependencies as the code uses them.

The packages import only what `[project] dependencies` declares, and everything declared there
is imported by them; tests, benchmarks and notebooks may also use the dependency groups.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data", "features", "training", "serving", "monitoring")
ELSEWHERE = ("tests", "benchmarks", "notebooks")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared(requirements: Iterable[Any]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements if isinstance(r, str)}


RUNTIME = _declared(PYPROJECT["project"]["dependencies"])
GROUPS = {name: _declared(reqs) for name, reqs in PYPROJECT["dependency-groups"].items()}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one Python file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def third_party(folders: Iterable[str]) -> dict[str, set[str]]:
    """Third-party module -> the files importing it, over every Python file of `folders`."""
    out: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            siblings = {p.stem for p in path.parent.glob("*.py")}
            for module in imported_modules(path):
                local = module in PACKAGES or module in siblings or module == "__future__"
                if not local and module not in sys.stdlib_module_names:
                    out.setdefault(module, set()).add(path.relative_to(ROOT).as_posix())
    return out


@functools.cache
def _providers() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions(module: str) -> set[str]:
    """The installed distributions that provide a top-level module."""
    return {canonicalize_name(n) for n in _providers().get(module, [])}


def undeclared(imports: Mapping[str, set[str]], declared: set[str]) -> list[str]:
    return [
        f"{module} ({', '.join(sorted(distributions(module))) or 'not installed'}), "
        f"imported by {', '.join(sorted(files))}"
        for module, files in sorted(imports.items())
        if not distributions(module) & declared
    ]


def test_the_packages_import_only_runtime_dependencies():
    assert not undeclared(third_party(PACKAGES), RUNTIME)


def test_tests_benchmarks_and_notebooks_import_only_declared_dependencies():
    assert not undeclared(third_party(ELSEWHERE), RUNTIME.union(*GROUPS.values()))


def test_every_runtime_dependency_is_imported_by_the_packages():
    used = set().union(*(distributions(m) for m in third_party(PACKAGES)))
    assert sorted(RUNTIME - used) == []


def test_the_import_scan_sees_imports_of_every_form(tmp_path: Path):
    code = "import os.path, yaml\nfrom sklearn.base import clone\nfrom . import x\nimport data.io\n"
    (tmp_path / "m.py").write_text(code)
    assert imported_modules(tmp_path / "m.py") == {"os", "yaml", "sklearn", "data"}
    assert distributions("sklearn") == {"scikit-learn"}
    assert undeclared({"yaml": {"m.py"}}, {"numpy"}) == ["yaml (pyyaml), imported by m.py"]
