"""`churn validate` on outputs it cannot write: one line, exit code 2, nothing good lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from serving.cli import app


def _validate(raw: Path, out: Path, tmp_path: Path) -> Result:
    params = tmp_path / "params.yaml"
    params.write_text("base: {}\nvalidate: {}\n")
    args = ["validate", "--raw", str(raw), "--out", str(out), "--params", str(params)]
    return CliRunner().invoke(app, args)


def _one_line(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: cannot write "), lines[0]
    for word in words:
        assert word in lines[0]


def test_an_output_under_a_file_gets_one_line_and_exit_2(export, tmp_path):
    # Runs as root too (CI): a path under a regular file cannot be created by anyone.
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    out = blocker / "validate"
    _one_line(_validate(export(), out, tmp_path), str(out), str(blocker))
    assert blocker.read_text() == "keep me"


def test_an_output_that_is_a_file_is_refused_and_kept(export, tmp_path):
    out = tmp_path / "validate"
    out.write_text("keep me")
    _one_line(_validate(export(), out, tmp_path), str(out), "a file, not a folder")
    assert out.read_text() == "keep me"


def _writes_into_read_only_folders(tmp_path: Path) -> bool:
    """Root (with its usual capabilities) writes into a 0500 folder anyway."""
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o500)
    try:
        (probe / "x").touch()
    except PermissionError:
        return False
    finally:
        probe.chmod(0o700)
    return True


def test_a_read_only_folder_gets_one_line_and_keeps_the_earlier_output(export, tmp_path):
    if _writes_into_read_only_folders(tmp_path):
        pytest.skip(f"uid {os.geteuid()} writes into read-only folders")
    out = tmp_path / "ro" / "validate"
    assert _validate(export(), out, tmp_path).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    out.parent.chmod(0o500)
    try:
        result = _validate(export(), out, tmp_path)
    finally:
        out.parent.chmod(0o700)
    _one_line(result, str(out), "Permission denied")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["validate"]
