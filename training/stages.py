"""The `train` and `evaluate` DVC stages: read Interface B, fit, evaluate, write, track."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from data.errors import ContractError
from data.io import atomic_dir, read_json, write_json, write_parquet
from data.params import BaseParams
from training import tracking
from training.frames import (
    CONTEXT_COLUMNS,
    dvc_plot_frames,
    feature_lists,
    full_windows_from,
    known_on,
    labeled,
    predictions,
    split_frames,
    trainable_from,
)
from training.metrics import score
from training.model import ChurnModel
from training.params import (
    BacktestParams,
    CompareParams,
    EvaluateParams,
    ExplainParams,
    TrainParams,
)
from training.production import Production, Recipe, fit_production
from training.profile import PROFILE_KEY, profile_rows
from training.splits import Splits, make_splits
from training.tiers import assign_tiers, fit_tiers
from training.tuning import tune

log = logging.getLogger(__name__)

PRODUCTION = "production"  # `train`'s folder of the model that scores (see serving.models)
PRODUCTION_CAL = "production_calibration.parquet"  # the production calibrator's rows


def _fit(frames: dict[str, pd.DataFrame], manifest: dict, base: BaseParams, p: TrainParams):
    features, categorical = feature_lists(manifest)
    started = time.perf_counter()
    tuned = tune(
        frames["inner"],
        frames["validation"],
        features,
        categorical,
        p.booster_params(),
        n_trials=p.n_trials,
        timeout_seconds=p.tuning_minutes * 60,
        early_stopping_rounds=p.early_stopping_rounds,
        seed=base.seed,
    )
    # The recipe: the tuned parameters and the tree count early stopping chose on the later
    # fold, kept for every later fit (all training rows, the production model's folds).
    recipe = Recipe(
        features=features,
        categorical=categorical,
        params={k: v for k, v in tuned.params.items() if k != "n_estimators"},
        rounds=tuned.best_iteration,
        calibration_method="none",
        seed=base.seed,
    )
    params = recipe.params | {"n_estimators": recipe.rounds}
    model = ChurnModel(
        features,
        categorical,
        params,
        p.early_stopping_rounds,
        p.calibration_methods,
        p.calibration_folds,
        base.seed,
    )
    cal = frames["calibration"]
    model.fit(
        frames["train"],
        frames["train"]["churned"],
        calibration_set=(cal, cal["churned"]),
        calibration_groups=cal["as_of"].astype(str),
    )
    log.info(
        "fitted in %.0fs; calibration log loss %s -> %s",
        time.perf_counter() - started,
        model.calibration_losses_,
        model.calibration_method_,
    )
    return model, tuned, replace(recipe, calibration_method=model.calibration_method_)


def read_features(features_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """Snapshots, manifest, and a digest of both (the exact feature table trained on)."""
    snapshots_path = Path(features_dir) / "snapshots.parquet"
    manifest_path = Path(features_dir) / "manifest.json"
    for path in (snapshots_path, manifest_path):
        if not path.exists():
            raise ContractError(str(path), None, "missing: run `churn features` first")
    digest = hashlib.sha256()
    for path in (snapshots_path, manifest_path):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    snapshots = pd.read_parquet(snapshots_path)
    snapshots["as_of"] = pd.to_datetime(snapshots["as_of"]).dt.date
    return snapshots, read_json(manifest_path), digest.hexdigest()


def train(
    features_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: TrainParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Split by time, tune, fit and calibrate, gate and register; write model and metrics."""
    snapshots, manifest, digest = read_features(features_dir)
    rows = labeled(snapshots, manifest)
    splits = make_splits(
        sorted(rows["as_of"].unique()),
        manifest["horizon_days"],
        evaluate.test_weeks,
        params.calibration_weeks,
        params.validation_weeks,
        params.min_train_weeks,
    )
    frames = split_frames(rows, splits, full_windows_from(manifest))
    for name, frame in frames.items():
        log.info("%s: %d rows, churn rate %.4f", name, len(frame), frame["churned"].mean())
    for name in ("inner", "validation", "calibration"):  # `train` is inner + gap + validation
        labels = frames[name]["churned"]
        if labels.nunique() < 2:
            dates = frames[name]["as_of"]
            held = "no churn" if labels.sum() == 0 else "only churns"
            raise ContractError(
                str(Path(features_dir) / "snapshots.parquet"),
                "churned",
                f"the {name} weeks ({dates.min()} to {dates.max()}, {len(labels)} rows) hold "
                f"{held}: a model needs churned and retained accounts in every period",
            )
    model, tuned, recipe = _fit(frames, manifest, base, params)
    test = frames["test"]
    test_metrics = score(
        test["churned"], model.predict_proba(test)[:, 1], test["mrr"], evaluate.ece_bins
    )
    mlflow_dir = Path(mlflow_dir or Path(out_dir).parent / "mlflow")
    tracking.use_store(mlflow_dir, params.experiment)
    gate = tracking.decide_promotion(
        test_metrics["roc_auc"],
        test_metrics["ece"],
        tracking.champion_auc(params.model_name, test, test["churned"].to_numpy()),
        params.gate_max_auc_drop,
        params.gate_max_ece,
    )
    cal = predictions(model, frames["calibration"], evaluate.rating_feature)
    entries = [f for f in manifest["features"] if f["name"] in model.features]
    meta = _model_meta(model, manifest, entries, digest, recipe, gate) | {
        "role": "evaluated",
        "data_through": splits.calibration.end.isoformat(),
        "splits": splits.as_dict(),
        "tiers": fit_tiers(cal["probability"], cal["manager_rating"]),
        # Scores of weeks the model never saw (the calibration weeks): what the monitor
        # compares a new week's scores with.
        PROFILE_KEY: profile_rows(
            frames["train"], entries, scores=cal["probability"].to_numpy()
        ).as_dict(),
    }
    production = _fit_production(rows, manifest, recipe, params)
    oof = production.calibration
    ratings = oof.get(evaluate.rating_feature, pd.Series(np.nan, oof.index)).astype("Float64")
    prod_meta = _model_meta(production.model, manifest, entries, digest, recipe, gate) | {
        "role": "production",
        "data_through": production.data_through.isoformat(),
        "fitted_from": production.fitted_from.isoformat(),
        "calibration_blocks": [[str(b.start), str(b.end)] for b in production.blocks],
        "splits": splits.as_dict(),
        "tiers": fit_tiers(oof["probability"], ratings.to_numpy(dtype=float, na_value=np.nan)),
        PROFILE_KEY: profile_rows(
            production_rows(rows, manifest), entries, scores=oof["probability"].to_numpy()
        ).as_dict(),
    }
    metrics = {
        "test": test_metrics,
        "calibration_log_loss": model.calibration_losses_,
        "validation_log_loss": tuned.best_log_loss,
        "tuning_trials": len(tuned.trials),
        "best_iteration": tuned.best_iteration,
        "rounds": int(meta["params"]["n_estimators"]),
        "gate": {"promoted": gate.promote, "champion_auc": gate.champion_auc},
        "production": _production_metrics(production, evaluate.ece_bins),
    }
    with atomic_dir(Path(out_dir)) as tmp:
        for folder, fitted in (("model", model), (PRODUCTION, production.model)):
            (tmp / folder).mkdir()
            joblib.dump(fitted, tmp / folder / "model.joblib")
        tuned.trials.to_csv(tmp / "tuning_trials.csv", index=False)
        table = tracking.feature_table(snapshots, Path(features_dir) / "snapshots.parquet", digest)
        example = frames["test"][list(model.features)].head(5)
        meta |= _track(model, meta, table, example, tuned, metrics, params, base)
        prod_meta |= _track(
            production.model, prod_meta, table, example, None, metrics, params, base
        )
        prod_meta["vouched_by"] = {
            "model_version": meta["model_version"],
            "mlflow_run_id": meta["mlflow_run_id"],
            "test_metrics": test_metrics,
        }
        tracking.set_lineage(params.model_name, prod_meta["model_version"], prod_meta, gate)
        for folder, document in (("model", meta), (PRODUCTION, prod_meta)):
            write_json(document, tmp / folder / "model.json")
            # The scorer and the API fetch a champion's files from its run (ARTIFACT_PATH).
            _log_to_run(document, mlflow_dir, tmp / folder, "churn")
        write_json(metrics, tmp / "metrics.json")
        write_parquet(cal, tmp / "calibration_predictions.parquet")
        write_parquet(_calibration_rows(oof, evaluate.rating_feature), tmp / PRODUCTION_CAL)
    log.info(
        "gate: %s (%s); production version %s learned up to %s",
        "promoted" if gate.promote else "challenger",
        gate.reason,
        prod_meta["model_version"],
        prod_meta["data_through"],
    )
    return metrics


