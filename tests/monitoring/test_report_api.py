"""The API card carries the monitor's essentials."""

from __future__ import annotations

from serving.api import MonitorCard
from serving.bundle import monitor_card

SUMMARY = {
    "status": "checked",
    "newest_week": "2026-03-02",
    "model": {"name": "churn-risk", "version": "1", "role": "evaluated", "data_through": "x"},
    "weeks": {
        "as_scored": 1,
        "replayed": 3,
        "in_sample": 1,
        "judged": 3,
        "last_judged_week": "2025-07-28",
    },
    "realized": {
        "weeks": 3,
        "first": "2025-07-14",
        "last": "2025-07-28",
        "roc_auc": 0.81,
        "expected_churns": 40.2,
        "realized_churns": 51.0,
        "top_decile_precision": 0.4,
    },
    "drift": {
        "features": {
            "max_psi": 0.25,
            "flagged": [
                {
                    "name": "usage_logins_30d",
                    "description": "Logins in the last 30 days",
                    "psi": 0.61,
                }
            ],
        },
        "score": {"psi": 0.31},
    },
    "calibration": {
        "status": "recalibrated",
        "note": "drifted -0.030 over A to B",
        "calibration_in_the_large": -0.03,
        "recalibrated": {"version": "2"},
    },
    "recommendation": {"retrain": True, "reasons": ["the score's PSI 0.310 is past 0.25"]},
}


def test_monitor_card_has_the_essentials():
    card = MonitorCard.model_validate(monitor_card(SUMMARY))
    assert card.last_judged_week == "2025-07-28"
    assert card.drifting_features == ["usage_logins_30d"]
    assert card.recalibrated_version == "2"
    assert card.retrain and card.reasons == ["the score's PSI 0.310 is past 0.25"]
