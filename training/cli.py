"""`churn train` and `churn evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, params_for, setup_logging, user_errors
from data.params import BaseParams
from training.params import EvaluateParams, TrainParams


def train(
    features: Path = typer.Option(
        Path("outputs/features"), "--features", help="Output folder of `churn features`."
    ),
    out: Path = typer.Option(Path("outputs/train"), "--out", help="Output folder."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Tune, fit and calibrate the churn model on time splits; track and register it in MLflow."""
    from training.stages import train as run

    setup_logging()
    with user_errors():
        base, section, evaluation = params_for(
            params, ("base", BaseParams), ("train", TrainParams), ("evaluate", EvaluateParams)
        )
        run(features, out, base, section, evaluation)  # type: ignore[arg-type]


def evaluate(
    features: Path = typer.Option(
        Path("outputs/features"), "--features", help="Output folder of `churn features`."
    ),
    model: Path = typer.Option(
        Path("outputs/train"), "--train", help="Output folder of `churn train`."
    ),
    out: Path = typer.Option(Path("outputs/evaluate"), "--out", help="Output folder."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Compare the model with the baselines on the test weeks: metrics, predictions, plots."""
    from training.stages import evaluate as run

    setup_logging()
    with user_errors():
        base, section = params_for(params, ("base", BaseParams), ("evaluate", EvaluateParams))
        run(features, model, out, base, section)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
