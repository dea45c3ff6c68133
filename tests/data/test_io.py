"""Atomic writes: scratch of killed runs cleaned, live runs left alone, modes of the umask."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer

from data.console import user_errors
from data.io import atomic_dir, write_json, write_parquet, write_text


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


def _run(script: str, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    """Start a Python process running `script` with the repository's packages importable."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], **popen)  # type: ignore[call-overload]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


KILLED_IN_A_FOLDER = """
    import os, signal, sys
    from pathlib import Path
    from data.io import atomic_dir

    with atomic_dir(Path(sys.argv[1]) / "stage") as tmp:
        (tmp / "big.bin").write_bytes(b"x" * 100_000)
        os.kill(os.getpid(), signal.SIGKILL)
"""

KILLED_IN_A_FILE = """
    import os, signal, sys
    from pathlib import Path
    from data.io import write_json

    class Dying:
        def __str__(self):
            os.kill(os.getpid(), signal.SIGKILL)

    write_json({"value": Dying()}, Path(sys.argv[1]) / "summary.json")
"""


@pytest.mark.parametrize("script", [KILLED_IN_A_FOLDER, KILLED_IN_A_FILE], ids=["folder", "file"])
def test_the_next_run_removes_the_scratch_of_a_killed_run(tmp_path, script):
    assert _run(script, str(tmp_path)).wait(timeout=120) == -signal.SIGKILL
    assert _hidden(tmp_path), "the killed run left no scratch: the test proves nothing"
    if script is KILLED_IN_A_FOLDER:
        with atomic_dir(tmp_path / "stage") as tmp:
            (tmp / "done").write_text("yes")
        assert (tmp_path / "stage" / "done").read_text() == "yes"
    else:
        write_json({"value": 1}, tmp_path / "summary.json")
        assert (tmp_path / "summary.json").read_text() == '{\n  "value": 1\n}\n'
    assert _hidden(tmp_path) == []


def test_a_run_still_writing_keeps_its_scratch(tmp_path):
    script = """
        import sys
        from pathlib import Path
        from data.io import atomic_dir

        with atomic_dir(Path(sys.argv[1]) / "stage") as tmp:
            (tmp / "done").write_text("slow")
            print(tmp, flush=True)
            sys.stdin.readline()
    """
    slow = _run(script, str(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert slow.stdout is not None and slow.stdin is not None
    scratch = Path(slow.stdout.readline().decode().strip())
    with atomic_dir(tmp_path / "stage") as tmp:
        (tmp / "done").write_text("fast")
    write_json({"value": 1}, tmp_path / "summary.json")
    assert (scratch / "done").read_text() == "slow"
    slow.stdin.write(b"go\n")
    slow.stdin.close()
    assert slow.wait(timeout=120) == 0
    assert (tmp_path / "stage" / "done").read_text() == "slow"
    assert _hidden(tmp_path) == []


def test_a_run_killed_while_swapping_folders_loses_no_output(tmp_path):
    final = tmp_path / "stage"
    with atomic_dir(final) as tmp:
        (tmp / "done").write_text("good")
    # Killed right after moving the good output aside, before moving the new one in.
    script = """
        import os, signal, sys
        from pathlib import Path
        from data.io import atomic_dir

        rename = Path.rename
        def dying(self, target):
            moved = rename(self, target)
            if self.name == "stage":
                os.kill(os.getpid(), signal.SIGKILL)
            return moved
        Path.rename = dying
        with atomic_dir(Path(sys.argv[1]) / "stage") as tmp:
            (tmp / "done").write_text("new")
    """
    assert _run(script, str(tmp_path)).wait(timeout=120) == -signal.SIGKILL
    assert not final.exists()
    # The next run fails: the good output is back under its name, and no scratch is left.
    with pytest.raises(RuntimeError), atomic_dir(final):
        raise RuntimeError("bad input")
    assert (final / "done").read_text() == "good"
    assert _hidden(tmp_path) == []


def _write(kind: str, target: Path) -> None:
    if kind == "folder":
        with atomic_dir(target) as tmp:
            (tmp / "a.json").write_text("{}")
    elif kind == "json":
        write_json({}, target)
    else:
        write_text("<html></html>", target)


@pytest.mark.parametrize("kind", ["folder", "json", "text"])
def test_an_output_that_cannot_be_written_gets_one_line_and_exit_2(tmp_path, capsys, kind):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    target = blocker / "out"
    with pytest.raises(typer.Exit) as stopped, user_errors():
        _write(kind, target)
    assert stopped.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {target}: ") and err.count("\n") == 1, err
    assert blocker.read_text() == "keep me"


def test_a_failure_to_read_an_input_is_not_taken_for_an_output_error(tmp_path):
    with pytest.raises(PermissionError), atomic_dir(tmp_path / "out"):
        raise PermissionError(errno.EACCES, "Permission denied", "/raw/accounts.csv")
    assert _hidden(tmp_path) == []
