import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.stages import validate
from serving.cli import app

LENIENT = ValidateParams(max_orphan_share=0.5)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def _rejects(
    raw: Path,
    tmp_path: Path,
    file: str,
    column: str | None,
    rule: str,
    count: int,
    line: str | None = None,
    rules: ValidateParams = LENIENT,
) -> ContractError:
    """Bad input: a ContractError naming all it should, no new output, the old one untouched."""
    fresh = tmp_path / "fresh"
    with pytest.raises(ContractError) as caught:
        validate(raw, fresh, BaseParams(), rules)
    assert not fresh.exists()
    err = caught.value
    message = str(err)
    assert file in message and rule in message
    if column:
        assert f"'{column}'" in message
    assert (
        err.count == count and f": {count} row{'s break' if count > 1 else ' breaks'} it" in message
    )
    if line:
        assert line in message
    return err


@pytest.fixture
def good_output(export, tmp_path: Path) -> Path:
    out = tmp_path / "good"
    validate(export(), out, BaseParams(), LENIENT)
    return out


def test_valid_export_writes_typed_tables_and_report(export, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = validate(export(), out, BaseParams(), LENIENT)
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report, default=str))
    assert report["missing_sources"] == []
    accounts = pd.read_parquet(out / "accounts.parquet")
    assert list(accounts.columns) == [
        "account_id",
        "created_at",
        "name",
        "segment",
        "csm_id",
        "industry",
        "region",
    ]  # the export's extra column `crm_only` is dropped
    usage = pd.read_parquet(out / "usage_events.parquet")
    assert str(usage["occurred_at"].dt.tz) == "UTC"
    assert report["tables"]["usage_events"] | {"missing_columns": []} == {
        "format": "csv",
        "rows_in": 4,
        "rows": 3,
        "orphans": 0,
        "duplicates": 1,
        "missing_columns": [],
    }
    assert usage["quantity"].tolist() == [1.0, 3.0, 1.0]  # missing quantity counts as 1
    assert report["date_range"] == {"start": "2024-01-10", "end": "2024-05-07"}
    assert report["export_date"] == "2024-05-08"


def test_timestamps_with_and_without_offsets_land_on_the_utc_instant(good_output: Path) -> None:
    usage = pd.read_parquet(good_output / "usage_events.parquet")
    tickets = pd.read_parquet(good_output / "tickets.parquet")
    contacts = pd.read_parquet(good_output / "contacts.parquet")
    utc = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    assert usage["occurred_at"].tolist() == [
        utc("2024-05-01 10:00"),
        utc("2024-05-01 10:30"),
        utc("2024-05-02 08:00"),
    ]
    assert tickets["opened_at"].tolist() == [utc("2024-05-03 14:00"), utc("2024-05-05 09:00")]
    assert contacts["occurred_at"].tolist()[0] == utc("2024-05-06 14:00")


def test_categoricals_are_normalised_and_unknown_channels_counted(good_output: Path) -> None:
    report = json.loads((good_output / "report.json").read_text())
    contacts = pd.read_parquet(good_output / "contacts.parquet")
    tickets = pd.read_parquet(good_output / "tickets.parquet")
    assert contacts["channel"].tolist() == ["call", "other"]
    assert report["tables"]["contacts"]["unknown_values"] == {"channel": 1}
    assert tickets["priority"].tolist() == ["high", "urgent"]
    assert tickets["closed_at"].isna().tolist() == [False, True]


def test_parquet_export_gives_the_same_tables_as_csv(export, tmp_path: Path) -> None:
    validate(export(), tmp_path / "from_csv", BaseParams(), LENIENT)
    names = ("accounts", "subscriptions", "usage_events", "tickets", "contacts", "manager_ratings")
    validate(export(parquet=names), tmp_path / "from_parquet", BaseParams(), LENIENT)
    for name in names:
        a = pd.read_parquet(tmp_path / "from_csv" / f"{name}.parquet")
        b = pd.read_parquet(tmp_path / "from_parquet" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b)


