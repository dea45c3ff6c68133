"""The weekly simulation of every account's hidden health, contacts, renewals and churns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.world.book import MON0, Book
from data.world.config import Dynamics, WorldConfig
from data.world.dynamics import Health, Touches
from data.world.population import Managers, Population


@dataclass(frozen=True)
class World:
    """What happened: weekly hidden state, lives, billing periods and Monday snapshots."""

    pop: Population
    managers: Managers
    dyn: Dynamics  # the dynamics that produced it
    weeks: np.ndarray  # Monday day numbers of the exported weeks
    hidden: dict[str, np.ndarray]  # Health field -> (weeks, accounts) value during that week
    touches: dict[str, np.ndarray]  # Touches field -> (weeks, accounts) contacts that week
    life_of: np.ndarray  # (weeks, accounts) global life index, -1 outside a life
    lives: pd.DataFrame  # one row per life, indexed by global life index
    # One row per paid billing period: `billed_end` as billed when it began, `end` its last
    # paid day (earlier when rewritten by an early end or a plan change on day `rewritten`).
    periods: pd.DataFrame
    snapshots: pd.DataFrame  # one row per (life, Monday) active on that Monday


def simulate(
    pop: Population, managers: Managers, cfg: WorldConfig, dyn: Dynamics, rng: np.random.Generator
) -> World:
    """Run the book week by week, past the export by one horizon so every label is known."""
    book = Book(pop, cfg, dyn)
    book.open_preexisting(rng)
    n_data = (cfg.data_end - MON0) // 7 + 1
    n_weeks = (cfg.data_end + cfg.horizon_days + cfg.grace_gap_days - MON0) // 7 + 1
    shape = (n_data, len(pop.created))
    hidden = {name: np.zeros(shape, dtype=np.float32) for name in Health.__dataclass_fields__}
    life_of = np.full(shape, -1, dtype=np.int32)
    touches = {name: np.zeros(shape, dtype=np.int8) for name in Touches.__dataclass_fields__}
    snapshots = []
    for t in range(n_weeks):
        monday = MON0 + 7 * t
        book.open_due(monday, rng)
        if 0 <= monday <= cfg.data_end:
            snapshots.append(book.snapshot(monday))
        if t < n_data:
            live = book.status == 1
            for name, matrix in hidden.items():
                matrix[t, live] = getattr(book.state, name)[live]
            life_of[t, live] = book.life[live]
        book.end_early(monday, rng)
        book.change_plans(monday, rng)
        book.decide(monday, rng)
        idx, week = book.advance(monday, rng)
        if t < n_data:
            for name, counts in touches.items():
                counts[t, idx] = np.minimum(getattr(week, name), 127)
    lives = pd.concat(book.lives, ignore_index=True)
    lives["churn"] = book.churn[: len(lives)]
    lives["cause"] = book.cause[: len(lives)]
    lives["early_end"] = book.early[: len(lives)]
    return World(
        pop=pop,
        managers=managers,
        dyn=dyn,
        weeks=MON0 + 7 * np.arange(n_data),
        hidden=hidden,
        touches=touches,
        life_of=life_of,
        lives=lives,
        periods=book.billing_periods(),
        snapshots=pd.concat(snapshots, ignore_index=True),
    )