def _calibration_rows(oof: pd.DataFrame, rating_feature: str) -> pd.DataFrame:
    """The production calibrator's rows: out-of-time raw score, calibrated probability."""
    out = oof[["account_id", "as_of", "churned", "probability", "raw_score"]].copy()
    rating = oof[rating_feature] if rating_feature in oof else pd.Series(pd.NA, oof.index)
    out["manager_rating"] = rating.astype("Float64")
    for column in CONTEXT_COLUMNS:
        out[column] = oof[column]
    return out.reset_index(drop=True)


def production_rows(rows: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Every labeled row the production model learns from (whole feature windows only)."""
    dates = rows["as_of"]
    start = trainable_from(dates, dates.min(), full_windows_from(manifest), dates.max())
    return rows[dates >= start]


def _fit_production(
    rows: pd.DataFrame, manifest: dict[str, Any], recipe: Recipe, params: TrainParams
) -> Production:
    started = time.perf_counter()
    production = fit_production(
        recipe,
        production_rows(rows, manifest),
        manifest["horizon_days"],
        params.calibration_weeks,
        params.refit_calibration_blocks,
    )
    log.info("production model fitted in %.0fs", time.perf_counter() - started)
    return production


def _production_metrics(production: Production, bins: int) -> dict[str, Any]:
    """What the production fit used, and its calibrator's fit on the out-of-time rows."""
    oof = production.calibration
    return {
        "data_through": production.data_through.isoformat(),
        "fitted_from": production.fitted_from.isoformat(),
        "rows": production.rows,
        "rounds": production.model.trees_.best_iteration_,
        "calibration_blocks": [[str(b.start), str(b.end)] for b in production.blocks],
        "calibration_out_of_time": score(oof["churned"], oof["probability"], oof["mrr"], bins),
    }


def _model_meta(
    model: ChurnModel,
    manifest: dict[str, Any],
    entries: list[dict[str, Any]],
    digest: str,
    recipe: Recipe,
    gate: tracking.Gate,
) -> dict[str, Any]:
    """`model.json` fields every saved model has, whichever rows it was fitted on."""
    return {
        "features": model.features,
        "categorical": model.categorical,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "calibration_method": model.calibration_method_,
        "params": model.trees_.params,
        "recipe": recipe.as_dict(),
        "features_digest": digest,
        "gate": {"promoted": gate.promote, "reason": gate.reason},
        # The model's own copy of its features' manifest entries: the API validates live rows
        # and words their reasons with it, wherever the model file travels.
        "feature_manifest": entries,
        "horizon_days": manifest["horizon_days"],
    }


def _track(
    model: ChurnModel,
    meta: dict[str, Any],
    table: Any,
    example: pd.DataFrame,
    tuned: Any,
    metrics: dict[str, Any],
    params: TrainParams,
    base: BaseParams,
) -> dict[str, Any]:
    """One MLflow run per saved model (`evaluated`, then `production`), registered.

    The run is named for what ran ("train evaluated, data through 2025-06-30"); its input is
    the feature table (`table`, an MLflow dataset); the evaluated run also logs its tuning
    trials (`tuned`).
    """
    import mlflow

    role = meta["role"]
    with mlflow.start_run(run_name=f"train {role}, data through {meta['data_through']}") as run:
        mlflow.log_input(table, context="training")
        mlflow.log_params({f"base.{k}": v for k, v in base.model_dump().items()})
        mlflow.log_params({f"train.{k}": v for k, v in params.model_dump().items()})
        mlflow.log_params({f"split.{k}": v for k, v in meta["splits"].items()})
        mlflow.log_params({f"tuned.{k}": v for k, v in meta["params"].items()})
        tags = {
            "role": role,
            "data_through": meta["data_through"],
            "features_digest": meta["features_digest"],
            "calibration_method": meta["calibration_method"],
            "gate": "passed" if meta["gate"]["promoted"] else "refused",
            "gate_reason": meta["gate"]["reason"],
        }
        mlflow.set_tags(tags)
        if tuned is not None:
            mlflow.log_metrics(tracking.flat_metrics(metrics))
            for trial in tuned.trials.itertuples():
                mlflow.log_metric(
                    "tuning.validation_log_loss", float(trial.value), step=int(trial.number)
                )
            mlflow.log_text(tuned.trials.to_csv(index=False), "tuning_trials.csv")
        else:
            mlflow.log_metrics(tracking.flat_metrics(metrics["production"], "production."))
        version = tracking.log_model(model, meta["tiers"], example, params.model_name)
        tracking.tag_version(params.model_name, version, tags)
    return {
        "mlflow_run_id": run.info.run_id,
        "model_name": params.model_name,
        "experiment": params.experiment,
        "model_version": version,
    }


def load_model(model_dir: Path) -> tuple[ChurnModel, dict[str, Any]]:
    """The saved estimator and its `model.json`, as every consumer loads them."""
    model_dir = Path(model_dir)
    return joblib.load(model_dir / "model.joblib"), read_json(model_dir / "model.json")


def evaluate(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """The model beside the baselines on the test weeks: metrics, predictions, plots."""
    from training.backtest import backtest, backtest_figure, backtest_summary
    from training.baselines import fit_baselines, predict_baselines
    from training.plots import curves, figures

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / "model")
    frames = split_frames(labeled(snapshots, manifest), Splits.from_dict(meta["splits"]))
    features, categorical = feature_lists(manifest)
    fitted = fit_baselines(
        frames["train"],
        frames["calibration"],
        features,
        categorical,
        params.rating_feature,
        params.contact_feature,
        base.seed,
    )
    test = frames["test"]
    preds = predictions(model, test, params.rating_feature)
    preds["tier"] = assign_tiers(preds["probability"], meta["tiers"])
    preds = pd.concat([preds, predict_baselines(fitted, test).reset_index(drop=True)], axis=1)
    columns = {"model": "probability"} | {
        c.removesuffix("_probability"): c for c in preds.columns if c.endswith("_probability")
    }
    metrics: dict[str, Any] = {
        name: score(preds["churned"], preds[col], preds["mrr"], params.ece_bins)
        for name, col in columns.items()
    }
    metrics["model_by_segment"] = {
        str(seg): score(part["churned"], part["probability"], part["mrr"], params.ece_bins)
        for seg, part in preds.groupby("segment", dropna=False)
    }
    metrics["test_period"] = {
        "start": meta["splits"]["test_start"],
        "end": meta["splits"]["test_end"],
    }
    replay = backtest(preds.assign(churn_date=test["churn_date"].to_numpy()))
    metrics["backtest"] = backtest_summary(replay)
    data = curves(preds, columns, params.ece_bins)
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_json(metrics, tmp / "metrics.json")
        write_parquet(preds, tmp / "predictions.parquet")
        for name, frame in dvc_plot_frames(data).items():
            frame.to_csv(tmp / "plots" / f"{name}.csv", index=False)
        replay.to_csv(tmp / "backtest.csv", index=False)
        replayed = backtest_figure(replay, meta["horizon_days"])
        _save_figures(figures(data) | {"backtest": replayed}, tmp / "plots")
        _track_evaluation(
            meta, metrics, tmp / "plots", mlflow_dir or Path(out_dir).parent / "mlflow"
        )
    for name in columns:
        m = metrics[name]
        log.info(
            "%-20s AUC %.4f  Brier %.4f  ECE %.4f  lift %.2f",
            name,
            m["roc_auc"],
            m["brier"],
            m["ece"],
            m["top_decile_lift"],
        )
    return metrics


def _track_evaluation(meta: dict, metrics: dict, plots: Path, mlflow_dir: Path) -> None:
    import mlflow

    if not meta.get("mlflow_run_id"):
        return
    tracking.use_store(Path(mlflow_dir), meta.get("experiment", "churn-risk"))
    with mlflow.start_run(run_id=meta["mlflow_run_id"]):
        mlflow.log_metrics(tracking.flat_metrics(metrics, "evaluate."))
        mlflow.log_artifacts(str(plots), "evaluate")
        if (plots.parent / "backtest.csv").exists():
            mlflow.log_artifact(str(plots.parent / "backtest.csv"), "evaluate")


def backtest(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: BacktestParams,
    train_params: TrainParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Rolling origins over the last year: the recipe refitted on what each Monday knew."""
    import training.backtest as bt
    from data.console import progress

    snapshots, manifest, _ = read_features(features_dir)
    _, meta = load_model(Path(train_dir) / PRODUCTION)
    recipe = Recipe.from_dict(meta["recipe"])
    rows = labeled(snapshots, manifest)
    picks = bt.origins(
        sorted(rows["as_of"].unique()), params.span_weeks, params.every_weeks, params.scored_weeks
    )
    scored, skipped = [], []
    for origin in progress(picks, desc="backtest", unit="origin"):
        known = known_on(rows, origin.day, manifest)
        try:
            fitted = fit_production(
                recipe,
                production_rows(known, manifest),
                manifest["horizon_days"],
                train_params.calibration_weeks,
                train_params.refit_calibration_blocks,
            )
        except ValueError as err:  # too few weeks known on this origin
            skipped.append({"origin": str(origin.day), "reason": str(err)})
            log.warning("origin %s skipped: %s", origin.day, err)
            continue
        week = rows[rows["as_of"].isin(set(origin.scored))]
        preds = predictions(fitted.model, week, evaluate.rating_feature)
        preds["churn_date"] = week["churn_date"].to_numpy()
        scored.append(preds.assign(origin=origin.day, data_through=fitted.data_through))
    if not scored:
        raise ContractError(
            str(Path(features_dir) / "snapshots.parquet"),
            "as_of",
            f"no backtest origin has enough labeled weeks before it ({len(picks)} tried)",
        )
    weeks = pd.concat(scored, ignore_index=True)
    lists = bt.backtest(weeks, k_fixed=params.call_list)
    table = bt.origin_metrics(weeks, lists, evaluate.ece_bins, f"top_{params.call_list}")
    test = (meta.get("vouched_by") or {}).get("test_metrics", {})
    pooled = bt.pooled_summary(weeks, lists, evaluate.ece_bins)
    summary: dict[str, Any] = {
        "origins": _records(table),
        "pooled": pooled,
        "test_weeks": {k: test.get(k) for k in bt.HEADLINE},
        "skipped": skipped,
        "recipe_of": {"model_version": meta.get("model_version"), "role": meta.get("role")},
    }
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_parquet(weeks, tmp / "weeks.parquet")
        lists.to_csv(tmp / "lists.csv", index=False)
        table.to_csv(tmp / "origins.csv", index=False)
        write_json(summary, tmp / "summary.json")
        _save_figures({"origins": bt.origins_figure(table, test.get("roc_auc"))}, tmp / "plots")
        _track_backtest(meta, summary, tmp, mlflow_dir or Path(out_dir).parent / "mlflow")
    _log_origins(table, pooled)
    return summary


def _log_origins(table: pd.DataFrame, pooled: dict[str, Any]) -> None:
    for row in table.itertuples():
        log.info(
            "origin %s: %d rows, AUC %.3f, Brier %.4f, ECE %.4f, call list %.0f%% churned "
            "(managers' list %.0f%%)",
            row.origin,
            row.rows,
            row.roc_auc,
            row.brier,
            row.ece,
            100 * getattr(row, "model_call_list_precision", np.nan),
            100 * getattr(row, "managers_call_list_precision", np.nan),
        )
    log.info(
        "pooled over %d origins: AUC %.3f, Brier %.4f, ECE %.4f",
        pooled["origins"],
        pooled["roc_auc"],
        pooled["brier"],
        pooled["ece"],
    )


def _track_backtest(meta: dict, summary: dict, folder: Path, mlflow_dir: Path) -> None:
    """The pooled figures and the files, on the run of the model whose recipe was replayed."""
    import mlflow

    if not meta.get("mlflow_run_id"):
        return
    tracking.use_store(Path(mlflow_dir), meta.get("experiment", "churn-risk"))
    with mlflow.start_run(run_id=meta["mlflow_run_id"]):
        mlflow.log_metrics(tracking.flat_metrics(summary["pooled"], "backtest."))
        for name in ("origins.csv", "lists.csv", "summary.json"):
            mlflow.log_artifact(str(folder / name), "backtest")
        mlflow.log_artifacts(str(folder / "plots"), "backtest")


def explain(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: ExplainParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Drivers of the test weeks and the latest week: reasons per account, global plots."""
    from data.console import progress
    from training.explain import explain_batches, global_importance, reason_frame, shap_explanation
    from training.plots import explain_figures

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / "model")
    test = Splits.from_dict(meta["splits"]).test
    latest = snapshots["as_of"].max()
    rows = snapshots[test.contains(snapshots["as_of"]) | (snapshots["as_of"] == latest)]
    rows = rows.sort_values(["as_of", "account_id"]).reset_index(drop=True)
    started = time.perf_counter()
    explained = explain_batches(
        model, rows, params.batch_rows, lambda it: progress(it, desc="explain", unit="batch")
    )
    reasons = reason_frame(
        explained, rows, manifest, params.reasons_up, params.reasons_down, params.min_contribution
    )
    seconds = time.perf_counter() - started
    descriptions = {f["name"]: f["description"] for f in manifest["features"]}
    importance = global_importance(explained, [descriptions[f] for f in explained.features])
    sample = rows.sample(min(params.plot_rows, len(rows)), random_state=base.seed).index
    shap_values = shap_explanation(
        explained.take(sample.to_numpy()),
        model.trees_.columns_.transform(rows.loc[sample]),
        [descriptions[f] for f in explained.features],
    )
    summary = {
        "rows": len(rows),
        "weeks": {"test_start": str(test.start), "test_end": str(test.end), "latest": str(latest)},
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(rows) / max(seconds, 1e-9)),
        "base_probability": explained.base_probability,
        "top_features": importance.head(10)[["feature", "mean_abs_probability"]].to_dict("records"),
    }
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_parquet(explained.frame(rows[["account_id", "as_of"]]), tmp / "contributions.parquet")
        write_parquet(reasons, tmp / "reasons.parquet")
        importance.to_csv(tmp / "plots" / "importance.csv", index=False)
        figs = explain_figures(
            shap_values, importance, params.dependence_plots, model.trees_.columns_.categories_
        )
        _save_figures(figs, tmp / "plots")
        write_json(summary, tmp / "summary.json")
        _log_to_run(meta, mlflow_dir or Path(out_dir).parent / "mlflow", tmp / "plots", "explain")
    log.info(
        "explained %d rows in %.1fs (%s rows/s)", len(rows), seconds, summary["rows_per_second"]
    )
    return summary


