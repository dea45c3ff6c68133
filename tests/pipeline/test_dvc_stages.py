"""dvc.yaml's stages declare what they use: the packages their command imports, the files it reads.

Imports are read statically: from the module of the `churn <stage>` command and of the stage
function it runs, every project module reachable by `import` (inside functions too). Reads are
observed: an audit hook, installed when this module is collected (before any session fixture
runs a stage), notes every file a stage function opens for reading and every folder it lists
while it runs, and the stage it belongs to (the outermost stage function on the stack). The
shared small world's stages (tests/pipeline/conftest.py) are observed that way; backtest,
monitor and report, which no session fixture runs, are run here once on its outputs.
Reads done inside DuckDB or pyarrow's C++ (Parquet read by path) raise no audit event.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import shlex
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import CodeType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
STAGES: dict[str, Any] = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PACKAGES = frozenset(p.parent.name for p in ROOT.glob("*/__init__.py"))


def _interpolated(value: str) -> str:
    """A dvc.yaml value with `${section.key}` replaced from params.yaml."""
    return re.sub(r"\$\{(\w+)\.(\w+)\}", lambda m: str(PARAMS[m[1]][m[2]]), value)


def _command(stage: str) -> list[str]:
    return shlex.split(_interpolated(STAGES[stage]["cmd"]))


def _deps(stage: str) -> list[str]:
    return [_interpolated(d) for d in STAGES[stage].get("deps", [])]


def _imported_names(nodes: list[ast.stmt], package: str) -> dict[str, tuple[str, str]]:
    """Local name -> (module, name) of every `from X import Y` among `nodes` (and inside them)."""
    found = {}
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            found |= {a.asname or a.name: (module, a.name) for a in node.names}
    return found


def _from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of a `from ... import`, relative ones resolved from `package`."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def command_function(name: str) -> Callable[..., Any]:
    """The Typer function behind `churn <name>`."""
    from serving.cli import app

    found = {(c.name or c.callback.__name__): c.callback for c in app.registered_commands}
    return found[name]


def stage_function(command: Callable[..., Any]) -> Callable[..., Any]:
    """The stage function a command hands to `run_stage`."""
    module = sys.modules[command.__module__]
    tree = ast.parse(inspect.getsource(module))
    body = next(
        n.body for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == command.__name__
    )
    call = next(
        n
        for top in body
        for n in ast.walk(top)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "run_stage"
    )
    name = call.args[1]
    assert isinstance(name, ast.Name)
    package = module.__name__.rpartition(".")[0]
    names = _imported_names(tree.body, package) | _imported_names(body, package)
    module_name, attribute = names[name.id]
    return inspect.unwrap(getattr(importlib.import_module(module_name), attribute))


def stage_functions() -> dict[str, Callable[..., Any]]:
    """Each dvc.yaml stage's function, found from its `churn` command."""
    return {stage: stage_function(command_function(_command(stage)[1])) for stage in STAGES}


def _module_file(name: str) -> Path | None:
    """The file of a project module (a package's `__init__.py`); None outside the project."""
    if name.split(".")[0] not in PACKAGES:
        return None
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def project_imports(module: str) -> set[str]:
    """Project modules one module imports, at module level or inside functions."""
    path = _module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {m for a in node.names for m in _with_parents(a.name)}
        elif isinstance(node, ast.ImportFrom):
            base = _from_module(node, package)
            found |= _with_parents(base) | {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if _module_file(m) is not None and m != module}


