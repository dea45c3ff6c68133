"""Fixtures for the features tests: inline Interface-A tables, a random world, the oracle."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.contract import OPTIONAL_SOURCES, TABLES, Kind

ARROW = {
    Kind.STRING: pa.string(),
    Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.NUMBER: pa.float64(),
    Kind.INTEGER: pa.int32(),
}

Tables = dict[str, pd.DataFrame]


def to_arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    """A frame as an Interface-A table: every contract column, in order, with its type."""
    arrays = {}
    for col in TABLES[name].columns:
        values = frame[col.name] if col.name in frame else pd.Series([None] * len(frame))
        values = values.astype(object).where(values.notna(), None)
        if col.kind is Kind.TIMESTAMP:
            values = [None if v is None else pd.Timestamp(v).tz_localize("UTC") for v in values]
        elif col.kind is Kind.DATE:
            values = [None if v is None else pd.Timestamp(v).date() for v in values]
        arrays[col.name] = pa.array(list(values), type=ARROW[col.kind])
    return pa.table(arrays)


def write_tables(folder: Path, tables: Tables, export_date: dt.date) -> Path:
    """Write `tables` as validated Parquet plus a `report.json` naming the export date."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        pq.write_table(to_arrow(name, frame), folder / f"{name}.parquet")
    report = {
        "tables": {n: {"rows": len(f)} for n, f in tables.items()},
        "missing_sources": [s for s in OPTIONAL_SOURCES if s not in tables],
        "export_date": export_date.isoformat(),
    }
    (folder / "report.json").write_text(json.dumps(report))
    return folder


@pytest.fixture
def write_validated(tmp_path: Path) -> Callable[..., Path]:
    """Write inline tables as an Interface-A folder under tmp_path."""
    counter = iter(range(1000))

    def _write(tables: Tables, export_date: dt.date) -> Path:
        return write_tables(tmp_path / f"validated{next(counter)}", tables, export_date)

    return _write


def _subscriptions(rng: np.random.Generator, account: str, start: pd.Timestamp) -> list[dict]:
    rows, day = [], start
    for _ in range(int(rng.integers(1, 12))):
        length = int(rng.choice([30, 31, 28, 365, 90]))
        end = day + pd.Timedelta(days=length - 1)
        rows.append(
            {
                "account_id": account,
                "start_date": day,
                "end_date": end,
                "mrr": float(rng.choice([0.0, 50.0, 120.0, 300.0])),
                "plan": str(rng.choice(["basic", "pro"])),
            }
        )
        # Mostly renewed right away (billing periods), often lapsing or restarting.
        gap = int(rng.choice([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 29, 30, 31, 45, 120]))
        day = end + pd.Timedelta(days=gap)
    if rng.random() < 0.3:
        rows[-1]["end_date"] = None
    return rows


def _stamps(rng: np.random.Generator, start: pd.Timestamp, days: int, n: int) -> list:
    base = start + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    # Many rows sit a microsecond either side of midnight to test the day boundary.
    offsets = rng.choice([0, 1, 86_400_000_000 - 1, 43_200_000_000], n)
    return list(base + pd.to_timedelta(offsets, unit="us"))