def test_native_parquet_types_are_accepted(export, tmp_path: Path) -> None:
    raw = export(usage_events=None)
    pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "occurred_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 09:00"]),  # naive = UTC
            "event_type": ["login", "export"],
            "quantity": [2, 1],
        }
    ).to_parquet(raw / "usage_events.parquet")
    validate(raw, tmp_path / "out", BaseParams(), LENIENT)
    usage = pd.read_parquet(tmp_path / "out" / "usage_events.parquet")
    assert usage["occurred_at"].tolist()[0] == pd.Timestamp("2024-05-01 10:00", tz="UTC")
    assert usage["user_id"].isna().all() and usage["quantity"].tolist() == [2.0, 1.0]


def test_only_the_required_tables_is_a_valid_export(export, tmp_path: Path) -> None:
    raw = export(usage_events=None, tickets=None, contacts=None, manager_ratings=None)
    report = validate(raw, tmp_path / "out", BaseParams(), LENIENT)
    assert report["missing_sources"] == ["usage_events", "tickets", "contacts", "manager_ratings"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "accounts.parquet",
        "report.json",
        "subscriptions.parquet",
    ]
    assert report["export_date"] == "2024-03-06"  # end_date of paid periods does not count


def test_export_date_param_overrides_the_data(export, tmp_path: Path) -> None:
    base = BaseParams(export_date=dt.date(2024, 6, 3))
    assert validate(export(), tmp_path / "o", base, LENIENT)["export_date"] == "2024-06-03"


def test_missing_optional_column_is_null_and_reported(export, tmp_path: Path) -> None:
    accounts = "account_id,created_at\nA1,2024-01-10\nA2,2024-02-01\nA3,2024-03-05\n"
    report = validate(export(accounts=accounts), tmp_path / "o", BaseParams(), LENIENT)
    assert report["tables"]["accounts"]["missing_columns"] == [
        "name",
        "segment",
        "csm_id",
        "industry",
        "region",
    ]
    assert pd.read_parquet(tmp_path / "o" / "accounts.parquet")["segment"].isna().all()


def test_orphans_under_the_limit_are_dropped_and_counted(export, tmp_path: Path) -> None:
    usage = VALID_USAGE + "ZZ,2024-05-02T08:00:00Z,login,u9,1\n"
    report = validate(export(usage_events=usage), tmp_path / "o", BaseParams(), LENIENT)
    assert report["tables"]["usage_events"]["orphans"] == 1
    assert "ZZ" not in set(pd.read_parquet(tmp_path / "o" / "usage_events.parquet")["account_id"])


VALID_USAGE = """account_id,occurred_at,event_type,user_id,quantity
A1,2024-05-01T10:00:00Z,login,u1,
A2,2024-05-02 08:00:00,login,u3,1
"""


# --- one test per contract rule: the message names file, column, rule, count, lines ---


def test_missing_required_table(export, tmp_path: Path, good_output: Path) -> None:
    before = _tree_digest(good_output)
    raw = export(subscriptions=None)
    with pytest.raises(ContractError, match=r"subscriptions\.csv.*required table is missing"):
        validate(raw, good_output, BaseParams(), LENIENT)
    assert _tree_digest(good_output) == before


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("table", ["accounts", "subscriptions"])
def test_required_table_with_only_a_header_stops_the_run(
    export, valid_tables, tmp_path: Path, good_output: Path, table: str, fmt: str
) -> None:
    before = _tree_digest(good_output)
    header = valid_tables[table].splitlines()[0] + "\n"
    raw = export(parquet=(table,) if fmt == "parquet" else (), **{table: header})
    with pytest.raises(ContractError) as caught:
        validate(raw, good_output, BaseParams(), LENIENT)
    assert str(caught.value) == f"{table}.{fmt}: required table has no rows"
    assert _tree_digest(good_output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "raw"]  # no temporary left


