"""`churn evaluate`, `churn backtest`, `churn explain` and `churn compare`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import MLFLOW_OPTION, PARAMS_OPTION, out_option, run_stage, stage_option
from data.params import BaseParams
from evaluation.params import BacktestParams, CompareParams, ExplainParams
from training.params import EvaluateParams, TrainParams


def evaluate(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("evaluate"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """Compare the model with the baselines on the test weeks: metrics, predictions, plots."""
    from evaluation.stages.evaluate import evaluate as run

    run_stage(
        params,
        run,
        features,
        model,
        out,
        sections=[("base", BaseParams), ("evaluate", EvaluateParams)],
        mlflow_dir=mlflow,
    )


def backtest(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("backtest"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """Rolling origins over the last year: the recipe refitted on what each Monday knew."""
    from evaluation.stages.backtest import backtest as run

    sections = [
        ("base", BaseParams),
        ("backtest", BacktestParams),
        ("train", TrainParams),
        ("evaluate", EvaluateParams),
    ]
    run_stage(params, run, features, model, out, sections=sections, mlflow_dir=mlflow)


def explain(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("explain"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """Why each account is at risk (test weeks and the latest week): reasons, SHAP plots."""
    from evaluation.stages.explain import explain as run

    run_stage(
        params,
        run,
        features,
        model,
        out,
        sections=[("base", BaseParams), ("explain", ExplainParams)],
        mlflow_dir=mlflow,
    )


def compare(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    evaluation: Path = stage_option("evaluate"),
    explanations: Path = stage_option("explain"),
    backtest: Path = stage_option("backtest"),
    out: Path = out_option("compare"),
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """The model beside the managers' ratings: agreement, staleness, per manager, disagreements."""
    from evaluation.stages.compare import compare as run

    sections = [("base", BaseParams), ("compare", CompareParams), ("evaluate", EvaluateParams)]
    run_stage(
        params,
        run,
        features,
        model,
        evaluation,
        explanations,
        out,
        sections=sections,
        mlflow_dir=mlflow,
        backtest_dir=backtest,
    )


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("evaluate")(evaluate)
    app.command("backtest")(backtest)
    app.command("explain")(explain)
    app.command("compare")(compare)
