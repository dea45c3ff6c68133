"""The scored weeks' folders and links: concurrent runs, killed runs, modes (no model needed)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import typer

import serving.weeks as weeks
from data.console import user_errors

MONDAY = dt.date(2025, 6, 2)


def _write_week(out: Path, day: dt.date, keep: int = 0) -> None:
    """What `score` does with a week once it is scored: its folder, links, and the pruning."""
    with weeks.week_folder(out, day) as tmp:
        (tmp / "scores.csv").write_text(f"{day}\n")
    weeks.prune(out, keep, day)


def _links(out: Path) -> dict[str, Path]:
    return {p.name: p for p in out.iterdir() if p.is_symlink()}


def test_a_concurrent_runs_prune_never_leaves_a_dangling_link(tmp_path, monkeypatch):
    out = tmp_path / "score"
    first, second = MONDAY, MONDAY + dt.timedelta(days=7)
    # Run A stops between renaming its folder and pointing its link at it ...
    renamed, resume = threading.Event(), threading.Event()
    real_point = weeks.point

    def slow_point(link: Path, target: Path) -> None:
        if threading.current_thread().name == "A" and not renamed.is_set():
            renamed.set()
            resume.wait(timeout=30)
        real_point(link, target)

    monkeypatch.setattr(weeks, "point", slow_point)
    a = threading.Thread(target=_write_week, args=(out, first), name="A")
    a.start()
    assert renamed.wait(timeout=30)
    # ... while run B writes, links and prunes another week (it may wait for A to finish).
    b = threading.Thread(target=_write_week, args=(out, second), name="B")
    b.start()
    b.join(timeout=1)
    resume.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not a.is_alive() and not b.is_alive()
    links = _links(out)
    assert sorted(links) == [str(first), str(second), "latest"]
    for name, link in links.items():
        assert link.exists(), f"{name} points at a folder that was pruned"
    assert (out / str(first) / "scores.csv").read_text() == f"{first}\n"
    assert (out / "latest").resolve() == (out / str(second)).resolve()


@pytest.mark.parametrize("keep", [0, 1])
def test_sequential_runs_keep_the_newest_weeks(tmp_path, keep):
    out = tmp_path / "score"
    days = [MONDAY + dt.timedelta(days=7 * i) for i in range(3)]
    for day in days:
        _write_week(out, day, keep)
    kept = days[-keep:] if keep else days
    assert sorted(_links(out)) == sorted([*map(str, kept), "latest"])
    assert len([p for p in (out / weeks.RUNS).iterdir() if not p.name.startswith(".")]) == len(kept)


def test_a_scored_week_gets_the_modes_of_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        _write_week(tmp_path / "score", MONDAY)
    finally:
        os.umask(old)
    week = (tmp_path / "score" / str(MONDAY)).resolve()
    assert stat.S_IMODE(week.stat().st_mode) == 0o755
    assert stat.S_IMODE((week / "scores.csv").stat().st_mode) == 0o644


def test_the_next_run_removes_the_scratch_of_a_killed_run(tmp_path):
    out = tmp_path / "score"
    _write_week(out, MONDAY)
    script = f"""
        import os, signal, datetime as dt
        from pathlib import Path
        import serving.weeks as weeks

        with weeks.week_folder(Path({str(out)!r}), dt.date(2025, 6, 9)) as tmp:
            (tmp / "scores.parquet").write_bytes(b"x" * 100_000)
            os.kill(os.getpid(), signal.SIGKILL)
    """
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert [p for p in (out / weeks.RUNS).iterdir() if p.name.startswith(".2025-06-09.")]
    # A link being repointed when its run was killed.
    (out / ".latest.link-999999999").symlink_to("runs/gone")
    _write_week(out, MONDAY + dt.timedelta(days=14))
    assert sorted(p.name for p in (out / weeks.RUNS).iterdir() if p.name.startswith(".")) == [
        ".lock"
    ]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_score_folder_that_cannot_be_written_gets_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    with pytest.raises(typer.Exit) as stopped, user_errors():
        _write_week(blocker / "score", MONDAY)
    assert stopped.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {blocker / 'score'}: ") and err.count("\n") == 1
    assert blocker.read_text() == "keep me"
