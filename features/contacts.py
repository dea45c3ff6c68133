"""Contact features: how recently and how often the account manager and the client talked.

A conversation is a contact on a live channel (`call`, `meeting`, `qbr`), in either direction:
e-mails and chats keep a relationship warm less than talking does.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from features.family import Connection, Family, feature
from features.manifest import Feature
from features.phrases import count, days
from features.windows import cumulate, look_up

WINDOWS = (30, 90)
CONVERSATION_CHANNELS = ("call", "meeting", "qbr")
_f = partial(feature, "contacts")


def contact_features(_: Any = None) -> list[Feature]:
    """The contact features, in column order."""
    return [
        _f("contacts_days_since_last", "int", None, "days", "Days since the last contact"),
        _f(
            "contacts_days_since_conversation",
            "int",
            None,
            "days",
            "Days since the last call, meeting or business review",
        ),
        _f(
            "contacts_days_since_last_inbound",
            "int",
            None,
            "days",
            "Days since the client last reached out",
        ),
        *(
            _f(f"contacts_{w}d", "int", f"{w}d", "contacts", f"Contacts, last {w} days")
            for w in WINDOWS
        ),
        _f(
            "contacts_inbound_30d",
            "int",
            "30d",
            "contacts",
            "Contacts started by the client, last 30 days",
        ),
        _f(
            "contacts_inbound_share_90d",
            "float",
            "90d",
            "share",
            "Share of the last 90 days' contacts started by the client",
        ),
        _f("contacts_never", "bool", None, "flag", "Never contacted"),
    ]


def build_contacts(con: Connection, _: Any = None) -> None:
    """Create table `f_contacts` (sid, contact features) from table `contacts`."""
    live = ", ".join(f"'{c}'" for c in CONVERSATION_CHANNELS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE contacts_daily AS SELECT a, "
        "CAST(occurred_at AS DATE) AS day, count(*) AS n, "
        "count(*) FILTER (WHERE direction = 'inbound') AS inbound, "
        f"count(*) FILTER (WHERE channel IN ({live})) AS talk "
        "FROM contacts JOIN acc USING (account_id) GROUP BY ALL"
    )
    exprs = {
        "n": "sum(n)",
        "inbound": "sum(inbound)",
        "last_day": "max(day)",
        "last_inbound": "max(CASE WHEN inbound > 0 THEN day END)",
        "last_talk": "max(CASE WHEN talk > 0 THEN day END)",
    }
    cumulate(con, "contacts_daily", "contacts_cum", exprs)
    offsets = {0: list(exprs), 30: ["n", "inbound"], 90: ["n", "inbound"]}
    look_up(con, "contacts_cum", "contacts_at", offsets, zero=["n", "inbound"])
    con.execute(
        """CREATE OR REPLACE TEMP TABLE f_contacts AS SELECT sid,
        CAST(date_diff('day', last_day_at0, k.as_of) AS INTEGER) AS contacts_days_since_last,
        CAST(date_diff('day', last_talk_at0, k.as_of) AS INTEGER)
            AS contacts_days_since_conversation,
        CAST(date_diff('day', last_inbound_at0, k.as_of) AS INTEGER)
            AS contacts_days_since_last_inbound,
        CAST(n_at0 - n_at30 AS INTEGER) AS contacts_30d,
        CAST(n_at0 - n_at90 AS INTEGER) AS contacts_90d,
        CAST(inbound_at0 - inbound_at30 AS INTEGER) AS contacts_inbound_30d,
        (inbound_at0 - inbound_at90) / nullif(n_at0 - n_at90, 0) AS contacts_inbound_share_90d,
        last_day_at0 IS NULL AS contacts_never
        FROM contacts_at JOIN keys k USING (sid)"""
    )


CONTACTS = Family(
    name="contacts",
    source="contacts",
    table="f_contacts",
    features=contact_features,
    build=build_contacts,
    first_row="occurred_at",
    needs={
        ("contacts", "direction"): (
            "contacts_days_since_last_inbound",
            "contacts_inbound_30d",
            "contacts_inbound_share_90d",
        ),
    },
    phrases={
        "contacts_days_since_last": lambda v, r: f"Last contact with the manager {days(v)} ago",
        "contacts_days_since_conversation": lambda v, r: f"No call or meeting for {days(v)}",
        "contacts_days_since_last_inbound": lambda v, r: f"Client last reached out {days(v)} ago",
        "contacts_30d": lambda v, r: f"{count(v, 'contact')} with the manager in 30 days",
        "contacts_90d": lambda v, r: f"{count(v, 'contact')} with the manager in 90 days",
        "contacts_inbound_30d": lambda v, r: f"Client reached out {count(v, 'time')} in 30 days",
        "contacts_inbound_share_90d": lambda v, r: (
            f"{v * 100:.0f}% of recent contacts started by the client"
        ),
        "contacts_never": lambda v, r: "Never contacted" if v else "Has been contacted",
    },
    missing={
        "contacts_days_since_last": "Never contacted by the manager",
        "contacts_days_since_conversation": "Never had a call or meeting with the manager",
        "contacts_days_since_last_inbound": "Client has never reached out",
        "contacts_inbound_share_90d": "No contact in 90 days",
    },
)
