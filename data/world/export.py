"""`write_world`: simulate the demo world and write its raw tables and its ground truth."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data.contract import RunningPeriods
from data.io import write_json
from data.world.cells import weekly_cells
from data.world.config import DAY0, ChurnShift, Dynamics, WorldConfig
from data.world.crm import contacts_and_ratings, tickets_table
from data.world.dynamics import Health
from data.world.population import draw_managers, draw_population
from data.world.simulation import World, simulate
from data.world.tables import accounts_table, churns_table, subscriptions_table, to_dates
from data.world.truth import (
    BY_RENEWAL,
    HEADLINE,
    NEXT_RENEWAL,
    curve_check,
    horizon_column,
    realised_churn,
    true_risk,
)
from data.world.usage import KEY_EVENTS, SCHEMA, usage_chunk
from data.world.written import written_tables, written_usage

log = logging.getLogger(__name__)

_STREAMS = (
    "managers",
    "population",
    "simulation",
    "truth",
    "accounts",
    "tickets",
    "contacts",
    "usage",
    "orphans",
)
_CSV = pacsv.WriteOptions(quoting_style="needed")
ORPHAN_SHARE = 0.003  # rows naming accounts deleted from the CRM (the contract allows < 1%)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """A frame as Arrow with dates as date32, so the CSV shows `2025-03-31`."""
    columns = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            days = col.to_numpy().astype("datetime64[D]")
            columns[name] = pa.array(days, pa.date32(), from_pandas=True)
        else:
            columns[name] = pa.array(col.to_numpy(dtype=object), from_pandas=True)
    return pa.table(columns)


def _with_orphans(frame: pd.DataFrame, n_accounts: int, rng: np.random.Generator) -> pd.DataFrame:
    """Copy a few rows under account ids that no longer exist in `accounts`."""
    pick = np.sort(rng.choice(len(frame), int(len(frame) * ORPHAN_SHARE), replace=False))
    orphans = frame.iloc[pick].copy()
    gone = n_accounts + 1 + rng.integers(0, 50, len(orphans))
    orphans["account_id"] = [f"ACC-{g:05d}" for g in gone]
    if "ticket_id" in orphans:
        orphans["ticket_id"] = [f"T-X{i:06d}" for i in range(len(orphans))]
    return pd.concat([frame, orphans], ignore_index=True)


def _write_usage(
    world: World, cfg: WorldConfig, seq: np.random.SeedSequence, day: int, path: Path
) -> int:
    """Stream usage before `day` chunk by chunk; each chunk has its own seed (independent)."""
    n = len(world.pop.created)
    starts = range(0, n, cfg.usage_chunk)
    rows = 0
    orphan_rng = np.random.default_rng(seq.spawn(1)[0])
    with pacsv.CSVWriter(path, SCHEMA, write_options=_CSV) as writer:
        for lo, child in zip(starts, seq.spawn(len(starts)), strict=True):
            rng = np.random.default_rng(child)
            table = usage_chunk(world, range(lo, min(lo + cfg.usage_chunk, n)), cfg, rng)
            pick = np.flatnonzero(orphan_rng.random(table.num_rows) < ORPHAN_SHARE)
            gone = n + 1 + orphan_rng.integers(0, 50, pick.shape[0])
            orphans = table.take(pa.array(pick)).set_column(
                0, "account_id", pa.array([f"ACC-{g:05d}" for g in gone], pa.string())
            )
            table, orphans = written_usage(table, day), written_usage(orphans, day)
            writer.write_table(table)
            writer.write_table(orphans)
            rows += table.num_rows + orphans.num_rows
    return rows


def _risk_table(world: World, risk: pd.DataFrame, horizons: tuple[int, ...]) -> pa.Table:
    """The true risk as written: ids and dates, the curve, and the hidden state it came from."""
    curve = [HEADLINE, *map(horizon_column, horizons)]
    return pa.table(
        {
            "account_id": pa.array(world.pop.ids[risk["account"].to_numpy()]),
            "as_of": pa.array(to_dates(risk["as_of"].to_numpy()), pa.date32()),
            "life": pa.array(risk["life"].to_numpy(), pa.int32()),
            **{name: pa.array(risk[name].to_numpy(), pa.float64()) for name in curve},
            NEXT_RENEWAL: pa.array(to_dates(risk[NEXT_RENEWAL].to_numpy()), pa.date32()),
            BY_RENEWAL: pa.array(risk[BY_RENEWAL].to_numpy(), pa.float64()),
            # The hidden state the truth was simulated from (what no export shows), so a
            # benchmark can tell missing information from a weak model.
            **{
                f"hidden_{name}": pa.array(world.snapshots[name].to_numpy(), pa.float64())
                for name in Health.__dataclass_fields__
            },
        }
    )


def _truth(
    world: World, cfg: WorldConfig, dyn: Dynamics, rng: np.random.Generator
) -> dict[str, Any]:
    """The true risk per (life, Monday), the churns, and their summary."""
    risk = true_risk(world, cfg, rng, dyn)
    label = realised_churn(world, cfg.horizon_days)
    known = risk["as_of"].to_numpy() + cfg.horizon_days <= cfg.data_end + 1
    churns = churns_table(world.lives, world.pop, cfg.data_end + cfg.horizon_days)
    return {
        "risk": _risk_table(world, risk, cfg.horizons_days),
        "churns": churns,
        "summary": {
            "risk_rows": len(risk),
            "churn_share_90d": round(float(label[known].mean()), 4),
            "mean_p_churn": round(float(risk[HEADLINE].to_numpy()[known].mean()), 4),
            "curve_check": curve_check(world, risk, cfg),
            "churns_in_data": int((churns["churn_date"] <= to_dates(cfg.data_end)).sum()),
            "churns_by_cause": churns["cause"].value_counts().sort_index().to_dict(),
            "early_end_churns": int(churns["early_end"].sum()),
            "early_end_share_of_churns": round(float(churns["early_end"].mean()), 4),
        },
    }


def _raw_tables(
    world: World,
    cfg: WorldConfig,
    rng: Callable[[str], np.random.Generator],
    day: int,
    running: RunningPeriods,
) -> dict[str, pd.DataFrame]:
    """The five small tables as written on `day` (usage is streamed separately), orphans included.

    Every table is drawn in full first and cut afterwards, so the random draws, and the rows
    before `day`, are those of the full export.
    """
    n = len(world.pop.created)
    cells = weekly_cells(world, cfg)
    contacts, ratings = contacts_and_ratings(world, cells, cfg, rng("contacts"))
    orphans = rng("orphans")
    full = {
        "accounts": accounts_table(world.pop, world.managers, rng("accounts")),
        "subscriptions": subscriptions_table(world.periods, world.pop, day, running),
        "tickets": _with_orphans(tickets_table(world, cells, cfg, rng("tickets")), n, orphans),
        "contacts": _with_orphans(contacts, n, orphans),
        "manager_ratings": ratings,
    }
    return written_tables(full, day)


def _written_day(written_on: dt.date | None, cfg: WorldConfig) -> int:
    """Day number of the day the export is written (the day after the data by default)."""
    if written_on is None:
        return cfg.data_end + 1
    day = int((np.datetime64(written_on, "D") - DAY0).astype(np.int64))
    if not 1 <= day <= cfg.data_end + 1:
        first, last = DAY0 + 1, DAY0 + cfg.data_end + 1
        raise ValueError(f"written_on must be between {first} and {last}, not {written_on}")
    return day


def write_world(
    out_dir: Path,
    n_accounts: int,
    seed: int,
    running_periods: RunningPeriods | str = RunningPeriods.MIXED,
    written_on: dt.date | None = None,
    churn_shift: ChurnShift | None = None,
) -> None:
    """Write `out_dir/raw/` (the six contract tables as CSV) and `out_dir/truth/`.

    Args:
        out_dir: Folder to create.
        n_accounts: Accounts in the world.
        seed: Same seed, same world and same bytes.
        running_periods: How periods still paid for on the day of writing show their end
            (`RunningPeriods`: billed, open, or mixed by billing interval).
        written_on: Write raw/ as the same world's export pulled on that day (nothing dated
            on or after it, later early ends and plan changes not yet known, tickets closed
            later still open). Only raw/ is written then: the truth is the full export's
            (same seed, same world). None: the whole export, written the day after the data.
        churn_shift: Multiply the churn hazard (renewal decisions and early ends) from a day
            on, in the simulation and in the truth's re-simulation alike (see `Dynamics`).
    """
    started = time.perf_counter()
    cfg, dyn = WorldConfig(), Dynamics().with_churn_shift(churn_shift)
    running = RunningPeriods(running_periods)
    day = _written_day(written_on, cfg)
    seqs = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS)), strict=True))

    def rng(name: str) -> np.random.Generator:
        return np.random.default_rng(seqs[name])

    managers = draw_managers(n_accounts, rng("managers"))
    pop = draw_population(n_accounts, managers, cfg, rng("population"))
    world = simulate(pop, managers, cfg, dyn, rng("simulation"))
    raw, truth_dir = Path(out_dir) / "raw", Path(out_dir) / "truth"
    raw.mkdir(parents=True)
    rows = {}
    for name, frame in _raw_tables(world, cfg, rng, day, running).items():
        pacsv.write_csv(_arrow(frame), raw / f"{name}.csv", _CSV)
        rows[name] = len(frame)
    rows["usage_events"] = _write_usage(world, cfg, seqs["usage"], day, raw / "usage_events.csv")
    log.info("raw tables written in %.1fs: %s", time.perf_counter() - started, rows)
    if written_on is not None:
        log.info("export as written on %s: truth/ is the full export's, not written", written_on)
        return
    truth_dir.mkdir(parents=True)
    truth = _truth(world, cfg, dyn, rng("truth"))
    pq.write_table(truth["risk"], truth_dir / "risk.parquet")
    pq.write_table(_arrow(truth["churns"]), truth_dir / "churns.parquet")
    summary = _summary(world, cfg, dyn, n_accounts, seed, rows, truth["summary"])
    write_json({**summary, "running_periods": running.value}, truth_dir / "world.json")
    log.info("world written in %.1fs", time.perf_counter() - started)


def _summary(
    world: World, cfg: WorldConfig, dyn: Dynamics, n: int, seed: int, rows: dict, truth: dict
) -> dict[str, Any]:
    periods = world.periods
    return {
        "seed": seed,
        "accounts": n,
        "data_start": str(to_dates(0)),
        "data_end": str(to_dates(cfg.data_end)),
        "truth_paths": cfg.paths(n),
        "truth_paths_note": (
            f"{cfg.truth_paths_large} paths (not {cfg.truth_paths}) past {cfg.large_world} "
            "accounts, to bound the generation time; survival is carried per path "
            "(Rao-Blackwellised), so the estimate stays smooth"
            if cfg.paths(n) < cfg.truth_paths
            else "re-simulated futures per (life, Monday); survival carried per path"
        ),
        "definitions": {
            "active": "a life is active on a Monday from its first paid day through its churn "
            "date, payment lapses (gaps shorter than the grace gap) included",
            "p_churn": "P(this life's churn date falls in [as_of, as_of + horizon_days)) given "
            "the hidden state on as_of, from truth_paths re-simulated futures",
            "p_churn_{h}d": "the same for each horizon h of horizons_days (p_churn_90d = p_churn), "
            "all from one re-simulation per row",
            "next_renewal": "the day after the paid period as known on as_of (in a payment "
            "lapse, already passed; for a life starting on as_of, after its first period)",
            "p_churn_by_renewal": "P(churn date in [as_of, max(next_renewal, as_of) + "
            "grace_gap_days)); a re-simulated plan change moves the contract, not this window",
            "curve_check": "per column, on rows whose window closed inside the data: mean true "
            "probability vs realised churn share",
            "churns": "every churn of the simulation up to data_end + horizon_days; later "
            "ones than data_end are not visible in raw/",
        },
        "key_events": list(KEY_EVENTS),
        "managers": len(world.managers.segment),
        "lives": len(world.lives),
        "plan_changes_in_data": int(
            ((periods["rewritten"] > periods["end"]) & (periods["rewritten"] <= cfg.data_end)).sum()
        ),
        "rows": rows,
        **truth,
        "config": asdict(cfg),
        "dynamics": asdict(dyn),
    }
