"""Behaviour the single-read validator must keep: line numbers, counts, order, CSV quoting."""

import json
from pathlib import Path

import pandas as pd
import pytest

from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.stages import validate

LENIENT = ValidateParams(max_orphan_share=0.5)
HEADER = "account_id,occurred_at,event_type,user_id,quantity\n"


def _usage(rows: list[str]) -> str:
    return HEADER + "".join(f"{r}\n" for r in rows)


def test_bad_usage_values_are_counted_with_the_first_five_lines(export, tmp_path: Path) -> None:
    rows = [f"A1,2024-05-01T10:00:{i:02d}Z,login,u1,1" for i in range(40)]
    bad_at = [3, 11, 12, 20, 31, 38, 39]  # 0-based data rows; CSV line = row + 2
    for i in bad_at:
        rows[i] = f"A1,2024-05-0{i % 9 + 1} at noon,login,u1,1"
    with pytest.raises(ContractError) as caught:
        validate(export(usage_events=_usage(rows)), tmp_path / "o", BaseParams(), LENIENT)
    err = caught.value
    assert (err.file, err.column, err.rule) == (
        "usage_events.csv",
        "occurred_at",
        "not an ISO 8601 timestamp",
    )
    assert err.count == len(bad_at)
    assert err.examples == tuple(f"line {i + 2}: '{rows[i].split(',')[1]}'" for i in bad_at[:5])
    assert not (tmp_path / "o").exists()


def test_the_first_rule_in_contract_order_is_reported(export, tmp_path: Path) -> None:
    # quantity is negative on line 2 and occurred_at unparsable on line 3: value checks
    # (column by column) come before ranges, so the timestamp is reported.
    usage = _usage(["A1,2024-05-01T10:00:00Z,login,u1,-1", "A1,never,login,u1,1"])
    with pytest.raises(ContractError) as caught:
        validate(export(usage_events=usage), tmp_path / "o", BaseParams(), LENIENT)
    assert (caught.value.column, caught.value.examples) == ("occurred_at", ("line 3: 'never'",))
    usage = _usage(["A1,2024-05-01T10:00:00Z,login,u1,-1", "A1,2024-05-01T10:00:00Z,,u1,1"])
    with pytest.raises(ContractError) as caught:
        validate(export(usage_events=usage), tmp_path / "o", BaseParams(), LENIENT)
    assert (caught.value.column, caught.value.rule) == ("event_type", "must not be empty")


def test_typed_rule_names_its_lines_and_typed_values(export, tmp_path: Path) -> None:
    rows = [f"A1,2024-05-01T10:00:{i:02d}Z,login,u1,{-i if i % 4 == 1 else i}" for i in range(12)]
    with pytest.raises(ContractError) as caught:
        validate(export(usage_events=_usage(rows)), tmp_path / "o", BaseParams(), LENIENT)
    assert caught.value.count == 3
    assert caught.value.examples == ("line 3: '-1.0'", "line 7: '-5.0'", "line 11: '-9.0'")


def test_duplicates_and_orphans_are_counted_and_first_rows_kept_in_order(
    export, tmp_path: Path
) -> None:
    usage = _usage(
        [
            "A2,2024-05-02T08:00:00Z,login,u3,1",  # kept
            "A1,2024-05-01T10:00:00Z,login,u1,",  # kept: quantity empty
            "A1,2024-05-01T12:00:00+02:00,login,u1,",  # the same instant: a duplicate
            "A1,2024-05-01T10:00:00Z,login,u1,1",  # quantity 1 is not empty: kept
            "ZZ,2024-05-01T10:00:00Z,login,u9,1",  # orphan
            "ZZ,2024-05-01T10:00:00Z,login,u9,1",  # orphan, not a duplicate
            "A2,2024-05-02T08:00:00Z,login,u3,1",  # duplicate of the first row
            "A3,2024-05-03T08:00:00Z,export,,2",  # kept: no user
            "A3,2024-05-03T08:00:00Z,export,,2",  # duplicate (empty user_id equal)
            "A1,2024-05-01T10:00:00Z,login,u1,1.0",  # duplicate of line 5
        ]
    )
    report = validate(export(usage_events=usage), tmp_path / "o", BaseParams(), LENIENT)
    entry = report["tables"]["usage_events"]
    assert (entry["rows_in"], entry["orphans"], entry["duplicates"], entry["rows"]) == (
        10,
        2,
        4,
        4,
    )
    kept = pd.read_parquet(tmp_path / "o" / "usage_events.parquet")
    assert kept["account_id"].tolist() == ["A2", "A1", "A1", "A3"]
    assert kept["quantity"].tolist() == [1.0, 1.0, 1.0, 2.0]  # the empty one filled after dedup
    on_disk = json.loads((tmp_path / "o" / "report.json").read_text())
    assert on_disk["tables"]["usage_events"] == entry


def test_orphan_examples_name_lines_when_over_the_limit(export, tmp_path: Path) -> None:
    rows = [f"A1,2024-05-01T10:00:{i:02d}Z,login,u1,1" for i in range(10)]
    rows[4] = rows[4].replace("A1", "Q7")
    rows[8] = rows[8].replace("A1", "Q8")
    with pytest.raises(ContractError) as caught:
        validate(
            export(usage_events=_usage(rows)),
            tmp_path / "o",
            BaseParams(),
            ValidateParams(max_orphan_share=0.1),
        )
    assert caught.value.count == 2
    assert caught.value.examples == ("line 6: 'Q7'", "line 10: 'Q8'")
    assert "20.0% of rows, over the 10.0% limit" in caught.value.rule


def test_parquet_rows_are_numbered_from_one(export, tmp_path: Path) -> None:
    usage = _usage(["A1,2024-05-01T10:00:00Z,login,u1,1", "A1,2024-05-01T10:00:00Z,login,u1,x"])
    raw = export(usage_events=usage, parquet=("usage_events",))
    with pytest.raises(ContractError) as caught:
        validate(raw, tmp_path / "o", BaseParams(), LENIENT)
    assert caught.value.file == "usage_events.parquet"
    assert caught.value.examples == ("row 2: 'x'",)


def test_doubled_quotes_far_into_the_file_are_read(export, tmp_path: Path) -> None:
    lines = [f"A1,2024-05-06,3,2,m1,plain note {i}" for i in range(30_000)]
    lines.append('A2,2024-05-07,1,1,m2,"said ""we are leaving"", twice"')
    ratings = "account_id,rated_at,risk_rating,communication_level,csm_id,note\n"
    raw = export(manager_ratings=ratings + "\n".join(lines) + "\n")
    validate(raw, tmp_path / "o", BaseParams(), LENIENT)
    notes = pd.read_parquet(tmp_path / "o" / "manager_ratings.parquet")["note"]
    assert len(notes) == 30_001
    assert notes.iloc[-1] == 'said "we are leaving", twice'
