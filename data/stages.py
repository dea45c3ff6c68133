"""DVC stages of the data package: the only code here that decides where files go."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from data.contract import RunningPeriods
from data.io import atomic_dir, write_json
from data.params import BaseParams, ValidateParams

log = logging.getLogger(__name__)


def validate(
    raw_dir: Path, out_dir: Path, base: BaseParams, rules: ValidateParams
) -> dict[str, Any]:
    """Check `raw_dir` against the contract; write typed Parquet copies and `report.json`.

    Everything is written to a temporary folder that replaces `out_dir` only once the whole
    export has passed, so bad input leaves an earlier good output untouched.
    """
    from data.validation import check_and_copy

    with atomic_dir(Path(out_dir)) as tmp:
        report = check_and_copy(Path(raw_dir), tmp, base, rules)
        write_json(report, tmp / "report.json")
    log.info("validated %s -> %s", raw_dir, out_dir)
    return report


def generate(
    out_dir: Path,
    n_accounts: int,
    seed: int,
    running_periods: RunningPeriods | str = RunningPeriods.MIXED,
    written_on: dt.date | None = None,
    churn_shift: str | None = None,
) -> None:
    """Simulate the demo world into `out_dir/raw` and `out_dir/truth`, atomically.

    With `written_on`, only `out_dir/raw`: the export as the same world's would have been
    pulled on that day (see `data.world.write_world`). `churn_shift` (`2025-06-02:1.8`)
    multiplies the churn hazard from that day on.
    """
    from data.world import write_world
    from data.world.config import ChurnShift

    shift = ChurnShift.parse(churn_shift) if churn_shift else None
    with atomic_dir(Path(out_dir)) as tmp:
        write_world(
            tmp,
            n_accounts,
            seed,
            running_periods=running_periods,
            written_on=written_on,
            churn_shift=shift,
        )
    log.info("demo world of %d accounts written to %s", n_accounts, out_dir)
