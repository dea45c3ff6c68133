"""The demo world generator: determinism, contract shape, plausibility, truth and mess."""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from data.contract import TABLES, RunningPeriods
from data.world import write_world
from data.world.cells import local_strings, utc_strings, weekly_cells
from data.world.config import Dynamics, WorldConfig
from data.world.crm import contacts_and_ratings
from data.world.dynamics import (
    Health,
    Traits,
    add_months,
    leave_probability,
    period_end,
    step,
    touches,
)
from data.world.population import Population, draw_managers, draw_population
from data.world.simulation import MON0, World, simulate
from data.world.tables import subscriptions_table
from data.world.truth import churn_probability
from data.world.usage import usage_chunk

GRACE = pd.Timedelta(days=30)
HORIZON = pd.Timedelta(days=90)
DATA_END = pd.Timestamp("2026-10-31")
WRITTEN_ON = pd.Timestamp("2025-11-17")  # a Monday, a year before the export


def _day(text: str) -> int:
    return int((np.datetime64(text, "D") - np.datetime64("2024-05-01", "D")).astype(int))


def _raw(world: Path, name: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(world / "raw" / f"{name}.csv", **kwargs)


def _utc(col: pd.Series) -> pd.Series:
    """Parse mixed-offset ISO timestamps; naive ones mean UTC (the contract's rule)."""
    return pd.to_datetime(col, utc=True, format="ISO8601")


def _labelled(world: Path) -> pd.DataFrame:
    """Truth rows whose 90-day window ends inside the data, with the realised label."""
    risk = pd.read_parquet(world / "truth" / "risk.parquet")
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    risk["as_of"] = pd.to_datetime(risk["as_of"])
    churns["churn_date"] = pd.to_datetime(churns["churn_date"])
    rows = risk.merge(churns, on=["account_id", "life"], how="left")
    rows["label"] = (rows["churn_date"] >= rows["as_of"]) & (
        rows["churn_date"] < rows["as_of"] + HORIZON
    )
    return rows[rows["as_of"] + HORIZON <= DATA_END + pd.Timedelta(days=1)]


# --- exact rules on inline values -------------------------------------------------------------


def test_add_months_clips_to_the_month_end() -> None:
    days = np.array([_day("2024-01-31"), _day("2024-05-01"), _day("2025-01-31")])
    assert (
        add_months(days, 1) == [_day("2024-02-29"), _day("2024-06-01"), _day("2025-02-28")]
    ).all()
    assert period_end(np.array([_day("2024-05-01")]), 12)[0] == _day("2025-04-30")


def _traits(n: int, months: int | np.ndarray = 12, segment: int = 1) -> Traits:
    return Traits(
        mu=np.zeros(n),
        never=np.zeros(n, bool),
        onb_fail=np.zeros(n, bool),
        months=np.broadcast_to(months, (n,)).copy(),
        segment=np.full(n, segment),
        neglected=np.zeros(n, bool),
    )


def _health(h: np.ndarray, **fields: np.ndarray) -> Health:
    zero = np.zeros_like(h)
    return Health(
        h=h, **{f: fields.get(f, zero) for f in ("champion", "budget", "friction", "quiet")}
    )


def test_leave_probability_rises_as_health_falls_and_annual_is_riskier_per_decision() -> None:
    dyn = Dynamics()
    traits = _traits(4, months=np.array([1, 1, 12, 12]))
    state = _health(np.array([1.0, -1.0, 1.0, -1.0]))
    p = leave_probability(state, traits, np.full(4, 60), dyn)
    assert p[0] < p[1] and p[2] < p[3]
    assert p[0] < p[2] and p[1] < p[3]
    expected = 1 / (1 + np.exp(-(dyn.monthly_logit + dyn.health_weight)))
    assert p[1] == pytest.approx(expected)


def _steady(dyn: Dynamics) -> Dynamics:
    """The dynamics without early ends and plan changes (renewals are the only way out)."""
    never = float("-inf")
    return dataclasses.replace(dyn, early_logit=never, upgrade_logit=never, downgrade_logit=never)


def test_true_risk_counts_only_renewals_whose_churn_date_falls_inside_the_window() -> None:
    dyn = _steady(Dynamics())
    as_of = _day("2025-03-03")
    rows = pd.DataFrame(
        {
            "as_of": as_of,
            "age": 60,
            "start": as_of - 300,
            "end": as_of + np.array([90, 89, 10, 10, 0]),
            "h": [-8.0, -8.0, -8.0, 3.0, 0.0],
            "champion": 0.0,
            "budget": 0.0,
            "friction": 0.0,
            "quiet": 0.0,
        }
    )
    traits = dataclasses.replace(_traits(5), mu=rows["h"].to_numpy())
    p = churn_probability(rows, traits, 200, 90, np.random.default_rng(0), dyn)
    assert p[0] == 0.0  # the renewal falls on as_of + 90: outside [as_of, as_of + 90)
    assert p[1] > 0.99 and p[2] > 0.99  # a very sick account leaving at its renewal
    assert p[3] < 0.01
    one_decision = 1 / (1 + np.exp(-dyn.annual_logit))  # health 0 on as_of itself
    assert p[4] == pytest.approx(one_decision)


def test_neglect_and_told_shocks_add_their_log_odds_at_renewal() -> None:
    dyn = Dynamics()
    quiet = np.array([0.0, 6.0, 18.0, 30.0, 80.0, 0.0, 0.0])
    champion = np.array([0, 0, 0, 0, 0, 1.0, 0])
    budget = np.array([0, 0, 0, 0, 0, 0, 0.5])
    state = _health(np.zeros(7), quiet=quiet, champion=champion, budget=budget)
    p = leave_probability(state, _traits(7), np.full(7, 60), dyn)
    z = np.log(p / (1 - p)) - dyn.annual_logit
    half = dyn.neglect_weight / 2  # 18 weeks is halfway through the (6, 30) ramp
    expected = [0, 0, half, dyn.neglect_weight, dyn.neglect_weight, dyn.champion_weight, 0]
    expected[6] = 0.5 * dyn.budget_weight
    assert z == pytest.approx(expected)


def test_a_conversation_speeds_the_fade_of_shocks_and_resets_neglect() -> None:
    quiet_world = dataclasses.replace(
        Dynamics(),
        champion_rate=0.0,
        budget_rate=0.0,
        friction_rate=0.0,
        contact_rate=(0.0, 0.0, 0.0),
        inbound_base=0.0,
        inbound_health=0.0,
        inbound_budget=0.0,
        inbound_champion=0.0,
    )
    talking = dataclasses.replace(quiet_world, contact_rate=(60.0,) * 3, talk_share=(1.0,) * 3)
    state = _health(np.zeros(2), champion=np.ones(2), budget=np.ones(2), quiet=np.full(2, 9.0))
    rng = np.random.default_rng(0)
    alone, week = step(state, _traits(2), np.full(2, 60), rng, quiet_world)
    helped, talked = step(state, _traits(2), np.full(2, 60), rng, talking)
    assert (week.talk == 0).all() and (talked.talk > 0).all()
    d = quiet_world
    assert alone.champion == pytest.approx([d.champion_decay] * 2)
    assert helped.champion == pytest.approx([d.talk_champion * d.champion_decay] * 2)
    assert helped.budget == pytest.approx([d.talk_budget * d.budget_decay] * 2)
    assert (alone.quiet == 10).all() and (helped.quiet == 0).all()


def test_clients_reach_out_after_a_budget_cut() -> None:
    dyn = Dynamics()
    n = 20000
    budget = np.repeat([0.0, 1.0], n // 2)
    week = touches(_health(np.zeros(n), budget=budget), _traits(n), np.random.default_rng(1), dyn)
    calm, cut = week.inbound[: n // 2].mean(), week.inbound[n // 2 :].mean()
    assert calm == pytest.approx(dyn.inbound_base, abs=0.005)
    assert cut == pytest.approx(dyn.inbound_base + dyn.inbound_budget, abs=0.02)


def test_a_fresh_rating_knows_of_shocks_the_usage_does_not_show() -> None:
    cfg, dyn, rng = WorldConfig(), Dynamics(), np.random.default_rng(3)
    managers = draw_managers(300, rng)
    pop = draw_population(300, managers, cfg, rng)
    world = simulate(pop, managers, cfg, dyn, rng)
    _, ratings = contacts_and_ratings(world, weekly_cells(world, cfg), cfg, rng)
    day = ratings["rated_at"].to_numpy().astype("datetime64[D]") - np.datetime64("2024-05-01")
    week = (day.astype(np.int64) - MON0) // 7
    account = ratings["account_id"].str[4:].astype(int).to_numpy() - 1
    shock = world.hidden["budget"][week, account] + world.hidden["champion"][week, account]
    # Usage that week against the account's own typical week (what a model could see).
    events = usage_chunk(world, range(300), cfg, rng).to_pandas()
    at = events["occurred_at"].str[:10].to_numpy().astype("datetime64[D]")
    event_week = ((at - np.datetime64("2024-05-01")).astype(np.int64) - MON0) // 7
    ids = events["account_id"].str[4:].astype(int).to_numpy() - 1
    counts = np.zeros(world.life_of.shape)
    np.add.at(counts, (event_week.clip(0, counts.shape[0] - 1), ids), 1)
    typical = np.nanmedian(np.where(world.life_of >= 0, counts, np.nan), axis=0)
    drop = 1 - counts[week, account] / np.maximum(typical[account], 1)
    hit, calm = shock > 0.5, shock < 0.05
    target = np.concatenate([np.ones(hit.sum()), np.zeros(calm.sum())])
    rating_auc = roc_auc_score(
        target, 5 - np.concatenate([ratings["risk_rating"][hit], ratings["risk_rating"][calm]])
    )
    usage_auc = roc_auc_score(target, np.concatenate([drop[hit], drop[calm]]))
    assert hit.sum() > 50
    assert rating_auc > 0.8, rating_auc
    assert usage_auc < 0.65, usage_auc


def test_timestamps_carry_the_offset_of_the_local_time_they_show() -> None:
    noon_july = _day("2024-07-01") * 86400 + 12 * 3600
    noon_jan = _day("2025-01-15") * 86400 + 12 * 3600
    seconds = np.array([noon_july, noon_jan, noon_jan, noon_july])
    region = np.array([0, 1, 0, 2])  # EMEA, NA, EMEA flagged naive, APAC
    naive = np.array([False, False, True, False])
    assert local_strings(seconds, region, naive).to_pylist() == [
        "2024-07-01T14:00:00+02:00",
        "2025-01-15T07:00:00-05:00",
        "2025-01-15T12:00:00",
        "2024-07-01T12:00:00",
    ]
    assert utc_strings(seconds[:1]).to_pylist() == ["2024-07-01T12:00:00Z"]


# --- the generated world ----------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_world(tmp_path: Path) -> None:
    def digest(out: Path) -> dict[str, str]:
        return {
            str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(out.rglob("*"))
            if f.is_file()
        }

    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_world(tmp_path / name, n_accounts=60, seed=seed)
    first = digest(tmp_path / "a")
    assert len(first) == 9
    assert first == digest(tmp_path / "b")
    assert first["raw/usage_events.csv"] != digest(tmp_path / "c")["raw/usage_events.csv"]
    for name in ("d", "e"):  # written earlier: raw/ only, same seed and day, same bytes
        write_world(tmp_path / name, n_accounts=60, seed=5, written_on=WRITTEN_ON.date())
    cut = digest(tmp_path / "d")
    assert len(cut) == 6 and cut == digest(tmp_path / "e")
    assert cut["raw/usage_events.csv"] != first["raw/usage_events.csv"]


def test_every_raw_table_has_the_contract_columns_in_order(world: Path) -> None:
    for name, table in TABLES.items():
        header = list(_raw(world, name, nrows=0).columns)
        assert header == [c.name for c in table.columns], name


def test_churn_share_per_90_days_is_realistic_and_higher_for_low_touch(world: Path) -> None:
    rows = _labelled(world)
    assert 0.06 < rows["label"].mean() < 0.2
    segment = _raw(world, "accounts").set_index("account_id")["segment"]
    by_segment = rows.groupby(rows["account_id"].map(segment))["label"].mean()
    assert by_segment["low_touch"] > by_segment["high_touch"]
    # The truth is calibrated: its mean matches the realised share.
    assert rows["p_churn"].mean() == pytest.approx(rows["label"].mean(), abs=0.02)


def test_manager_rating_is_informative_but_clearly_below_the_truth(world: Path) -> None:
    rows = _labelled(world).sort_values("as_of")
    ratings = _raw(world, "manager_ratings", parse_dates=["rated_at"])
    # A rating set on a day is known from the next day on (features use rows before as_of).
    ratings["known_from"] = (ratings["rated_at"] + pd.Timedelta(days=1)).astype("datetime64[s]")
    rows["as_of"] = rows["as_of"].astype("datetime64[s]")
    held = pd.merge_asof(
        rows,
        ratings.sort_values("known_from")[["account_id", "known_from", "risk_rating"]],
        left_on="as_of",
        right_on="known_from",
        by="account_id",
    ).dropna(subset=["risk_rating"])
    rating_auc = roc_auc_score(held["label"], 5 - held["risk_rating"])
    truth_auc = roc_auc_score(held["label"], held["p_churn"])
    assert 0.55 < rating_auc < truth_auc - 0.1
    assert held["p_churn"].corr(5 - held["risk_rating"], method="spearman") > 0.05


def _lives_from_subscriptions(subs: pd.DataFrame) -> pd.DataFrame:
    """The contract's reading of billing rows: a life ends when no restart within the grace gap."""
    subs = subs.sort_values(["account_id", "start_date"])
    end = pd.to_datetime(subs["end_date"]).fillna(DATA_END + pd.Timedelta(days=3650))
    start = pd.to_datetime(subs["start_date"])
    prev_end = end.groupby(subs["account_id"]).cummax().groupby(subs["account_id"]).shift()
    new_life = prev_end.isna() | (start - prev_end > GRACE)
    subs = subs.assign(life=new_life.groupby(subs["account_id"]).cumsum(), end=end)
    return subs.groupby(["account_id", "life"], as_index=False)["end"].max()


def test_truth_churns_are_what_the_contract_reads_from_subscriptions(world: Path) -> None:
    lives = _lives_from_subscriptions(_raw(world, "subscriptions"))
    # Only churns whose grace gap has passed by export are readable from the billing rows.
    readable = lives[lives["end"] <= DATA_END - GRACE]
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    churns["churn_date"] = pd.to_datetime(churns["churn_date"])
    seen = churns[churns["churn_date"] <= DATA_END - GRACE]
    merged = readable.merge(seen, on=["account_id", "life"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["end"] == merged["churn_date"]).all()
    assert len(merged) > 20


def test_truth_covers_active_lives_on_mondays_only(world: Path) -> None:
    risk = pd.read_parquet(world / "truth" / "risk.parquet")
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    hidden = ["hidden_h", "hidden_champion", "hidden_budget", "hidden_friction", "hidden_quiet"]
    curve = ["p_churn_30d", "p_churn_60d", "p_churn_90d", "p_churn_180d"]
    by_renewal = ["next_renewal", "p_churn_by_renewal"]
    assert list(risk.columns) == [
        "account_id",
        "as_of",
        "life",
        "p_churn",
        *curve,
        *by_renewal,
        *hidden,
    ]
    assert list(churns.columns) == ["account_id", "life", "churn_date", "cause", "early_end"]
    assert (pd.to_datetime(risk["as_of"]).dt.day_of_week == 0).all()
    assert risk["p_churn"].between(0, 1).all()
    assert not risk.duplicated(["account_id", "as_of"]).any()
    after = risk.merge(churns, on=["account_id", "life"])
    assert (after["as_of"] <= after["churn_date"]).all()
    # The risk right before a churn is far above the book's average.
    last_week = after[pd.to_datetime(after["churn_date"]) - pd.to_datetime(after["as_of"]) < "7D"]
    assert last_week["p_churn"].mean() > 3 * risk["p_churn"].mean()


def test_the_export_carries_real_world_mess(world: Path) -> None:
    accounts = set(_raw(world, "accounts")["account_id"])
    usage = _raw(world, "usage_events")
    assert usage.duplicated().sum() > 0
    assert usage["occurred_at"].str.endswith("Z").all()
    for name in ("usage_events", "tickets", "contacts"):
        frame = usage if name == "usage_events" else _raw(world, name)
        orphan_share = (~frame["account_id"].isin(accounts)).mean()
        assert 0 < orphan_share < 0.01, name
    tickets = _raw(world, "tickets")
    assert tickets["closed_at"].isna().sum() > 0
    opened, closed = _utc(tickets["opened_at"]), _utc(tickets["closed_at"])
    assert (closed.dropna() >= opened[closed.notna()]).all()
    offsets = tickets["opened_at"].str.extract(r"([+-]\d\d:\d\d)$")[0]
    assert {"+01:00", "+02:00", "-05:00", "-04:00"} <= set(offsets.dropna())
    assert offsets.isna().any()  # naive timestamps too
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    last = churns.groupby("account_id")["churn_date"].max()
    late = usage[usage["account_id"].isin(last.index)]
    day = _utc(late["occurred_at"]).dt.tz_localize(None).dt.normalize()
    gap = (day - pd.to_datetime(late["account_id"].map(last))).dt.days
    assert gap.between(1, 10).any()  # events a few days after a churn


def test_lapses_shorter_than_grace_are_not_churn_and_longer_ones_start_a_new_life(
    world: Path,
) -> None:
    subs = _raw(world, "subscriptions", parse_dates=["start_date", "end_date"])
    subs = subs.sort_values(["account_id", "start_date"])
    prev_end = subs.groupby("account_id")["end_date"].shift()
    gap = (subs["start_date"] - prev_end).dt.days - 1
    short = subs[gap.between(1, 29)]
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    churned = set(zip(churns["account_id"], pd.to_datetime(churns["churn_date"]), strict=True))
    assert len(short) > 0
    assert not any(
        (a, e) in churned for a, e in zip(short["account_id"], prev_end[short.index], strict=True)
    )
    assert (gap > 30).any()
    assert (churns["life"] >= 2).any()


def test_usage_and_tickets_show_trouble_in_the_weeks_before_a_churn(world: Path) -> None:
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    churns = churns[pd.to_datetime(churns["churn_date"]) <= DATA_END]
    last = pd.to_datetime(churns.groupby("account_id")["churn_date"].max())
    usage = _raw(world, "usage_events", usecols=["account_id", "occurred_at", "event_type"])
    usage["at"] = _utc(usage["occurred_at"]).dt.tz_localize(None)
    usage["key"] = usage["event_type"].isin(["dashboard_share", "integration_sync", "workflow_run"])
    before = usage["account_id"].map(last) - usage["at"]
    near = usage[before.between(pd.Timedelta(0), pd.Timedelta(days=56))]
    stayed = usage[~usage["account_id"].isin(churns["account_id"])]
    assert near["key"].mean() < stayed["key"].mean() - 0.05
    tickets = _raw(world, "tickets")
    tickets = tickets[tickets["account_id"].isin(churns["account_id"])]
    opened = _utc(tickets["opened_at"]).dt.tz_localize(None)
    close = (tickets["account_id"].map(last) - opened).between(pd.Timedelta(0), "56D")
    urgent = tickets["priority"].isin(["high", "urgent"])
    assert urgent[close].mean() > urgent[~close].mean()


# --- running periods, early ends, plan changes, exports written earlier ----------------------


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `world` fixture's export as written on WRITTEN_ON."""
    out = tmp_path_factory.mktemp("cut")
    write_world(out, n_accounts=400, seed=11, written_on=WRITTEN_ON.date())
    return out


@pytest.fixture(scope="module")
def simulated() -> tuple[World, Population]:
    cfg, rng = WorldConfig(), np.random.default_rng(4)
    managers = draw_managers(200, rng)
    pop = draw_population(200, managers, cfg, rng)
    return simulate(pop, managers, cfg, Dynamics(), rng), pop


def _subscriptions(world: Path) -> pd.DataFrame:
    return _raw(world, "subscriptions", parse_dates=["start_date", "end_date"])


def _billed_end(subs: pd.DataFrame) -> pd.Series:
    """The end a row's period was billed to when it began: one interval after its start."""
    months = subs["billing_interval"].map({"monthly": 1, "annual": 12}).to_numpy()
    start = subs["start_date"].to_numpy().astype("datetime64[D]") - np.datetime64("2024-05-01")
    end = period_end(start.astype(np.int64), months)
    return pd.Series(np.datetime64("2024-05-01") + end.astype("timedelta64[D]"), index=subs.index)


@pytest.mark.parametrize("written_on", [_day("2025-11-17"), _day("2026-11-01")])
def test_each_style_writes_a_running_period_its_way(
    simulated: tuple[World, Population], written_on: int
) -> None:
    sim, pop = simulated
    styles = {
        style: subscriptions_table(sim.periods, pop, written_on, style) for style in RunningPeriods
    }
    billed, open_, mixed = (styles[s] for s in ("billed", "open", "mixed"))
    day = np.datetime64("2024-05-01") + np.timedelta64(written_on, "D")
    assert (billed["start_date"] < day).all() and billed["end_date"].notna().all()
    running = billed["end_date"] >= day
    assert running.sum() > 50
    # A running period shows the end it was billed to when it began.
    assert (billed["end_date"] == _billed_end(billed))[running].all()
    assert (open_["end_date"].isna() == running).all()
    monthly = billed["billing_interval"] == "monthly"
    assert (mixed["end_date"].isna() == (running & monthly)).all()
    assert (monthly & running).any() and (~monthly & running).any()
    for frame in (open_, mixed):  # the same rows, only running ends differ
        pd.testing.assert_frame_equal(
            frame.drop(columns="end_date"), billed.drop(columns="end_date")
        )
        assert (frame["end_date"] == billed["end_date"])[frame["end_date"].notna()].all()
    assert set(billed["billing_interval"]) == {"monthly", "annual"}
    assert (billed["plan"].str.split("_").str[1] == billed["billing_interval"]).all()


def test_early_ends_rewrite_the_row_and_the_life_churns_there(world: Path) -> None:
    subs = _subscriptions(world)
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    churns["churn_date"] = pd.to_datetime(churns["churn_date"])
    early = churns[churns["early_end"] & (churns["churn_date"] <= DATA_END)]
    assert 0 < len(early) < 0.1 * len(churns)
    rows = subs.merge(
        early, left_on=["account_id", "end_date"], right_on=["account_id", "churn_date"]
    )
    assert len(rows) == len(early)  # each early churn is the end of a row...
    assert (rows["end_date"] < _billed_end(rows)).all()  # ...before the end it was billed to
    assert (rows["end_date"] >= rows["start_date"]).all()
    # Nothing restarts within the grace gap: the contract reads a churn on that day.
    lives = _lives_from_subscriptions(subs)
    ends = set(zip(lives["account_id"], lives["end"], strict=True))
    assert {(a, e) for a, e in zip(rows["account_id"], rows["end_date"], strict=True)} <= ends


def test_a_plan_change_ends_the_old_row_the_day_before_the_new_one(world: Path) -> None:
    subs = _subscriptions(world).sort_values(["account_id", "start_date"], ignore_index=True)
    nxt = subs.groupby("account_id").shift(-1)
    cut_short = subs["end_date"] < _billed_end(subs)
    changed = cut_short & (nxt["start_date"] == subs["end_date"] + pd.Timedelta(days=1))
    assert changed.sum() > 20
    churns = pd.read_parquet(world / "truth" / "churns.parquet")
    churned = set(zip(churns["account_id"], pd.to_datetime(churns["churn_date"]), strict=True))
    old, new = subs[changed], nxt[changed]
    assert not any(
        (a, e) in churned for a, e in zip(old["account_id"], old["end_date"], strict=True)
    )
    assert (new["billing_interval"] == old["billing_interval"]).all()
    assert (new["mrr"] != old["mrr"]).mean() > 0.9
    assert (new["plan"] != old["plan"]).any()
    # Every row cut short before its billed end is either an early end or a plan change.
    early = cut_short & ~changed
    assert {
        (a, e) for a, e in zip(subs["account_id"][early], subs["end_date"][early], strict=True)
    } <= churned


def test_the_truth_re_simulates_early_ends_and_plan_changes() -> None:
    base = Dynamics()
    as_of = _day("2025-03-03")
    rows = pd.DataFrame(
        {
            "as_of": as_of,
            "age": 60,
            "start": as_of - 300,
            "end": as_of + np.array([200, 10]),  # renewal far off, renewal in the window
            "h": [-3.0, -8.0],
            "champion": 0.0,
            "budget": [1.0, 0.0],
            "friction": 0.0,
            "quiet": 0.0,
        }
    )
    traits = dataclasses.replace(_traits(2), mu=rows["h"].to_numpy())
    steady = churn_probability(rows, traits, 200, 90, np.random.default_rng(0), _steady(base))
    early = dataclasses.replace(_steady(base), early_logit=base.early_logit)
    p = churn_probability(rows, traits, 200, 90, np.random.default_rng(0), early)
    assert steady[0] == 0.0 and p[0] > 0.2  # a fresh cut and very low health end it early
    # Clients upgrading on the spot start a fresh annual period: the renewal leaves the window.
    eager = dataclasses.replace(_steady(base), upgrade_logit=50.0)
    moved = churn_probability(rows, traits, 200, 90, np.random.default_rng(0), eager)
    assert steady[1] > 0.99 and moved[1] == 0.0


def test_an_export_written_earlier_shows_only_what_was_known_then(world: Path, cut: Path) -> None:
    day = WRITTEN_ON.tz_localize("UTC")
    dated = {
        "accounts": "created_at",
        "usage_events": "occurred_at",
        "tickets": "opened_at",
        "contacts": "occurred_at",
        "manager_ratings": "rated_at",
    }
    for name, column in dated.items():
        stamps = _utc(_raw(cut, name, usecols=[column])[column])
        assert (stamps < day).all() and len(stamps) > 100, name
        full = _raw(world, name, usecols=[column])[column]
        assert len(stamps) == (_utc(full) < day).sum(), name  # every row before T is there
    for name in ("accounts", "contacts", "manager_ratings"):  # ... as the full export has it
        full = _raw(world, name)
        before = full[_utc(full[dated[name]]) < day].reset_index(drop=True)
        pd.testing.assert_frame_equal(_raw(cut, name), before)
    full = _raw(world, "tickets").set_index("ticket_id")
    early = _raw(cut, "tickets").set_index("ticket_id")
    later = _utc(full.loc[early.index, "closed_at"]) >= day
    assert later.sum() > 10
    assert early.loc[later, ["closed_at", "csat"]].isna().all().all()  # still open then
    pd.testing.assert_frame_equal(early[~later], full.loc[early.index[~later]])


def test_an_export_written_earlier_writes_subscriptions_as_they_were(
    world: Path, cut: Path
) -> None:
    full, early = _subscriptions(world), _subscriptions(cut)
    assert (early["start_date"] < WRITTEN_ON).all()
    key = ["account_id", "start_date"]
    ended = early[early["end_date"] < WRITTEN_ON]
    merged = ended.merge(full, on=key, suffixes=("", "_full"), validate="1:1")
    assert len(merged) == len(ended) > 100
    for column in ("end_date", "mrr", "plan", "billing_interval"):
        assert (merged[column] == merged[f"{column}_full"]).all(), column
    # Running on T (mixed): monthly open, annual billed to its end, even if later cut short.
    running = early[~early.index.isin(ended.index)]
    monthly = running["billing_interval"] == "monthly"
    assert running["end_date"][monthly].isna().all()
    assert (running["end_date"] == _billed_end(running))[~monthly].all()
    shown = full.merge(running[~monthly], on=key, suffixes=("_full", ""))
    assert (shown["end_date_full"] < shown["end_date"]).any()  # ended early or changed later
    # A full row ended before T but not yet ended in the cut: a plan change on T itself.
    hidden = full[(full["start_date"] < WRITTEN_ON) & (full["end_date"] < WRITTEN_ON)]
    hidden = hidden.merge(ended[key], on=key, how="left", indicator=True)
    assert (
        hidden[hidden["_merge"] == "left_only"]["end_date"] == WRITTEN_ON - pd.Timedelta(days=1)
    ).all()


def test_written_on_must_fall_inside_the_data(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="written_on must be between"):
        write_world(tmp_path, n_accounts=60, seed=1, written_on=pd.Timestamp("2027-01-01").date())
