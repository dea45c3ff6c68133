"""The raw-data contract (`docs/data-contract.md`) as data: tables, columns, types and rules.

Validation, the demo generator and the typed Parquet copies all read this one description,
so a rule changes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """Logical type of a contract column."""

    STRING = "string"
    DATE = "date"
    TIMESTAMP = "timestamp"  # ISO 8601, with or without offset; naive means UTC
    NUMBER = "number"
    INTEGER = "integer"


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    kind: Kind
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    non_empty: bool = False
    default: float | None = None  # filled where the value is missing (usage quantity)


@dataclass(frozen=True)
class Table:
    """One contract table: its columns and table-level rules."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False
    unique: str | None = None  # column whose values must be unique
    references_accounts: bool = True
    ordered: tuple[str, str] | None = None  # (start, end): end must not be before start
    dedupe_exact: bool = False  # exact duplicate rows are removed and counted
    date_columns_for_range: tuple[str, ...] = field(default=())

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns every export must have."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)


class RunningPeriods(StrEnum):
    """How an export writes a billing period still running on the day it is written.

    `billed`: with the end date it was billed to when it began (in the future). `open`: with an
    empty end date, filled in once the period closes. `mixed`: some one way, some the other
    (the demo world: monthly periods open, annual ones billed).
    """

    BILLED = "billed"
    OPEN = "open"
    MIXED = "mixed"


S, D, T, N, INT = Kind.STRING, Kind.DATE, Kind.TIMESTAMP, Kind.NUMBER, Kind.INTEGER

ACCOUNTS = Table(
    "accounts",
    (
        Column("account_id", S, required=True, non_empty=True),
        Column("created_at", D, required=True),
        Column("name", S),
        Column("segment", S),
        Column("csm_id", S),
        Column("industry", S),
        Column("region", S),
    ),
    required=True,
    unique="account_id",
    references_accounts=False,
    date_columns_for_range=("created_at",),
)

SUBSCRIPTIONS = Table(
    "subscriptions",
    (
        Column("account_id", S, required=True),
        Column("start_date", D, required=True),
        Column("end_date", D),
        Column("mrr", N, required=True, min_value=0),
        Column("plan", S),
        Column("billing_interval", S),  # monthly, annual, ... when the export knows it
    ),
    required=True,
    ordered=("start_date", "end_date"),
    # end_date is left out of the data's date range: paid periods run into the future.
    date_columns_for_range=("start_date",),
)

USAGE_EVENTS = Table(
    "usage_events",
    (
        Column("account_id", S, required=True),
        Column("occurred_at", T, required=True),
        Column("event_type", S, required=True, non_empty=True),
        Column("user_id", S),
        Column("quantity", N, min_value=0, default=1.0),
    ),
    dedupe_exact=True,
    date_columns_for_range=("occurred_at",),
)

TICKETS = Table(
    "tickets",
    (
        Column("ticket_id", S, required=True, non_empty=True),
        Column("account_id", S, required=True),
        Column("opened_at", T, required=True),
        Column("closed_at", T),
        Column("priority", S),
        Column("category", S),
        Column("csat", INT, min_value=1, max_value=5),
    ),
    unique="ticket_id",
    ordered=("opened_at", "closed_at"),
    date_columns_for_range=("opened_at", "closed_at"),
)

CONTACTS = Table(
    "contacts",
    (
        Column("account_id", S, required=True),
        Column("occurred_at", T, required=True),
        Column("channel", S, required=True, non_empty=True),
        Column("direction", S),
        Column("csm_id", S),
    ),
    date_columns_for_range=("occurred_at",),
)

MANAGER_RATINGS = Table(
    "manager_ratings",
    (
        Column("account_id", S, required=True),
        Column("rated_at", D, required=True),
        Column("risk_rating", INT, required=True, min_value=1, max_value=4),
        Column("communication_level", INT, min_value=1, max_value=3),
        Column("csm_id", S),
        Column("note", S),
    ),
    date_columns_for_range=("rated_at",),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ACCOUNTS, SUBSCRIPTIONS, USAGE_EVENTS, TICKETS, CONTACTS, MANAGER_RATINGS)
}
OPTIONAL_SOURCES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if not t.required)

# Known values of categorical columns. Values are lower-cased and stripped; an unknown value
# is kept for priority/category and mapped to "other" for channel (counted in the report).
CHANNELS = ("call", "email", "chat", "meeting", "qbr", "other")
DIRECTIONS = ("inbound", "outbound")
PRIORITIES = ("low", "normal", "high", "urgent")
