"""The billing and CRM master tables: accounts and subscriptions, as the export shows them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from data.contract import RunningPeriods
from data.world.config import CAUSES, DAY0, INDUSTRIES, NO_DAY, REGIONS, SEGMENTS
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
    periods: pd.DataFrame, pop: Population, written_on: int, running: RunningPeriods
) -> pd.DataFrame:
    """Billing rows as the export written on day `written_on` shows them: one per paid period.

    Only periods begun before that day. A period whose end was rewritten before it (the
    client ended early, or changed plan: the old row ends the day before the new one) shows
    the rewritten end; a later rewrite is not known yet. A period still paid for on that day
    is written the `running` way: its end as billed when it began, or an empty end date.
    So the rows reveal a churn only once it has happened.
    """
    rows = periods[periods["start"] < written_on].sort_values(["account", "start"])
    rewritten = rows["rewritten"].to_numpy() < written_on
    known = np.where(rewritten, rows["end"].to_numpy(), rows["billed_end"].to_numpy())
    monthly = rows["months"].to_numpy() == 1
    open_ended = {
        RunningPeriods.BILLED: False,
        RunningPeriods.OPEN: True,
        RunningPeriods.MIXED: monthly,
    }[RunningPeriods(running)]
    end = pd.Series(to_dates(known)).mask((known >= written_on) & open_ended)
    account = rows["account"].to_numpy()
    interval = np.where(monthly, "monthly", "annual")
    return pd.DataFrame(
        {
            "account_id": pop.ids[account],
            "start_date": to_dates(rows["start"]),
            "end_date": end.to_numpy(),
            "mrr": rows["mrr"].to_numpy(),
            "plan": np.char.add(np.char.add(_TIERS[rows["tier"].to_numpy()], "_"), interval),
            "billing_interval": interval,
        }
    )


def churns_table(lives: pd.DataFrame, pop: Population, last_day: int) -> pd.DataFrame:
    """Every simulated churn up to `last_day`: account_id, life, churn_date, cause, early_end."""
    done = lives[(lives["churn"] != NO_DAY) & (lives["churn"] <= last_day)]
    return pd.DataFrame(
        {
            "account_id": pop.ids[done["account"].to_numpy()],
            "life": done["life"].astype("int32").to_numpy(),
            "churn_date": to_dates(done["churn"]),
            "cause": np.asarray(CAUSES)[done["cause"].to_numpy()],
            "early_end": done["early_end"].to_numpy(),
        }
    ).sort_values(["account_id", "life"], ignore_index=True)
