"""Dependencies as the code uses them, and a lock that installs from wheels where we promise it.

The packages import only what `[project] dependencies` and its extras (`spark`) declare, and
everything declared there is imported by them; tests, benchmarks and notebooks may also use the
dependency groups. The
lock is read offline: on Linux and macOS, x86-64 and arm64, Python 3.11 to 3.13, every
package a full install (all groups) takes has a wheel for that platform.
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

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ELSEWHERE = ("tests", "benchmarks", "notebooks")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = tuple(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])

# The platforms the lock promises, and how recent a system their wheels may ask for.
PLATFORMS = {
    "linux-x86_64": ("linux", "x86_64"),
    "linux-aarch64": ("linux", "aarch64"),
    "macos-x86_64": ("darwin", "x86_64"),
    "macos-arm64": ("darwin", "arm64"),
}
PYTHONS = {"3.11": "3.11.9", "3.12": "3.12.7", "3.13": "3.13.1"}
GLIBC = (2, 28)  # manylinux_2_28: Debian 10, Ubuntu 18.10, RHEL 8 and later
MACOS = (13, 0)  # Ventura; the last macOS for Intel Macs is newer
# It publishes pre-releases only, and MLflow's OpenTelemetry pins one.
PRE_RELEASES_ONLY = {"opentelemetry-semantic-conventions"}
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _declared(requirements: Iterable[Any]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements if isinstance(r, str)}


RUNTIME = _declared(PYPROJECT["project"]["dependencies"])
EXTRAS = {
    name: _declared(reqs) for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()
}
INSTALLED = RUNTIME.union(*EXTRAS.values())  # what `make install` puts beside the groups
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


def test_the_packages_import_only_runtime_dependencies_and_extras():
    assert not undeclared(third_party(PACKAGES), INSTALLED)


def test_tests_benchmarks_and_notebooks_import_only_declared_dependencies():
    assert not undeclared(third_party(ELSEWHERE), INSTALLED.union(*GROUPS.values()))


def test_every_runtime_dependency_and_extra_is_imported_by_the_packages():
    used = set().union(*(distributions(m) for m in third_party(PACKAGES)))
    assert sorted(INSTALLED - used) == []


def test_the_import_scan_sees_imports_of_every_form(tmp_path: Path):
    code = "import os.path, yaml\nfrom sklearn.base import clone\nfrom . import x\nimport data.io\n"
    (tmp_path / "m.py").write_text(code)
    assert imported_modules(tmp_path / "m.py") == {"os", "yaml", "sklearn", "data"}
    assert distributions("sklearn") == {"scikit-learn"}
    assert undeclared({"yaml": {"m.py"}}, {"numpy"}) == ["yaml (pyyaml), imported by m.py"]


# --- the lock -------------------------------------------------------------------------


def environment(platform: str, python: str) -> dict[str, str]:
    """Marker variables of CPython `python` on `platform`."""
    sys_platform, machine = PLATFORMS[platform]
    return {
        "sys_platform": sys_platform,
        "platform_system": {"linux": "Linux", "darwin": "Darwin"}[sys_platform],
        "platform_machine": machine,
        "os_name": "posix",
        "python_version": python,
        "python_full_version": PYTHONS[python],
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "extra": "",
    }


def _platform_fits(tag: str, sys_platform: str, machine: str) -> bool:
    if tag == "any":
        return True
    if sys_platform == "linux":
        for legacy, version in LEGACY_MANYLINUX.items():
            if tag == f"{legacy}_{machine}":
                return version <= GLIBC
        parts = tag.split("_", 3)
        return (
            parts[0] == "manylinux"
            and len(parts) == 4
            and parts[3] == machine
            and (int(parts[1]), int(parts[2])) <= GLIBC
        )
    parts = tag.split("_", 3)
    arches = {"x86_64": ("x86_64", "intel", "universal2"), "arm64": ("arm64", "universal2")}
    return (
        parts[0] == "macosx"
        and len(parts) == 4
        and parts[3] in arches[machine]
        and (int(parts[1]), int(parts[2])) <= MACOS
    )


def wheel_fits(filename: str, env: Mapping[str, str]) -> bool:
    """Whether pip or uv would install this wheel on `env` (CPython)."""
    minor = int(env["python_version"].split(".")[1])
    for tag in parse_wheel_filename(filename)[3]:
        interpreter, abi = tag.interpreter, tag.abi
        version = interpreter[2:]
        if interpreter.startswith("py"):
            python_ok = version in ("3", f"3{minor}") and abi == "none"
        elif interpreter.startswith("cp") and version[1:].isdigit():
            ours = int(version[1:]) == minor and abi in (interpreter, "none")
            python_ok = ours or (abi == "abi3" and int(version[1:]) <= minor)
        else:
            python_ok = False
        if python_ok and _platform_fits(tag.platform, env["sys_platform"], env["platform_machine"]):
            return True
    return False


def installed(lock: Mapping[str, Any], env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The locked packages a full install (the project, its extras and groups) takes on `env`."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    root = next(p for p in lock["package"] if p["source"].get("editable") == ".")
    wanted = list(root.get("dependencies", []))
    wanted += [d for deps in root.get("dev-dependencies", {}).values() for d in deps]
    wanted += [d for deps in root.get("optional-dependencies", {}).values() for d in deps]
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    while wanted:
        dep = wanted.pop()
        if "marker" in dep and not Marker(dep["marker"]).evaluate(env):
            continue
        versions = by_name[dep["name"]]
        package = next(p for p in versions if p["version"] == dep.get("version", p["version"]))
        extras = dep.get("extra", [])
        key = (package["name"], package["version"])
        if key not in seen:
            seen[key] = package
            wanted += package.get("dependencies", [])
        for extra in extras:
            wanted += package.get("optional-dependencies", {}).get(extra, [])
    return list(seen.values())


def built_pure_here(name: str, version: str) -> bool:
    """Whether this environment holds `name` `version` built from source as pure Python."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    tags = [line for line in (dist.read_text("WHEEL") or "").splitlines() if line[:4] == "Tag:"]
    return dist.version == version and bool(tags) and all(t.endswith("-none-any") for t in tags)


