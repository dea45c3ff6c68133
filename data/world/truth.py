"""The true churn risk: re-simulate each active life's next weeks many times from its state."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.world.config import NO_DAY, Dynamics
from data.world.dynamics import (
    Health,
    Traits,
    early_end_chance,
    lapse_gap,
    leave_probability,
    period_end,
    plan_change,
    step,
)
from data.world.simulation import World

_CHUNK_ELEMENTS = 1 << 19  # (rows x paths) per batch: bounded memory, numpy-efficient


def _life_traits(world: World, life_idx: np.ndarray) -> Traits:
    lives = world.lives
    segment = world.pop.segment[lives["account"].to_numpy()]
    return Traits(
        mu=lives["mu"].to_numpy()[life_idx],
        never=lives["never"].to_numpy()[life_idx],
        onb_fail=lives["onb_fail"].to_numpy()[life_idx],
        months=lives["months"].to_numpy()[life_idx],
        segment=segment[life_idx],
        neglected=world.pop.neglected[lives["account"].to_numpy()][life_idx],
    )


def churn_probability(
    rows: pd.DataFrame,
    traits: Traits,
    paths: int,
    horizon: int,
    rng: np.random.Generator,
    dyn: Dynamics,
) -> np.ndarray:
    """P(the life's churn date falls in [as_of, as_of + horizon)) for each row.

    `rows` holds as_of, age (weeks into the life), start and end (first and last paid day of
    the current or next billing period, as billed) and the `Health` fields; each row is
    re-simulated `paths` times, future manager contacts, early ends and plan changes included,
    in the simulation's order within a week: early ends, plan changes, renewals, the step.
    """
    rep = np.repeat(np.arange(len(rows)), paths)
    traits = traits.take(rep)
    state = Health(*(rows[name].to_numpy()[rep] for name in Health.__dataclass_fields__))
    as_of, age0 = rows["as_of"].to_numpy()[rep], rows["age"].to_numpy()[rep]
    start, end = rows["start"].to_numpy()[rep].copy(), rows["end"].to_numpy()[rep].copy()
    # Rao-Blackwellised: carry each path's survival probability instead of sampling leaving.
    survive = np.ones(rep.shape[0])
    for week in range(-(-horizon // 7)):
        age = age0 + week
        monday = as_of + 7 * week
        last = np.minimum(monday + 6, as_of + horizon - 1)  # early ends inside the window count
        survive *= 1.0 - early_end_chance(state, start, end, monday, last, dyn)
        day, _ = plan_change(state, start, end, monday, rng, dyn)
        moved = np.flatnonzero(day != NO_DAY)  # a fresh billing period from the change day
        start[moved], end[moved] = day[moved], period_end(day[moved], traits.months[moved])
        due = np.flatnonzero(end < np.minimum(monday + 7, as_of + horizon))
        if due.size:
            p = leave_probability(state.take(due), traits.take(due), age[due], dyn, monday[due])
            survive[due] *= 1.0 - p
            months = traits.months[due]
            start[due] = end[due] + 1 + lapse_gap(months, rng, dyn)
            end[due] = period_end(start[due], months)
        state, _ = step(state, traits, age, rng, dyn)  # contacts act on the state, as in the data
    return 1.0 - survive.reshape(len(rows), paths).mean(axis=1)


def true_risk(
    world: World, paths: int, horizon: int, rng: np.random.Generator, dyn: Dynamics
) -> pd.DataFrame:
    """Columns account (index), life (number), as_of (day number), p_churn."""
    snaps = world.snapshots
    size = max(1, _CHUNK_ELEMENTS // paths)
    p = np.empty(len(snaps))
    for lo in range(0, len(snaps), size):
        rows = snaps.iloc[lo : lo + size]
        traits = _life_traits(world, rows["life_idx"].to_numpy())
        p[lo : lo + size] = churn_probability(rows, traits, paths, horizon, rng, dyn)
    life = world.lives["life"].to_numpy()[snaps["life_idx"].to_numpy()]
    return pd.DataFrame(
        {"account": snaps["account"], "life": life, "as_of": snaps["as_of"], "p_churn": p}
    )


def realised_churn(world: World, horizon: int) -> np.ndarray:
    """Whether each snapshot's life churned within the horizon (what the label measures)."""
    churn = world.lives["churn"].to_numpy()[world.snapshots["life_idx"].to_numpy()]
    as_of = world.snapshots["as_of"].to_numpy()
    return (churn != NO_DAY) & (churn < as_of + horizon)
