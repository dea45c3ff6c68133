"""`churn validate` and `churn generate`."""

from __future__ import annotations

from pathlib import Path

import typer

from data.console import PARAMS_OPTION, out_option, run_stage, setup_logging, user_errors
from data.params import BaseParams, ValidateParams


def validate(
    raw: Path = typer.Option(..., "--raw", help="Folder of the raw export (CSV or Parquet)."),
    out: Path = out_option("validate"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Check a raw export against the data contract and write typed Parquet copies."""
    from data.stages import validate as run

    run_stage(params, run, raw, out, sections=[("base", BaseParams), ("validate", ValidateParams)])


def generate(
    out: Path = typer.Option(Path("outputs/demo"), "--out", help="Folder for raw/ and truth/."),
    accounts: int = typer.Option(2000, "--accounts", min=10, help="Number of accounts."),
    seed: int = typer.Option(42, "--seed", help="Random seed: same seed, same bytes."),
) -> None:
    """Simulate a demo world: raw tables following the contract, and the true churn risk."""
    from data.stages import generate as run

    setup_logging()
    with user_errors():
        run(out, n_accounts=accounts, seed=seed)


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("validate")(validate)
    app.command("generate")(generate)
