"""The accounts and account managers of the demo world: who they are, before anything happens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.world.config import INDUSTRIES, REGIONS, WorldConfig


@dataclass(frozen=True)
class Managers:
    """Account managers: the segment they serve, their optimism bias and their noise."""

    segment: np.ndarray
    bias: np.ndarray  # added to perceived health: > 0 is optimistic
    noise: np.ndarray  # sd of their misreading of health at a contact
    region: np.ndarray  # their time zone family (contacts are logged in local time)

    @property
    def ids(self) -> list[str]:
        """Their csm_id values."""
        return [f"csm_{m + 1:02d}" for m in range(len(self.segment))]


@dataclass(frozen=True)
class Population:
    """One entry per account, ordered by sign-up date (account ids follow that order)."""

    created: np.ndarray  # day number of sign-up (negative: before the data starts)
    segment: np.ndarray  # 0 low, 1 middle, 2 high touch (by MRR)
    mrr: np.ndarray
    months: np.ndarray  # 1 monthly or 12 annual contract
    seats: np.ndarray  # licensed users
    csm: np.ndarray  # index into Managers
    neglected: np.ndarray  # rarely contacted whatever the segment
    region: np.ndarray
    industry: np.ndarray
    mu: np.ndarray  # long-run health of the first life
    never: np.ndarray  # never understands the product's value
    onb_fail: np.ndarray  # first onboarding fails

    @property
    def ids(self) -> np.ndarray:
        """Their account_id values."""
        return np.char.add(
            "ACC-", np.char.zfill(np.arange(1, len(self.created) + 1).astype(str), 5)
        )


def draw_managers(n_accounts: int, rng: np.random.Generator) -> Managers:
    """Between 8 and 15 managers, each serving one segment."""
    n = int(np.clip(round(4 + n_accounts / 400), 8, 15))
    return Managers(
        segment=np.arange(n) % 3,
        bias=rng.normal(0.35, 0.35, n),
        noise=rng.uniform(0.2, 0.6, n),
        region=rng.choice(len(REGIONS), n, p=[0.5, 0.35, 0.15]),
    )


def contract_months(segment: np.ndarray, cfg: WorldConfig, rng: np.random.Generator) -> np.ndarray:
    """Monthly or annual contracts; larger clients sign annual contracts more often."""
    annual = rng.random(segment.shape[0]) < np.asarray(cfg.annual_share)[segment]
    return np.where(annual, 12, 1)


def draw_population(
    n: int, managers: Managers, cfg: WorldConfig, rng: np.random.Generator
) -> Population:
    """Draw `n` accounts: part of the book exists on day 0, the rest signs up over time."""
    pre = rng.random(n) < cfg.preexisting_share
    created = np.where(
        pre,
        -rng.integers(*cfg.history_days, n),
        rng.integers(0, cfg.data_days - 14, n),
    )
    created = np.sort(created)
    pre = created < 0
    mrr = np.round(np.exp(rng.normal(cfg.mrr_log_mean, cfg.mrr_log_sd, n)), -1).clip(50)
    segment = np.searchsorted(np.asarray(cfg.segment_mrr), mrr, side="right")
    seats = np.array([1, 3, 10])[segment] + rng.poisson(np.array([3, 10, 40])[segment])
    csm = np.empty(n, dtype=np.int64)
    for s in range(3):
        pool = np.flatnonzero(managers.segment == s)
        members = segment == s
        csm[members] = rng.choice(pool, members.sum())
    # Accounts still customers on day 0 survived their early years: healthier on average.
    mu = rng.normal(0.3, 0.7, n) + np.where(pre, 0.25, 0.0)
    never = rng.random(n) < np.where(pre, cfg.never_share / 4, cfg.never_share)
    mu = np.where(never, mu - 0.9, mu)
    return Population(
        created=created,
        segment=segment,
        mrr=mrr,
        months=contract_months(segment, cfg, rng),
        seats=seats,
        csm=csm,
        neglected=rng.random(n) < cfg.neglected_share,
        region=rng.choice(len(REGIONS), n, p=[0.5, 0.35, 0.15]),
        industry=rng.choice(len(INDUSTRIES), n),
        mu=mu,
        never=never,
        onb_fail=~pre & (rng.random(n) < cfg.onboarding_fail_share),
    )
