"""Pure frame helpers of the train and evaluate stages: labeled rows, periods, predictions."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from training.model import ChurnModel
from training.splits import Splits, labeled_dates

log = logging.getLogger(__name__)

CONTEXT_COLUMNS = ["segment", "mrr", "csm_id"]


PREDICTION_COLUMNS = ["account_id", "as_of", "churned", "probability", "raw_score"]
CONTEXT_COLUMNS = ["segment", "mrr", "csm_id"]


def feature_lists(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """All feature names and the categorical ones, from the manifest."""
    features = [f["name"] for f in manifest["features"]]
    return features, [f["name"] for f in manifest["features"] if f["dtype"] == "category"]


def labeled(snapshots: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Rows of dates whose every label is final; never rows with a null label."""
    # A lapse becomes a churn only once the grace gap passes without a restart, so a zero
    # label is final only `horizon + grace gap` days after the snapshot.
    wait = manifest["horizon_days"] + manifest.get("grace_gap_days", 0)
    dates = set(
        labeled_dates(snapshots["as_of"], dt.date.fromisoformat(manifest["export_date"]), wait)
    )
    partial = set(snapshots.loc[snapshots["churned"].isna(), "as_of"].unique()) & dates
    if partial:
        log.warning("%d snapshot dates with some unknown labels left out", len(partial))
    keep = snapshots["as_of"].isin(dates - partial) & snapshots["churned"].notna()
    start = observed_start(snapshots, manifest)
    if start is not None and (early := keep & (snapshots["as_of"] < start)).any():
        log.warning(
            "%d labeled rows dated before %s dropped: no churn is observable there",
            early.sum(),
            start,
        )
        keep &= snapshots["as_of"] >= start
    rows = snapshots[keep].copy()
    rows["churned"] = rows["churned"].astype(int)
    return rows


def observed_start(snapshots: pd.DataFrame, manifest: dict[str, Any]) -> dt.date | None:
    """First snapshot date whose label can be trusted: the start of the export's history.

    An export often holds years of subscriptions but only lists accounts still alive when its
    history begins, so earlier snapshots show no churn at all (survivors only). Without a
    `history_start` in the manifest, the first churn the export shows marks that start.
    """
    if manifest.get("history_start"):
        return dt.date.fromisoformat(manifest["history_start"])
    churns = pd.to_datetime(snapshots["churn_date"]).dropna()
    return churns.min().date() if len(churns) else None


def split_frames(rows: pd.DataFrame, splits: Splits) -> dict[str, pd.DataFrame]:
    """Rows of each period (`inner` = training rows used while tuning)."""
    dates = rows["as_of"]
    return {
        "train": rows[splits.train.contains(dates)],
        "inner": rows[(dates >= splits.train.start) & (dates <= splits.inner_train_end)],
        "validation": rows[splits.validation.contains(dates)],
        "calibration": rows[splits.calibration.contains(dates)],
        "test": rows[splits.test.contains(dates)],
    }


def predictions(model: ChurnModel, frame: pd.DataFrame, rating_feature: str) -> pd.DataFrame:
    """One row per snapshot: ids, label, probability, raw score and context columns."""
    out = frame[["account_id", "as_of", "churned"]].copy()
    out["probability"] = model.predict_proba(frame)[:, 1]
    out["raw_score"] = model.raw_score(frame)
    rating = frame[rating_feature] if rating_feature in frame else pd.Series(pd.NA, frame.index)
    out["manager_rating"] = rating.astype("Float64")
    for column in CONTEXT_COLUMNS:
        out[column] = frame[column]
    return out.reset_index(drop=True)


def dvc_plot_frames(data: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Curves as DVC reads them: one column per model on a shared x, reliability of the model."""
    x = {
        "roc": ("fpr", "tpr"),
        "pr": ("recall", "precision"),
        "lift": ("share_of_accounts", "share_of_churned_mrr"),
    }
    out = {
        name: data[name].pivot(index=col_x, columns="model", values=col_y).reset_index()
        for name, (col_x, col_y) in x.items()
    }
    out["reliability"] = data["reliability"].query("model == 'model'").drop(columns="model")
    out["reliability_all"] = data["reliability"]
    return out
