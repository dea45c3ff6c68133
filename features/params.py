"""Typed `features:` section of params.yaml."""

from __future__ import annotations

from pydantic import Field

from data.params import Section


class FeaturesParams(Section):
    """How snapshots and features are built."""

    frequency: str = "W-MON"  # pandas offset alias of the snapshot dates
    key_events: list[str] | None = None  # None: learn the most informative event types
    n_key_events: int = Field(3, ge=0)
    memory_limit: str = "3GB"  # DuckDB's own limit; the process peaks about 1 GiB above it
    threads: int | None = Field(None, ge=1)
