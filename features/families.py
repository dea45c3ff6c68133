"""The registry of feature families, in column order, and the check that each is complete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args, get_type_hints

from data.contract import TABLES
from features.accounts import ACCOUNTS
from features.contacts import CONTACTS
from features.family import Family
from features.manifest import Feature
from features.ratings import RATINGS
from features.tickets import TICKETS
from features.usage import USAGE

FAMILIES: tuple[Family, ...] = (ACCOUNTS, USAGE, TICKETS, CONTACTS, RATINGS)
DTYPES = frozenset(get_args(get_type_hints(Feature)["dtype"]))


def _columns(table: str) -> set[str]:
    return {c.name for c in TABLES[table].columns} if table in TABLES else set()


def _family_problems(family: Family) -> list[str]:
    feats = family.features(None)
    names = {f.name for f in feats}
    out = [f"feature {f.name!r} has no description" for f in feats if not f.description]
    out += [f"feature {f.name!r} has dtype {f.dtype!r}" for f in feats if f.dtype not in DTYPES]
    out += [f"feature {f.name!r} has source {f.source!r}" for f in feats if f.source != family.name]
    if family.source not in TABLES:
        out.append(f"source {family.source!r} is not a contract table")
    elif family.first_row and family.first_row not in _columns(family.source):
        out.append(f"first_row {family.first_row!r} is not a column of {family.source}")
    for (table, column), needing in family.needs.items():
        if column not in _columns(table):
            out.append(f"needs {table}.{column}, not in the data contract")
        elif TABLES[table].column(column).required:
            out.append(f"needs {table}.{column}, a required column")
        out += [f"{table}.{column} is needed by unknown {n!r}" for n in needing if n not in names]
    for kind, named in (("phrase", family.phrases), ("missing sentence", family.missing)):
        out += [f"{kind} for unknown feature {n!r}" for n in named if n not in names]
    out += [f"baseline {n!r} is not one of its features" for n in family.baseline if n not in names]
    return [f"family {family.name!r}: {p}" for p in out]


def problems(families: Sequence[Family] = FAMILIES) -> list[str]:
    """What makes registered families incomplete or clash; empty when all is well."""
    out = [p for family in families for p in _family_problems(family)]
    owner: dict[str, str] = {}
    for family in families:
        for name in [f.name for f in family.features(None)] + list(family.extras):
            if name in owner:
                out.append(f"{name!r} is declared by both {owner[name]!r} and {family.name!r}")
            owner[name] = family.name
    for kind, seen in (
        ("family name", [f.name for f in families]),
        ("table", [f.table for f in families]),
    ):
        out += [
            f"{kind} {v!r} is used twice" for v in sorted({v for v in seen if seen.count(v) > 1})
        ]
    return out
