"""`churn validate` and `churn generate`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from data.console import PARAMS_OPTION, out_option, run_stage, setup_logging, user_errors
from data.contract import RunningPeriods
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
    running_periods: RunningPeriods = typer.Option(
        RunningPeriods.MIXED,
        "--running-periods",
        help="How a period still paid for at export shows its end: billed (the end it was "
        "billed to), open (empty), mixed (monthly open, annual billed).",
    ),
    written_on: datetime | None = typer.Option(
        None,
        "--written-on",
        formats=["%Y-%m-%d"],
        help="Write raw/ as this world's export pulled on that day (nothing dated on or after "
        "it; later early ends, plan changes and ticket closings not yet known); no truth/.",
    ),
    churn_shift: str | None = typer.Option(
        None,
        "--churn-shift",
        help="DATE:FACTOR, e.g. 2025-06-02:1.8: from that day on the churn hazard (renewal "
        "decisions, early ends) is multiplied by FACTOR, in the truth too.",
    ),
) -> None:
    """Simulate a demo world: raw tables following the contract, and the true churn risk."""
    from data.stages import generate as run

    setup_logging()
    with user_errors():
        try:
            run(out, accounts, seed, running_periods, written_on and written_on.date(), churn_shift)
        except ValueError as err:
            hint = "--churn-shift" if "churn shift" in str(err) else "--written-on"
            raise typer.BadParameter(str(err), param_hint=hint) from None


def register(app: typer.Typer) -> None:
    """Mount this package's commands on the `churn` app."""
    app.command("validate")(validate)
    app.command("generate")(generate)
