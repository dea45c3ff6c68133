"""End to end: `score` and `report` on the small world, a replayed week, and a killed run."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.params import BaseParams
from serving.params import ReportParams, ScoreParams
from serving.scoring import SCORE_COLUMNS
from serving.stages import report, score

TRAIN = ScoreParams(model="train")


def _weeks(featured: Path) -> list[dt.date]:
    dates = pd.read_parquet(featured / "snapshots.parquet", columns=["as_of"])["as_of"]
    return sorted(pd.to_datetime(dates).dt.date.unique())


@pytest.fixture(scope="module")
def scored(featured: Path, modeled: Path) -> Path:
    out = modeled / "score"
    weeks = _weeks(featured)
    for day in (weeks[-2], weeks[-1]):
        score(
            featured, modeled / "train", out, BaseParams(), ScoreParams(), day, modeled / "mlflow"
        )
    return out


def test_latest_points_at_the_newest_week_and_every_account_is_scored(
    featured, scored, small_world
):
    weeks = _weeks(featured)
    assert (scored / "latest").resolve() == (scored / str(weeks[-1])).resolve()
    scores = pd.read_parquet(scored / "latest" / "scores.parquet")
    snaps = pd.read_parquet(featured / "snapshots.parquet")
    active = snaps[pd.to_datetime(snaps["as_of"]).dt.date == weeks[-1]]
    assert sorted(scores["account_id"]) == sorted(active["account_id"])
    assert list(scores.columns) == list(SCORE_COLUMNS) + _curve_columns(scored)
    assert scores["rank"].tolist() == list(range(1, len(scores) + 1))
    # The export's display names ride along, one per account as the accounts table has it.
    accounts = pd.read_csv(small_world / "raw" / "accounts.csv").set_index("account_id")["name"]
    assert scores["account_name"].tolist() == accounts[scores["account_id"]].tolist()
    assert scores["revenue_at_risk"].is_monotonic_decreasing
    assert scores["tier"].isin([1, 2, 3, 4]).all()
    assert scores["previous_probability"].notna().mean() > 0.9
    assert scores["reasons_up"].map(len).gt(0).mean() > 0.5
    summary = json.loads((scored / "latest" / "summary.json").read_text())
    assert summary["accounts"] == len(scores)
    assert summary["expected_churned_mrr"] == pytest.approx(scores["revenue_at_risk"].sum())
    meta = json.loads((scored.parent / "train" / "production" / "model.json").read_text())
    assert summary["horizon_days"] == meta["horizon_days"] == BaseParams().horizon_days
    assert summary["model"]["data_through"] == meta["data_through"]
    assert summary["model"]["alias"] == ("champion" if meta["gate"]["promoted"] else "challenger")


def _curve_columns(scored: Path) -> list[str]:
    """The curve's columns the scoring model writes after SCORE_COLUMNS (none without one).

    In the order `RiskCurve.predict` gives them: a CRM import may map scores.csv by position.
    """
    from training.bundle import load_model

    curve = getattr(load_model(scored.parent / "train" / "production")[0], "curve_", None)
    if curve is None:
        return []
    renewal = ["p_churn_by_renewal"] if "by_renewal" in curve.models else []
    return [f"p_churn_{h}d" for h in curve.horizons] + ["next_renewal", *renewal]


def test_the_csv_opens_in_pandas_with_the_documented_columns(scored):
    frame = pd.read_csv(scored / "latest" / "scores.csv")
    assert list(frame.columns) == list(SCORE_COLUMNS) + _curve_columns(scored)
    parquet = pd.read_parquet(scored / "latest" / "scores.parquet")
    # Dates as plain ISO dates, as the CRM imports them (empty where the renewal is unknown).
    iso = frame["as_of"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    assert iso.all()
    if "next_renewal" in frame:
        known = frame["next_renewal"].dropna()
        assert len(known) and known.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
        assert frame["next_renewal"].isna().tolist() == parquet["next_renewal"].isna().tolist()
        np.testing.assert_array_equal(frame["p_churn_90d"], frame["probability"])
    assert frame["account_id"].tolist() == parquet["account_id"].tolist()
    joined = parquet["reasons_up"].map(" | ".join).replace("", np.nan)
    assert frame["reasons_up"].fillna("").tolist() == joined.fillna("").tolist()


def test_a_replayed_week_equals_the_models_predictions_of_that_week(featured, modeled):
    from training.bundle import load_model
    from training.tiers import assign_tiers

    preds = pd.read_parquet(modeled / "evaluate" / "predictions.parquet")
    day = sorted(pd.to_datetime(preds["as_of"]).dt.date.unique())[3]
    score(featured, modeled / "train", modeled / "replay", BaseParams(), TRAIN, day)
    replay = pd.read_parquet(modeled / "replay" / str(day) / "scores.parquet")
    snaps = pd.read_parquet(featured / "snapshots.parquet")
    week = snaps[pd.to_datetime(snaps["as_of"]).dt.date == day].reset_index(drop=True)
    model, meta = load_model(modeled / "train" / "production")
    week = week.assign(probability=model.predict_proba(week)[:, 1])
    week["tier"] = assign_tiers(week["probability"], meta.tiers)
    both = week.merge(replay, on="account_id", suffixes=("_model", "_score"))
    assert len(both) == len(week) == len(replay) == (preds["as_of"].astype(str) == str(day)).sum()
    np.testing.assert_allclose(both["probability_score"], both["probability_model"], rtol=1e-12)
    assert (both["tier_score"] == both["tier_model"]).all()


def test_a_date_that_is_not_a_snapshot_is_refused(featured, modeled):
    from data.errors import ContractError

    tuesday = _weeks(featured)[-1] + dt.timedelta(days=1)
    with pytest.raises(ContractError, match="not a snapshot date"):
        score(featured, modeled / "train", modeled / "bad", BaseParams(), TRAIN, tuesday)


def test_a_killed_run_leaves_every_complete_week_intact(featured, modeled, tmp_path):
    out = tmp_path / "score"
    weeks = _weeks(featured)
    score(featured, modeled / "train", out, BaseParams(), TRAIN, weeks[-2])
    before = {p.name: p.read_bytes() for p in (out / str(weeks[-2])).iterdir()}
    # A second process scores the next week and is killed in the middle of writing its files.
    script = textwrap.dedent(
        f"""
        import os, signal, datetime as dt
        from pathlib import Path
        import serving.stages as stages
        from data.params import BaseParams
        from serving.params import ScoreParams

        real = stages.write_json
        def dying(obj, path):
            Path(path).write_text('{{"half": ')
            os.kill(os.getpid(), signal.SIGKILL)
        stages.write_json = dying
        stages.score(Path({str(featured)!r}), Path({str(modeled / "train")!r}), Path({str(out)!r}),
                     BaseParams(), ScoreParams(model="train"), dt.date.fromisoformat("{weeks[-1]}"))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()[-2000:]
    assert not (out / str(weeks[-1])).exists()
    assert (out / "latest").resolve() == (out / str(weeks[-2])).resolve()
    assert {p.name: p.read_bytes() for p in (out / str(weeks[-2])).iterdir()} == before
    # The next complete run takes over, and leaves no half-written folder behind its names.
    score(featured, modeled / "train", out, BaseParams(), TRAIN, weeks[-1])
    assert (out / "latest").resolve() == (out / str(weeks[-1])).resolve()
    assert json.loads((out / "latest" / "summary.json").read_text())["as_of"] == str(weeks[-1])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    # Nor the killed run's scratch: only the lock the runs take turns with stays.
    assert [p.name for p in (out / "runs").iterdir() if p.name.startswith(".")] == [".lock"]


