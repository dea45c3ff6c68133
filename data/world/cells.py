"""Weekly cells (one account's week inside a life) and the events scattered over their days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from data.world.config import DAY0, WorldConfig
from data.world.simulation import World

_WEEKDAY = np.array([0.19, 0.2, 0.2, 0.2, 0.17, 0.02, 0.02])  # Monday .. Sunday
# Local UTC offsets (winter, summer) of each region; APAC exports write naive UTC.
_OFFSET_HOURS = np.array([[1, 2], [-5, -4], [8, 8]])
_NAIVE_REGION = 2
_EPOCH_DAY0 = int((DAY0 - np.datetime64("1970-01-01", "D")).astype(np.int64)) * 86400


@dataclass(frozen=True)
class Cells:
    """Flat arrays, one entry per (week, account) spent inside a life."""

    week: np.ndarray
    monday: np.ndarray
    account: np.ndarray
    life_idx: np.ndarray
    h: np.ndarray
    champion: np.ndarray
    budget: np.ndarray
    friction: np.ndarray
    quiet: np.ndarray  # weeks since the last conversation with the manager
    talk: np.ndarray  # outbound conversations (call, meeting, qbr) this week
    other: np.ndarray  # other outbound contacts (email, chat, other)
    inbound: np.ndarray  # contacts the client started
    inbound_talk: np.ndarray  # ... of which calls
    first_day: np.ndarray  # first day of the week an event may carry (life start, data start)
    last_day: np.ndarray  # last such day (churn date, export end)
    age: np.ndarray  # whole weeks since the life started


def weekly_cells(world: World, cfg: WorldConfig, accounts: slice = slice(None)) -> Cells:
    """The cells of the accounts in `accounts` (a contiguous range keeps memory bounded)."""
    life_of = world.life_of[:, accounts]
    week, col = np.nonzero(life_of >= 0)
    account = np.arange(world.life_of.shape[1])[accounts][col]
    life_idx = life_of[week, col].astype(np.int64)
    start = world.lives["start"].to_numpy()[life_idx]
    churn = world.lives["churn"].to_numpy()[life_idx]
    monday = world.weeks[week]
    return Cells(
        week=week,
        monday=monday,
        account=account,
        life_idx=life_idx,
        h=world.hidden["h"][week, account].astype(np.float64),
        champion=world.hidden["champion"][week, account].astype(np.float64),
        budget=world.hidden["budget"][week, account].astype(np.float64),
        friction=world.hidden["friction"][week, account].astype(np.float64),
        quiet=world.hidden["quiet"][week, account].astype(np.float64),
        **{name: world.touches[name][week, account].astype(np.int64) for name in world.touches},
        first_day=np.maximum(start, 0),
        last_day=np.minimum(churn, cfg.data_end),
        age=(monday - start) // 7,
    )


def scatter(
    cells: Cells, rate: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(rate) events per cell on weekdays-heavy days; returns (cell index, day number).

    Events drawn on days outside the life (before it starts, after it churns) are dropped.
    """
    count = rng.poisson(rate)
    cell = np.repeat(np.arange(count.shape[0]), count)
    day = cells.monday[cell] + rng.choice(7, cell.shape[0], p=_WEEKDAY)
    keep = (day >= cells.first_day[cell]) & (day <= cells.last_day[cell])
    return cell[keep], day[keep]


def place(
    cells: Cells, count: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` events per cell that did happen, on weekday-heavy days inside the life's days."""
    cell = np.repeat(np.arange(count.shape[0]), count)
    day = cells.monday[cell] + rng.choice(7, cell.shape[0], p=_WEEKDAY)
    return cell, np.clip(day, cells.first_day[cell], cells.last_day[cell])


def office_seconds(
    day: np.ndarray, region: np.ndarray, rng: np.random.Generator, spread: float = 2.5
) -> np.ndarray:
    """UTC seconds since day 0 of events during local office hours in `region`."""
    local_hour = np.clip(rng.normal(13.0, spread, day.shape[0]), 6.0, 22.5)
    # Kept inside the same UTC day, so an event never leaves the life's days.
    utc = np.clip(local_hour - _OFFSET_HOURS[region, _summer(day)], 0.0, 23.95)
    return day * 86400 + (utc * 3600).astype(np.int64) + rng.integers(0, 60, day.shape[0])


def _summer(day: np.ndarray) -> np.ndarray:
    month = (DAY0 + day.astype("timedelta64[D]")).astype("datetime64[M]").astype(np.int64) % 12
    return ((month >= 3) & (month <= 9)).astype(np.int64)  # April .. October


def utc_strings(seconds: np.ndarray) -> pa.Array:
    """ISO 8601 UTC timestamps with a `Z`."""
    stamps = pa.array(seconds + _EPOCH_DAY0, pa.timestamp("s", tz="UTC"))
    return pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%SZ")


def local_strings(seconds: np.ndarray, region: np.ndarray, naive: npt.ArrayLike) -> pa.Array:
    """ISO 8601 timestamps in local time with their offset; APAC and `naive` rows in naive UTC."""
    utc_day = seconds // 86400
    plain = np.asarray(naive, dtype=bool) | (region == _NAIVE_REGION)
    hours = np.where(plain, 0, _OFFSET_HOURS[region, _summer(utc_day)])
    stamps = pa.array(seconds + hours * 3600 + _EPOCH_DAY0, pa.timestamp("s"))
    text = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")
    suffix = np.where(plain, "", np.char.add(np.where(hours < 0, "-", "+"), _hhmm(np.abs(hours))))
    return pc.binary_join_element_wise(text, pa.array(suffix), "")


def _hhmm(hours: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.zfill(hours.astype(str), 2), ":00")
