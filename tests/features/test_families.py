"""The family registry: every registered family is complete, and the check catches a gap."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from data.contract import OPTIONAL_SOURCES
from data.params import BaseParams
from features.families import FAMILIES, problems
from features.family import Family
from features.params import FeaturesParams
from features.stages import build_families, connect, make_keys
from features.tickets import TICKETS


def test_every_registered_family_is_complete() -> None:
    assert problems() == []


def _without_description(family: Family) -> Family:
    first, *rest = family.features(None)
    return dataclasses.replace(
        family, features=lambda _: [dataclasses.replace(first, description=""), *rest]
    )


BROKEN = {
    "no description": (_without_description, "feature 'tickets_opened_30d' has no description"),
    "phrase": (
        lambda f: dataclasses.replace(f, phrases={**f.phrases, "tickets_gone": lambda v, r: ""}),
        "phrase for unknown feature 'tickets_gone'",
    ),
    "missing": (
        lambda f: dataclasses.replace(f, missing={"tickets_gone": "Gone"}),
        "missing sentence for unknown feature 'tickets_gone'",
    ),
    "need names": (
        lambda f: dataclasses.replace(f, needs={("tickets", "csat"): ("tickets_gone",)}),
        "tickets.csat is needed by unknown 'tickets_gone'",
    ),
    "need not in contract": (
        lambda f: dataclasses.replace(f, needs={("tickets", "severity"): ("tickets_open_now",)}),
        "needs tickets.severity, not in the data contract",
    ),
    "need required": (
        lambda f: dataclasses.replace(f, needs={("tickets", "opened_at"): ("tickets_open_now",)}),
        "needs tickets.opened_at, a required column",
    ),
    "baseline": (
        lambda f: dataclasses.replace(f, baseline=("usage_events_90d",)),
        "baseline 'usage_events_90d' is not one of its features",
    ),
    "first row": (
        lambda f: dataclasses.replace(f, first_row="created_at"),
        "first_row 'created_at' is not a column of tickets",
    ),
    "source": (
        lambda f: dataclasses.replace(f, source="crm_notes"),
        "source 'crm_notes' is not a contract table",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_an_incomplete_family_is_named_with_what_it_lacks(case: str) -> None:
    break_it, expected = BROKEN[case]
    assert FAMILIES[2] is TICKETS
    found = problems([*FAMILIES[:2], break_it(TICKETS), *FAMILIES[3:]])
    assert found == [f"family 'tickets': {expected}"]


def test_two_families_declaring_one_feature_clash() -> None:
    twin = dataclasses.replace(TICKETS, name="helpdesk", table="f_helpdesk")
    found = problems([*FAMILIES, twin])
    assert "'tickets_open_now' is declared by both 'tickets' and 'helpdesk'" in found
    assert "table 'f_helpdesk'" not in " ".join(found)
    again = problems([*FAMILIES, TICKETS])
    assert "family name 'tickets' is used twice" in again
    assert "table 'f_tickets' is used twice" in again


def test_each_family_builds_exactly_its_declared_columns(world, write_validated, tmp_path) -> None:
    tables, export = world(3, n_accounts=10, days=200)
    folder: Path = write_validated(tables, export)
    params = FeaturesParams(threads=1)
    con = connect(folder, params, tmp_path)
    try:
        make_keys(con, BaseParams(), params, export, list(OPTIONAL_SOURCES))
        built = build_families(con, list(OPTIONAL_SOURCES), params)
        assert [family for family, _ in built] == list(FAMILIES)
        for family, feats in built:
            columns = [
                d[0] for d in con.execute(f"SELECT * FROM {family.table} LIMIT 0").description
            ]
            declared = ["sid", *family.extras, *(f.name for f in feats)]
            assert sorted(columns) == sorted(declared), family.name
    finally:
        con.close()
