"""Atomic writes: modes that follow the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from data.io import atomic_dir, write_json, write_parquet


@pytest.fixture(params=[0o022, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under this umask (the test process is single-threaded)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_get_the_modes_a_plain_open_and_mkdir_would(tmp_path, umask):
    final = tmp_path / "stage"
    with atomic_dir(final) as tmp:
        write_json({"a": 1}, tmp / "summary.json")
        write_parquet(pd.DataFrame({"a": [1]}), tmp / "table.parquet")
    write_json({"b": 2}, tmp_path / "loose" / "other.json")
    assert _mode(final) == 0o777 & ~umask
    assert _mode(final / "summary.json") == 0o666 & ~umask
    assert _mode(final / "table.parquet") == 0o666 & ~umask
    assert _mode(tmp_path / "loose" / "other.json") == 0o666 & ~umask
    if umask == 0o022:
        assert (_mode(final), _mode(final / "summary.json")) == (0o755, 0o644)
