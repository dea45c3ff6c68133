import pandas as pd
import pytest

from serving.skew import SkewCheck, check_skew

LIMITS = {
    "max_psi": 0.25,
    "max_missing_increase": 0.2,
    "training_start": "2025-01-06",
    "training_end": "2025-06-30",
    "training_rows": 5_000,
    "rows": 80,
}


def _comparison() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # feature, psi, chance_psi, missing now, missing in training
            ("shifted", 0.30, 0.10, 0.0, 0.0),  # past 0.25 and past chance: flagged
            ("noisy", 0.30, 0.40, 0.0, 0.0),  # past 0.25 but within chance at 80 rows
            ("emptier", 0.05, 0.10, 0.35, 0.10),  # missing +25 points: flagged
            ("a_bit_emptier", 0.20, 0.10, 0.25, 0.10),  # missing +15 points, PSI 0.2
            ("blanked", 7.0, 0.30, 1.0, 0.02),  # both
        ],
        columns=["feature", "psi", "chance_psi", "missing_share", "training_missing_share"],
    )


def test_flags_features_past_either_threshold_largest_psi_first():
    check = check_skew(_comparison(), {"blanked": "Product events, last 28 days"}, **LIMITS)
    assert check.status == "checked" and check.features_checked == 5 and check.rows == 80
    assert [f.name for f in check.flagged] == ["blanked", "shifted", "emptier"]
    blanked = check.flagged[0]
    assert blanked.description == "Product events, last 28 days"
    assert (blanked.psi, blanked.psi_threshold) == (7.0, 0.3)
    assert (blanked.missing_share, blanked.training_missing_share) == (1.0, 0.02)
    assert check.flagged[1].description == "shifted"  # no manifest entry: the name in words
    assert check.flagged[1].psi_threshold == 0.25


def test_looser_thresholds_flag_less_and_the_check_round_trips_as_json():
    loose = check_skew(_comparison(), {}, **LIMITS | {"max_psi": 0.5, "max_missing_increase": 0.3})
    assert [f.name for f in loose.flagged] == ["blanked"]
    again = SkewCheck.model_validate_json(loose.model_dump_json())
    assert again == loose
    assert loose.flagged[0].line() == "blanked (PSI 7.00; missing 100% now, 2% in training)"


def test_thresholds_are_validated_params():
    from pydantic import ValidationError

    from serving.params import ScoreParams

    assert (ScoreParams().skew_max_psi, ScoreParams().skew_max_missing_increase) == (0.25, 0.2)
    with pytest.raises(ValidationError, match="skew_max_missing_increase"):
        ScoreParams(skew_max_missing_increase=1.5)
