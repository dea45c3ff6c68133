import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from training.bundle import ModelMeta
from training.profile import (
    PROFILE_KEY,
    ReferenceProfile,
    bin_shares,
    chance_psi,
    compare_to_profile,
    profile_rows,
    psi,
    saved_profile,
)

ENTRIES = [
    {"name": "logins", "dtype": "float"},
    {"name": "plan", "dtype": "category"},
    {"name": "never", "dtype": "bool"},
]


def _rows(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    logins = rng.normal(10 + shift, 2, n)
    return pd.DataFrame(
        {
            "as_of": np.repeat([dt.date(2025, 1, 6), dt.date(2025, 1, 13)], [n // 2, n - n // 2]),
            "logins": np.where(rng.random(n) < 0.1, np.nan, logins),
            "plan": pd.array(rng.choice(["basic", "pro", None], n, p=[0.6, 0.3, 0.1]), "str"),
            "never": rng.random(n) < 0.2,
        }
    )


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    return _rows(20_000, seed=1)


@pytest.fixture(scope="module")
def profile(training) -> ReferenceProfile:
    return profile_rows(training, ENTRIES)


def test_psi_of_identical_shares_is_zero_and_of_a_known_shift_is_exact():
    shares = np.array([0.1, 0.2, 0.3, 0.4])
    assert psi(shares, shares) == 0.0
    # (0.9 - 0.5) ln(0.9 / 0.5) + (0.1 - 0.5) ln(0.1 / 0.5)
    assert psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(
        0.4 * math.log(1.8) + 0.4 * math.log(5)
    )
    # An empty bin costs a large but finite term, set by the floor.
    empty = psi(np.array([0.5, 0.5]), np.array([1.0, 0.0]), eps=1e-4)
    assert math.isfinite(empty) and empty == pytest.approx(
        0.5 * math.log(2) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    )


def test_numeric_bins_are_training_deciles_with_a_missing_bin(training, profile):
    logins = profile.features["logins"]
    assert logins.kind == "numeric" and len(logins.edges) == 9
    present = training["logins"].dropna()
    np.testing.assert_allclose(logins.edges, present.quantile(np.arange(1, 10) / 10))
    np.testing.assert_allclose(logins.shares[:-1], 0.9 / 10, atol=0.001)
    assert logins.missing_share == pytest.approx(training["logins"].isna().mean())
    assert sum(logins.shares) == pytest.approx(1)
    assert (profile.rows, profile.start, profile.end) == (
        20_000,
        dt.date(2025, 1, 6),
        dt.date(2025, 1, 13),
    )


def test_ties_merge_bins_and_right_closed_edges():
    rows = pd.DataFrame({"as_of": [dt.date(2025, 1, 6)] * 10, "n": [0] * 8 + [1, 5]})
    n = profile_rows(rows, [{"name": "n", "dtype": "int"}]).features["n"]
    # Deciles 0 (seven times), 0.2 and 1.4 (linear between the sorted values) -> three edges.
    np.testing.assert_allclose(n.edges, [0.0, 0.2, 1.4])
    # (-inf, 0], (0, 0.2], (0.2, 1.4], (1.4, inf), missing
    np.testing.assert_allclose(n.shares, [0.8, 0.0, 0.1, 0.1, 0.0])


def test_categories_and_flags_get_a_bin_per_level_one_for_unseen_and_one_for_missing(profile):
    plan, never = profile.features["plan"], profile.features["never"]
    assert plan.levels == ("basic", "pro") and never.levels == ("False", "True")
    later = pd.Series(["pro", "enterprise", None, "pro"], dtype="str")
    np.testing.assert_allclose(bin_shares(plan, later), [0, 0.5, 0.25, 0.25])
    np.testing.assert_allclose(
        bin_shares(never, pd.Series([True, True, False])), [1 / 3, 2 / 3, 0, 0]
    )


def test_a_week_like_training_is_stable_and_a_shifted_or_blanked_one_is_not(profile):
    same = compare_to_profile(profile, _rows(5_000, seed=2)).set_index("feature")
    assert (same["psi"] < 0.01).all() and (same["psi"] < same["chance_psi"]).all()
    shifted = compare_to_profile(profile, _rows(5_000, seed=2, shift=2.0)).set_index("feature")
    assert shifted.loc["logins", "psi"] > 0.25 > shifted.loc["plan", "psi"]
    blank = _rows(5_000, seed=2).assign(logins=np.nan)
    blanked = compare_to_profile(profile, blank).set_index("feature")
    assert blanked.loc["logins", "missing_share"] == 1.0
    assert blanked.loc["logins", "training_missing_share"] == pytest.approx(0.1, abs=0.01)
    assert blanked.loc["logins", "psi"] > 5
    gone = compare_to_profile(profile, blank.drop(columns="logins")).set_index("feature")
    assert gone.loc["logins", "psi"] == pytest.approx(blanked.loc["logins", "psi"])


def test_the_chance_bar_holds_for_small_weeks_of_the_training_distribution(profile):
    # 300 weeks of 80 accounts drawn like the training rows (900 comparisons): a fixed PSI
    # line of 0.1 would flag many, the chance bar (99.9%, approximate) about 1 in 1000.
    rng = np.random.default_rng(3)
    over_psi = over_chance = 0
    for _ in range(300):
        frame = compare_to_profile(profile, _rows(80, seed=int(rng.integers(1e9))))
        over_psi += int((frame["psi"] > 0.1).sum())
        over_chance += int((frame["psi"] > frame["chance_psi"]).sum())
    assert over_psi > 90  # noise a fixed threshold alone would mistake for drift
    assert over_chance <= 9, over_chance
    assert chance_psi(np.full(11, 1 / 11), np.full(11, 1 / 11), 1_000, 10**6) < 0.035


def test_the_profile_round_trips_through_json_and_old_models_have_none(profile):
    again = ReferenceProfile.from_dict(json.loads(json.dumps(profile.as_dict())))
    assert again == profile
    saved = ModelMeta.model_validate({"features": ["logins"], PROFILE_KEY: profile.as_dict()})
    assert saved_profile(saved) == profile
    assert saved_profile(ModelMeta(features=["logins"])) is None
