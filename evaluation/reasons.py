"""Short sentences a manager reads for a feature's value: raw feature names never show.

A sentence is built from the feature manifest (its description and unit) and the row's values;
the features this project builds have hand-written phrasings that add the account's own
baseline where it helps ("No product use for 23 days; usually active every 2 days"). A feature
without one reads "<description>: <value> <unit>", so any manifest still yields sentences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from features.families import FAMILIES
from features.phrases import Phrase, Row, events, num

# name -> sentence for a present value, from each family's phrases
PHRASES: dict[str, Phrase] = {n: say for f in FAMILIES for n, say in f.phrases.items()}
# name -> sentence when the value is missing and its absence says something about the account
# ("never used the product"). Any other missing value (a field the export has not written, a
# renewal date that cannot be known) is never quoted as a reason: see `quotable`.
MISSING: dict[str, str] = {n: text for f in FAMILIES for n, text in f.missing.items()}
# Columns the phrases read besides the feature they speak of (the account's own baseline).
BASELINE: tuple[str, ...] = tuple(n for f in FAMILIES for n in f.baseline)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def quotable(feature: Mapping[str, Any], row: Row) -> bool:
    """Whether `feature` at `row` may be quoted as a reason: present, or missing with a meaning."""
    return not _missing(row.get(feature["name"])) or feature["name"] in MISSING


def _type_events(feature: Mapping[str, Any]) -> Phrase:
    """The sentence of a per-event-type count, with the account's own 90-day baseline."""
    window = int(str(feature.get("window") or "90d").rstrip("d"))
    what = f"{str(feature['event_type']).replace('_', ' ')} event"
    baseline = feature["name"].rsplit("_", 1)[0] + "_90d"
    return events(window, what, baseline)


def sentence(feature: Mapping[str, Any], row: Row) -> str:
    """One line for `feature` (a manifest entry) at the values of `row`."""
    name = feature["name"]
    value = row.get(name)
    if feature["dtype"] == "category":
        if _missing(value):
            return f"{feature['description']}: unknown"
        return f"{feature['description']}: {str(value).replace('_', ' ')}"
    number = num(value)
    if number is None:
        return MISSING.get(name, f"{feature['description']}: unknown")
    if name in PHRASES:
        return PHRASES[name](number, row)
    if feature.get("event_type"):
        return _type_events(feature)(number, row)
    unit = feature.get("unit") or ""
    shown = f"{number:,.2f}".rstrip("0").rstrip(".") if number % 1 else f"{number:,.0f}"
    return f"{feature['description']}: {shown}{' ' + unit if unit not in ('flag', '') else ''}"