@pytest.mark.parametrize("table", ["usage_events", "tickets", "contacts", "manager_ratings"])
def test_optional_table_with_only_a_header_is_left_out_like_a_missing_one(
    export, valid_tables, tmp_path: Path, table: str
) -> None:
    header = valid_tables[table].splitlines()[0] + "\n"
    out = tmp_path / "out"
    report = validate(export(**{table: header}), out, BaseParams(), LENIENT)
    assert (report["missing_sources"], report["empty_sources"]) == ([table], [table])
    assert table not in report["tables"]
    assert not (out / f"{table}.parquet").exists()
    assert (out / "subscriptions.parquet").exists()


def test_an_empty_optional_table_still_needs_its_required_columns(export, tmp_path: Path) -> None:
    raw = export(tickets="ticket_id,account_id\n")
    with pytest.raises(ContractError, match=r"tickets\.csv, column 'opened_at': required column"):
        validate(raw, tmp_path / "o", BaseParams(), LENIENT)


def test_both_csv_and_parquet_of_one_table(export, tmp_path: Path) -> None:
    raw = export()
    pd.read_csv(raw / "tickets.csv").to_parquet(raw / "tickets.parquet")
    with pytest.raises(ContractError, match=r"both tickets\.csv and tickets\.parquet"):
        validate(raw, tmp_path / "o", BaseParams(), LENIENT)
    assert not (tmp_path / "o").exists()


def test_missing_required_column_keeps_the_earlier_output(
    export, tmp_path: Path, good_output: Path
) -> None:
    before = _tree_digest(good_output)
    subs = "account_id,start_date,end_date,plan\nA1,2024-01-10,,annual\n"
    with pytest.raises(ContractError) as caught:
        validate(export(subscriptions=subs), good_output, BaseParams(), LENIENT)
    assert str(caught.value) == "subscriptions.csv, column 'mrr': required column is missing"
    assert _tree_digest(good_output) == before


@pytest.mark.parametrize(
    ("table", "old", "new", "column", "rule", "line"),
    [
        ("accounts", "A2,2024-02-01", ",2024-02-01", "account_id", "must not be empty", "line 3"),
        ("accounts", "A3,2024-03-05", "A3,05/03/2024", "created_at", "ISO 8601 date", "line 4"),
        (
            "subscriptions",
            "A2,2024-03-01,,300",
            "A2,2024-03-01,,lots",
            "mrr",
            "not a number",
            "line 4",
        ),
        (
            "subscriptions",
            "A1,2024-01-10,2024-12-31,1200",
            "A1,2024-01-10,2024-12-31,-5",
            "mrr",
            "must be >= 0",
            "line 2",
        ),
        (
            "subscriptions",
            "A1,2024-01-10,2024-12-31",
            "A1,2024-01-10,2023-12-31",
            "end_date",
            "end_date is before start_date",
            "line 2",
        ),
        (
            "usage_events",
            "A2,2024-05-02 08:00:00",
            "A2,yesterday",
            "occurred_at",
            "ISO 8601 timestamp",
            "line 5",
        ),
        ("usage_events", "u2,3", "u2,-3", "quantity", "must be >= 0", "line 4"),
        ("tickets", "T2,A2", "T1,A2", "ticket_id", "must be unique", "line 3"),
        (
            "tickets",
            "2024-05-04T09:00:00-05:00",
            "2024-05-02T09:00:00-05:00",
            "closed_at",
            "closed_at is before opened_at",
            "line 2",
        ),
        ("tickets", "billing,4", "billing,6", "csat", "must be from 1 to 5", "line 2"),
        (
            "contacts",
            "A2,2024-05-07T15:00:00Z,carrier pigeon",
            "A2,2024-05-07T15:00:00Z,",
            "channel",
            "must not be empty",
            "line 3",
        ),
        (
            "manager_ratings",
            "A2,2024-05-07,1,1",
            "A2,2024-05-07,5,1",
            "risk_rating",
            "must be from 1 to 4",
            "line 3",
        ),
        (
            "manager_ratings",
            "A2,2024-05-07,1,1",
            "A2,2024-05-07,-99999999999,1",
            "risk_rating",
            "must be from 1 to 4",
            "line 3",
        ),
        (
            "manager_ratings",
            "A2,2024-05-07,1,1",
            "A2,2024-05-07,2.5,1",
            "risk_rating",
            "not a whole number",
            "line 3",
        ),
        (
            "manager_ratings",
            "A1,2024-05-06,3,2",
            "A1,2024-05-06,3,4",
            "communication_level",
            "must be from 1 to 3",
            "line 2",
        ),
    ],
)
def test_each_contract_rule_stops_the_run(
    export,
    valid_tables,
    tmp_path: Path,
    good_output: Path,
    table: str,
    old: str,
    new: str,
    column: str,
    rule: str,
    line: str,
) -> None:
    before = _tree_digest(good_output)
    raw = export(**{table: _replace(valid_tables[table], old, new)})
    _rejects(raw, tmp_path, f"{table}.csv", column, rule, 1, line)
    with pytest.raises(ContractError):
        validate(raw, good_output, BaseParams(), LENIENT)
    assert _tree_digest(good_output) == before


