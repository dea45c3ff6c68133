"""`churn train`, `churn evaluate`, `churn backtest`, `churn explain` and `churn compare`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, out_option, run_stage, stage_option
from data.params import BaseParams
from training.params import (
    BacktestParams,
    CompareParams,
    EvaluateParams,
    ExplainParams,
    TrainParams,
)


def train(
    features: Path = stage_option("features"),
    out: Path = out_option("train"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Tune, fit and calibrate the churn model on time splits; track and register it in MLflow."""
    from training.stages import train as run

    sections = [("base", BaseParams), ("train", TrainParams), ("evaluate", EvaluateParams)]
    run_stage(params, run, features, out, sections=sections)


def evaluate(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("evaluate"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Compare the model with the baselines on the test weeks: metrics, predictions, plots."""
    from training.stages import evaluate as run

    run_stage(
        params,
        run,
        features,
        model,
        out,
        sections=[("base", BaseParams), ("evaluate", EvaluateParams)],
    )


def backtest(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("backtest"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Rolling origins over the last year: the recipe refitted on what each Monday knew."""
    from training.stages import backtest as run

    sections = [
        ("base", BaseParams),
        ("backtest", BacktestParams),
        ("train", TrainParams),
        ("evaluate", EvaluateParams),
    ]
    run_stage(params, run, features, model, out, sections=sections)


def explain(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("explain"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Why each account is at risk (test weeks and the latest week): reasons, SHAP plots."""
    from training.stages import explain as run

    run_stage(
        params,
        run,
        features,
        model,
        out,
        sections=[("base", BaseParams), ("explain", ExplainParams)],
    )


def compare(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    evaluation: Path = stage_option("evaluate"),
    explanations: Path = stage_option("explain"),
    out: Path = out_option("compare"),
    params: Path = PARAMS_OPTION,
) -> None:
    """The model beside the managers' ratings: agreement, staleness, per manager, disagreements."""
    from training.stages import compare as run

    sections = [("base", BaseParams), ("compare", CompareParams), ("evaluate", EvaluateParams)]
    run_stage(params, run, features, model, evaluation, explanations, out, sections=sections)


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("backtest")(backtest)
    app.command("explain")(explain)
    app.command("compare")(compare)
