"""A CSV that breaks the format (RFC 4180, UTF-8) stops the run naming its file, lines and rule."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.stages import validate

LENIENT = ValidateParams(max_orphan_share=0.5)
USAGE_HEADER = "account_id,occurred_at,event_type,user_id,quantity\n"


def _usage(n: int, broken: dict[int, str]) -> str:
    """`n` valid usage rows, with the rows at the given 0-based positions replaced."""
    rows = [
        f"A{i % 3 + 1},2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z,login,u1,1" for i in range(n)
    ]
    for i, row in broken.items():
        rows[i] = row
    return USAGE_HEADER + "".join(f"{r}\n" for r in rows)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(raw: Path, tmp_path: Path) -> ContractError:
    """Validate `raw` over an earlier good output: a ContractError, the output untouched."""
    good = tmp_path / "good"
    if not good.exists():
        validate(raw.parent / "valid", good, BaseParams(), LENIENT)
    before = _digest(good)
    with pytest.raises(ContractError) as caught:
        validate(raw, good, BaseParams(), LENIENT)
    assert _digest(good) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "raw", "valid"]
    return caught.value


@pytest.fixture
def bad_export(export, tmp_path: Path):
    """An export with one table's text (or bytes) replaced, beside a valid copy in `valid/`."""

    def make(table: str, content: str | bytes) -> Path:
        raw = export()
        valid = tmp_path / "valid"
        if not valid.exists():
            valid.mkdir()
            for p in raw.iterdir():
                (valid / p.name).write_bytes(p.read_bytes())
        path = raw / f"{table}.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return raw

    return make


def test_a_row_with_extra_fields_names_its_line_and_count(bad_export, tmp_path: Path) -> None:
    accounts = (
        "account_id,created_at,name,segment,csm_id,industry,region,crm_only\n"
        + "".join(f"A{i},2024-01-10,Acme,high_touch,m1,retail,EMEA,x\n" for i in range(1, 3001))
        + "A3001,2024-01-10,Acme,high_touch,m1,retail,EMEA,x,spare\n"
    )
    err = _refused(bad_export("accounts", accounts), tmp_path)
    assert str(err) == (
        "accounts.csv: a row must have as many fields as the header (8): 1 row breaks it "
        "(e.g. line 3002: 9 fields)"
    )


def test_rows_with_too_few_fields_are_counted_past_the_first(bad_export, tmp_path: Path) -> None:
    broken = {
        5: "A1,2024-05-01T10:00:00Z",
        40_000: "A2",
        59_998: "A1,2024-05-01T10:00:00Z,login,u1,1,9",
    }
    err = _refused(bad_export("usage_events", _usage(60_000, broken)), tmp_path)
    assert (err.file, err.column, err.count) == ("usage_events.csv", None, 3)
    assert err.rule == "a row must have as many fields as the header (5)"
    assert err.examples == ("line 7: 2 fields", "line 40002: 1 field", "line 60000: 6 fields")


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ('A3,2024-03-05,"Gamma,middle_touch,m1,retail,APAC,z', "name"),  # never closed
        ('A3,2024-03-05,"Gamma" Ltd,middle_touch,m1,retail,APAC,z', "name"),  # text after it
    ],
)
def test_an_unterminated_quote_is_refused(
    bad_export, valid_tables, tmp_path: Path, row: str, column: str
) -> None:
    accounts = valid_tables["accounts"].replace(
        "A3,2024-03-05,Gamma,middle_touch,m1,retail,APAC,z", row
    )
    assert row in accounts
    err = _refused(bad_export("accounts", accounts), tmp_path)
    assert (err.file, err.column, err.count) == ("accounts.csv", column, 1)
    assert err.rule == "a quoted value must end with a quote right before a comma or the line end"
    assert err.examples == (f"line 4: '{row[:40]}...'",)


def test_an_unterminated_quote_past_the_first_lines_is_refused(bad_export, tmp_path: Path) -> None:
    usage = _usage(50_000, {45_000: 'A1,2024-05-01T10:00:00Z,"login,u1,1'})
    err = _refused(bad_export("usage_events", usage), tmp_path)
    assert (err.column, err.count, err.examples[0][:12]) == ("event_type", 1, "line 45002: ")


def test_invalid_utf8_names_the_line_and_column(bad_export, tmp_path: Path) -> None:
    tickets = b"ticket_id,account_id,opened_at\nT1,A1,2024-05-01\nT2,A\xff\xfe1,2024-05-01\n"
    err = _refused(bad_export("tickets", tickets), tmp_path)
    assert str(err) == (
        "tickets.csv, column 'account_id': not valid UTF-8 text: 1 row breaks it (e.g. line 3)"
    )


def test_a_header_that_is_not_utf8_is_refused(bad_export, tmp_path: Path) -> None:
    err = _refused(bad_export("contacts", b"account_id,occurred_at,ch\xe9nnel\n"), tmp_path)
    assert str(err) == "contacts.csv: the header (line 1) is not valid UTF-8 text"


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("", "has no header row (the file is empty)"),
        ("\naccount_id,occurred_at,channel\n", "has no header row (line 1 is blank)"),
        (
            'account_id,"occurred_at,channel\n',
            "the header (line 1): a quoted value must end with a quote right before a comma "
            "or the line end",
        ),
    ],
)
def test_a_file_without_a_readable_header_is_refused(
    bad_export, tmp_path: Path, content: str, rule: str
) -> None:
    err = _refused(bad_export("contacts", content), tmp_path)
    assert str(err) == f"contacts.csv: {rule}"


def test_a_column_named_twice_in_the_header_is_refused(bad_export, tmp_path: Path) -> None:
    contacts = "account_id,occurred_at,channel,channel\nA1,2024-05-06T15:00:00Z,call,email\n"
    err = _refused(bad_export("contacts", contacts), tmp_path)
    assert str(err) == "contacts.csv, column 'channel': appears twice in the header"


def test_quoted_values_doubled_quotes_and_crlf_are_read(export, tmp_path: Path) -> None:
    ratings = (
        '"account_id","rated_at","risk_rating","communication_level","csm_id","note"\r\n'
        'A1,2024-05-06,3,2,m1,"fine, ""really"""\r\n'
        'A2,2024-05-07,1,1,m2,"two\r\nlines"\r\n'
        "A3,2024-05-07,2,,m1,#not a comment\r\n"
    )
    validate(export(manager_ratings=ratings), tmp_path / "o", BaseParams(), LENIENT)
    notes = pd.read_parquet(tmp_path / "o" / "manager_ratings.parquet")["note"].tolist()
    assert notes == ['fine, "really"', "two\r\nlines", "#not a comment"]


def test_a_utf8_byte_order_mark_and_spaces_around_header_names_are_accepted(
    export, valid_tables, tmp_path: Path
) -> None:
    raw = export()
    text = valid_tables["subscriptions"].replace("account_id,start_date", "account_id , start_date")
    (raw / "subscriptions.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    validate(raw, tmp_path / "o", BaseParams(), LENIENT)
    subs = pd.read_parquet(tmp_path / "o" / "subscriptions.parquet")
    assert subs["account_id"].tolist() == ["A1", "A2", "A2", "A3"]
