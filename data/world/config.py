"""Parameters of the demo world: its calendar, its population and its hidden dynamics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np

# Day numbers count from DAY0, the first day of the exported data.
DAY0 = np.datetime64("2024-05-01", "D")
NO_DAY = np.iinfo(np.int64).max // 4  # "never" (no churn, no restart)

SEGMENTS = ("low_touch", "middle_touch", "high_touch")
REGIONS = ("EMEA", "NA", "APAC")
INDUSTRIES = ("software", "retail", "finance", "healthcare", "manufacturing", "education")
CAUSES = (
    "onboarding_failure",
    "budget_cut",
    "champion_left",
    "value_not_understood",
    "support_friction",
    "low_health",
    "other",
)


@dataclass(frozen=True)
class Dynamics:
    """Weekly hidden-health dynamics and the renewal decision, shared by simulation and truth.

    Health `h` is a standardised latent score (0 = ordinary, negative = at risk) pulled each
    week toward a target set by the account's traits and its current shocks.
    """

    kappa: float = 0.08  # weekly pull of health toward its target
    sigma: float = 0.22  # weekly health noise
    champion_rate: float = 0.7 / 52  # weekly chance the client's champion leaves
    champion_drop: float = 0.5  # target drop right after the champion leaves
    champion_decay: float = 0.96  # weekly fade of that drop (a new champion emerges)
    budget_rate: float = 0.6 / 52  # weekly chance of a budget cut at the client
    budget_drop: float = 0.2  # small: clients keep using what they already paid for
    budget_decay: float = 0.975
    friction_rate: float = 0.6 / 52  # weekly chance of a stretch of support trouble
    friction_drop: float = 0.15
    friction_decay: float = 0.95
    onboarding_weeks: int = 13  # the first 90 days
    onboarding_drop: float = 1.6  # target drop while a failed onboarding lasts
    never_drift: float = 0.012  # weekly slide of target when the value was never understood
    monthly_logit: float = -5.1  # renewal-decision log-odds of leaving at health 0
    annual_logit: float = -3.3
    segment_logit: tuple[float, float, float] = (0.0, 0.0, -0.45)
    health_weight: float = 1.2  # log-odds per unit of health lost
    champion_weight: float = 3.0  # log-odds added by a fresh champion loss (no one defends us)
    budget_weight: float = 3.5  # log-odds added by a fresh budget cut
    friction_weight: float = 4.0  # log-odds added by fresh support trouble
    onboarding_weight: float = 1.3  # log-odds added at renewals in the first 26 weeks
    # The manager's touchpoints, drawn each week inside the dynamics (they act on the state).
    contact_rate: tuple[float, float, float] = (0.035, 0.2, 0.5)  # outbound per week
    neglected_contact: float = 0.12  # factor on that rate for accounts the manager neglects
    talk_share: tuple[float, float, float] = (0.14, 0.5, 0.7)  # of outbound: call/meeting/qbr
    inbound_base: float = 0.02  # client-initiated contacts per week at health 0
    inbound_health: float = 0.05  # ... per unit of health below 0
    inbound_budget: float = 0.15  # ... per unit of fresh budget cut (pricing questions)
    inbound_champion: float = 0.1  # ... per unit of fresh champion loss (new contact calls)
    inbound_call_share: float = 0.25  # inbound contacts that are calls (a real conversation)
    talk_champion: float = 0.8  # factor on the champion shock after a conversation
    talk_budget: float = 0.85  # factor on the budget shock after a conversation
    talk_lift: float = 0.08  # health gained in a week with a conversation
    neglect_weeks: tuple[int, int] = (6, 30)  # weeks without a conversation: effect ramps up
    neglect_weight: float = 2.5  # log-odds added at full neglect
    lapse_monthly: float = 0.025  # chance a renewal is paid late (a gap shorter than grace)
    lapse_annual: float = 0.07
    lapse_days: tuple[int, int] = (3, 25)
    # Early ends: a client terminates before the billed end (a weekly hazard on paid days).
    early_logit: float = -11.0  # log-odds per week at health 0, no shock
    early_budget_weight: float = 5.5  # log-odds added by a fresh budget cut (stop paying now)
    early_health_weight: float = 2.0  # ... per unit of health below `early_health_floor`
    early_health_floor: float = -0.5  # only very low health ends a contract early
    # Plan changes mid-period: healthy clients upgrade, cut budgets downgrade (weekly hazards).
    upgrade_logit: float = -7.3
    upgrade_health: float = 0.9  # log-odds per unit of health
    downgrade_logit: float = -8.5
    downgrade_budget: float = 4.0  # log-odds added by a fresh budget cut
    upgrade_mrr: tuple[float, float] = (0.35, 0.12)  # log factor on MRR: mean, sd
    downgrade_mrr: tuple[float, float] = (-0.3, 0.08)
    # A churn-rate shift (a competitor, a price rise): from day `churn_shift_day` on, the
    # chance of leaving at a renewal and of ending a contract early are multiplied by
    # `churn_shift_factor` (capped at 1). The default changes nothing.
    churn_shift_day: int = NO_DAY
    churn_shift_factor: float = 1.0

    def with_churn_shift(self, shift: ChurnShift | None) -> Dynamics:
        """These dynamics with the churn hazard multiplied from the shift's day on."""
        if shift is None:
            return self
        day = int((np.datetime64(shift.on, "D") - DAY0).astype(np.int64))
        return replace(self, churn_shift_day=day, churn_shift_factor=shift.factor)

    def churn_factor(self, day: np.ndarray | int) -> np.ndarray | float:
        """The factor on the churn hazard on `day` (day numbers): 1 before the shift."""
        if self.churn_shift_factor == 1.0:
            return 1.0
        return np.where(np.asarray(day) >= self.churn_shift_day, self.churn_shift_factor, 1.0)


