"""The book of accounts while the simulation runs: lives, billing periods, renewals, churns.

Each week the simulation opens the lives due, then lets clients end contracts early, change
plans mid-period and decide at renewal, in that order (the truth re-simulates the same order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.world.config import CAUSES, NO_DAY, Dynamics, WorldConfig
from data.world.dynamics import (
    Health,
    Touches,
    Traits,
    early_end,
    lapse_gap,
    leave_probability,
    period_end,
    plan_change,
    step,
)
from data.world.population import Population, contract_months

MON0 = -2  # day number of 2024-04-29, the Monday of the week holding day 0


class Book:
    """Mutable per-account state of the running simulation: lives, billing periods, churns."""

    def __init__(self, pop: Population, cfg: WorldConfig, dyn: Dynamics) -> None:
        n = len(pop.created)
        self.pop, self.cfg, self.dyn = pop, cfg, dyn
        self.status = np.zeros(n, dtype=np.int8)  # 0 not yet a client, 1 in a life, 2 away, 3 gone
        self.next_start = pop.created.astype(np.int64)
        self.life = np.full(n, -1, dtype=np.int64)
        self.number = np.zeros(n, dtype=np.int64)
        self.life_start = np.zeros(n, dtype=np.int64)
        self.start = np.zeros(n, dtype=np.int64)  # first day of the current or next period
        self.end = np.zeros(n, dtype=np.int64)  # its last paid day, as billed
        self.mrr = pop.mrr.astype(np.float64)
        self.tier = pop.segment.copy()  # plan tier: starter, team, enterprise
        self.months = pop.months.copy()
        self.mu, self.never, self.onb = pop.mu.copy(), pop.never.copy(), pop.onb_fail.copy()
        self.state = Health(*(np.zeros(n) for _ in Health.__dataclass_fields__))
        self.lives: list[pd.DataFrame] = []
        self.periods: list[pd.DataFrame] = []
        self.rewrites: list[pd.DataFrame] = []  # (account, start) of a period -> its new end
        self.churn = np.full(2 * n, NO_DAY, dtype=np.int64)
        self.cause = np.full(2 * n, -1, dtype=np.int64)
        self.early = np.zeros(2 * n, dtype=bool)
        self.n_lives = 0

    def traits(self, idx: np.ndarray) -> Traits:
        """Traits of the current lives of accounts `idx`."""
        seg = self.pop.segment[idx]
        neglected = self.pop.neglected[idx]
        return Traits(
            self.mu[idx], self.never[idx], self.onb[idx], self.months[idx], seg, neglected
        )

    def _record_period(self, idx: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        self.start[idx], self.end[idx] = start, end
        self.periods.append(
            pd.DataFrame(
                {
                    "account": idx,
                    "life": self.life[idx],
                    "start": start,
                    "billed_end": end,
                    "mrr": self.mrr[idx],
                    "months": self.months[idx],
                    "tier": self.tier[idx],
                }
            )
        )

    def _rewrite(self, idx: np.ndarray, end: np.ndarray, on: np.ndarray) -> None:
        """The billing system rewrites the current period's end to `end` on day `on`."""
        frame = {"account": idx, "start": self.start[idx], "end": end, "rewritten": on}
        self.rewrites.append(pd.DataFrame(frame))
        self.end[idx] = end

    def _open(self, idx: np.ndarray, start: np.ndarray) -> None:
        """Begin a life for accounts `idx` on days `start`."""
        lives = self.n_lives + np.arange(idx.shape[0])
        self.n_lives += idx.shape[0]
        if self.n_lives > self.churn.shape[0]:  # more restarts than room: grow
            more = self.n_lives + self.churn.shape[0]
            self.churn = np.concatenate([self.churn, np.full(more, NO_DAY)])
            self.cause = np.concatenate([self.cause, np.full(more, -1)])
            self.early = np.concatenate([self.early, np.zeros(more, dtype=bool)])
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
        self._record_period(idx, start, period_end(start, self.months[idx]))
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
        leave = rng.random(n) < leave_probability(state, traits, age, self.dyn, monday)
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
        self._record_period(stay, start, period_end(start, self.months[stay]))

    def end_early(self, monday: int, rng: np.random.Generator) -> None:
        """Contracts the client ends this week before their billed end: churns on that day."""
        idx = np.flatnonzero(self.status == 1)
        state = self.state.take(idx)
        day = early_end(state, self.start[idx], self.end[idx], monday, rng, self.dyn)
        ended = day != NO_DAY
        idx, day = idx[ended], day[ended]
        self._rewrite(idx, day, day)
        self.early[self.life[idx]] = True
        self._churn(idx, (monday - self.life_start[idx]) // 7, rng)

    def change_plans(self, monday: int, rng: np.random.Generator) -> None:
        """Upgrades and downgrades this week: the old period ends the day before the new one."""
        idx = np.flatnonzero(self.status == 1)
        state = self.state.take(idx)
        day, way = plan_change(state, self.start[idx], self.end[idx], monday, rng, self.dyn)
        moved = day != NO_DAY
        idx, day, way = idx[moved], day[moved], way[moved]
        self._rewrite(idx, day - 1, day)
        self.tier[idx] = np.clip(self.tier[idx] + way, 0, 2)
        (up_mean, up_sd), (down_mean, down_sd) = self.dyn.upgrade_mrr, self.dyn.downgrade_mrr
        up = way > 0
        factor = np.exp(rng.normal(np.where(up, up_mean, down_mean), np.where(up, up_sd, down_sd)))
        self.mrr[idx] = np.round(self.mrr[idx] * factor, -1).clip(50)
        self._record_period(idx, day, period_end(day, self.months[idx]))

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
                "start": self.start[idx],
                "end": self.end[idx],
            }
        )

    def billing_periods(self) -> pd.DataFrame:
        """Every period with its billed end, its actual end, and the day it was rewritten."""
        periods = pd.concat(self.periods, ignore_index=True)
        rewrites = pd.concat(self.rewrites, ignore_index=True)
        periods = periods.merge(rewrites, on=["account", "start"], how="left", validate="1:1")
        kept = periods["rewritten"].isna().to_numpy()
        rewritten = periods["rewritten"].fillna(0).astype(np.int64)
        periods["end"] = np.where(kept, periods["billed_end"], periods["end"].fillna(0))
        periods["end"] = periods["end"].astype(np.int64)
        periods["rewritten"] = np.where(kept, NO_DAY, rewritten)
        return periods