def mounts() -> set[tuple[str, str]]:
    """The imports by which the one `churn` command mounts each package's commands.

    `serving.cli` imports `monitoring.cli` (and every other package's `cli`) to call its
    `register`: what a stage's command imports is what its own command and stage need.
    """
    from serving import cli

    found = set()
    for node in ast.parse(inspect.getsource(cli)).body:
        call = node.value if isinstance(node, ast.Expr) else None
        func = call.func if isinstance(call, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr == "register":
            found |= {(cli.__name__, m) for m in _with_parents(ast.unparse(func.value))}
    return found


def reachable_packages(start: set[str]) -> set[str]:
    """Top-level packages of every project module reachable from `start`, mounts aside."""
    seen, todo, mounted = set(start), list(start), mounts()
    while todo:
        module = todo.pop()
        for imported in project_imports(module) - seen:
            if (module, imported) not in mounted:
                seen.add(imported)
                todo.append(imported)
    return {m.split(".")[0] for m in seen}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_name_every_package_the_stage_imports(stage: str) -> None:
    command = command_function(_command(stage)[1])
    start = {command.__module__, stage_function(command).__module__}
    imported = reachable_packages(start | {m for s in start for m in _with_parents(s)})
    listed = {d for d in _deps(stage) if d in PACKAGES}
    assert sorted(imported - listed) == [], f"{stage}: packages imported, not in deps"


# ---- reads, observed while the stages run ----

WATCHED = frozenset({"open", "os.listdir", "os.scandir"})
STAGE_CODES: dict[CodeType, str] = {f.__code__: s for s, f in stage_functions().items()}
READS: list[tuple[str, Path, Path | None, Path, str]] = []  # stage, out, mlflow, path, event
HOOK_ERRORS: list[str] = []


def _read_path(event: str, args: tuple[Any, ...]) -> str | None:
    """The path an audited call reads (a file opened to read, a folder listed), else None."""
    path = args[0]
    if event == "open":
        mode, flags = args[1], args[2]
        reading = (
            flags & os.O_ACCMODE == os.O_RDONLY if mode is None else not set("wax+") & set(mode)
        )
        if not reading:
            return None
    if path is None and event != "open":
        path = "."
    return None if isinstance(path, int) else str(Path(os.fsdecode(path)).absolute())


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in WATCHED:
        return
    try:
        path = _read_path(event, args)
        frame, outer = sys._getframe(1), None
        while path is not None and frame is not None:
            outer = frame if frame.f_code in STAGE_CODES else outer
            frame = frame.f_back
        if path is not None and outer is not None:
            local = outer.f_locals
            mlflow = Path(local["mlflow_dir"]) if local.get("mlflow_dir") else None
            stage = STAGE_CODES[outer.f_code]
            READS.append((stage, Path(local["out_dir"]).absolute(), mlflow, Path(path), event))
    except Exception as err:  # an audit hook that raises would break the call it watches
        HOOK_ERRORS.append(f"{event} {args!r}: {err!r}")


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def stage_runs(
    small_world: Path,
    validated: Path,
    featured: Path,
    modeled: Path,
    api_settings: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Path, str]:
    """The small world's stages observed (run here when no session fixture runs them).

    Returns the roots their outputs lie under, each with what it stands for in `outputs/`.
    """
    from data.params import BaseParams
    from evaluation.params import BacktestParams
    from monitoring.params import MonitorParams
    from serving.params import ReportParams
    from training.params import EvaluateParams, TrainParams

    run = stage_functions()
    root = tmp_path_factory.mktemp("stages")
    base, evaluate, mlflow = BaseParams(), EvaluateParams(), modeled / "mlflow"
    quick = TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20)
    backtest = BacktestParams(every_weeks=26)
    run["backtest"](
        featured, modeled / "train", root / "backtest", base, backtest, quick, evaluate, mlflow
    )
    run["monitor"](
        featured,
        modeled / "train",
        modeled / "score",
        root / "backtest",
        root / "monitor",
        base,
        MonitorParams(),
        evaluate,
        mlflow,
    )
    run["report"](
        modeled / "score",
        modeled / "evaluate",
        modeled / "compare",
        root / "report",
        base,
        ReportParams(),
        monitor_dir=root / "monitor",
    )
    raw = PurePosixPath(PARAMS["base"]["raw_dir"])
    roots = {small_world / "raw": str(raw), validated.parent: "", featured.parent: ""}
    return roots | {modeled: "", root: ""}


def _outputs_path(path: Path, roots: dict[Path, str]) -> PurePosixPath | None:
    """`path` as dvc.yaml names it (`outputs/<stage>/...`), None when outside the small world."""
    outs = {PurePosixPath(_command(s)[_command(s).index("--out") + 1]).name for s in STAGES}
    for root, named in roots.items():
        if not path.is_relative_to(root):
            continue
        parts = path.relative_to(root).parts
        if named:
            return PurePosixPath(named, *parts)
        stage = next((i for i, p in enumerate(parts) if p in outs), None)
        return (
            PurePosixPath("outputs", *parts[stage:]) if stage is not None else PurePosixPath(*parts)
        )
    return None


def _own(stage_out: Path, mlflow: Path | None, path: Path, event: str) -> bool:
    """A read of the stage's own output (its scratch folder included), or of the MLflow store."""
    near = path.relative_to(stage_out.parent).parts if path.is_relative_to(stage_out.parent) else ()
    scratch = bool(near) and near[0].startswith(f".{stage_out.name}.")
    listing_next_to_it = path == stage_out.parent and event != "open"
    in_mlflow = mlflow is not None and path.is_relative_to(mlflow)
    return path.is_relative_to(stage_out) or scratch or listing_next_to_it or in_mlflow


def _undeclared(roots: dict[Path, str]) -> Iterator[tuple[str, str]]:
    for stage, out, mlflow, path, event in READS:
        named = _outputs_path(path, roots)
        if named is None or path.name == "params.yaml" or _own(out, mlflow, path, event):
            continue
        deps = [PurePosixPath(d) for d in _deps(stage)]
        if not any(named == d or named.is_relative_to(d) for d in deps):
            yield stage, f"{named} ({event})"


def test_every_file_a_stage_reads_is_in_its_deps(stage_runs: dict[Path, str]) -> None:
    assert HOOK_ERRORS == []
    observed = {s for s, out, *_ in READS if _outputs_path(out, stage_runs) is not None}
    assert observed == set(STAGES)
    undeclared: dict[str, set[str]] = defaultdict(set)
    for stage, read in _undeclared(stage_runs):
        undeclared[stage].add(read)
    assert {s: sorted(r) for s, r in undeclared.items()} == {}
