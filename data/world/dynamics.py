"""The hidden-state dynamics: one weekly step, the renewal, early ends and plan changes.

The main simulation and the truth re-simulation both call these functions, so the true
probability is computed from exactly the process that produced the data, contacts, early
ends and mid-period plan changes included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.world.config import DAY0, NO_DAY, Dynamics

Day = np.ndarray | int  # day numbers: one per entry, or one for all


@dataclass(frozen=True)
class Traits:
    """Fixed traits of a life (arrays of one length)."""

    mu: np.ndarray  # long-run health
    never: np.ndarray  # bool: never understood the product's value
    onb_fail: np.ndarray  # bool: onboarding fails in the first 90 days
    months: np.ndarray  # contract length: 1 (monthly) or 12 (annual)
    segment: np.ndarray  # 0 low, 1 middle, 2 high touch
    neglected: np.ndarray  # bool: the manager rarely reaches out, whatever the segment

    def take(self, index: np.ndarray) -> Traits:
        """The traits of the lives at `index`."""
        return Traits(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class Health:
    """The moving hidden state: health, three shocks that fade (each 0..1), and neglect.

    Support friction (a stretch of bugs and slow answers) barely moves usage, since clients
    still have to work, but it angers them at renewal: tickets are where it shows. A budget
    cut barely moves usage either (the seats are paid for); the client tells its manager.
    `quiet` counts the weeks since the last real conversation with the manager.
    """

    h: np.ndarray
    champion: np.ndarray
    budget: np.ndarray
    friction: np.ndarray
    quiet: np.ndarray

    def take(self, index: np.ndarray) -> Health:
        """The state of the entries at `index`."""
        return Health(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class Touches:
    """One week's contacts per entry: outbound conversations, other outbound, inbound.

    `inbound_talk` is the part of `inbound` that is a call (a conversation too).
    """

    talk: np.ndarray
    other: np.ndarray
    inbound: np.ndarray
    inbound_talk: np.ndarray


def add_months(day: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Day numbers `months` calendar months after `day`, clipped to the month's end."""
    date = DAY0 + np.asarray(day, dtype=np.int64)
    month = date.astype("datetime64[M]")
    offset = (date - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]") + np.minimum(offset, length - 1)
    return (out - DAY0).astype(np.int64)


