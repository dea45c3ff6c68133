"""Help-desk tickets, manager contacts and manual risk ratings, driven by hidden health."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.world.cells import Cells, local_strings, office_seconds, place, scatter
from data.world.config import WorldConfig
from data.world.simulation import World
from data.world.tables import to_dates

_PRIORITIES = np.array(["low", "normal", "high", "urgent"])
_CATEGORIES = np.array(["bug", "how_to", "billing", "integration", "access", "feature_request"])
_CHANNELS = np.array(["email", "chat", "call", "meeting", "qbr", "other"])
# Channel mix [kind, segment] of the contacts the dynamics draw (how many of each kind is
# theirs): outbound conversations (low touch calls, high touch meets), other outbound,
# inbound that is not a call, inbound call.
_MIX = np.array(
    [
        [[0, 0, 1.0, 0, 0, 0], [0, 0, 0.68, 0.28, 0.04, 0], [0, 0, 0.43, 0.4, 0.17, 0]],
        [[0.7, 0.25, 0, 0, 0, 0.05], [0.8, 0.16, 0, 0, 0, 0.04], [0.83, 0.1, 0, 0, 0, 0.07]],
        [[0.75, 0.25, 0, 0, 0, 0]] * 3,
        [[0, 0, 1.0, 0, 0, 0]] * 3,
    ]
)
_RATED_AT = np.array([0.25, 0.1, 0.6, 0.85, 1.0, 0.2])  # chance a contact (re)sets the rating
_TICKET_RATE = np.array([0.1, 0.2, 0.4])  # per week at health 0, by segment


def tickets_table(
    world: World, cells: Cells, cfg: WorldConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Support tickets: more, more urgent, slower and less liked as health falls."""
    pop = world.pop
    lives = world.lives
    onboarding = lives["onb_fail"].to_numpy()[cells.life_idx] & (cells.age < 13)
    rate = _TICKET_RATE[pop.segment[cells.account]] * np.exp(-0.3 * cells.h)
    # A budget cut brings billing questions (downgrades, invoices) to the help desk.
    rate = rate * (1 + 2.5 * onboarding) * (1 + 1.5 * cells.budget) * (1 + 8 * cells.friction)
    cell, day = scatter(cells, rate, rng)
    n = cell.shape[0]
    account, h, friction = cells.account[cell], cells.h[cell], cells.friction[cell]
    region = pop.region[account]
    opened = office_seconds(day, region, rng)
    severity = -0.7 * h + rng.normal(0, 1, n) + 0.8 * onboarding[cell] + 1.6 * friction
    priority = np.digitize(severity, [-0.5, 1.2, 2.4])
    billing = rng.random(n) < 0.6 * cells.budget[cell]
    category = np.where(billing, 2, rng.choice(6, n, p=[0.3, 0.3, 0.08, 0.14, 0.1, 0.08]))
    hours = np.exp(rng.normal(np.log(18) + 0.3 * priority - 0.35 * h + 1.1 * friction, 0.9))
    closed = opened + (hours * 3600).astype(np.int64)
    forgotten = rng.random(n) < 0.01  # never closed in the help desk
    is_open = forgotten | (closed >= (cfg.data_end + 1) * 86400)
    csat = np.clip(
        np.round(3.8 + 0.3 * h - 1.6 * friction - 0.3 * np.log(hours / 18) + rng.normal(0, 0.8, n)),
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
            "_opened": opened,  # UTC seconds, for an export written earlier (not written)
            "_closed": closed,
        }
    ).iloc[order]
    frame["closed_at"] = frame["closed_at"].mask(is_open[order])
    frame.insert(0, "ticket_id", [f"T-{i:07d}" for i in range(1, n + 1)])
    return frame.reset_index(drop=True)


def contacts_and_ratings(
    world: World, cells: Cells, cfg: WorldConfig, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contacts the simulation drew (they acted on the state), and ratings set at some.

    Each drawn contact is placed on a day of its week and given a channel of its kind.
    """
    pop, managers = world.pop, world.managers
    seg = pop.segment[cells.account]
    kinds = (cells.talk, cells.other, cells.inbound - cells.inbound_talk, cells.inbound_talk)
    placed = [place(cells, count, rng) for count in kinds]
    cell = np.concatenate([c for c, _ in placed])
    day = np.concatenate([d for _, d in placed])
    kind = np.repeat(np.arange(4), [c.shape[0] for c, _ in placed])
    inbound = kind >= 2
    n = cell.shape[0]
    account = cells.account[cell]
    csm = pop.csm[account]
    channel = np.minimum((_MIX[kind, seg[cell]].cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), 5)
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
            "_at": at,  # UTC seconds, for an export written earlier (not written)
        }
    ).iloc[order]
    talked = np.isin(channel, [2, 3, 4])
    ratings, alarmed = _ratings(world, cells, cell, talked, at // 86400, rng)
    # A manager who just heard bad news re-rates the account, whatever the channel.
    rated = alarmed | (rng.random(n) < _RATED_AT[channel])
    ratings = ratings.iloc[order][rated[order]]
    return contacts.reset_index(drop=True), ratings.reset_index(drop=True)


def _ratings(
    world: World,
    cells: Cells,
    cell: np.ndarray,
    talked: np.ndarray,
    day: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The manager's call at each contact, and whether the client told of a fresh shock.

    Budget cuts and a champion leaving barely show in the product data; the client tells
    its manager, mostly in a conversation, so a fresh rating knows what usage does not.
    """
    pop, managers, dyn = world.pop, world.managers, world.dyn
    n = cell.shape[0]
    account = cells.account[cell]
    csm = pop.csm[account]
    h, champion, budget = cells.h[cell], cells.champion[cell], cells.budget[cell]
    escalated = 0.3 * cells.friction[cell]  # support trouble mostly stays with support
    heard = rng.random(n) < np.where(talked, 0.95, 0.5)
    # Managers see the product data only now and then: health weighs less than what they hear.
    perceived = 0.55 * h + managers.bias[csm] + managers.noise[csm] * rng.normal(0, 1, n)
    # A shock the client tells of weighs, in health units, what it weighs at the renewal.
    told = dyn.budget_weight * budget + dyn.champion_weight * champion
    perceived = perceived - told / dyn.health_weight * heard - escalated
    rating = 1 + np.digitize(perceived, [-0.9, -0.2, 0.6])
    quiet = np.minimum(cells.quiet[cell], 26) / 26
    talk = 0.2 * h - 1.3 * champion - 0.8 * quiet + rng.normal(0, 0.6, n)
    note = np.select(
        [(champion > 0.5) & heard, (budget > 0.5) & heard, rng.random(n) < 0.1],
        ["champion left, new contact", "budget under review", "renewal discussed"],
        "",
    )
    frame = pd.DataFrame(
        {
            "account_id": pop.ids[account],
            "rated_at": to_dates(day),
            "risk_rating": rating,
            "communication_level": 1 + np.digitize(talk, [-0.7, 0.2]),
            "csm_id": np.asarray(managers.ids)[csm],
            "note": pd.Series(note, dtype=object).where(note != ""),
        }
    )
    return frame, heard & (budget + champion > 0.3)
