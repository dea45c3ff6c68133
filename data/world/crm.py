"""Help-desk tickets, manager contacts and manual risk ratings, driven by hidden health."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.world.cells import Cells, local_strings, office_seconds, scatter
from data.world.config import WorldConfig
from data.world.simulation import World
from data.world.tables import to_dates

_PRIORITIES = np.array(["low", "normal", "high", "urgent"])
_CATEGORIES = np.array(["bug", "how_to", "billing", "integration", "access", "feature_request"])
_CHANNELS = np.array(["email", "chat", "call", "meeting", "qbr", "other"])
# Outbound channel mix by segment: low touch writes, high touch meets.
_CHANNEL_MIX = np.array(
    [
        [0.60, 0.22, 0.14, 0.00, 0.00, 0.04],
        [0.40, 0.08, 0.34, 0.14, 0.02, 0.02],
        [0.25, 0.03, 0.30, 0.28, 0.12, 0.02],
    ]
)
_RATED_AT = np.array([0.25, 0.1, 0.6, 0.85, 1.0, 0.2])  # chance a contact (re)sets the rating
_TICKET_RATE = np.array([0.07, 0.18, 0.4])  # per week at health 0, by segment
_CONTACT_RATE = np.array([0.035, 0.2, 0.5])  # outbound per week, by segment


def tickets_table(
    world: World, cells: Cells, cfg: WorldConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Support tickets: more, more urgent, slower and less liked as health falls."""
    pop = world.pop
    lives = world.lives
    onboarding = lives["onb_fail"].to_numpy()[cells.life_idx] & (cells.age < 13)
    rate = _TICKET_RATE[pop.segment[cells.account]] * np.exp(-0.6 * cells.h)
    rate = rate * (1 + 2.5 * onboarding) * (1 + 0.5 * cells.budget) * (1 + 6 * cells.friction)
    cell, day = scatter(cells, rate, rng)
    n = cell.shape[0]
    account, h, friction = cells.account[cell], cells.h[cell], cells.friction[cell]
    region = pop.region[account]
    opened = office_seconds(day, region, rng)
    severity = -0.7 * h + rng.normal(0, 1, n) + 0.8 * onboarding[cell] + 1.2 * friction
    priority = np.digitize(severity, [-0.5, 1.2, 2.4])
    billing = rng.random(n) < 0.5 * cells.budget[cell]
    category = np.where(billing, 2, rng.choice(6, n, p=[0.3, 0.3, 0.08, 0.14, 0.1, 0.08]))
    hours = np.exp(rng.normal(np.log(18) + 0.3 * priority - 0.35 * h + 0.8 * friction, 0.9))
    closed = opened + (hours * 3600).astype(np.int64)
    forgotten = rng.random(n) < 0.01  # never closed in the help desk
    is_open = forgotten | (closed >= (cfg.data_end + 1) * 86400)
    csat = np.clip(
        np.round(3.8 + 0.6 * h - 1.2 * friction - 0.3 * np.log(hours / 18) + rng.normal(0, 0.8, n)),
        1,
        5,
    )
    answered = ~is_open & (rng.random(n) < 0.65)
    naive = rng.random(n) < 0.05
    order = np.lexsort((account, opened))
    frame = pd.DataFrame(
        {
            "account_id": pop.ids[account],
            "opened_at": local_strings(opened, region, naive).to_numpy(zero_copy_only=False),
            "closed_at": local_strings(closed, region, naive).to_numpy(zero_copy_only=False),
            "priority": _PRIORITIES[priority],
            "category": _CATEGORIES[category],
            "csat": pd.array(np.where(answered, csat, np.nan), dtype="Int64"),
        }
    ).iloc[order]
    frame["closed_at"] = frame["closed_at"].mask(is_open[order])
    frame.insert(0, "ticket_id", [f"T-{i:07d}" for i in range(1, n + 1)])
    return frame.reset_index(drop=True)


def contacts_and_ratings(
    world: World, cells: Cells, cfg: WorldConfig, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manager contacts, and the ratings set at some of them from a noisy read of health."""
    pop, managers = world.pop, world.managers
    seg = pop.segment[cells.account]
    outbound_rate = _CONTACT_RATE[seg] * np.where(pop.neglected[cells.account], 0.12, 1.0)
    # Clients in trouble reach out themselves: complaints, a new contact, a budget warning.
    inbound_rate = 0.02 + 0.12 * np.maximum(0, -cells.h) + 0.35 * cells.budget
    inbound_rate = inbound_rate + 0.15 * cells.champion + 0.1 * cells.friction
    out_cell, out_day = scatter(cells, outbound_rate, rng)
    in_cell, in_day = scatter(cells, inbound_rate, rng)
    cell = np.concatenate([out_cell, in_cell])
    day = np.concatenate([out_day, in_day])
    inbound = np.repeat([False, True], [out_cell.shape[0], in_cell.shape[0]])
    n = cell.shape[0]
    account = cells.account[cell]
    csm = pop.csm[account]
    channel = (_CHANNEL_MIX[seg[cell]].cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    channel = np.where(inbound, rng.choice([0, 1, 2], n, p=[0.6, 0.2, 0.2]), channel)
    at = office_seconds(day, managers.region[csm], rng)
    naive = rng.random(n) < 0.05
    order = np.lexsort((account, at))
    no_csm = rng.random(n) < 0.03
    contacts = pd.DataFrame(
        {
            "account_id": pop.ids[account],
            "occurred_at": local_strings(at, managers.region[csm], naive).to_numpy(
                zero_copy_only=False
            ),
            "channel": _CHANNELS[channel],
            "direction": np.where(inbound, "inbound", "outbound"),
            "csm_id": np.where(no_csm, None, np.asarray(managers.ids, dtype=object)[csm]),
        }
    ).iloc[order]
    rated = rng.random(n) < _RATED_AT[channel]
    ratings = _ratings(world, cells, cell, at // 86400, rng).iloc[order][rated[order]]
    return contacts.reset_index(drop=True), ratings.reset_index(drop=True)


def _ratings(
    world: World,
    cells: Cells,
    cell: np.ndarray,
    day: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The manager's call at each contact: own bias and noise, shocks heard of or not."""
    pop, managers = world.pop, world.managers
    n = cell.shape[0]
    account = cells.account[cell]
    csm = pop.csm[account]
    h, champion, budget = cells.h[cell], cells.champion[cell], cells.budget[cell]
    escalated = 0.5 * cells.friction[cell]
    heard = rng.random(n) < 0.6  # the client mentions its budget cut
    perceived = h + managers.bias[csm] + managers.noise[csm] * rng.normal(0, 1, n)
    perceived = perceived - 1.2 * budget * heard - 0.6 * champion - escalated
    rating = 1 + np.digitize(perceived, [-0.9, -0.2, 0.6])
    talk = 0.4 * h - 1.3 * champion - 0.5 * pop.neglected[account] + rng.normal(0, 0.6, n)
    note = np.select(
        [(champion > 0.5) & heard, (budget > 0.5) & heard, rng.random(n) < 0.1],
        ["champion left, new contact", "budget under review", "renewal discussed"],
        "",
    )
    return pd.DataFrame(
        {
            "account_id": pop.ids[account],
            "rated_at": to_dates(day),
            "risk_rating": rating,
            "communication_level": 1 + np.digitize(talk, [-0.7, 0.2]),
            "csm_id": np.asarray(managers.ids)[csm],
            "note": pd.Series(note, dtype=object).where(note != ""),
        }
    )