def period_end(start: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Last paid day of a billing period that starts on `start`."""
    return add_months(start, months) - 1


def _target(state: Health, traits: Traits, age: np.ndarray, dyn: Dynamics) -> np.ndarray:
    onboarding = traits.onb_fail & (age < dyn.onboarding_weeks)
    # Clients who never saw the value slide slowly for up to two years.
    drift = np.where(traits.never, np.clip(age, 0, 104) * dyn.never_drift, 0.0)
    return (
        traits.mu
        - dyn.champion_drop * state.champion
        - dyn.budget_drop * state.budget
        - dyn.onboarding_drop * onboarding
        - dyn.friction_drop * state.friction
        - drift
    )


def touches(state: Health, traits: Traits, rng: np.random.Generator, dyn: Dynamics) -> Touches:
    """This week's contacts: the manager's by segment and care, the client's when in trouble."""
    outbound = np.asarray(dyn.contact_rate)[traits.segment]
    outbound = outbound * np.where(traits.neglected, dyn.neglected_contact, 1.0)
    talk_share = np.asarray(dyn.talk_share)[traits.segment]
    inbound = (
        dyn.inbound_base
        + dyn.inbound_health * np.maximum(0.0, -state.h)
        + dyn.inbound_budget * state.budget
        + dyn.inbound_champion * state.champion
    )
    count = rng.poisson(np.stack([outbound * talk_share, outbound * (1 - talk_share), inbound]))
    return Touches(count[0], count[1], count[2], rng.binomial(count[2], dyn.inbound_call_share))


def step(
    state: Health, traits: Traits, age: np.ndarray, rng: np.random.Generator, dyn: Dynamics
) -> tuple[Health, Touches]:
    """Advance the hidden state one week (age = whole weeks since the life started).

    A conversation with the manager this week helps the client through a shock (a new
    champion is found sooner, a cut budget is defended) and lifts health a little.
    """
    n = state.h.shape[0]
    week = touches(state, traits, rng, dyn)
    talked = (week.talk + week.inbound_talk) > 0
    shock = rng.random((3, n))
    eps = rng.standard_normal(n)
    champion = state.champion * np.where(talked, dyn.talk_champion, 1.0)
    budget = state.budget * np.where(talked, dyn.talk_budget, 1.0)
    champion = np.where(shock[0] < dyn.champion_rate, 1.0, champion * dyn.champion_decay)
    budget = np.where(shock[1] < dyn.budget_rate, 1.0, budget * dyn.budget_decay)
    friction = np.where(shock[2] < dyn.friction_rate, 1.0, state.friction * dyn.friction_decay)
    quiet = np.where(talked, 0.0, state.quiet + 1.0)
    moved = Health(state.h, champion, budget, friction, quiet)
    h = state.h + dyn.kappa * (_target(moved, traits, age, dyn) - state.h) + dyn.sigma * eps
    return Health(h + dyn.talk_lift * talked, champion, budget, friction, quiet), week


def neglect(quiet: np.ndarray, dyn: Dynamics) -> np.ndarray:
    """0..1: how far an account has gone without a conversation (no one defends the renewal)."""
    lo, hi = dyn.neglect_weeks
    return np.clip((quiet - lo) / (hi - lo), 0.0, 1.0)


def leave_probability(
    state: Health, traits: Traits, age: np.ndarray, dyn: Dynamics, day: Day | None = None
) -> np.ndarray:
    """Probability that a life decides to leave at a renewal in the week of `day`, given its state.

    From the dynamics' churn-shift day on, the probability is multiplied by its factor.
    """
    base = np.where(traits.months == 12, dyn.annual_logit, dyn.monthly_logit)
    z = (
        base
        + np.asarray(dyn.segment_logit)[traits.segment]
        - dyn.health_weight * state.h
        + dyn.champion_weight * state.champion
        + dyn.budget_weight * state.budget
        + dyn.neglect_weight * neglect(state.quiet, dyn)
        + dyn.friction_weight * state.friction
        + dyn.onboarding_weight * (traits.onb_fail & (age < 2 * dyn.onboarding_weeks))
    )
    p = 1.0 / (1.0 + np.exp(-z))
    return p if day is None else np.minimum(p * dyn.churn_factor(day), 1.0)


def lapse_gap(months: np.ndarray, rng: np.random.Generator, dyn: Dynamics) -> np.ndarray:
    """Days of a late payment after a renewal (0 = paid on time; always below the grace gap)."""
    n = months.shape[0]
    chance = np.where(months == 12, dyn.lapse_annual, dyn.lapse_monthly)
    late = rng.random(n) < chance
    return np.where(late, rng.integers(dyn.lapse_days[0], dyn.lapse_days[1] + 1, n), 0)


# The truth calls the functions below on every re-simulated path every week: they work in
# place on one new array where they can.


def _sigmoid(intercept: float, slope: float, x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-(intercept + slope * x)))."""
    z = x * -slope
    z -= intercept
    np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=z)


def _days(first: Day, last: Day) -> np.ndarray:
    """Number of days in [first, last] (0 when empty)."""
    days = np.asarray(last) - first
    days += 1
    return np.maximum(days, 0, out=days)


def early_end_chance(
    state: Health, start: np.ndarray, end: np.ndarray, first: Day, last: Day, dyn: Dynamics
) -> np.ndarray:
    """P(the client ends the period [start, end] early on a day of [first, last]).

    [first, last] lies inside one week; the week's hazard (a fresh budget cut, very low
    health) is spread evenly over its seven days, and only paid days before the billed end
    `end` count (ending on `end` itself is a renewal decision, not an early end).
    """
    z = np.maximum(dyn.early_health_floor - state.h, 0.0)
    z *= -dyn.early_health_weight
    z -= dyn.early_logit
    z -= dyn.early_budget_weight * state.budget
    np.exp(z, out=z)
    z += 1.0
    z *= 7.0
    days = _days(np.maximum(first, start), np.minimum(last, end - 1))
    chance = days / z  # the week's chance, sigmoid(log-odds), spread over its days
    if dyn.churn_shift_factor == 1.0:
        return chance
    return np.minimum(chance * dyn.churn_factor(first), 1.0)


def early_end(
    state: Health,
    start: np.ndarray,
    end: np.ndarray,
    monday: Day,
    rng: np.random.Generator,
    dyn: Dynamics,
) -> np.ndarray:
    """The day each period is ended early during the week of `monday` (NO_DAY: it is not)."""
    chance = early_end_chance(state, start, end, monday, monday + 6, dyn)
    hit = np.flatnonzero(rng.random(start.shape[0]) < chance)
    first = np.maximum(monday, start)[hit]
    days = _days(first, np.minimum(monday + 6, end[hit] - 1))
    day = np.full(start.shape[0], NO_DAY)
    day[hit] = first + (rng.random(hit.shape[0]) * days).astype(np.int64)
    return day


def plan_change(
    state: Health,
    start: np.ndarray,
    end: np.ndarray,
    monday: Day,
    rng: np.random.Generator,
    dyn: Dynamics,
) -> tuple[np.ndarray, np.ndarray]:
    """Mid-period plan changes during the week of `monday`: (day, way).

    `day` is the first day of the new plan (NO_DAY: no change), after the period's first day
    and at the latest on its billed end; `way` is +1 for an upgrade (healthy clients),
    -1 for a downgrade (a fresh budget cut), 0 for none. The new plan starts a fresh
    billing period on `day`, so the renewal moves: the truth re-simulates these too.
    """
    n = start.shape[0]
    first = np.maximum(monday, start + 1)
    days = _days(first, np.minimum(monday + 6, end))
    up = _sigmoid(dyn.upgrade_logit, dyn.upgrade_health, state.h)
    up *= days
    down = _sigmoid(dyn.downgrade_logit, dyn.downgrade_budget, state.budget)
    down *= days
    down += up
    u = 7.0 * rng.random(start.shape)  # against a weekly chance times the days it applies on
    hit = np.flatnonzero(u < down)  # few: the rest is left as it is
    day, way = np.full(n, NO_DAY), np.zeros(n, dtype=np.int64)
    day[hit] = first[hit] + (rng.random(hit.shape[0]) * days[hit]).astype(np.int64)
    way[hit] = np.where(u[hit] < up[hit], 1, -1)
    return day, way