def test_the_report_is_self_contained_and_holds_the_call_list(scored, modeled):
    path = report(
        scored,
        modeled / "evaluate",
        modeled / "compare",
        modeled / "report",
        BaseParams(),
        ReportParams(call_list=10),
    )
    html = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    scores = pd.read_parquet(scored / "latest" / "scores.parquet")
    call_list = html.split('id="calls"')[1].split("<h2")[0]
    for account, name in zip(scores["account_id"].head(10), scores["account_name"], strict=False):
        assert account in call_list
        assert f'<span class="name">{name}</span>' in call_list
    assert call_list.count("<tr><td") == 10
    reasons = [r for r in scores["reasons_up"].head(10) if len(r)]
    assert reasons, "no account of the call list has a reason raising its risk"
    for listed in reasons:
        assert listed[0].replace("'", "&#39;") in call_list
    for section in (
        "Movers since last week",
        "disagree",
        "By manager",
        "By segment",
        "Model health",
    ):
        assert section in html
    assert html.count("data:image/png;base64,") >= 4
    if "p_churn_30d" in scores:  # the model has a risk curve: a curve per call, renewals due
        assert call_list.count('class="curve"') == 10
        assert 'id="renewals"' in html and "Renewals in the next 90 days" in html


def test_an_account_without_a_quotable_driver_says_so(scored):
    from serving.report import render
    from serving.stages import read_scores

    scores, summary = read_scores(scored, None)
    quiet = scores.head(3).copy()
    quiet["reasons_up"] = [[] for _ in range(3)]
    quiet["reasons_down"] = [[] for _ in range(3)]
    quiet["movers"] = [[] for _ in range(3)]
    quiet["probability_change"] = [0.02, -0.02, 0.0]
    html = render(quiet, summary, ReportParams(call_list=3), horizon_days=90)
    call_list = html.split('id="calls"')[1].split('id="movers"')[0]
    assert call_list.count("No single driver of 0.5 points or more") == 3
    movers = html.split('id="movers"')[1].split('id="disagree"')[0]
    assert movers.count("No single driver moved by 0.5 points or more") == 2


