"""Time `churn weekly` on a new week of the demo world, and check the model stays the same.

    uv run python benchmarks/weekly_run.py            # after `make demo`

A throwaway DVC project (this repository's dvc.yaml, params.yaml and code, linked) gets a
copy of the demo's trained outputs (train, evaluate, explain, compare, backtest, MLflow). The
weekly run is primed on the demo world's export as pulled a week before its end
(`churn generate --written-on`: same accounts and seed as `make demo`), then timed on the
full export, one Monday later: validate, features, score, monitor and report on a new week,
with the champion. Prints the wall time, the week scored and the model versions before and
after (they must be equal), and the stages' own lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
import tomllib
from pathlib import Path

import yaml

from data.io import read_json
from data.stages import generate
from serving.weekly import run_weekly

ROOT = Path(__file__).resolve().parents[1]
_WHEEL = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
CODE = _WHEEL["targets"]["wheel"]["packages"]
TRAINED = ("train", "evaluate", "explain", "compare", "backtest", "mlflow")


def project(folder: Path, outputs: Path, raw: Path) -> Path:
    """A DVC project in `folder` with the code linked and the trained outputs copied."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", folder / "dvc.yaml")
    for package in CODE:
        if (ROOT / package).is_dir():
            (folder / package).symlink_to(ROOT / package)
    for stage in TRAINED:
        if (outputs / stage).exists():
            shutil.copytree(outputs / stage, folder / "outputs" / stage, symlinks=True)
    (folder / ".dvc").mkdir()
    (folder / ".dvc" / "config").write_text("[core]\n    no_scm = True\n")
    point_at(folder, raw)
    return folder


def point_at(folder: Path, raw: Path) -> None:
    """Set `base.raw_dir` of the project's params.yaml."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["base"]["raw_dir"] = str(raw)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=ROOT / "outputs")
    parser.add_argument("--accounts", type=int, default=2000)  # as `make demo`
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    full = args.outputs / "demo" / "raw"
    last = read_json(args.outputs / "validate" / "report.json")["export_date"]
    monday = dt.date.fromisoformat(last)
    monday -= dt.timedelta(days=monday.weekday())  # the week the full export scores
    work = Path(tempfile.mkdtemp(prefix="weekly-run-"))
    then = work / "then"
    generate(then, args.accounts, args.seed, written_on=monday - dt.timedelta(days=7))
    folder = project(work / "project", args.outputs.resolve(), then / "raw")
    primed = run_weekly(folder)
    print(f"primed on the export of {monday - dt.timedelta(days=7)}: {primed.line()}")
    point_at(folder, full.resolve())
    started = time.perf_counter()
    run = run_weekly(folder)
    seconds = time.perf_counter() - started
    print(f"weekly run on the full export: {seconds:.0f} s wall")
    print(f"  {run.line()}")
    same = "unchanged" if run.champion_before == run.champion_after else "CHANGED"
    print(
        f"  champion before {run.champion_before}, scored with {run.scored_with}, "
        f"after {run.champion_after}: {same}"
    )
    print(f"  work folder: {work}")


if __name__ == "__main__":
    main()
