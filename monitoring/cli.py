"""`churn monitor`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import MLFLOW_OPTION, PARAMS_OPTION, out_option, run_stage, stage_option
from data.params import BaseParams
from monitoring.params import MonitorParams
from training.params import EvaluateParams


def monitor(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    scores: Path = stage_option("score", "scores"),
    backtest: Path = stage_option("backtest"),
    out: Path = out_option("monitor"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """The scoring model as outcomes arrive: realized figures, drift, recalibration, advice."""
    from monitoring.stages import monitor as run

    sections = [("base", BaseParams), ("monitor", MonitorParams), ("evaluate", EvaluateParams)]
    run_stage(
        params, run, features, model, scores, backtest, out, sections=sections, mlflow_dir=mlflow
    )


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("monitor")(monitor)
