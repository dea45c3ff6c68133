"""Short sentences a manager reads for a feature's value: raw feature names never show.

A sentence is built from the feature manifest (its description and unit) and the row's values;
the features this project builds have hand-written phrasings that add the account's own
baseline where it helps ("No product use for 23 days; usually active every 2 days"). A feature
without one reads "<description>: <value> <unit>", so any manifest still yields sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

Row = Mapping[str, Any]


def _num(value: Any) -> float | None:
    """A float, or None for missing values of any kind."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _count(n: float, one: str, many: str | None = None) -> str:
    word = one if round(n) == 1 else (many or one + "s")
    return f"{n:,.0f} {word}"


def _days(n: float) -> str:
    return _count(n, "day")


def _weekly(row: Row, column: str, days: int) -> float | None:
    """The account's own 90-day rate of `column`, scaled to `days`."""
    total = _num(row.get(column))
    return None if total is None else total / 90 * days


def _usual(value: float, usual: float | None, fmt: str = "{:,.0f}") -> str:
    if usual is None or abs(value - usual) < max(0.5, 0.15 * usual):
        return ""
    return f" (usually {fmt.format(usual)})"


def _since_use(v: float, row: Row) -> str:
    active = _num(row.get("usage_active_days_90d"))
    text = f"No product use for {_days(v)}"
    if active and active >= 2:
        every = 90 / active
        text += "; usually active every day" if every < 1.5 else f"; usually every {every:.0f} days"
    return text


def _active_days(window: int) -> Callable[[float, Row], str]:
    def say(v: float, row: Row) -> str:
        usual = _weekly(row, "usage_active_days_90d", window)
        return f"Used on {v:.0f} of the last {window} days" + _usual(v, usual, "{:.0f}")

    return say


def _events(window: int, what: str, baseline: str) -> Callable[[float, Row], str]:
    def say(v: float, row: Row) -> str:
        usual = _weekly(row, baseline, window) if window < 90 else None
        return f"{_count(v, what)} in the last {window} days" + _usual(v, usual)

    return say


def _users(window: int) -> Callable[[float, Row], str]:
    def say(v: float, row: Row) -> str:
        text = f"{_count(v, 'user')} active in the last {window} days"
        wider = _num(row.get("usage_active_users_90d"))
        if window < 90 and wider is not None and wider > v:
            text += f" ({wider:.0f} in the last 90)"
        return text

    return say


def _trend(v: float, row: Row) -> str:
    change = (v - 1) * 100
    if abs(change) < 5:
        return "Usage flat against the previous 28 days"
    return f"Usage {'down' if change < 0 else 'up'} {abs(change):.0f}% against the previous 28 days"


def _rating(v: float, row: Row) -> str:
    age = _num(row.get("rating_age_days"))
    return f"Manager rating {v:.0f}" + (f" is {_days(age)} old" if age is not None else "")


def _renewal(v: float, row: Row) -> str:
    if v < 0:
        return f"Renewal overdue by {_days(-v)}"
    return "Renewal due today" if v == 0 else f"Renewal in {_days(v)}"


def _months(v: float) -> str:
    return _days(v) if v < 60 else _count(v / 30.44, "month")


def _mrr_change(v: float, row: Row) -> str:
    if abs(v) < 0.5:
        return "Monthly revenue unchanged over 90 days"
    return f"Monthly revenue {'down' if v < 0 else 'up'} {abs(v):,.0f} over 90 days"


def _rating_change(v: float, row: Row) -> str:
    if v == 0:
        return "Manager rating unchanged at the last review"
    direction = "safer" if v > 0 else "riskier"
    return f"Manager rating moved {_count(abs(v), 'step')} {direction} at the last review"


_COMMUNICATION = {1: "poor", 2: "fair", 3: "good"}

