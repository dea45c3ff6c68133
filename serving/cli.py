"""The `churn` command: one subcommand per pipeline stage."""

from __future__ import annotations

import typer

import data.cli
import features.cli
import training.cli

app = typer.Typer(
    help="Churn-risk pipeline: validate -> features -> train -> evaluate -> explain -> "
    "compare -> score -> report, and serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

data.cli.register(app)
features.cli.register(app)
training.cli.register(app)


if __name__ == "__main__":
    app()
