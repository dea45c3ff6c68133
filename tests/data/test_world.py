"""The demo world generator: determinism, contract shape, plausibility, truth and mess."""

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from data.contract import TABLES
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
from data.world.population import draw_managers, draw_population
from data.world.simulation import MON0, simulate
from data.world.truth import churn_probability
from data.world.usage import usage_chunk

GRACE = pd.Timedelta(days=30)
HORIZON = pd.Timedelta(days=90)
DATA_END = pd.Timestamp("2026-10-31")


def _day(text: str) -> int:
    return int((np.datetime64(text, "D") - np.datetime64("2024-05-01", "D")).astype(int))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(out, n_accounts=400, seed=11)
    return out


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


def test_true_risk_counts_only_renewals_whose_churn_date_falls_inside_the_window() -> None:
    dyn = Dynamics()
    as_of = _day("2025-03-03")
    rows = pd.DataFrame(
        {
            "as_of": as_of,
            "age": 60,
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
    assert list(risk.columns) == ["account_id", "as_of", "life", "p_churn", *hidden]
    assert list(churns.columns) == ["account_id", "life", "churn_date", "cause"]
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
