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


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr; called by the CLI, never at import time."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
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
    """Turn contract, params and output errors into one line on stderr and exit code 2."""
    try:
        yield
    except (ContractError, ParamsError, OutputError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


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
