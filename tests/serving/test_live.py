"""The live explainer's choice of reasons, on inline contributions (no model)."""

from __future__ import annotations

import numpy as np

from serving.live import ReasonRule
from serving.params import ScoreParams


def test_reasons_are_the_strongest_each_way_over_min_contribution():
    c = np.array([0.03, -0.02, 0.005, 0.10, -0.004, -0.2])
    assert ReasonRule(up=3, down=2, min_contribution=0.005).pick(c) == ([3, 0], [5, 1])
    assert ReasonRule(up=1, down=0, min_contribution=0.005).pick(c) == ([3], [])
    assert ReasonRule(up=3, down=3, min_contribution=0.0).pick(c) == ([3, 0, 2], [5, 1, 4])
    assert ReasonRule(up=3, down=3, min_contribution=0.05).pick(c) == ([3], [5])


def test_ties_keep_the_feature_order():
    c = np.array([0.01, 0.02, 0.02, -0.02, -0.02])
    assert ReasonRule(up=2, down=2, min_contribution=0.0).pick(c) == ([1, 2], [3, 4])


def test_the_rule_of_a_scored_week_is_what_its_summary_records():
    rule = ReasonRule.of_week({"reasons_up": 1, "reasons_down": 0, "min_contribution": 0.02})
    assert rule == ReasonRule(up=1, down=0, min_contribution=0.02)
    # A week scored before the summary recorded them: the score section's defaults.
    old = ReasonRule.of_week({"min_contribution": 0.01})
    defaults = ScoreParams()
    assert old == ReasonRule(defaults.reasons_up, defaults.reasons_down, 0.01)
    assert ReasonRule.of_week({}) == ReasonRule(
        defaults.reasons_up, defaults.reasons_down, defaults.min_contribution
    )
