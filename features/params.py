"""Typed `features:` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from data.params import Section


class FeaturesParams(Section):
    """How snapshots and features are built."""

    frequency: str = "W-MON"  # pandas offset alias of the snapshot dates
    # Event types counted one by one; None: every type of the export, up to max_event_types
    # (past it, the most frequent: list them here so the choice never depends on the export).
    event_types: list[str] | None = None
    max_event_types: int = Field(20, ge=0)
    memory_limit: str = "3GB"  # DuckDB's own limit; the process peaks about 1 GiB above it
    threads: int | None = Field(None, ge=1)
    # Where the snapshot calendar starts: the first day every present source has rows for
    # (an export whose usage history begins later than its billing history would otherwise
    # read "never used" for years), or the first paid day.
    history_start: Literal["all_sources", "subscriptions"] = "all_sources"
