"""`churn train`, `churn evaluate`, `churn explain` and `churn compare`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, setup_logging, user_errors
from data.params import BaseParams, load_section, read_params
from training.params import CompareParams, EvaluateParams, ExplainParams, TrainParams


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
        raw = read_params(params)
        run(
            features,
            out,
            load_section(raw, "base", BaseParams),
            load_section(raw, "train", TrainParams),
            load_section(raw, "evaluate", EvaluateParams),
        )


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
        raw = read_params(params)
        base = load_section(raw, "base", BaseParams)
        run(features, model, out, base, load_section(raw, "evaluate", EvaluateParams))


def explain(
    features: Path = typer.Option(
        Path("outputs/features"), "--features", help="Output folder of `churn features`."
    ),
    model: Path = typer.Option(
        Path("outputs/train"), "--train", help="Output folder of `churn train`."
    ),
    out: Path = typer.Option(Path("outputs/explain"), "--out", help="Output folder."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Why each account is at risk (test weeks and the latest week): reasons, SHAP plots."""
    from training.stages import explain as run

    setup_logging()
    with user_errors():
        raw = read_params(params)
        base = load_section(raw, "base", BaseParams)
        run(features, model, out, base, load_section(raw, "explain", ExplainParams))


def compare(
    features: Path = typer.Option(
        Path("outputs/features"), "--features", help="Output folder of `churn features`."
    ),
    model: Path = typer.Option(
        Path("outputs/train"), "--train", help="Output folder of `churn train`."
    ),
    evaluation: Path = typer.Option(
        Path("outputs/evaluate"), "--evaluate", help="Output folder of `churn evaluate`."
    ),
    explanations: Path = typer.Option(
        Path("outputs/explain"), "--explain", help="Output folder of `churn explain`."
    ),
    out: Path = typer.Option(Path("outputs/compare"), "--out", help="Output folder."),
    params: Path = PARAMS_OPTION,
) -> None:
    """The model beside the managers' ratings: agreement, staleness, per manager, disagreements."""
    from training.stages import compare as run

    setup_logging()
    with user_errors():
        raw = read_params(params)
        run(
            features,
            model,
            evaluation,
            explanations,
            out,
            load_section(raw, "base", BaseParams),
            load_section(raw, "compare", CompareParams),
            load_section(raw, "evaluate", EvaluateParams),
        )


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("explain")(explain)
    app.command("compare")(compare)
