"""The billing and CRM master tables: accounts and subscriptions, as the export shows them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from data.world.config import CAUSES, DAY0, INDUSTRIES, NO_DAY, REGIONS, SEGMENTS, WorldConfig
from data.world.population import Managers, Population

_NAME_A = np.array(["Blue", "North", "Bright", "Silver", "Green", "Rapid", "Prime", "Clear"])
_NAME_B = np.array(["Harbor", "Peak", "Forge", "Leaf", "Stone", "Wave", "Field", "Bridge"])
_NAME_C = np.array(["Labs", "Group", "Systems", "GmbH", "Inc", "Partners", "Co", "Ltd"])
_TIERS = np.array(["starter", "team", "enterprise"])


def to_dates(days: npt.ArrayLike) -> np.ndarray:
    """Day numbers as numpy dates."""
    return DAY0 + np.asarray(days, dtype=np.int64).astype("timedelta64[D]")


def accounts_table(pop: Population, managers: Managers, rng: np.random.Generator) -> pd.DataFrame:
    """One row per account, as the CRM lists it."""
    n = len(pop.created)
    pick = rng.integers(0, 8, (3, n))
    name = np.char.add(np.char.add(_NAME_A[pick[0]], " "), _NAME_B[pick[1]])
    name = np.char.add(np.char.add(name, " "), _NAME_C[pick[2]])
    return pd.DataFrame(
        {
            "account_id": pop.ids,
            "created_at": to_dates(pop.created),
            "name": name,
            "segment": np.asarray(SEGMENTS)[pop.segment],
            "csm_id": np.asarray(managers.ids)[pop.csm],
            "industry": np.asarray(INDUSTRIES)[pop.industry],
            "region": np.asarray(REGIONS)[pop.region],
        }
    )


def subscriptions_table(
    periods: pd.DataFrame, lives: pd.DataFrame, pop: Population, cfg: WorldConfig
) -> pd.DataFrame:
    """Billing rows as of the export day: one row per paid period.

    Each row's end date is its paid-through date, known when the period starts, so the rows
    reveal a churn only once it has happened. A monthly period running at export has no end
    date (it renews by itself); an annual term in force shows its end, in the future.
    """
    rows = periods[periods["start"] <= cfg.data_end].sort_values(["account", "start"])
    churn = lives["churn"].to_numpy()[rows["life"].to_numpy()]
    running = (rows["months"] == 1) & (rows["end"] >= cfg.data_end) & (churn > cfg.data_end)
    end = pd.Series(to_dates(rows["end"]), index=rows.index).mask(running)
    plan = np.char.add(
        np.char.add(_TIERS[pop.segment[rows["account"].to_numpy()]], "_"),
        np.where(rows["months"] == 12, "annual", "monthly"),
    )
    return pd.DataFrame(
        {
            "account_id": pop.ids[rows["account"].to_numpy()],
            "start_date": to_dates(rows["start"]),
            "end_date": end.to_numpy(),
            "mrr": rows["mrr"].to_numpy(),
            "plan": plan,
        }
    )


def churns_table(lives: pd.DataFrame, pop: Population, last_day: int) -> pd.DataFrame:
    """Every simulated churn up to `last_day`: account_id, life, churn_date, cause."""
    done = lives[(lives["churn"] != NO_DAY) & (lives["churn"] <= last_day)]
    return pd.DataFrame(
        {
            "account_id": pop.ids[done["account"].to_numpy()],
            "life": done["life"].astype("int32").to_numpy(),
            "churn_date": to_dates(done["churn"]),
            "cause": np.asarray(CAUSES)[done["cause"].to_numpy()],
        }
    ).sort_values(["account_id", "life"], ignore_index=True)
