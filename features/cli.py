"""`churn features`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, out_option, setup_logging, stage_option, user_errors
from data.params import BaseParams, load_section, read_params
from features.params import FeaturesParams


def features(
    validated: Path = stage_option("validate", "validated"),
    out: Path = out_option("features"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Build weekly point-in-time features and churn labels for every active account."""
    from features.stages import features as run

    setup_logging()
    with user_errors():
        raw = read_params(params)
        base = load_section(raw, "base", BaseParams, str(params))
        run(validated, out, base, load_section(raw, "features", FeaturesParams, str(params)))


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("features")(features)
