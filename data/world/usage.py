"""Product usage events, one Arrow table per chunk of accounts (bounded memory at any size)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from data.world.cells import Cells, office_seconds, scatter, utc_strings, weekly_cells
from data.world.config import NO_DAY, WorldConfig
from data.world.simulation import World

KEY_EVENTS = ("dashboard_share", "integration_sync", "workflow_run")
OTHER_EVENTS = ("login", "report_view", "export", "api_call")
EVENT_TYPES = np.array(OTHER_EVENTS + KEY_EVENTS)
_OTHER_P = np.array([0.45, 0.3, 0.12, 0.13])
_KEY_P = np.array([0.4, 0.35, 0.25])
_API_CALL = OTHER_EVENTS.index("api_call")
SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("occurred_at", pa.string()),
        ("event_type", pa.string()),
        ("user_id", pa.string()),
        ("quantity", pa.int64()),
    ]
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _events(world: World, cells: Cells, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Events of healthy accounts are regular, spread over users, rich in key use cases.

    Shocks leave faint traces: a budget cut takes licences away (fewer active users, about
    as many events), and the champion who leaves was the power user running the key use
    cases, so their share drops until a new champion takes over.
    """
    pop = world.pop
    seats = pop.seats[cells.account]
    # Unhealthy accounts skip whole weeks.
    used = rng.random(cells.h.shape[0]) < _sigmoid(2.0 + 2.2 * cells.h)
    rate = 9.5 * seats**0.7 * _sigmoid(1.0 + 1.5 * cells.h) * (1 - 0.08 * cells.budget) * used
    active = np.maximum(
        1,
        rng.binomial(
            seats,
            _sigmoid(0.3 + 1.2 * cells.h) * (1 - 0.3 * cells.budget) * (1 - 0.15 * cells.champion),
        ),
    )
    cell, day = scatter(cells, rate, rng)
    n = cell.shape[0]
    never = world.lives["never"].to_numpy()[cells.life_idx[cell]]
    power = np.where(never, 0.3, 1.0) * (1 - 0.6 * cells.champion[cell])
    key_share = np.clip(0.15 * np.exp(0.6 * cells.h[cell]) * power, 0.02, 0.6)
    is_key = rng.random(n) < key_share
    kind = np.where(
        is_key,
        len(OTHER_EVENTS) + rng.choice(len(KEY_EVENTS), n, p=_KEY_P),
        rng.choice(len(OTHER_EVENTS), n, p=_OTHER_P),
    )
    user = (rng.random(n) * active[cell]).astype(np.int64)
    quantity = np.where(kind == _API_CALL, 1 + rng.poisson(5, n), 1)
    account = cells.account[cell]
    return {
        "account": account,
        "seconds": office_seconds(day, pop.region[account], rng, spread=3.5),
        "kind": kind,
        "user": user,
        "quantity": quantity,
    }


def _stragglers(world: World, accounts: range, cfg: WorldConfig, rng: np.random.Generator):
    """A few syncs and logins a few days after a churn: the export is not cleaned for them."""
    lives = world.lives
    mine = (lives["account"] >= accounts.start) & (lives["account"] < accounts.stop)
    churned = lives[mine & (lives["churn"] != NO_DAY) & (lives["churn"] < cfg.data_end - 7)]
    late = churned[rng.random(len(churned)) < 0.3]
    count = rng.integers(1, 5, len(late))
    account = np.repeat(late["account"].to_numpy(), count)
    day = np.repeat(late["churn"].to_numpy(), count) + rng.integers(1, 7, account.shape[0])
    n = account.shape[0]
    return {
        "account": account,
        "seconds": office_seconds(day, world.pop.region[account], rng),
        "kind": rng.choice([0, 3, len(OTHER_EVENTS) + 1], n),
        "user": np.zeros(n, dtype=np.int64),
        "quantity": np.ones(n, dtype=np.int64),
    }


def usage_chunk(
    world: World, accounts: range, cfg: WorldConfig, rng: np.random.Generator
) -> pa.Table:
    """Usage rows of accounts in `accounts`, sorted by account and time, with a few duplicates."""
    cells = weekly_cells(world, cfg, slice(accounts.start, accounts.stop))
    parts = [_events(world, cells, rng), _stragglers(world, accounts, cfg, rng)]
    ev = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    # Exact duplicates: the same event delivered twice by the tracking pipeline.
    twice = np.flatnonzero(rng.random(ev["account"].shape[0]) < 0.0015)
    ev = {k: np.concatenate([v, v[twice]]) for k, v in ev.items()}
    order = np.lexsort((ev["seconds"], ev["account"]))
    ev = {k: v[order] for k, v in ev.items()}
    ids = world.pop.ids
    code = ev["account"] * 1000 + ev["user"]
    users, inverse = np.unique(code, return_inverse=True)
    user_ids = np.char.add(
        np.char.add(ids[users // 1000], "-u"), np.char.zfill((users % 1000).astype(str), 3)
    )
    return pa.table(
        {
            "account_id": pa.array(ids[ev["account"]]),
            "occurred_at": utc_strings(ev["seconds"]),
            "event_type": pa.array(EVENT_TYPES[ev["kind"]]),
            "user_id": pa.array(user_ids[inverse]),
            "quantity": pa.array(ev["quantity"]),
        },
        schema=SCHEMA,
    )
