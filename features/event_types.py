"""Which usage event types get counts of their own, and their column-safe names."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from features.family import Connection

log = logging.getLogger(__name__)


def type_slugs(event_types: Sequence[str]) -> list[str]:
    """Column-safe names of event types, unique (`Report View` -> `report_view`)."""
    out: list[str] = []
    for event_type in event_types:
        slug = re.sub(r"[^a-z0-9]+", "_", event_type.lower()).strip("_") or "type"
        name, n = slug, 1
        while name in out:
            n += 1
            name = f"{slug}_{n}"
        out.append(name)
    return out


def choose_event_types(con: Connection, given: Sequence[str] | None, most: int) -> list[str]:
    """The event types that get counts of their own: `given`, or the export's, up to `most`.

    Past `most` types the most frequent are kept: that choice depends on the whole export, so
    a warning asks for the list to be fixed in params.yaml (then past weeks never change).
    """
    if given is not None:
        return list(given)
    counts = con.execute(
        "SELECT event_type, sum(quantity) AS n FROM usage_events WHERE quantity > 0 "
        "GROUP BY ALL ORDER BY n DESC, event_type"
    ).fetchall()
    if len(counts) > most:
        log.warning(
            "%d event types: counts kept for the %d most frequent only; list them in "
            "params.yaml features.event_types so the choice no longer depends on the export",
            len(counts),
            most,
        )
    return sorted(str(t) for t, _ in counts[:most])
