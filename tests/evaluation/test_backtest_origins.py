"""`churn backtest`: rolling origins, each model fitted only on what its Monday knew."""

import datetime as dt

import pandas as pd

from data.io import read_json
from evaluation.backtest import origins
from evaluation.params import BacktestParams
from training.frames import label_wait_days


def test_origins_step_back_from_the_last_week_that_can_still_be_judged():
    dates = [dt.date(2024, 1, 1) + dt.timedelta(weeks=k) for k in range(80)]
    picks = origins(dates, span_weeks=52, every_weeks=4, scored_weeks=4)
    assert picks[-1].day == dates[-4] and picks[-1].scored == tuple(dates[-4:])
    assert all((b.day - a.day).days == 28 for a, b in zip(picks, picks[1:], strict=False))
    assert picks[0].day >= dates[-52] and len(picks) == 13


def test_backtest_stage_judges_each_origin_on_weeks_it_never_learned_from(
    trained, manifest, tmp_path
):
    from evaluation.stages.backtest import backtest

    root = trained["root"]
    params = BacktestParams(span_weeks=20, every_weeks=4, scored_weeks=4, call_list=10)
    summary = backtest(
        root / "features",
        root / "train",
        tmp_path / "backtest",
        trained["base"],
        params,
        trained["params"],
        trained["evaluate"],
        mlflow_dir=root / "mlflow",
    )
    weeks = pd.read_parquet(tmp_path / "backtest" / "weeks.parquet")
    for column in ("origin", "as_of", "data_through"):
        weeks[column] = pd.to_datetime(weeks[column]).dt.date
    wait = dt.timedelta(days=label_wait_days(manifest))
    assert (weeks["data_through"] <= weeks["origin"] - wait).all()
    assert (weeks["as_of"] >= weeks["origin"]).all()
    assert weeks["churned"].notna().all()
    table = pd.read_csv(tmp_path / "backtest" / "origins.csv")
    assert len(table) == len(summary["origins"]) >= 3
    assert {"model_call_list_precision", "managers_call_list_precision"} <= set(table.columns)
    assert table["roc_auc"].between(0.5, 1).all()
    saved = read_json(tmp_path / "backtest" / "summary.json")
    assert saved["pooled"]["origins"] == len(table)
    assert (tmp_path / "backtest" / "plots" / "origins.png").stat().st_size > 10_000
