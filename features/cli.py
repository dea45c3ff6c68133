"""`churn features`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, params_for, setup_logging, user_errors
from data.params import BaseParams
from features.params import FeaturesParams


def features(
    validated: Path = typer.Option(
        Path("outputs/validate"), "--validated", help="Output folder of `churn validate`."
    ),
    out: Path = typer.Option(Path("outputs/features"), "--out", help="Output folder."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Build weekly point-in-time features and churn labels for every active account."""
    from features.stages import features as run

    setup_logging()
    with user_errors():
        base, section = params_for(params, ("base", BaseParams), ("features", FeaturesParams))
        run(validated, out, base, section)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("features")(features)
