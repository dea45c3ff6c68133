"""A feature family: the features of one source table, their wording and their SQL, as one unit.

Each family module (`features/usage.py`, `tickets.py`, ...) exports one `Family`; the stage
loops over the registry (`features/families.py`), and a test fails when one is incomplete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from features.manifest import Feature
from features.params import FeaturesParams
from features.phrases import Phrase


class Result(Protocol):
    """A statement's result: the rows as tuples, or as a pandas frame."""

    def fetchall(self) -> list[Any]: ...  # noqa: D102
    def fetchone(self) -> Any: ...  # noqa: D102
    def df(self) -> pd.DataFrame: ...  # noqa: D102


class Connection(Protocol):
    """The SQL session the families build in: DuckDB's connection, or `SparkConnection`.

    Statements are DuckDB SQL; on Spark, features/spark.py translates them.
    """

    def execute(self, query: str, /) -> Result: ...  # noqa: D102
    def register(self, name: str, frame: pd.DataFrame, /) -> object: ...  # noqa: D102
    def unregister(self, name: str, /) -> object: ...  # noqa: D102


@dataclass(frozen=True)
class Family:
    """Everything the stage, the manifest and the reasons need to know of one family.

    `prepare(con, params)` runs first, when the family has one, and what it returns (the
    *context*: usage's chosen event types) is handed to `features` and `build`; without
    `prepare` the context is None. `features(None)` lists the features without data (usage:
    no per-event-type counts).
    """

    name: str  # the `source` of its features in the manifest: "usage", "account", ...
    source: str  # its contract table; an optional one the export lacks leaves the family out
    table: str  # the temp table `build` creates from `keys`: sid, `extras`, then the features
    features: Callable[[Any], list[Feature]]  # context -> its features, in column order
    build: Callable[[Connection, Any], None]
    prepare: Callable[[Connection, FeaturesParams], Any] | None = None
    first_row: str | None = None  # the source column dating its rows (the history start)
    # (table, optional column) -> the features that lie without that column in the export
    needs: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    phrases: Mapping[str, Phrase] = field(default_factory=dict)  # feature -> present value
    # feature -> sentence when missing and the absence says something ("never contacted")
    missing: Mapping[str, str] = field(default_factory=dict)
    baseline: tuple[str, ...] = ()  # features its phrases read as the account's own baseline
    extras: tuple[str, ...] = ()  # columns of `table` that are not features (report context)


def feature(
    source: str,
    name: str,
    dtype: str,
    window: str | None,
    unit: str,
    description: str,
    event_type: str | None = None,
) -> Feature:
    """A `Feature` of family `source` (bind it: `_f = functools.partial(feature, "tickets")`)."""
    kind: Any = dtype  # one of Feature's dtypes: the registry test checks every feature
    return Feature(name, kind, source, window, unit, description, event_type)
