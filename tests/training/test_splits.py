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


def test_too_short_export_names_the_weeks_needed():
    with pytest.raises(ContractError, match="only 40 snapshot dates .* at least 50"):
        make_splits(weekly(40), 90, 26, 26, 13, 13)


def test_labeled_dates_stop_a_horizon_before_the_export():
    dates = pd.Series(weekly(10))
    export = MONDAY + dt.timedelta(weeks=9)
    assert labeled_dates(dates, export, 28) == weekly(6)
