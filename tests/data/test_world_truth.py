"""The demo world's true risk curve: every horizon and the next renewal from one re-simulation."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.world.config import Dynamics, WorldConfig
from data.world.dynamics import Traits
from data.world.population import draw_managers, draw_population
from data.world.simulation import World, simulate
from data.world.truth import (
    churn_curve,
    churn_probability,
    curve_windows,
    realised_churn,
    renewal_day,
)

HORIZONS = (30, 60, 90, 180)
CURVE = [f"p_churn_{h}d" for h in HORIZONS]
GRACE = 30
DATA_END = pd.Timestamp("2026-10-31")
AS_OF = 304  # 2025-03-01 is day 304; any day works for the inline rows


def _rows(end: list[int], h: list[float], budget: float = 0.0) -> tuple[pd.DataFrame, Traits]:
    """Annual rows on AS_OF, 60 weeks into their life, whose period ends `end` days later."""
    n = len(end)
    rows = pd.DataFrame(
        {
            "as_of": AS_OF,
            "age": 60,
            "start": AS_OF - 300,
            "end": AS_OF + np.array(end),
            "h": h,
            "champion": 0.0,
            "budget": budget,
            "friction": 0.0,
            "quiet": 0.0,
        }
    )
    traits = Traits(
        mu=np.array(h, dtype=float),
        never=np.zeros(n, bool),
        onb_fail=np.zeros(n, bool),
        months=np.full(n, 12),
        segment=np.ones(n, dtype=np.int64),
        neglected=np.zeros(n, bool),
    )
    return rows, traits


def _steady(dyn: Dynamics) -> Dynamics:
    """The dynamics without early ends and plan changes (renewals are the only way out)."""
    never = float("-inf")
    return dataclasses.replace(dyn, early_logit=never, upgrade_logit=never, downgrade_logit=never)


# --- exact rules on inline rows ---------------------------------------------------------------


def test_a_renewal_counts_in_every_window_that_holds_its_churn_date() -> None:
    rows, traits = _rows(end=[39, 39, 39], h=[-8.0, -8.0, -8.0])  # churn date as_of + 39
    windows = np.array([[39, 40, 45], [30, 60, 400], [1, 7, 8]])
    p = churn_curve(rows, traits, 100, windows, np.random.default_rng(0), _steady(Dynamics()))
    assert p.shape == (3, 3)
    assert p[0, 0] == 0.0 and p[0, 1] > 0.99 and p[0, 2] == p[0, 1]  # [as_of, as_of + 39) misses
    assert p[1, 0] == 0.0 and p[1, 1] > 0.99 and p[1, 2] == p[1, 1]
    assert (p[2] == 0.0).all()


def test_each_window_of_one_re_simulation_is_what_a_re_simulation_for_it_alone_gives() -> None:
    rows, traits = _rows(end=[10, 45, 200, 250], h=[-1.5, -0.5, 0.0, -2.0], budget=0.6)
    dyn = Dynamics()  # early ends, plan changes and lapses included
    windows = np.array([[30, 60, 90, 180, 64]] * 4)
    curve = churn_curve(rows, traits, 50, windows, np.random.default_rng(3), dyn)
    for j, days in enumerate(windows[0]):
        alone = churn_probability(rows, traits, 50, int(days), np.random.default_rng(3), dyn)
        assert curve[:, j] == pytest.approx(alone, abs=1e-12)
    assert (np.diff(curve[:, :4], axis=1) >= 0).all()
    assert curve[:, 3].min() > 0.0 and curve[:, 3].max() < 1.0


def test_an_early_end_counts_for_the_days_of_the_window_only() -> None:
    rows, traits = _rows(end=[300], h=[-4.0], budget=1.0)  # ends early, renewal far off
    dyn = dataclasses.replace(_steady(Dynamics()), early_logit=Dynamics().early_logit)
    windows = np.array([[1, 2, 7, 8, 14]])
    p = churn_curve(rows, traits, 200, windows, np.random.default_rng(1), dyn)[0]
    assert (np.diff(p) > 0).all()
    # The first week's hazard is spread evenly over its days: 1 day is a seventh of 7 days.
    assert p[0] == pytest.approx(p[2] / 7, rel=1e-9)
    assert p[1] == pytest.approx(2 * p[0], rel=1e-9)


def test_the_window_by_renewal_runs_a_grace_gap_past_the_renewal_or_past_as_of_in_a_lapse() -> None:
    as_of = np.array([100, 100, 100])
    renewal = np.array([150, 100, 90])  # ahead, today, passed (a payment lapse)
    cfg = WorldConfig()
    windows = curve_windows(as_of, renewal, cfg)
    assert list(windows) == [*CURVE, "p_churn_by_renewal"]
    assert (windows["p_churn_by_renewal"] == [80, 30, 30]).all()
    assert (windows["p_churn_90d"] == 90).all()


@pytest.mark.parametrize(
    ("horizons", "rule"),
    [((30, 60, 180), "must hold horizon_days"), ((90, 30), "increasing"), ((0, 90), "positive")],
)
def test_the_curve_s_horizons_rise_and_hold_the_headline(horizons: tuple, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        WorldConfig(horizons_days=horizons)


# --- the next renewal known on the day, on a simulated world ---------------------------------


@pytest.fixture(scope="module")
def simulated() -> World:
    cfg, rng = WorldConfig(), np.random.default_rng(8)
    managers = draw_managers(300, rng)
    pop = draw_population(300, managers, cfg, rng)
    return simulate(pop, managers, cfg, Dynamics(), rng)


def test_the_next_renewal_is_the_day_after_the_paid_period_known_on_the_day(
    simulated: World,
) -> None:
    snaps = simulated.snapshots
    renewal, as_of = renewal_day(simulated), snaps["as_of"].to_numpy()
    start, end = snaps["start"].to_numpy(), snaps["end"].to_numpy()
    life_start = simulated.lives["start"].to_numpy()[snaps["life_idx"].to_numpy()]
    running = start < as_of
    assert (renewal[running] == end[running] + 1).all() and (
        renewal[running] >= as_of[running]
    ).all()
    # Renewed on as_of or paid late: the day after the previous period, a lapse shorter than
    # the dynamics' longest gap before the new period's start.
    late = ~running & (life_start < as_of)
    lapse = start[late] - renewal[late]
    lo, hi = Dynamics().lapse_days
    assert late.sum() > 50 and ((lapse == 0) | ((lapse >= lo) & (lapse <= hi))).all()
    assert (lapse > 0).sum() > 10 and (renewal[late] <= as_of[late]).all()
    fresh = life_start == as_of  # a life that starts on as_of renews after its first period
    assert fresh.sum() > 0 and (renewal[fresh] == end[fresh] + 1).all()


def test_realised_churn_takes_one_window_or_one_per_row(simulated: World) -> None:
    windows = np.random.default_rng(0).integers(1, 400, len(simulated.snapshots))
    per_row = realised_churn(simulated, windows)
    for days in (30, 180):
        one = realised_churn(simulated, days)
        assert (per_row[windows == days] == one[windows == days]).all()
    assert (realised_churn(simulated, 30) <= realised_churn(simulated, 180)).all()
    assert realised_churn(simulated, 180).mean() > realised_churn(simulated, 30).mean() > 0


# --- the written truth --------------------------------------------------------------------


@pytest.fixture(scope="module")
def risk(world: Path) -> pd.DataFrame:
    return pd.read_parquet(world / "truth" / "risk.parquet")


def test_the_curve_is_written_with_the_renewal_as_a_date(world: Path, risk: pd.DataFrame) -> None:
    schema = pq.read_schema(world / "truth" / "risk.parquet")
    assert schema.field("next_renewal").type == pa.date32()
    curve = [*CURVE, "p_churn_by_renewal"]
    assert all(schema.field(c).type == pa.float64() for c in ["p_churn", *curve])
    assert [c for c in risk if c.startswith("hidden_")] == [
        f"hidden_{name}" for name in ("h", "champion", "budget", "friction", "quiet")
    ]
    assert risk[["next_renewal", "p_churn", *curve]].notna().all().all()
    assert ((risk[curve] >= 0) & (risk[curve] <= 1)).all().all()


def test_the_curve_is_monotone_and_holds_the_headline(risk: pd.DataFrame) -> None:
    assert (risk["p_churn_90d"] == risk["p_churn"]).all()
    assert (np.diff(risk[CURVE].to_numpy(), axis=1) >= 0).all()
    assert (risk["p_churn_180d"] > risk["p_churn_30d"]).mean() > 0.95


def _window_by_renewal(risk: pd.DataFrame) -> np.ndarray:
    ahead = (pd.to_datetime(risk["next_renewal"]) - pd.to_datetime(risk["as_of"])).dt.days
    return ahead.clip(lower=0).to_numpy() + GRACE


def test_by_renewal_lies_between_the_horizons_that_bracket_its_window(risk: pd.DataFrame) -> None:
    window, p = _window_by_renewal(risk), risk["p_churn_by_renewal"].to_numpy()
    bounds = [0, *HORIZONS, 10_000]
    curve = np.column_stack([np.zeros(len(risk)), risk[CURVE], np.ones(len(risk))])
    lo = np.searchsorted(bounds, window, side="right") - 1  # the largest bound <= window
    hi = np.searchsorted(bounds, window, side="left")  # the smallest bound >= window
    rows = np.arange(len(risk))
    assert (curve[rows, lo] <= p + 1e-12).all() and (p <= curve[rows, hi] + 1e-12).all()
    assert window.min() == GRACE and window.max() > 365  # lapses and annual contracts


def test_each_column_s_mean_truth_matches_the_churn_realised_in_its_window(
    world: Path, risk: pd.DataFrame
) -> None:
    """The truth's own calibration, column by column, where the window closed in the data.

    Rows of one life are weeks apart and strongly correlated, so the binomial standard error
    of the mean gap (realised - true) is taken with lives as the independent units (a
    cluster-robust sum of each life's gaps); the means may differ by 3 such errors at most.
    """
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    rows = risk.merge(churns, on=["account_id", "life"], how="left")
    as_of, churn = pd.to_datetime(rows["as_of"]), pd.to_datetime(rows["churn_date"])
    windows = {c: np.full(len(rows), h) for c, h in zip(CURVE, HORIZONS, strict=True)}
    windows["p_churn_by_renewal"] = _window_by_renewal(rows)
    checked = 0
    for column, days in windows.items():
        end = as_of + pd.to_timedelta(days, unit="D")
        closed = (end <= DATA_END + pd.Timedelta(days=1)).to_numpy()
        realised = ((churn >= as_of) & (churn < end)).to_numpy()
        gap = pd.Series(realised[closed] - rows[column].to_numpy()[closed])
        lives = (rows["account_id"] + "/" + rows["life"].astype(str)).to_numpy()[closed]
        per_life = gap.groupby(lives).sum()
        se = np.sqrt((per_life**2).sum()) / closed.sum()
        assert abs(gap.mean()) <= 3 * se, (column, gap.mean(), se)
        assert se < 0.02 and realised[closed].mean() > 0.03
        checked += 1
    assert checked == 5


def test_the_world_summary_checks_each_column_against_the_realised_churn(world: Path) -> None:
    check = json.loads((world / "truth" / "world.json").read_text())["curve_check"]
    assert list(check) == [*CURVE, "p_churn_by_renewal"]
    rows = [check[c]["rows"] for c in CURVE]
    assert rows == sorted(rows, reverse=True)  # a longer window closes inside the data less
    for figures in check.values():
        assert abs(figures["mean_p_churn"] - figures["churn_share"]) < 0.03
