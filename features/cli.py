"""`churn features`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, out_option, run_stage, stage_option
from data.params import BaseParams
from features.params import FeaturesParams


def features(
    validated: Path = stage_option("validate", "validated"),
    out: Path = out_option("features"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Build weekly point-in-time features and churn labels for every active account."""
    from features.stages import features as run

    run_stage(
        params, run, validated, out, sections=[("base", BaseParams), ("features", FeaturesParams)]
    )


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("features")(features)
