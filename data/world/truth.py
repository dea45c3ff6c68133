"""The true churn risk: re-simulate each active life's next weeks many times from its state.

One re-simulation per (life, Monday) gives the whole curve: the probability that the life's
churn date falls in `[as_of, as_of + h)` for every horizon h of `WorldConfig.horizons_days`,
and in `[as_of, max(R, as_of) + grace_gap_days)` with R the next renewal known on `as_of` (the
day after the paid period; in a payment lapse it has passed). A plan change in a re-simulated
future moves the contract's renewal, but the window stays the one known on the day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.world.config import NO_DAY, Dynamics, WorldConfig
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

_CHUNK_ELEMENTS = 1 << 17  # (rows x paths) per batch: bounded memory, numpy-efficient
HEADLINE = "p_churn"  # the headline horizon's probability (also written as its curve column)
NEXT_RENEWAL = "next_renewal"
BY_RENEWAL = "p_churn_by_renewal"


def horizon_column(horizon_days: int) -> str:
    """`p_churn_90d` for 90: the true probability of churn within the horizon."""
    return f"p_churn_{horizon_days}d"


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


def churn_curve(
    rows: pd.DataFrame,
    traits: Traits,
    paths: int,
    windows: np.ndarray,
    rng: np.random.Generator,
    dyn: Dynamics,
) -> np.ndarray:
    """P(the life's churn date falls in [as_of, as_of + window)), per row and window (rows x k).

    `rows` holds as_of, age (weeks into the life), start and end (first and last paid day of
    the current or next billing period, as billed) and the `Health` fields; `windows` holds
    each row's k window lengths in days (each >= 1). Each row is re-simulated `paths` times,
    future manager contacts, early ends and plan changes included, in the simulation's order
    within a week: early ends, plan changes, renewals, the step; until every window closed.
    """
    rep = np.repeat(np.arange(len(rows)), paths)
    traits = traits.take(rep)
    state = Health(*(rows[name].to_numpy()[rep] for name in Health.__dataclass_fields__))
    as_of, age0 = rows["as_of"].to_numpy()[rep], rows["age"].to_numpy()[rep]
    start, end = rows["start"].to_numpy()[rep].copy(), rows["end"].to_numpy()[rep].copy()
    bound = as_of[:, None] + windows[rep]  # the first day after each window
    closing = (windows[rep] - 1) // 7  # the week in which each window closes
    order = np.argsort(closing, axis=0, kind="stable").T  # paths by the week each window closes
    weeks = np.arange(int(closing.max(initial=-1)) + 2)
    lo = np.stack([np.searchsorted(c[o], weeks) for c, o in zip(closing.T, order, strict=True)])
    # Rao-Blackwellised: carry each path's survival probability instead of sampling leaving.
    survive, curve = np.ones(rep.shape[0]), np.ones(bound.shape)
    for week in weeks[:-1]:
        age, monday = age0 + week, as_of + 7 * week
        closes = [order[j, lo[j, week] : lo[j, week + 1]] for j in range(bound.shape[1])]
        for j, idx in enumerate(closes):  # early ends on the window's days of this week count
            first, last = monday[idx], bound[idx, j] - 1
            chance = early_end_chance(state.take(idx), start[idx], end[idx], first, last, dyn)
            curve[idx, j] = survive[idx] * (1.0 - chance)
        survive *= 1.0 - early_end_chance(state, start, end, monday, monday + 6, dyn)
        day, _ = plan_change(state, start, end, monday, rng, dyn)
        moved = np.flatnonzero(day != NO_DAY)  # a fresh billing period from the change day
        start[moved], end[moved] = day[moved], period_end(day[moved], traits.months[moved])
        due = np.flatnonzero(end < monday + 7)
        leave = np.zeros(rep.shape[0])
        leave[due] = leave_probability(
            state.take(due), traits.take(due), age[due], dyn, monday[due]
        )
        for j, idx in enumerate(closes):  # a renewal counts when its churn date is inside
            curve[idx, j] *= 1.0 - leave[idx] * (end[idx] < bound[idx, j])
        survive *= 1.0 - leave
        if due.size:
            months = traits.months[due]
            start[due] = end[due] + 1 + lapse_gap(months, rng, dyn)
            end[due] = period_end(start[due], months)
        if week < weeks[-2]:  # contacts act on the state, as in the data
            state, _ = step(state, traits, age, rng, dyn)
    return 1.0 - curve.reshape(len(rows), paths, -1).mean(axis=1)


def churn_probability(
    rows: pd.DataFrame,
    traits: Traits,
    paths: int,
    horizon: int,
    rng: np.random.Generator,
    dyn: Dynamics,
) -> np.ndarray:
    """P(the life's churn date falls in [as_of, as_of + horizon)) for each row (`churn_curve`)."""
    return churn_curve(rows, traits, paths, np.full((len(rows), 1), horizon), rng, dyn)[:, 0]


def renewal_day(world: World) -> np.ndarray:
    """Each snapshot's next renewal as known on its as_of: the day after the paid period.

    The current period's billed end + 1. When the snapshot's period starts on or after as_of
    (a renewal paid late, or one starting that day), the day after the life's previous period
    (in a lapse, a day already passed); a life starting on as_of renews after its first period.
    """
    snaps = world.snapshots
    as_of, start = snaps["as_of"].to_numpy(), snaps["start"].to_numpy()
    keys = pd.DataFrame({"life": snaps["life_idx"].to_numpy(), "as_of": as_of})
    periods = world.periods  # a period begun before as_of and ended: its end is known then
    before = pd.DataFrame(
        {"life": periods["life"], "start": periods["start"], "paid": periods["end"]}
    ).sort_values("start")
    found = pd.merge_asof(
        keys.reset_index().sort_values("as_of"),
        before,
        left_on="as_of",
        right_on="start",
        by="life",
        allow_exact_matches=False,  # periods begun before as_of
    ).set_index("index")["paid"]
    previous = found.reindex(keys.index).to_numpy()
    current = snaps["end"].to_numpy() + 1
    late = (start >= as_of) & ~np.isnan(previous)
    return np.where(late, np.nan_to_num(previous).astype(np.int64) + 1, current)


def curve_windows(
    as_of: np.ndarray, renewal: np.ndarray, cfg: WorldConfig
) -> dict[str, np.ndarray]:
    """Each curve column's window per row, in days from as_of to the first day after it."""
    by_renewal = np.maximum(renewal - as_of, 0) + cfg.grace_gap_days
    horizons = {horizon_column(h): np.full(as_of.shape, h) for h in cfg.horizons_days}
    return {**horizons, BY_RENEWAL: by_renewal}


def true_risk(
    world: World, cfg: WorldConfig, rng: np.random.Generator, dyn: Dynamics
) -> pd.DataFrame:
    """The true risk curve of every snapshot, from one re-simulation per row.

    Columns account (index), life (number), as_of and next_renewal (day numbers), p_churn (the
    headline horizon's), `p_churn_{h}d` per horizon and `p_churn_by_renewal`.
    """
    snaps = world.snapshots
    as_of, renewal = snaps["as_of"].to_numpy(), renewal_day(world)
    windows = curve_windows(as_of, renewal, cfg)
    days = np.column_stack(list(windows.values()))
    order = np.argsort(days.max(axis=1), kind="stable")  # a chunk of short windows stops early
    paths = cfg.paths(len(world.pop.created))
    size = max(1, _CHUNK_ELEMENTS // paths)
    p = np.empty(days.shape)
    for lo in range(0, len(order), size):
        pick = order[lo : lo + size]
        rows = snaps.iloc[pick]
        traits = _life_traits(world, rows["life_idx"].to_numpy())
        p[pick] = churn_curve(rows, traits, paths, days[pick], rng, dyn)
    curve = dict(zip(windows, p.T, strict=True))
    life = world.lives["life"].to_numpy()[snaps["life_idx"].to_numpy()]
    return pd.DataFrame(
        {
            "account": snaps["account"],
            "life": life,
            "as_of": as_of,
            HEADLINE: curve[horizon_column(cfg.horizon_days)],
            **curve,
            NEXT_RENEWAL: renewal,
        }
    )


def realised_churn(world: World, window: int | np.ndarray) -> np.ndarray:
    """Whether each snapshot's life churned in [as_of, as_of + window) (what the labels measure).

    `window`: days, one for every snapshot or one each.
    """
    churn = world.lives["churn"].to_numpy()[world.snapshots["life_idx"].to_numpy()]
    as_of = world.snapshots["as_of"].to_numpy()
    return (churn != NO_DAY) & (churn < as_of + window)


def curve_check(world: World, risk: pd.DataFrame, cfg: WorldConfig) -> dict[str, dict]:
    """The truth's own calibration: mean true probability vs realised churn share per column.

    On the rows whose window closed inside the data, whose outcome the simulation knows.
    """
    as_of = risk["as_of"].to_numpy()
    check = {}
    for name, window in curve_windows(as_of, risk[NEXT_RENEWAL].to_numpy(), cfg).items():
        closed = as_of + window <= cfg.data_end + 1
        check[name] = {
            "rows": int(closed.sum()),
            "mean_p_churn": round(float(risk[name].to_numpy()[closed].mean()), 4),
            "churn_share": round(float(realised_churn(world, window)[closed].mean()), 4),
        }
    return check
