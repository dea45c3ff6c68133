"""The `churn` command's shared options and its one-line errors."""

from __future__ import annotations

import logging
from importlib.metadata import version

import optuna
import pytest
import typer
from typer.testing import CliRunner

from data.console import VERBOSE_ENV, setup_logging, user_errors
from serving.cli import app
from training.tuning import _progress_lines


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"churn-risk {version('churn-risk')}"


def test_verbose_turns_on_debug_logs_for_any_command(monkeypatch, tmp_path):
    monkeypatch.setenv(VERBOSE_ENV, "")  # restored after the test
    params = tmp_path / "params.yaml"
    params.write_text("base: {}\nvalidate: {}\n")
    args = ["--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "v"), "--params", str(params)]
    CliRunner().invoke(app, ["validate", *args])
    assert logging.getLogger().level == logging.INFO
    CliRunner().invoke(app, ["-v", "validate", *args])
    assert logging.getLogger().level == logging.DEBUG


def test_log_lines_carry_the_date(monkeypatch):
    monkeypatch.setenv(VERBOSE_ENV, "")
    setup_logging()
    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert handler.formatter is not None
    stamp = handler.formatter.format(record).split(" ")[0]
    assert len(stamp) == 10 and stamp[4] == "-" and stamp[7] == "-", stamp


@pytest.mark.parametrize(
    ("missing", "stage"),
    [
        ("outputs/train/model/model.joblib", "churn train"),
        ("outputs/features/snapshots.parquet", "churn features"),
        ("elsewhere/thing.json", None),
    ],
)
def test_a_missing_input_is_one_line_naming_the_stage_to_run(capsys, missing, stage):
    with pytest.raises(typer.Exit) as stopped, user_errors():
        raise FileNotFoundError(2, "No such file or directory", missing)
    assert stopped.value.exit_code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: missing input {missing}") and "\n" not in line
    assert (stage in line) if stage else ("check the path" in line)


def test_tuning_reports_progress_in_plain_log_lines(caplog):
    study = optuna.create_study()
    with caplog.at_level(logging.INFO, logger="training.tuning"):
        study.optimize(
            lambda t: t.suggest_float("x", 0, 1),
            n_trials=3,
            callbacks=[_progress_lines(3, 60, every=0)],
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "training.tuning"]
    assert len(lines) == 3 and lines[-1].startswith("tuning: trial 3 of at most 3")
