"""Shared plumbing for the `churn` commands: logging, progress bars, and clean failures."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer

from data.errors import ContractError, OutputError, ParamsError
from data.params import load_section, read_params

PARAMS_OPTION = typer.Option(Path("params.yaml"), "--params", help="The params.yaml to read.")


def stage_option(stage: str, flag: str | None = None) -> Any:
    """`--<stage>`: the output folder of `churn <stage>` (default `outputs/<stage>`)."""
    return typer.Option(
        Path(f"outputs/{stage}"), f"--{flag or stage}", help=f"Output folder of `churn {stage}`."
    )


def out_option(stage: str) -> Any:
    """`--out`: where `churn <stage>` writes (default `outputs/<stage>`)."""
    return typer.Option(Path(f"outputs/{stage}"), "--out", help="Output folder.")


# `--mlflow`: the MLflow store a stage tracks runs and registers models in.
MLFLOW_OPTION = typer.Option(
    Path("outputs/mlflow"), "--mlflow", help="MLflow store (runs and model registry)."
)


VERBOSE_ENV = "CHURN_VERBOSE"  # set by `churn --verbose`, or by hand for `dvc repro`
# The stages in pipeline order: a missing input under outputs/<stage>/ names the one to run.
STAGES = (
    "validate",
    "features",
    "train",
    "evaluate",
    "backtest",
    "explain",
    "compare",
    "score",
    "monitor",
    "report",
)


def verbose_requested() -> bool:
    """Whether `--verbose` (or CHURN_VERBOSE=1) asked for debug logs and full tracebacks."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false")


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr with dated timestamps; called by the CLI, never at import time."""
    logging.basicConfig(
        level=logging.DEBUG if verbose or verbose_requested() else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def progress_enabled() -> bool:
    """Progress bars on a terminal; quiet in CI logs and pipes."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(iterable: Any = None, **kwargs: Any) -> Any:
    """A tqdm bar that hides itself when not on a terminal."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not progress_enabled(), dynamic_ncols=True, **kwargs)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn contract, params and output errors, and a missing input, into one line and exit 2.

    With `--verbose` the traceback is logged too.
    """
    try:
        yield
    except (ContractError, ParamsError, OutputError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError as err:
        logging.getLogger(__name__).debug("missing input", exc_info=True)
        typer.echo(f"error: {missing_input(err)}", err=True)
        raise typer.Exit(2) from None


def missing_input(err: FileNotFoundError) -> str:
    """What is missing and, when it lies under a stage's output folder, the stage to run."""
    name = err.filename or str(err)
    stage = next((part for part in Path(str(name)).parts if part in STAGES), None)
    hint = f"run `churn {stage}` (or `dvc repro`) first" if stage else "check the path"
    return f"missing input {name}: {hint}"


def run_stage(
    params: Path,
    stage: Any,
    *paths: Any,
    sections: Sequence[tuple[str, type[Any]]],
    **options: Any,
) -> Any:
    """What every stage command does, in one place.

    Set up logging, read the named `params.yaml` sections (typed; a bad key names the file and
    the key), call `stage(*paths, *sections, **options)`, and turn a contract or params error,
    or an output it cannot write, into one line and exit code 2.
    """
    setup_logging()
    with user_errors():
        raw = read_params(params)
        loaded = [load_section(raw, name, model, str(params)) for name, model in sections]
        return stage(*paths, *loaded, **options)
