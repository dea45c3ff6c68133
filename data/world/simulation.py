"""The weekly simulation of every account's hidden health, contacts, renewals and churns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.world.config import CAUSES, NO_DAY, Dynamics, WorldConfig
from data.world.dynamics import (
    Health,
    Touches,
    Traits,
    lapse_gap,
    leave_probability,
    period_end,
    step,
)
from data.world.population import Managers, Population, contract_months

MON0 = -2  # day number of 2024-04-29, the Monday of the week holding day 0


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
    periods: pd.DataFrame  # one row per paid billing period
    snapshots: pd.DataFrame  # one row per (life, Monday) active on that Monday


class _Book:
    """Mutable per-account state of the running simulation (private to `simulate`)."""

    def __init__(self, pop: Population, cfg: WorldConfig, dyn: Dynamics) -> None:
        n = len(pop.created)
        self.pop, self.cfg, self.dyn = pop, cfg, dyn
        self.status = np.zeros(n, dtype=np.int8)  # 0 not yet a client, 1 in a life, 2 away, 3 gone
        self.next_start = pop.created.astype(np.int64)
        self.life = np.full(n, -1, dtype=np.int64)
        self.number = np.zeros(n, dtype=np.int64)
        self.life_start = np.zeros(n, dtype=np.int64)
        self.end = np.zeros(n, dtype=np.int64)  # last paid day of the current or next period
        self.mrr = pop.mrr.astype(np.float64)
        self.months = pop.months.copy()
        self.mu, self.never, self.onb = pop.mu.copy(), pop.never.copy(), pop.onb_fail.copy()
        self.state = Health(*(np.zeros(n) for _ in Health.__dataclass_fields__))
        self.lives: list[pd.DataFrame] = []
        self.periods: list[pd.DataFrame] = []
        self.churn = np.full(2 * n, NO_DAY, dtype=np.int64)
        self.cause = np.full(2 * n, -1, dtype=np.int64)
        self.n_lives = 0

    def traits(self, idx: np.ndarray) -> Traits:
        """Traits of the current lives of accounts `idx`."""
        seg = self.pop.segment[idx]
        neglected = self.pop.neglected[idx]
        return Traits(
            self.mu[idx], self.never[idx], self.onb[idx], self.months[idx], seg, neglected
        )

    def _record_period(self, idx: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        self.periods.append(
            pd.DataFrame(
                {
                    "account": idx,
                    "life": self.life[idx],
                    "start": start,
                    "end": end,
                    "mrr": self.mrr[idx],
                    "months": self.months[idx],
                }
            )
        )

    def _open(self, idx: np.ndarray, start: np.ndarray) -> None:
        """Begin a life for accounts `idx` on days `start`."""
        lives = self.n_lives + np.arange(idx.shape[0])
        self.n_lives += idx.shape[0]
        if self.n_lives > self.churn.shape[0]:  # more restarts than room: grow
            more = self.n_lives + self.churn.shape[0]
            self.churn = np.concatenate([self.churn, np.full(more, NO_DAY)])
            self.cause = np.concatenate([self.cause, np.full(more, -1)])
        self.life[idx], self.life_start[idx], self.status[idx] = lives, start, 1
        self.number[idx] += 1
        self.lives.append(
            pd.DataFrame(
                {
                    "account": idx,
                    "life": self.number[idx],
                    "start": start,
                    "mu": self.mu[idx],
                    "never": self.never[idx],
                    "onb_fail": self.onb[idx],
                    "months": self.months[idx],
                }
            )
        )

    def open_preexisting(self, rng: np.random.Generator) -> None:
        """Accounts that are already clients on day 0, with their billing history."""
        idx = np.flatnonzero(self.pop.created < 0)
        self._open(idx, self.pop.created[idx])
        start = self.pop.created[idx].astype(np.int64)
        end = period_end(start, self.months[idx])
        todo = np.ones(idx.shape[0], dtype=bool)
        while todo.any():
            self._record_period(idx[todo], start[todo], end[todo])
            todo = end < MON0
            start = np.where(todo, end + 1, start)
            end = np.where(todo, period_end(start, self.months[idx]), end)
        self.end[idx] = end
        n = idx.shape[0]
        h = self.mu[idx] + rng.normal(0, 0.5, n)
        champion = np.where(rng.random(n) < 0.08, rng.random(n), 0.0)
        budget = np.where(rng.random(n) < 0.04, rng.random(n), 0.0)
        # Weeks since the last conversation: a waiting time at the account's conversation rate.
        seg, dyn = self.pop.segment[idx], self.dyn
        talk = np.asarray(dyn.contact_rate)[seg] * np.asarray(dyn.talk_share)[seg]
        talk = talk * np.where(self.pop.neglected[idx], dyn.neglected_contact, 1.0)
        talk = talk + dyn.inbound_base * dyn.inbound_call_share
        quiet = np.minimum(rng.geometric(1.0 - np.exp(-talk)) - 1, 104).astype(np.float64)
        self._put(idx, Health(h, champion, budget, np.zeros(n), quiet))

    def _put(self, idx: np.ndarray, state: Health) -> None:
        for name in Health.__dataclass_fields__:
            getattr(self.state, name)[idx] = getattr(state, name)

    def open_due(self, monday: int, rng: np.random.Generator) -> None:
        """Start the lives (sign-ups and restarts) that begin during this week."""
        idx = np.flatnonzero(
            ((self.status == 0) | (self.status == 2)) & (self.next_start < monday + 7)
        )
        if idx.size == 0:
            return
        n = idx.shape[0]
        back = self.status[idx] == 2
        # A returning client knows the product now; its contract and price are renegotiated.
        fresh = rng.normal(0.3, 0.7, n)
        self.mu[idx] = np.where(back, 0.5 * self.mu[idx] + 0.5 * fresh + 0.2, self.mu[idx])
        self.never[idx] &= ~back
        self.onb[idx] = np.where(back, rng.random(n) < 0.08, self.onb[idx])
        seg = self.pop.segment[idx]
        self.months[idx] = np.where(back, contract_months(seg, self.cfg, rng), self.months[idx])
        self.mrr[idx] = np.where(
            back, np.round(self.mrr[idx] * rng.lognormal(0, 0.2, n), -1).clip(50), self.mrr[idx]
        )
        start = self.next_start[idx]
        self._open(idx, start)
        self.end[idx] = period_end(start, self.months[idx])
        self._record_period(idx, start, self.end[idx])
        zero = np.zeros(n)  # quiet 0: the kick-off call
        self._put(idx, Health(self.mu[idx] - 0.2 + rng.normal(0, 0.3, n), zero, zero, zero, zero))

    def decide(self, monday: int, rng: np.random.Generator) -> None:
        """Renewal decisions for the periods whose last paid day falls in this week."""
        idx = np.flatnonzero((self.status == 1) & (self.end < monday + 7))
        if idx.size == 0:
            return
        n = idx.shape[0]
        age = (monday - self.life_start[idx]) // 7
        state = self.state.take(idx)
        traits = self.traits(idx)
        leave = rng.random(n) < leave_probability(state, traits, age, self.dyn)
        self._churn(idx[leave], age[leave], rng)
        stay = idx[~leave]
        gap = lapse_gap(self.months[stay], rng, self.dyn)
        h, budget = self.state.h[stay], self.state.budget[stay]
        # Annual renewals renegotiate the price: healthy clients expand, cut budgets shrink.
        drift = rng.normal(0.03 + 0.04 * h - 0.15 * budget, 0.05)
        monthly_change = rng.random(stay.shape[0]) < 0.03
        factor = np.where(
            self.months[stay] == 12, np.exp(drift), np.where(monthly_change, np.exp(3 * drift), 1)
        )
        self.mrr[stay] = np.round(self.mrr[stay] * factor, -1).clip(50)
        start = self.end[stay] + 1 + gap
        self.end[stay] = period_end(start, self.months[stay])
        self._record_period(stay, start, self.end[stay])

    def _churn(self, idx: np.ndarray, age: np.ndarray, rng: np.random.Generator) -> None:
        life = self.life[idx]
        self.churn[life] = self.end[idx]
        state = self.state.take(idx)
        cause = np.select(
            [
                self.onb[idx] & (age < 26),
                state.budget > 0.4,
                state.champion > 0.4,
                self.never[idx],
                state.friction > 0.4,
                state.h < -0.3,
            ],
            [0, 1, 2, 3, 4, 5],
            6,
        )
        self.cause[life] = cause
        share = np.where(cause == CAUSES.index("budget_cut"), 2.0, 1.0) * self.cfg.restart_share
        back = rng.random(idx.shape[0]) < share
        self.status[idx] = np.where(back, 2, 3)
        self.next_start[idx] = (
            self.end[idx] + 1 + rng.integers(*self.cfg.restart_days, idx.shape[0])
        )

    def advance(self, monday: int, rng: np.random.Generator) -> tuple[np.ndarray, Touches]:
        """One week of hidden dynamics and contacts for every account in a life."""
        idx = np.flatnonzero(self.status == 1)
        age = (monday - self.life_start[idx]) // 7
        state, week = step(self.state.take(idx), self.traits(idx), age, rng, self.dyn)
        self._put(idx, state)
        return idx, week

    def snapshot(self, monday: int) -> pd.DataFrame:
        """The state of every life active on this Monday (what the truth re-simulates from)."""
        idx = np.flatnonzero((self.status == 1) & (self.life_start <= monday))
        return pd.DataFrame(
            {
                "account": idx,
                "life_idx": self.life[idx],
                "as_of": monday,
                "age": (monday - self.life_start[idx]) // 7,
                **{name: getattr(self.state, name)[idx] for name in Health.__dataclass_fields__},
                "end": self.end[idx],
            }
        )


def simulate(
    pop: Population, managers: Managers, cfg: WorldConfig, dyn: Dynamics, rng: np.random.Generator
) -> World:
    """Run the book week by week, past the export by one horizon so every label is known."""
    book = _Book(pop, cfg, dyn)
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
        book.decide(monday, rng)
        idx, week = book.advance(monday, rng)
        if t < n_data:
            for name, counts in touches.items():
                counts[t, idx] = np.minimum(getattr(week, name), 127)
    lives = pd.concat(book.lives, ignore_index=True)
    lives["churn"] = book.churn[: len(lives)]
    lives["cause"] = book.cause[: len(lives)]
    return World(
        pop=pop,
        managers=managers,
        dyn=dyn,
        weeks=MON0 + 7 * np.arange(n_data),
        hidden=hidden,
        touches=touches,
        life_of=life_of,
        lives=lives,
        periods=pd.concat(book.periods, ignore_index=True),
        snapshots=pd.concat(snapshots, ignore_index=True),
    )