def test_scoring_a_past_week_never_prunes_that_week(featured, modeled, tmp_path):
    dates = _weeks(featured)
    out = tmp_path / "score"
    keep_one = ScoreParams(model="train", keep_weeks=1)
    for day in (dates[-2], dates[-1], dates[-4]):
        score(featured, modeled / "train", out, BaseParams(), keep_one, day)
    # The run of the older week keeps it; the newest week stays too; the rest is pruned.
    assert (out / str(dates[-4]) / "scores.parquet").exists()
    assert (out / "latest").resolve() == (out / str(dates[-1])).resolve()
    assert not (out / str(dates[-2])).exists()
    links = sorted(p.name for p in out.iterdir() if p.is_symlink())
    assert links == sorted([str(dates[-4]), str(dates[-1]), "latest"])


def _mover_points(scores: pd.DataFrame) -> list[float]:
    said = [m for movers in scores["movers"] for m in movers]
    return [float(re.search(r"\(([-+][\d.]+) pts\)$", m).group(1)) for m in said]  # type: ignore[union-attr]


def test_movers_leave_out_changes_under_min_contribution(featured, modeled, tmp_path):
    weeks = _weeks(featured)
    out = tmp_path / "score"
    score(featured, modeled / "train", out / "usual", BaseParams(), TRAIN, weeks[-1])
    usual = _mover_points(pd.read_parquet(out / "usual" / "latest" / "scores.parquet"))
    assert any(abs(p) < 3 for p in usual)  # the default 0.5 points lets smaller moves through
    strict = TRAIN.model_copy(update={"min_contribution": 0.03})
    score(featured, modeled / "train", out / "strict", BaseParams(), strict, weeks[-1])
    points = _mover_points(pd.read_parquet(out / "strict" / "latest" / "scores.parquet"))
    assert points and all(abs(p) >= 3 for p in points)
    assert sorted(points) == sorted(p for p in usual if abs(p) >= 3)
