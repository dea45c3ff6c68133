"""The weekly run: score a new export with the champion, and never retrain.

`churn weekly` runs the DVC stages that a new export needs before the meeting (validate,
features, score, monitor, report), each as `dvc repro --single-item` does: a stage runs
when its own inputs changed, and no stage upstream of it is pulled in. `train`,
`evaluate`, `backtest`, `explain` and `compare` stay as they were, so `dvc.lock` records the
weekly stages and `dvc status` shows the model stages as out of date until someone retrains
(`dvc repro`, deliberately). The model version that scores is read before and after and
printed; only the monitor's recalibration (without retraining) may change it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from data.errors import ContractError
from data.io import read_json

log = logging.getLogger(__name__)

WEEKLY_STAGES = ("validate", "features", "score", "monitor", "report")


@dataclass(frozen=True)
class WeeklyRun:
    """What the weekly run scored, and with which model."""

    as_of: str | None
    accounts: int | None
    champion_before: str | None  # the registry's champion when the run began
    scored_with: str | None  # the version that scored the week
    champion_after: str | None  # differs only if the monitor recalibrated
    data_through: str | None
    report: str | None

    def line(self) -> str:
        """One line for the terminal."""
        text = (
            f"scored {self.accounts} accounts on {self.as_of} with model version "
            f"{self.scored_with} (learned up to {self.data_through}); report: {self.report}"
        )
        if self.champion_after != self.champion_before:
            text += f"; the monitor recalibrated: version {self.champion_after} scores next week"
        return text


def weekly_stages(root: Path) -> list[str]:
    """The weekly stages that `dvc.yaml` in `root` defines, in pipeline order."""
    path = Path(root) / "dvc.yaml"
    if not path.exists():
        raise ContractError(str(path), None, "missing: run `churn weekly` in the project folder")
    defined = yaml.safe_load(path.read_text()).get("stages", {})
    return [stage for stage in WEEKLY_STAGES if stage in defined]


def run_weekly(root: Path, dvc: list[str] | None = None) -> WeeklyRun:
    """Run the weekly stages in `root` (a DVC project) with the model already trained."""
    root = Path(root)
    if dvc is None and importlib.util.find_spec("dvc") is None:
        # DVC is a dependency group, not the runtime: an install for the API alone lacks it.
        raise ContractError(
            "dvc", None, "not installed: install it with `uv sync --group dvc` (or `make install`)"
        )
    model_json = root / "outputs" / "train" / "production" / "model.json"
    if not model_json.exists():
        raise ContractError(
            str(model_json),
            None,
            "no trained model: train once with `dvc repro` (or `make demo`), then run weekly",
        )
    stages = weekly_stages(root)
    before = _champion(root)
    command = [*(dvc or [sys.executable, "-m", "dvc"]), "repro", "--single-item", *stages]
    log.info("weekly run: %s", " ".join(command[-len(stages) - 2 :]))
    # The stages call `churn`: the one installed beside this Python, whatever PATH says.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    subprocess.run(command, cwd=root, check=True, env=os.environ | {"PATH": path})
    summary = _latest_summary(root)
    model = summary.get("model", {})
    report = sorted((root / "outputs" / "report").glob(f"{summary.get('as_of')}*.html"))
    run = WeeklyRun(
        as_of=summary.get("as_of"),
        accounts=summary.get("accounts"),
        champion_before=before,
        scored_with=model.get("version"),
        champion_after=_champion(root),
        data_through=model.get("data_through"),
        report=str(report[-1].relative_to(root)) if report else None,
    )
    log.info(run.line())
    return run


def _latest_summary(root: Path) -> dict[str, Any]:
    path = root / "outputs" / "score" / "latest" / "summary.json"
    return read_json(path) if path.exists() else {}


def _champion(root: Path) -> str | None:
    """The registry's champion version in the project's store (None if there is none)."""
    from serving.models import champion_version

    outputs = root / "outputs"
    version = champion_version(outputs / "mlflow", outputs / "train")
    return str(version.version) if version is not None else None