def random_world(seed: int, n_accounts: int = 25, days: int = 400) -> tuple[Tables, dt.date]:
    """A small random Interface-A world with lapses, restarts and midnight-boundary rows."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-02")
    ids = [f"acc{i:03d}" for i in range(n_accounts)]
    created = [start + pd.Timedelta(days=int(d)) for d in rng.integers(0, days // 2, n_accounts)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "created_at": created,
            "segment": rng.choice(["low_touch", "high_touch"], n_accounts),
            "csm_id": rng.choice(["m1", "m2"], n_accounts),
            "industry": rng.choice(["retail", "health", None], n_accounts),
            "region": rng.choice(["eu", "us"], n_accounts),
        }
    )
    subs = pd.DataFrame(
        [r for a, c in zip(ids, created, strict=True) for r in _subscriptions(rng, a, c)]
    )
    n_ev = 40 * n_accounts
    usage = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n_ev),
            "occurred_at": _stamps(rng, start, days, n_ev),
            "event_type": rng.choice(["login", "report", "export", "share"], n_ev),
            "user_id": rng.choice(["u1", "u2", "u3", None], n_ev),
            "quantity": rng.choice([1.0, 1.0, 2.0, 0.0, 5.0], n_ev),
        }
    )
    n_t = 4 * n_accounts
    opened = _stamps(rng, start, days, n_t)
    hours = rng.choice([1, 20, 50, 400, -1], n_t)
    tickets = pd.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(n_t)],
            "account_id": rng.choice(ids, n_t),
            "opened_at": opened,
            "closed_at": [
                None if h < 0 else o + pd.Timedelta(hours=int(h))
                for o, h in zip(opened, hours, strict=True)
            ],
            "priority": rng.choice(["low", "normal", "high", "urgent", None], n_t),
            "csat": [
                None if h < 0 or rng.random() < 0.3 else int(rng.integers(1, 6)) for h in hours
            ],
        }
    )
    n_c = 5 * n_accounts
    contacts = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n_c),
            "occurred_at": _stamps(rng, start, days, n_c),
            "channel": rng.choice(["call", "email"], n_c),
            "direction": rng.choice(["inbound", "outbound", None], n_c),
        }
    )
    n_r = 3 * n_accounts
    ratings = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n_r),
            "rated_at": start + pd.to_timedelta(rng.integers(0, days, n_r) // 7 * 7, unit="D"),
            "risk_rating": rng.integers(1, 5, n_r),
            "communication_level": rng.choice([1, 2, 3, None], n_r),
        }
    )
    tables = {
        "accounts": accounts,
        "subscriptions": subs,
        "usage_events": usage,
        "tickets": tickets,
        "contacts": contacts,
        "manager_ratings": ratings,
    }
    return tables, (start + pd.Timedelta(days=days)).date()


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """The plain-pandas reference implementation (the oracle for the SQL)."""
    path = Path(__file__).with_name("reference.py")
    spec = importlib.util.spec_from_file_location("features_reference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def world() -> Callable[..., tuple[Tables, dt.date]]:
    """The random world builder."""
    return random_world


@pytest.fixture(scope="session")
def write_validated_at() -> Callable[..., Path]:
    """Write inline tables as an Interface-A folder at a given path."""
    return write_tables


def _cells_differ(a: pd.Series, b: pd.Series, tolerance: float = 1e-12) -> np.ndarray:
    """Where two aligned columns disagree: missing on one side only, or values apart.

    Numbers may differ by `tolerance` (relative and absolute); anything else must be equal.
    """
    differ = a.isna().to_numpy() != b.isna().to_numpy()
    present = ~(a.isna().to_numpy() | b.isna().to_numpy())
    if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
        x = a.to_numpy(dtype=float, na_value=np.nan)
        y = b.to_numpy(dtype=float, na_value=np.nan)
        return differ | (present & ~np.isclose(x, y, rtol=tolerance, atol=tolerance))
    return differ | (present & (a.astype(object).to_numpy() != b.astype(object).to_numpy()))


@pytest.fixture(scope="session")
def cells_differ() -> Callable[..., np.ndarray]:
    """`(a, b, tolerance=1e-12)` -> where two aligned feature columns disagree."""
    return _cells_differ


def _assert_same_tables(one: pd.DataFrame, other: pd.DataFrame, tolerance: float = 1e-9) -> None:
    """Two feature tables alike: columns, types, keys in the same order, every cell."""
    assert list(one.columns) == list(other.columns)
    assert one.dtypes.astype(str).to_dict() == other.dtypes.astype(str).to_dict()
    keys = ["account_id", "as_of", "life"]
    assert len(one) == len(other) > 1_000
    assert one[keys].equals(other[keys])
    differing = {
        name: int(count)
        for name in other.columns
        if (count := _cells_differ(one[name], other[name], tolerance).sum())
    }
    assert differing == {}, f"columns whose cells differ (how many): {differing}"


@pytest.fixture(scope="session")
def assert_same_tables() -> Callable[..., None]:
    """`(one, other, tolerance=1e-9)`: fails unless two feature tables agree cell by cell."""
    return _assert_same_tables
