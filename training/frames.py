"""Pure frame helpers of the train and evaluate stages: labeled rows, periods, predictions."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from features.manifest import Manifest
from training.model import ChurnModel
from training.splits import MIN_WEEKS, Splits, labeled_dates

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["account_id", "as_of", "churned", "probability", "raw_score"]
CONTEXT_COLUMNS = ["segment", "mrr", "csm_id"]


def feature_lists(manifest: Manifest) -> tuple[list[str], list[str]]:
    """All feature names and the categorical ones, from the manifest."""
    return manifest.feature_names, manifest.categorical


def labeled(snapshots: pd.DataFrame, manifest: Manifest) -> pd.DataFrame:
    """Rows of dates whose every label is final; never rows with a null label."""
    wait = label_wait_days(manifest)
    dates = set(labeled_dates(snapshots["as_of"], manifest.export_date, wait))
    partial = set(snapshots.loc[snapshots["churned"].isna(), "as_of"].unique()) & dates
    if partial:
        log.warning("%d snapshot dates with some unknown labels left out", len(partial))
    keep = snapshots["as_of"].isin(dates - partial) & snapshots["churned"].notna()
    start = observed_start(snapshots)
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


def label_wait_days(manifest: Manifest) -> int:
    """Days after a snapshot until its label is final: the horizon plus the grace gap.

    A lapse becomes a churn only once the grace gap passes without a restart, so a zero
    label is final only `horizon + grace gap` days after the snapshot.
    """
    return manifest.horizon_days + manifest.grace_gap_days


def known_on(rows: pd.DataFrame, day: dt.date, manifest: Manifest) -> pd.DataFrame:
    """The labeled rows whose label was already final on `day`: what a run on `day` learned from.

    Features are point in time, so these rows of today's feature table are exactly the rows an
    export written on `day` would have given (`tests/training/test_backtest.py` checks it).
    """
    last = day - dt.timedelta(days=label_wait_days(manifest))
    return rows[rows["as_of"] <= last]


def longest_window_days(manifest: Manifest) -> int:
    """Days the longest feature window reaches back (`90d`, `12w`), from the manifest."""
    days = [0]
    for feature in manifest.features:
        window = str(feature.get("window") or "")
        if window[:-1].isdigit() and window[-1] in "dw":
            days.append(int(window[:-1]) * (7 if window[-1] == "w" else 1))
    return max(days)


def full_windows_from(manifest: Manifest) -> dt.date | None:
    """First date whose every window lies inside the export's history (calendar start + longest).

    Earlier snapshots read a 90-day window of an export that began 30 days before as "little
    use": rows unlike any week the model will score, so train and evaluate leave them out.
    """
    first = manifest.snapshot_dates.first
    if first is None:
        return None
    return first + dt.timedelta(days=longest_window_days(manifest))


def observed_start(snapshots: pd.DataFrame) -> dt.date | None:
    """First snapshot date whose label can be trusted: the start of the export's history.

    An export often holds years of subscriptions but only lists accounts still alive when its
    history begins, so earlier snapshots show no churn at all (survivors only): the first
    churn the export shows marks that start.
    """
    churns = pd.to_datetime(snapshots["churn_date"]).dropna()
    return churns.min().date() if len(churns) else None


def split_frames(
    rows: pd.DataFrame, splits: Splits, full_from: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Rows of each period (`inner` = training rows used while tuning).

    Training rows dated before `full_from` (see `full_windows_from`) are left out, unless that
    would leave fewer than `MIN_WEEKS["train"]` weeks to fit on (a short export).
    """
    dates = rows["as_of"]
    fit_from = trainable_from(dates, splits.train.start, full_from, splits.inner_train_end)
    return {
        "train": rows[splits.train.contains(dates) & (dates >= fit_from)],
        "inner": rows[(dates >= fit_from) & (dates <= splits.inner_train_end)],
        "validation": rows[splits.validation.contains(dates)],
        "calibration": rows[splits.calibration.contains(dates)],
        "test": rows[splits.test.contains(dates)],
    }


def trainable_from(
    dates: pd.Series, start: dt.date, full_from: dt.date | None, until: dt.date
) -> dt.date:
    """First date to fit on: `full_from` (see `full_windows_from`) when it leaves enough weeks.

    Rows before it read feature windows cut short by the export's beginning; they are kept
    only when fewer than `MIN_WEEKS["train"]` weeks up to `until` would remain (a short export).
    """
    if full_from is None or full_from <= start:
        return start
    if dates[(dates >= full_from) & (dates <= until)].nunique() >= MIN_WEEKS["train"]:
        log.info("training rows from %s on: earlier ones read windows cut short", full_from)
        return full_from
    log.warning("training rows before %s kept: the export is short", full_from)
    return start


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