def _save_figures(figures: dict[str, Any], folder: Path) -> None:
    """Each figure to `folder/<name>.png`, then closed."""
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        fig.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)


def _log_to_run(meta: dict, mlflow_dir: Path, folder: Path, artifact_path: str) -> None:
    """Attach a stage's files to the MLflow run that trained the model."""
    import mlflow

    if not meta.get("mlflow_run_id"):
        return
    tracking.use_store(Path(mlflow_dir), meta.get("experiment", "churn-risk"))
    with mlflow.start_run(run_id=meta["mlflow_run_id"]):
        mlflow.log_artifacts(str(folder), artifact_path)


def compare(
    features_dir: Path,
    train_dir: Path,
    evaluate_dir: Path,
    explain_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: CompareParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """The model beside the managers' ratings on the test weeks; all figures to summary.json."""
    import training.compare as cmp
    from training.baselines import combined_baseline

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / "model")
    preds = pd.read_parquet(Path(evaluate_dir) / "predictions.parquet")
    preds["as_of"] = pd.to_datetime(preds["as_of"]).dt.date
    reasons = pd.read_parquet(Path(explain_dir) / "reasons.parquet")
    reasons["as_of"] = pd.to_datetime(reasons["as_of"]).dt.date
    rows = _comparison_rows(preds, snapshots, meta, evaluate.contact_feature)
    rated = rows["manager_rating"].notna()
    summary: dict[str, Any] = {
        "test_period": {"start": str(rows["as_of"].min()), "end": str(rows["as_of"].max())},
        "tiers": meta["tiers"],
    }
    if not rated.any():
        summary["status"] = "nothing to compare: the export has no manager ratings"
        log.warning(summary["status"])
        with atomic_dir(Path(out_dir)) as tmp:
            write_json(summary, tmp / "summary.json")
            write_parquet(cmp.disagreements(rows.head(0), None), tmp / "disagreements.parquet")
            write_parquet(cmp.per_manager(rows.head(0)), tmp / "per_manager.parquet")
        return summary
    cal = pd.read_parquet(Path(train_dir) / "calibration_predictions.parquet")
    both = combined_baseline().fit(cal, cal["churned"].astype(int))
    summary["status"] = "compared"
    summary["agreement"] = cmp.agreement(
        rows, both.predict_proba(rows[rated])[:, 1], evaluate.ece_bins
    )
    summary["without_manager_features"] = _without_source(
        snapshots, manifest, model, meta, params.rating_source, rows, evaluate.ece_bins
    )
    by_age = cmp.by_rating_age(rows)
    managers = cmp.per_manager(rows)
    dis = cmp.disagreements(rows, reasons)
    summary["by_rating_age"] = _records(by_age)
    summary["who_was_right"] = cmp.who_was_right(dis)
    summary["top_disagreements"] = {
        kind: _records(part.head(params.top_disagreements))
        for kind, part in dis.groupby("kind", sort=True)
    }
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_json(summary, tmp / "summary.json")
        write_parquet(dis, tmp / "disagreements.parquet")
        write_parquet(managers, tmp / "per_manager.parquet")
        by_age.to_csv(tmp / "plots" / "by_rating_age.csv", index=False)
        figs = cmp.figures(summary["agreement"], by_age, managers, meta["horizon_days"])
        _save_figures(figs, tmp / "plots")
        _log_to_run(meta, mlflow_dir or Path(out_dir).parent / "mlflow", tmp, "compare")
    a = summary["agreement"]
    log.info(
        "tier vs rating: kappa %.3f (quadratic), Spearman %.3f; model AUC %.3f, rating %.3f",
        a["kappa_quadratic"],
        a["spearman"],
        a["metrics"]["model"]["roc_auc"],
        a["metrics"]["rating"]["roc_auc"],
    )
    return summary


