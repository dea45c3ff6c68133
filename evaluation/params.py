"""Typed `backtest:`, `explain:` and `compare:` sections of params.yaml."""

from __future__ import annotations

from pydantic import Field

from data.params import Section


class ExplainParams(Section):
    """Which drivers each explained row gets, and the size of the global plots."""

    reasons_up: int = Field(3, ge=0)  # drivers raising risk, per account and week
    reasons_down: int = Field(2, ge=0)  # drivers lowering it
    min_contribution: float = Field(0.005, ge=0)  # probability points; smaller drivers unsaid
    dependence_plots: int = Field(4, ge=0)  # dependence plots of the top features
    plot_rows: int = Field(5000, ge=100)  # rows sampled for the beeswarm and dependence plots
    batch_rows: int = Field(50_000, ge=100)


class CompareParams(Section):
    """How the model is set beside the managers' ratings on the test weeks."""

    rating_source: str = "rating"  # manifest `source` of the manager features left out
    top_disagreements: int = Field(50, ge=1)  # rows of each kind quoted in summary.json
    # Who was right at the renewal: a disagreement list's churn rate by the renewal, with its
    # Wilson interval at this confidence, against the rate of every row; judged only with at
    # least renewal_min_known rows whose renewal label is known.
    renewal_confidence: float = Field(0.95, gt=0, lt=1)
    renewal_min_known: int = Field(30, ge=1)


class BacktestParams(Section):
    """Rolling origins: how often the recipe is refitted over the last year, and what it scores."""

    span_weeks: int = Field(52, ge=1)  # origins lie within the last this many labeled Mondays
    every_weeks: int = Field(4, ge=1)  # one origin (a refit) every this many weeks
    scored_weeks: int = Field(4, ge=1)  # Mondays each origin's model scores: T, T+1w, ...
    call_list: int = Field(25, ge=1)  # accounts on a meeting's call list (as report.call_list)
