import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from data.world import write_world

Export = Callable[..., Path]

VALID: dict[str, str] = {
    "accounts": """account_id,created_at,name,segment,csm_id,industry,region,crm_only
A1,2024-01-10,Acme,high_touch,m1,retail,EMEA,x
A2,2024-02-01,Beta,low_touch,m2,finance,NA,y
A3,2024-03-05,Gamma,middle_touch,m1,retail,APAC,z
""",
    "subscriptions": """account_id,start_date,end_date,mrr,plan
A1,2024-01-10,2024-12-31,1200,annual
A2,2024-02-01,2024-02-29,300,monthly
A2,2024-03-01,,300,monthly
A3,2024-03-05,,0,monthly
""",
    "usage_events": """account_id,occurred_at,event_type,user_id,quantity
A1,2024-05-01T10:00:00Z,login,u1,
A1,2024-05-01T10:00:00Z,login,u1,
A1,2024-05-01T12:30:00+02:00,export,u2,3
A2,2024-05-02 08:00:00,login,u3,1
""",
    "tickets": """ticket_id,account_id,opened_at,closed_at,priority,category,csat
T1,A1,2024-05-03T09:00:00-05:00,2024-05-04T09:00:00-05:00,High,billing,4
T2,A2,2024-05-05T09:00:00Z,,urgent,bug,
""",
    "contacts": """account_id,occurred_at,channel,direction,csm_id
A1,2024-05-06T15:00:00+01:00,Call,outbound,m1
A2,2024-05-07T15:00:00Z,carrier pigeon,inbound,m2
""",
    "manager_ratings": """account_id,rated_at,risk_rating,communication_level,csm_id,note
A1,2024-05-06,3,2,m1,fine
A2,2024-05-07,1,1,m2,unhappy
""",
}


@pytest.fixture
def export(tmp_path: Path) -> Export:
    """Write a small valid export (CSV, or Parquet for the named tables), with edits applied.

    `edits` maps a table name to its CSV text (replacing the valid one) or to None (left out).
    """

    def make(parquet: tuple[str, ...] = (), **edits: str | None) -> Path:
        raw = tmp_path / "raw"
        shutil.rmtree(raw, ignore_errors=True)
        raw.mkdir()
        for name, text in {**VALID, **edits}.items():
            if text is None:
                continue
            csv = raw / f"{name}.csv"
            csv.write_text(text)
            if name in parquet:
                pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(
                    raw / f"{name}.parquet"
                )
                csv.unlink()
        return raw

    return make


@pytest.fixture
def valid_tables() -> dict[str, str]:
    """The CSV text of each table of the valid export."""
    return dict(VALID)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo world (400 accounts, seed 11): raw/ and truth/."""
    out = tmp_path_factory.mktemp("world")
    write_world(out, n_accounts=400, seed=11)
    return out