def _comparison_rows(
    preds: pd.DataFrame, snapshots: pd.DataFrame, meta: dict, contact_feature: str
) -> pd.DataFrame:
    """Test predictions with the tier, the rating's age and the days since the last contact."""
    context = {"rating_age_days": "rating_age_days", contact_feature: "days_since_contact"}
    keep = ["account_id", "as_of", *[c for c in context if c in snapshots.columns]]
    rows = preds.merge(
        snapshots[keep].rename(columns=context), on=["account_id", "as_of"], how="left"
    )
    for column in context.values():
        if column not in rows:
            rows[column] = pd.NA
        rows[column] = rows[column].astype("Float64")
    rows["tier"] = assign_tiers(rows["probability"], meta["tiers"])
    rows["rating_probability"] = rows.get("manager_rating_probability", np.nan)
    return rows


def _without_source(snapshots, manifest, model, meta, source, rows, bins) -> dict[str, Any]:
    """The model refitted without one family of features, on the same test rows."""
    from training.calibration import fit_calibrator
    from training.model import BoostedTrees

    features, categorical = feature_lists(manifest)
    dropped = [f["name"] for f in manifest["features"] if f["source"] == source]
    if not dropped:
        return {"dropped": [], "note": f"no `{source}` features in the manifest"}
    kept = [f for f in features if f not in dropped]
    frames = split_frames(labeled(snapshots, manifest), Splits.from_dict(meta["splits"]))
    trees = BoostedTrees(
        kept, [c for c in categorical if c in kept], meta["params"], random_state=model.random_state
    ).fit(frames["train"], frames["train"]["churned"])
    cal = frames["calibration"]
    calibrator = fit_calibrator(trees, cal, cal["churned"].to_numpy(), meta["calibration_method"])
    test = rows[["account_id", "as_of", "churned", "mrr", "probability"]].merge(
        frames["test"], on=["account_id", "as_of"], suffixes=("", "_test")
    )
    without = calibrator.predict_proba(test)[:, 1]
    with_m = score(test["churned"], test["probability"], test["mrr"], bins)
    without_m = score(test["churned"], without, test["mrr"], bins)
    return {
        "dropped": dropped,
        "with": {k: with_m[k] for k in ("roc_auc", "brier", "log_loss")},
        "without": {k: without_m[k] for k in ("roc_auc", "brier", "log_loss")},
        "auc_gain_from_managers": with_m["roc_auc"] - without_m["roc_auc"],
        "brier_gain_from_managers": without_m["brier"] - with_m["brier"],
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (dates as text, missing as null)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and len(out) and isinstance(out[column].iloc[0], dt.date):
            out[column] = out[column].astype(str)
    return json.loads(out.to_json(orient="records", date_format="iso"))
