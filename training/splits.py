"""Time splits: train, validation fold, calibration and test periods separated by the horizon."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

import pandas as pd

from data.errors import ContractError

log = logging.getLogger(__name__)

MIN_WEEKS = {"train": 4, "validation": 2, "calibration": 4, "test": 4}


@dataclass(frozen=True)
class Period:
    """An inclusive range of snapshot dates."""

    start: dt.date
    end: dt.date

    def contains(self, dates: pd.Series) -> pd.Series:
        """Mask of the dates inside the period."""
        return (dates >= self.start) & (dates <= self.end)


@dataclass(frozen=True)
class Splits:
    """The four periods; `train` includes `validation` and the gap before it."""

    train: Period
    validation: Period
    calibration: Period
    test: Period
    inner_train_end: dt.date  # last training date used while tuning (before the validation gap)
    shrunk: bool
    validation_gap: bool = True  # False on exports too short for a horizon before validation

    def as_dict(self) -> dict[str, str | bool]:
        """Flat mapping of every boundary, for logs, JSON and MLflow params."""
        flat: dict[str, str | bool] = {
            "shrunk": self.shrunk,
            "validation_gap": self.validation_gap,
        }
        for name in ("train", "validation", "calibration", "test"):
            period = asdict(getattr(self, name))
            flat[f"{name}_start"] = period["start"].isoformat()
            flat[f"{name}_end"] = period["end"].isoformat()
        flat["inner_train_end"] = self.inner_train_end.isoformat()
        return flat

    @classmethod
    def from_dict(cls, flat: dict[str, str | bool]) -> Splits:
        """Inverse of `as_dict`."""

        def period(name: str) -> Period:
            return Period(_date(flat[f"{name}_start"]), _date(flat[f"{name}_end"]))

        return cls(
            train=period("train"),
            validation=period("validation"),
            calibration=period("calibration"),
            test=period("test"),
            inner_train_end=_date(flat["inner_train_end"]),
            shrunk=bool(flat["shrunk"]),
            validation_gap=bool(flat.get("validation_gap", True)),
        )


def _date(value: str | bool) -> dt.date:
    return dt.date.fromisoformat(str(value))


def labeled_dates(dates: pd.Series, export_date: dt.date, horizon_days: int) -> list[dt.date]:
    """Snapshot dates whose whole label window ended before the export date.

    Later dates know only the churns that already happened, so their labels lean to 1.
    """
    last = export_date - dt.timedelta(days=horizon_days)
    return sorted({d for d in pd.to_datetime(dates).dt.date.unique() if d <= last})


def _before(dates: list[dt.date], start: dt.date, horizon_days: int) -> list[dt.date]:
    """Dates at least `horizon_days` before `start`."""
    return [d for d in dates if (start - d).days >= horizon_days]


def _sizes(n_free: int, wanted: dict[str, int]) -> dict[str, int]:
    """Shrink the wanted period lengths proportionally to fit `n_free` dates."""
    total = sum(wanted.values())
    sizes = {k: max(MIN_WEEKS[k], int(v * n_free / total)) for k, v in wanted.items()}
    return sizes


def _fewest_dates(n_dates: int, gap: int, horizon_days: int) -> int:
    """The fewest labeled dates that leave train, calibration and test a horizon apart."""
    needed = sum(MIN_WEEKS.values()) + 2 * gap
    if n_dates < needed:
        raise ContractError(
            "snapshots.parquet",
            "as_of",
            f"only {n_dates} snapshot dates have a known label; at least {needed} are "
            f"needed (train, calibration and test, each {horizon_days} days apart)",
        )
    return needed


def make_splits(
    dates: list[dt.date],
    horizon_days: int,
    test_weeks: int,
    calibration_weeks: int,
    validation_weeks: int,
    min_train_weeks: int,
) -> Splits:
    """Cut sorted labeled dates into train / validation / calibration / test, newest last."""
    step = max(1, (dates[1] - dates[0]).days) if len(dates) > 1 else 7
    gap = -(-horizon_days // step) - 1  # dates skipped so consecutive periods are a horizon apart
    wanted = {
        "train": min_train_weeks,
        "validation": validation_weeks,
        "calibration": calibration_weeks,
        "test": test_weeks,
    }
    # The gap before the validation fold only keeps tuning honest; on a short export it goes
    # first (early stopping then sees labels that overlap its fold), never the two gaps that
    # keep calibration and test out of time.
    validation_gap = len(dates) >= _fewest_dates(len(dates), gap, horizon_days) + gap
    gaps = (3 if validation_gap else 2) * gap
    shrunk = len(dates) < sum(wanted.values()) + gaps
    sizes = _sizes(len(dates) - gaps, wanted) if shrunk else wanted
    test = dates[-sizes["test"] :]
    calibration = _before(dates, test[0], horizon_days)[-sizes["calibration"] :]
    train = _before(dates, calibration[0], horizon_days)
    validation = train[-sizes["validation"] :]
    if validation_gap:
        inner = _before(train, validation[0], horizon_days)
    else:
        inner = [d for d in train if d < validation[0]]
        log.warning(
            "short export (%d labeled weeks): no %d-day gap before the validation fold; "
            "early stopping is slightly optimistic, calibration and test stay out of time",
            len(dates),
            horizon_days,
        )
    if not inner:
        raise ContractError("snapshots.parquet", "as_of", "no training dates left before the gaps")
    splits = Splits(
        train=Period(train[0], train[-1]),
        validation=Period(validation[0], validation[-1]),
        calibration=Period(calibration[0], calibration[-1]),
        test=Period(test[0], test[-1]),
        inner_train_end=inner[-1],
        shrunk=shrunk,
        validation_gap=validation_gap,
    )
    if shrunk:
        log.warning("short export (%d labeled weeks): periods shrunk to %s", len(dates), sizes)
    log.info("splits: %s", splits.as_dict())
    return splits