# name -> sentence for a present value
PHRASES: dict[str, Callable[[float, Row], str]] = {
    "usage_days_since_last_event": _since_use,
    "usage_active_days_7d": _active_days(7),
    "usage_active_days_28d": _active_days(28),
    "usage_active_days_90d": lambda v, r: f"Used on {v:.0f} of the last 90 days",
    "usage_events_7d": _events(7, "product event", "usage_events_90d"),
    "usage_events_28d": _events(28, "product event", "usage_events_90d"),
    "usage_events_90d": _events(90, "product event", "usage_events_90d"),
    "usage_active_users_7d": _users(7),
    "usage_active_users_28d": _users(28),
    "usage_active_users_90d": _users(90),
    "usage_event_types_7d": lambda v, r: f"{_count(v, 'product feature')} used in the last 7 days",
    "usage_event_types_28d": lambda v, r: f"{_count(v, 'product feature')} used in 28 days",
    "usage_event_types_90d": lambda v, r: f"{_count(v, 'product feature')} used in 90 days",
    "usage_events_per_user_28d": lambda v, r: f"{v:,.0f} events per active user in 28 days",
    "usage_trend_28d": _trend,
    "usage_active_weeks_share_12w": lambda v, r: f"Active in {v * 12:.0f} of the last 12 weeks",
    "usage_weekly_events_cv_12w": lambda v, r: (
        "Steady weekly usage" if v < 0.5 else f"Uneven weekly usage (variation {v:.1f})"
    ),
    "usage_never": lambda v, r: "Has never used the product" if v else "Has used the product",
    "tickets_opened_30d": lambda v, r: f"{_count(v, 'ticket')} in the last 30 days",
    "tickets_opened_90d": lambda v, r: f"{_count(v, 'ticket')} in the last 90 days",
    "tickets_high_urgent_30d": lambda v, r: f"{_count(v, 'urgent ticket')} in the last 30 days",
    "tickets_high_urgent_90d": lambda v, r: f"{_count(v, 'urgent ticket')} in the last 90 days",
    "tickets_open_now": lambda v, r: f"{_count(v, 'ticket')} still open",
    "tickets_oldest_open_age_days": lambda v, r: f"Oldest open ticket is {_days(v)} old",
    "tickets_resolution_days_mean_90d": lambda v, r: f"Tickets took {v:.1f} days to resolve",
    "tickets_csat_mean_90d": lambda v, r: f"Support satisfaction {v:.1f} of 5 (90 days)",
    "tickets_csat_last": lambda v, r: f"Last support satisfaction score {v:.0f} of 5",
    "tickets_days_since_last": lambda v, r: f"Last ticket opened {_days(v)} ago",
    "tickets_never": lambda v, r: "Never opened a ticket" if v else "Has opened tickets before",
    "contacts_days_since_last": lambda v, r: f"Last contact with the manager {_days(v)} ago",
    "contacts_days_since_conversation": lambda v, r: f"No call or meeting for {_days(v)}",
    "contacts_days_since_last_inbound": lambda v, r: f"Client last reached out {_days(v)} ago",
    "contacts_30d": lambda v, r: f"{_count(v, 'contact')} with the manager in 30 days",
    "contacts_90d": lambda v, r: f"{_count(v, 'contact')} with the manager in 90 days",
    "contacts_inbound_30d": lambda v, r: f"Client reached out {_count(v, 'time')} in 30 days",
    "contacts_inbound_share_90d": lambda v, r: (
        f"{v * 100:.0f}% of recent contacts started by the client"
    ),
    "contacts_never": lambda v, r: "Never contacted" if v else "Has been contacted",
    "rating_current": _rating,
    "rating_age_days": lambda v, r: f"Manager rating is {_days(v)} old",
    "rating_change": _rating_change,
    "rating_communication_level": lambda v, r: (
        f"Communication rated {_COMMUNICATION.get(round(v), f'{v:.0f}')} by the manager"
    ),
    "rating_count": lambda v, r: f"Rated {_count(v, 'time')} by the manager",
    "account_days_to_renewal": _renewal,
    "account_days_to_anniversary": lambda v, r: (
        "Contract anniversary today" if v == 0 else f"Contract anniversary in {_days(v)}"
    ),
    "account_days_to_monthiversary": lambda v, r: (
        "Monthly anniversary today" if v == 0 else f"Monthly anniversary in {_days(v)}"
    ),
    "account_tenure_days": lambda v, r: f"Customer for {_months(v)}",
    "account_life_days": lambda v, r: f"Current subscription running for {_months(v)}",
    "account_life": lambda v, r: (
        "First subscription" if v <= 1 else f"Came back after churning (subscription {v:.0f})"
    ),
    "account_mrr_now": lambda v, r: f"Pays {v:,.0f} a month",
    "account_mrr_change_90d": _mrr_change,
}

# name -> sentence when the value is missing and its absence says something about the account
# ("never used the product"). Any other missing value (a field the export has not written, a
# renewal date that cannot be known) is never quoted as a reason: see `quotable`.
MISSING: dict[str, str] = {
    "usage_days_since_last_event": "Has never used the product",
    "tickets_days_since_last": "Never opened a ticket",
    "tickets_csat_mean_90d": "No support satisfaction score in 90 days",
    "tickets_csat_last": "Never gave a support satisfaction score",
    "tickets_resolution_days_mean_90d": "No ticket resolved in 90 days",
    "tickets_oldest_open_age_days": "No open ticket",
    "contacts_days_since_last": "Never contacted by the manager",
    "contacts_days_since_conversation": "Never had a call or meeting with the manager",
    "contacts_days_since_last_inbound": "Client has never reached out",
    "contacts_inbound_share_90d": "No contact in 90 days",
    "rating_current": "Never rated by the manager",
    "rating_age_days": "Never rated by the manager",
    "rating_change": "Only one rating so far",
    "rating_communication_level": "Communication never rated",
    "usage_trend_28d": "No usage to compare over the last 56 days",
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def quotable(feature: Mapping[str, Any], row: Row) -> bool:
    """Whether `feature` at `row` may be quoted as a reason: present, or missing with a meaning."""
    return not _missing(row.get(feature["name"])) or feature["name"] in MISSING


def _type_events(feature: Mapping[str, Any]) -> Callable[[float, Row], str]:
    """The sentence of a per-event-type count, with the account's own 90-day baseline."""
    window = int(str(feature.get("window") or "90d").rstrip("d"))
    what = f"{str(feature['event_type']).replace('_', ' ')} event"
    baseline = feature["name"].rsplit("_", 1)[0] + "_90d"
    return _events(window, what, baseline)


def sentence(feature: Mapping[str, Any], row: Row) -> str:
    """One line for `feature` (a manifest entry) at the values of `row`."""
    name = feature["name"]
    value = row.get(name)
    if feature["dtype"] == "category":
        if _missing(value):
            return f"{feature['description']}: unknown"
        return f"{feature['description']}: {str(value).replace('_', ' ')}"
    number = _num(value)
    if number is None:
        return MISSING.get(name, f"{feature['description']}: unknown")
    if name in PHRASES:
        return PHRASES[name](number, row)
    if feature.get("event_type"):
        return _type_events(feature)(number, row)
    unit = feature.get("unit") or ""
    shown = f"{number:,.2f}".rstrip("0").rstrip(".") if number % 1 else f"{number:,.0f}"
    return f"{feature['description']}: {shown}{' ' + unit if unit not in ('flag', '') else ''}"