@dataclass(frozen=True)
class ChurnShift:
    """A shift of the churn hazard: multiplied by `factor` from the day `on`."""

    on: dt.date
    factor: float

    @classmethod
    def parse(cls, text: str) -> ChurnShift:
        """`2025-06-02:1.8` -> from 2025-06-02 on, 1.8 times the churn hazard."""
        day, sep, factor = text.partition(":")
        try:
            shift = cls(dt.date.fromisoformat(day), float(factor))
        except ValueError:
            raise ValueError(f"churn shift {text!r} is not DATE:FACTOR (2025-06-02:1.8)") from None
        if not sep or not shift.factor > 0:
            raise ValueError(f"churn shift {text!r}: the factor must be a number above 0")
        return shift


@dataclass(frozen=True)
class WorldConfig:
    """Calendar and population of the demo world."""

    data_days: int = 914  # 2024-05-01 .. 2026-10-31: 2.5 years
    preexisting_share: float = 0.45  # accounts already customers on the first day
    history_days: tuple[int, int] = (120, 1500)  # their age on the first day
    mrr_log_mean: float = 6.6
    mrr_log_sd: float = 1.1
    segment_mrr: tuple[float, float] = (500.0, 2500.0)  # low < 500 <= middle < 2500 <= high
    annual_share: tuple[float, float, float] = (0.2, 0.5, 0.85)  # by segment
    never_share: float = 0.12  # new accounts that never understand the value
    onboarding_fail_share: float = 0.18
    neglected_share: float = 0.15
    restart_share: float = 0.12  # churned lives that come back later (a new life)
    restart_days: tuple[int, int] = (40, 360)
    horizon_days: int = 90  # the headline horizon: `p_churn`
    horizons_days: tuple[int, ...] = (30, 60, 90, 180)  # the truth's risk curve; holds the headline
    grace_gap_days: int = 30
    truth_paths: int = 64  # re-simulated futures per (life, Monday)
    truth_paths_large: int = 16  # ... for worlds past `large_world` accounts
    large_world: int = 5000
    usage_chunk: int = 1000  # accounts per usage chunk (bounded memory)

    def __post_init__(self) -> None:
        """The curve's horizons rise, each once, and hold the headline horizon."""
        days = list(self.horizons_days)
        if days != sorted(set(days)) or min(days, default=1) <= 0:
            raise ValueError(f"horizons_days must be positive and increasing, not {days}")
        if self.horizon_days not in days:
            raise ValueError(f"horizons_days {days} must hold horizon_days ({self.horizon_days})")

    @property
    def data_end(self) -> int:
        """Last day number of the exported data."""
        return self.data_days - 1

    def paths(self, n_accounts: int) -> int:
        """Re-simulated futures per (life, Monday) for a world of `n_accounts`."""
        return self.truth_paths if n_accounts <= self.large_world else self.truth_paths_large
