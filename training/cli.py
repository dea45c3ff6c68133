"""`churn train`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import MLFLOW_OPTION, PARAMS_OPTION, out_option, run_stage, stage_option
from data.params import BaseParams
from training.params import EvaluateParams, TrainParams


def train(
    features: Path = stage_option("features"),
    out: Path = out_option("train"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """Tune, fit and calibrate the churn model on time splits; track and register it in MLflow."""
    from training.stages import train as run

    sections = [("base", BaseParams), ("train", TrainParams), ("evaluate", EvaluateParams)]
    run_stage(params, run, features, out, sections=sections, mlflow_dir=mlflow)


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("train")(train)
