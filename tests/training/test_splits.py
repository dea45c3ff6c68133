import datetime as dt

import pandas as pd
import pytest

from data.errors import ContractError
from training.splits import Splits, labeled_dates, make_splits

MONDAY = dt.date(2023, 1, 2)


def weekly(n: int) -> list[dt.date]:
    return [MONDAY + dt.timedelta(weeks=i) for i in range(n)]


def test_periods_never_overlap_and_are_a_horizon_apart():
    dates = weekly(150)
    s = make_splits(
        dates, 90, test_weeks=26, calibration_weeks=26, validation_weeks=13, min_train_weeks=13
    )
    assert not s.shrunk
    assert s.test.end == dates[-1]
    assert s.test.start == dates[-26]
    assert (s.test.start - s.calibration.end).days >= 90
    assert (s.calibration.start - s.train.end).days >= 90
    assert (s.validation.start - s.inner_train_end).days >= 90
    # The gaps are as short as the horizon allows: 13 weekly dates skipped (91 days).
    assert (s.test.start - s.calibration.end).days == 91
    assert s.calibration.start == s.calibration.end - dt.timedelta(weeks=25)
    assert s.train.start == dates[0] and s.validation.end == s.train.end
    assert Splits.from_dict(s.as_dict()) == s


def test_short_export_shrinks_and_says_so():
    s = make_splits(weekly(80), 90, 26, 26, 13, 13)
    assert s.shrunk
    assert (s.test.start - s.calibration.end).days >= 90
    assert (s.calibration.start - s.train.end).days >= 90


def test_a_year_of_labels_drops_only_the_gap_before_validation():
    # 48 labeled weeks: too few for three 90-day gaps (50), enough for two (38).
    dates = weekly(48)
    s = make_splits(dates, 90, 26, 13, 13, 13)
    assert s.shrunk and not s.validation_gap
    assert (s.test.start - s.calibration.end).days >= 90
    assert (s.calibration.start - s.train.end).days >= 90
    assert s.inner_train_end < s.validation.start <= s.train.end
    assert (s.validation.start - s.inner_train_end).days == 7
    assert s.test.end == dates[-1]
    assert Splits.from_dict(s.as_dict()) == s
    # One more gap's worth of weeks and the validation fold is a horizon apart again.
    assert make_splits(weekly(50), 90, 26, 13, 13, 13).validation_gap


def test_too_short_export_names_the_weeks_needed():
    with pytest.raises(ContractError, match="only 37 snapshot dates .* at least 38"):
        make_splits(weekly(37), 90, 26, 26, 13, 13)


def test_labeled_dates_stop_a_horizon_before_the_export():
    dates = pd.Series(weekly(10))
    export = MONDAY + dt.timedelta(weeks=9)
    assert labeled_dates(dates, export, 28) == weekly(6)
