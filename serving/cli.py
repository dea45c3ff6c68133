"""The `churn` command: one subcommand per pipeline stage."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import typer

import data.cli
import evaluation.cli
import features.cli
import monitoring.cli
import training.cli
from data.console import (
    MLFLOW_OPTION,
    PARAMS_OPTION,
    VERBOSE_ENV,
    out_option,
    run_stage,
    setup_logging,
    stage_option,
)
from data.params import BaseParams

app = typer.Typer(
    help="Churn-risk pipeline: validate -> features -> train -> evaluate -> backtest -> "
    "explain -> compare -> score -> monitor -> report; weekly (no retraining); serve.",
    epilog="Exit codes: 0 done; 2 the input, parameters or an output are at fault (one line "
    "names the file and the rule, or the stage to run first); 1 anything else (a bug: the "
    "traceback is printed).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"churn-risk {version('churn-risk')}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help=f"Debug logging and full tracebacks, for any command (or set {VERBOSE_ENV}=1).",
    ),
) -> None:
    """The options every command shares."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # read by setup_logging, also in child processes


data.cli.register(app)
features.cli.register(app)
training.cli.register(app)
evaluation.cli.register(app)
monitoring.cli.register(app)

AS_OF_OPTION = typer.Option(
    None,
    "--as-of",
    help="Snapshot date (a Monday, YYYY-MM-DD); default: the latest.",
    formats=["%Y-%m-%d"],
)


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@app.command("score")
def score(
    features: Path = stage_option("features"),
    model: Path = stage_option("train"),
    out: Path = out_option("score"),
    as_of: dt.datetime | None = AS_OF_OPTION,
    params: Path = PARAMS_OPTION,
    mlflow: Path = MLFLOW_OPTION,
) -> None:
    """Score every account active on a date with the champion: probability, tier, reasons."""
    from serving.params import ScoreParams
    from serving.stages import score as run

    sections = [("base", BaseParams), ("score", ScoreParams)]
    run_stage(
        params, run, features, model, out, sections=sections, as_of=_day(as_of), mlflow_dir=mlflow
    )


@app.command("report")
def report(
    scores: Path = stage_option("score", "scores"),
    evaluation: Path = stage_option("evaluate"),
    comparison: Path = stage_option("compare"),
    monitor: Path = stage_option("monitor"),
    out: Path = out_option("report"),
    as_of: dt.datetime | None = AS_OF_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """The weekly review as one self-contained HTML page: outputs/report/<DATE>.html."""
    from serving.params import ReportParams
    from serving.stages import report as run

    sections = [("base", BaseParams), ("report", ReportParams)]
    run_stage(
        params,
        run,
        scores,
        evaluation,
        comparison,
        out,
        sections=sections,
        as_of=_day(as_of),
        monitor_dir=monitor,
    )


@app.command("weekly")
def weekly(
    project: Path = typer.Option(Path(), "--project", help="The DVC project folder."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Score a new export with the champion, never retraining.

    Runs validate, features, score, monitor and report, each as `dvc repro --single-item`.
    """
    from data.console import user_errors
    from serving.weekly import run_weekly

    setup_logging(verbose)
    with user_errors():
        typer.echo(run_weekly(project).line())


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="Worker processes."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """The risk API for the CRM (settings from CHURN_* environment variables; see README)."""
    import uvicorn

    from serving.logs import log_config

    uvicorn.run(
        "serving.api:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,  # the app writes its own access log, with a request id
        log_config=log_config(log_level),  # JSON lines, applied in every worker
    )


if __name__ == "__main__":
    app()