def test_a_whole_number_far_out_of_range_meets_its_range_rule(
    export, valid_tables, tmp_path: Path
) -> None:
    tickets = _replace(valid_tables["tickets"], "billing,4", "billing,1e12")
    err = _rejects(
        export(tickets=tickets), tmp_path, "tickets.csv", "csat", "must be from 1 to 5", 1
    )
    assert err.examples == ("line 2: '1000000000000'",)
    raw = export(manager_ratings=None)
    pd.DataFrame(
        {"account_id": ["A1", "A2"], "rated_at": ["2024-05-06"] * 2, "risk_rating": [2, 10**12]}
    ).to_parquet(raw / "manager_ratings.parquet")  # a native int64 column
    err = _rejects(
        raw, tmp_path, "manager_ratings.parquet", "risk_rating", "must be from 1 to 4", 1
    )
    assert err.examples == ("row 2: '1000000000000'",)


def test_duplicate_account_id(export, tmp_path: Path) -> None:
    accounts = "account_id,created_at\nA1,2024-01-10\nA2,2024-02-01\nA3,2024-03-05\nA1,2024-04-01\n"
    err = _rejects(
        export(accounts=accounts),
        tmp_path,
        "accounts.csv",
        "account_id",
        "must be unique",
        1,
        "line 5",
    )
    assert err.examples == ("line 5: 'A1'",)


def test_orphans_over_the_limit_stop_the_run(export, tmp_path: Path) -> None:
    usage = VALID_USAGE + "ZZ,2024-05-02T08:00:00Z,login,u9,1\n"
    _rejects(
        export(usage_events=usage),
        tmp_path,
        "usage_events.csv",
        "account_id",
        "references accounts missing from accounts",
        1,
        "line 4",
        rules=ValidateParams(max_orphan_share=0.01),
    )


def test_cli_reports_bad_input_in_one_line_and_exits_non_zero(export, tmp_path: Path) -> None:
    subs = "account_id,start_date,end_date,mrr\nA1,2024-01-10,,-1\n"
    raw = export(subscriptions=subs)
    params = tmp_path / "params.yaml"
    params.write_text("base: {}\nvalidate: {}\n")
    result = CliRunner().invoke(
        app, ["validate", "--raw", str(raw), "--out", str(tmp_path / "o"), "--params", str(params)]
    )
    assert result.exit_code == 2
    assert "subscriptions.csv, column 'mrr': must be >= 0: 1 row breaks it" in result.output
    assert not (tmp_path / "o").exists()
