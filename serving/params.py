"""Typed `score:` and `report:` sections of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from data.params import Section


class ScoreParams(Section):
    """Which model scores the week, and how much each account's line says."""

    model: Literal["champion", "train"] = "champion"  # registry champion, or outputs/train
    reasons_up: int = Field(3, ge=0)
    reasons_down: int = Field(2, ge=0)
    movers: int = Field(2, ge=0)  # drivers whose contribution moved most since last week
    min_contribution: float = Field(0.005, ge=0)  # probability points; smaller drivers unsaid
    batch_rows: int = Field(50_000, ge=100)
    keep_weeks: int = Field(0, ge=0)  # scored weeks kept on disk (0: all)
    # Skew guard: a feature is flagged when the scored week's PSI against the training rows
    # is past this (the usual "major shift" line), or its missing share rose by more than this.
    skew_max_psi: float = Field(0.25, gt=0)
    skew_max_missing_increase: float = Field(0.2, gt=0, le=1)


class ReportParams(Section):
    """How long each list of the weekly report is, and how far ahead it looks for renewals."""

    call_list: int = Field(25, ge=1)
    movers: int = Field(10, ge=1)
    disagreements: int = Field(15, ge=1)
    manager_accounts: int = Field(10, ge=1)
    renewal_days: int = Field(90, ge=1)  # renewals due within this many days of the Monday
