"""Key use-case events: the event types whose recent use best separates churn from retention.

Rule (used when `features.key_events` is null): take the labeled snapshots dated at least
`horizon_days` before the last labeled snapshot (so the most recent labeled stretch, which a
time-based evaluation holds out, never chooses them). For each event type, mark whether the
account used it in the 28 days before `as_of`, and score the type by the mutual information
between that mark and the label. The `n` best types are kept (ties by name), leaving out types
with no information. Past `MAX_TRAIN_ROWS` snapshots, a fixed hash sample of the accounts
(about that many snapshots) is used.
The chosen list is written to the manifest.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

WINDOW_DAYS = 28
MAX_TRAIN_ROWS = 200_000  # past about this, a fixed hash sample of accounts keeps it cheap


def _presence_counts(con: duckdb.DuckDBPyConnection, horizon_days: int) -> pd.DataFrame:
    return con.execute(
        f"""WITH last AS (SELECT max(as_of) AS d FROM keys WHERE churned IS NOT NULL),
        older AS (SELECT sid, a, as_of, churned FROM keys, last
                  WHERE churned IS NOT NULL AND as_of <= last.d - {int(horizon_days)}),
        share AS (SELECT 1 + count(*) // {MAX_TRAIN_ROWS} AS every FROM older),
        train AS (SELECT older.* FROM older, share WHERE hash(a) % every = 0),
        marked AS (SELECT a, e, day,
              CASE WHEN day - lag(day) OVER p <= {WINDOW_DAYS} THEN 0 ELSE 1 END AS new
              FROM usage_adt, share WHERE hash(a) % every = 0
              WINDOW p AS (PARTITION BY a, e ORDER BY day)),
        g AS (SELECT *, sum(new) OVER (PARTITION BY a, e ORDER BY day
                                       ROWS UNBOUNDED PRECEDING) AS island FROM marked),
        islands AS (SELECT a, e, min(day) AS first, max(day) AS last
                    FROM g GROUP BY a, e, island),
        present AS (SELECT DISTINCT t.sid, i.e, t.churned FROM train t JOIN islands i
                    ON t.a = i.a AND t.as_of > i.first AND t.as_of <= i.last + {WINDOW_DAYS})
        SELECT event_type, count(*) AS present, sum(churned) AS churned_present,
               (SELECT count(*) FROM train) AS n, (SELECT sum(churned) FROM train) AS n_churned
        FROM present JOIN etypes USING (e) GROUP BY event_type"""
    ).df()


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    return np.nan_to_num(h)


def rank_key_events(counts: pd.DataFrame, n: int) -> list[str]:
    """The `n` event types with the highest mutual information between use and churn."""
    if counts.empty or n == 0:
        return []
    total = counts["n"].astype(float).to_numpy()
    churned = counts["n_churned"].astype(float).to_numpy()
    present = counts["present"].astype(float).to_numpy()
    hit = counts["churned_present"].astype(float).to_numpy()
    absent = total - present
    with np.errstate(divide="ignore", invalid="ignore"):
        h_given = (present / total) * _entropy(hit / present) + (absent / total) * _entropy(
            (churned - hit) / np.where(absent > 0, absent, 1)
        )
    info = _entropy(churned / total) - h_given
    scored = pd.DataFrame({"event_type": counts["event_type"].astype(str), "info": info})
    scored = scored[scored["info"] > 1e-12].sort_values(
        ["info", "event_type"], ascending=[False, True], kind="stable"
    )
    return scored["event_type"].head(n).tolist()


def learn_key_events(con: duckdb.DuckDBPyConnection, horizon_days: int, n: int) -> list[str]:
    """Learn the key event types from `keys` (with labels) and `usage_adt`."""
    return rank_key_events(_presence_counts(con, horizon_days), n)