def without_wheel(lock: Mapping[str, Any], platform: str, python: str) -> list[str]:
    """Locked packages that `platform` would have to build from source, other than pure ones.

    A source-only package is fine when it builds into a pure-Python wheel (no compiler):
    `make install` built it here, so its wheel's tags tell.
    """
    env = environment(platform, python)
    return sorted(
        f"{p['name']} {p['version']}"
        for p in installed(lock, env)
        if not any(wheel_fits(Path(w["url"]).name, env) for w in p.get("wheels", []))
        and not built_pure_here(p["name"], p["version"])
    )


LOCK = tomllib.loads((ROOT / "uv.lock").read_text())


@pytest.mark.parametrize("python", list(PYTHONS))
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_the_lock_installs_from_wheels(platform: str, python: str):
    # A package listed here needs a compiler on that platform: add it to `no-build-package`
    # in pyproject.toml's [tool.uv] and run `uv lock`, which then picks a version with wheels.
    assert without_wheel(LOCK, platform, python) == []


def test_the_lock_holds_no_pre_release_of_a_package_with_releases():
    found = [
        f"{p['name']} {p['version']}"
        for p in LOCK["package"]
        if Version(p["version"]).is_prerelease and p["name"] not in PRE_RELEASES_ONLY
    ]
    assert found == []


def test_the_lock_covers_the_pythons_and_the_runtime():
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    names = {p["name"] for p in installed(LOCK, environment("linux-x86_64", "3.11"))}
    assert RUNTIME | {"dvc", "jupyterlab", "pytest", "psutil"} <= names


def test_the_wheel_check_finds_a_package_without_one():
    def package(name: str, version: str, wheels: list[str], **more: Any) -> dict[str, Any]:
        source = {"registry": "https://pypi.org/simple"}
        files = [{"url": f"https://files.example/{w}"} for w in wheels]
        return {"name": name, "version": version, "source": source, "wheels": files, **more}

    intel_mac = "platform_machine == 'x86_64' and sys_platform == 'darwin'"
    not_intel_mac = "platform_machine != 'x86_64' or sys_platform != 'darwin'"
    lock = {
        "package": [
            {
                "name": "churn-risk",
                "version": "0.1.0",
                "source": {"editable": "."},
                "dependencies": [{"name": "shap"}],
            },
            package(
                "shap",
                "0.51.0",
                ["shap-0.51.0-cp311-cp311-macosx_10_9_x86_64.whl"],
                dependencies=[
                    {"name": "numba", "version": "0.53.1", "marker": intel_mac},
                    {"name": "numba", "version": "0.68.1", "marker": not_intel_mac},
                ],
            ),
            package("numba", "0.53.1", []),  # source only, as uv once locked it
            package("numba", "0.68.1", ["numba-0.68.1-cp311-cp311-macosx_12_0_arm64.whl"]),
        ]
    }
    assert without_wheel(lock, "macos-x86_64", "3.11") == ["numba 0.53.1"]
    assert without_wheel(lock, "macos-arm64", "3.11") == ["shap 0.51.0"]  # x86-64 wheel only
    assert without_wheel(lock, "macos-arm64", "3.12") == ["numba 0.68.1", "shap 0.51.0"]
