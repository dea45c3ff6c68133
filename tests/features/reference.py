"""Plain-pandas reference of churn lives, labels and features: the oracle for the DuckDB SQL.

Clarity over speed: loops over lives and snapshot dates, one filter per definition. It takes
the same Interface-A tables (as frames) and must give the same values as `churn features`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


def _day(stamps: pd.Series) -> pd.Series:
    """UTC calendar day of a timestamp column, as a naive midnight Timestamp."""
    stamps = pd.to_datetime(stamps, utc=True)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")


def lives(subs: pd.DataFrame, grace: int) -> pd.DataFrame:
    """(account_id, life, life_start, last_day) by walking each account's periods in order."""
    rows = []
    subs = subs.assign(
        start=pd.to_datetime(subs["start_date"]), end=pd.to_datetime(subs["end_date"])
    )
    for account, group in subs.groupby("account_id"):
        life, start, covered = 0, None, None  # covered: latest end so far; NaT = open
        for _, row in group.sort_values(["start", "end"]).iterrows():
            is_open = covered is not None and pd.isna(covered)
            if covered is None or (not is_open and (row["start"] - covered).days > grace):
                if covered is not None:
                    rows.append((account, life, start, covered))
                life, start, covered = life + 1, row["start"], row["end"]
            elif not is_open:
                covered = pd.NaT if pd.isna(row["end"]) else max(covered, row["end"])
        rows.append((account, life, start, covered))
    return pd.DataFrame(rows, columns=["account_id", "life", "life_start", "last_day"])


def snapshots(
    life_rows: pd.DataFrame, first: dt.date, export: dt.date, freq: str, horizon: int, grace: int
) -> pd.DataFrame:
    """One row per life and snapshot date inside it, with churn_date and the label."""
    export_ts = pd.Timestamp(export)
    dates = pd.date_range(pd.Timestamp(first), export_ts, freq=freq)
    rows = []
    for life in life_rows.itertuples():
        known = pd.notna(life.last_day) and life.last_day + grace * DAY < export_ts
        churn = life.last_day if known else pd.NaT
        for as_of in dates:
            if as_of < life.life_start or (pd.notna(life.last_day) and as_of > life.last_day):
                continue
            if as_of + (horizon + grace) * DAY > export_ts:
                label = None
            elif known and churn < as_of + horizon * DAY:
                label = 1
            else:
                label = 0
            rows.append((life.account_id, as_of, life.life, life.life_start, churn, label))
    cols = ["account_id", "as_of", "life", "life_start", "churn_date", "churned"]
    return pd.DataFrame(rows, columns=cols)


def _slug(event_type: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in event_type.lower()).strip("_")


def _usage(usage: pd.DataFrame, as_of: pd.Timestamp, event_types: list[str]) -> dict:
    past = usage[usage["day"] < as_of]

    def window(lo: int, hi: int = 0) -> pd.DataFrame:
        return past[(past["day"] >= as_of - lo * DAY) & (past["day"] < as_of - hi * DAY)]

    out = {}
    for w in (7, 28, 90):
        rows = window(w)
        out[f"usage_events_{w}d"] = rows["quantity"].sum()
        out[f"usage_active_days_{w}d"] = rows["day"].nunique()
        out[f"usage_active_users_{w}d"] = rows["user_id"].dropna().nunique()
        out[f"usage_event_types_{w}d"] = rows["event_type"].nunique()
        for event_type in event_types:
            of_type = rows[rows["event_type"] == event_type]
            out[f"usage_type_{_slug(event_type)}_{w}d"] = of_type["quantity"].sum()
    users = out["usage_active_users_28d"]
    out["usage_events_per_user_28d"] = out["usage_events_28d"] / users if users else np.nan
    before = window(56, 28)["quantity"].sum()
    out["usage_trend_28d"] = out["usage_events_28d"] / before if before else np.nan
    weeks = np.array([window(7 * i + 7, 7 * i)["quantity"].sum() for i in range(12)])
    out["usage_active_weeks_share_12w"] = (weeks > 0).mean()
    out["usage_weekly_events_cv_12w"] = weeks.std() / weeks.mean() if weeks.mean() else np.nan
    out["usage_days_since_last_event"] = (as_of - past["day"].max()).days if len(past) else None
    out["usage_never"] = len(past) == 0
    return out


def _tickets(tickets: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    opened = tickets[tickets["opened_day"] < as_of]
    closed = opened[opened["closed_day"].notna() & (opened["closed_day"] < as_of)]
    still_open = opened.drop(closed.index)
    out = {}
    for w in (30, 90):
        recent = opened[opened["opened_day"] >= as_of - w * DAY]
        out[f"tickets_opened_{w}d"] = len(recent)
        out[f"tickets_high_urgent_{w}d"] = recent["priority"].isin(["high", "urgent"]).sum()
    out["tickets_open_now"] = len(still_open)
    out["tickets_oldest_open_age_days"] = (
        (as_of - still_open["opened_day"].min()).days if len(still_open) else None
    )
    recent = closed[closed["closed_day"] >= as_of - 90 * DAY]
    hours = (recent["closed_at"] - recent["opened_at"]).dt.total_seconds() / 86400
    out["tickets_resolution_days_mean_90d"] = hours.mean() if len(recent) else np.nan
    out["tickets_csat_mean_90d"] = recent["csat"].dropna().mean()
    rated = closed[closed["csat"].notna()].sort_values(["closed_at", "ticket_id"])
    out["tickets_csat_last"] = float(rated["csat"].iloc[-1]) if len(rated) else np.nan
    last = opened["opened_day"].max()
    out["tickets_days_since_last"] = (as_of - last).days if len(opened) else None
    out["tickets_never"] = len(opened) == 0
    return out


def _contacts(contacts: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    past = contacts[contacts["day"] < as_of]
    inbound = past[past["direction"] == "inbound"]
    talks = past[past["channel"].isin(["call", "meeting", "qbr"])]
    n90 = (past["day"] >= as_of - 90 * DAY).sum()
    in90 = (inbound["day"] >= as_of - 90 * DAY).sum()
    return {
        "contacts_days_since_last": (as_of - past["day"].max()).days if len(past) else None,
        "contacts_days_since_conversation": (
            (as_of - talks["day"].max()).days if len(talks) else None
        ),
        "contacts_days_since_last_inbound": (
            (as_of - inbound["day"].max()).days if len(inbound) else None
        ),
        "contacts_30d": (past["day"] >= as_of - 30 * DAY).sum(),
        "contacts_90d": n90,
        "contacts_inbound_30d": (inbound["day"] >= as_of - 30 * DAY).sum(),
        "contacts_inbound_share_90d": in90 / n90 if n90 else np.nan,
        "contacts_never": len(past) == 0,
    }


def _ratings(ratings: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    past = ratings[ratings["rated_at"] < as_of]
    by_day = past.groupby("rated_at").agg(
        rating=("risk_rating", "min"), comm=("communication_level", "min")
    )
    if by_day.empty:
        return {"rating_count": 0}
    current = by_day.iloc[-1]
    return {
        "rating_current": current["rating"],
        "rating_age_days": (as_of - by_day.index[-1]).days,
        "rating_change": current["rating"] - by_day["rating"].iloc[-2] if len(by_day) > 1 else None,
        "rating_communication_level": current["comm"],
        "rating_count": len(past),
    }


def _months(months: int) -> pd.DateOffset:
    return pd.DateOffset(months=months)


def _interval(text: object) -> int | None:
    """Months of a billing interval the reference knows (names only)."""
    names = {"monthly": 1, "quarterly": 3, "annual": 12, "yearly": 12}
    return names.get(str(text).lower()) if pd.notna(text) else None


def renewed_periods(all_subs: pd.DataFrame) -> pd.DataFrame:
    """Closed rows (any account) renewed by a row starting within 3 days, with their months.

    `next_start` is when the renewing row started: the period is known from the day after.
    """
    rows = []
    for account, group in all_subs.groupby("account_id"):
        starts = sorted(group["start_date"])
        for row in group[group["end_date"].notna()].itertuples():
            later = [s for s in starts if s >= row.end_date]
            if not later or (later[0] - row.end_date).days > 3:
                continue
            length = (row.end_date - row.start_date).days + 1
            if length >= 16:
                rows.append((account, row.plan, later[0], round(length / 30.4375)))
    return pd.DataFrame(rows, columns=["account_id", "plan", "next_start", "months"])


def _interval_of(top: pd.Series, renewed: pd.DataFrame, as_of: pd.Timestamp) -> int | None:
    """Months between renewals: the row's own interval, its plan's usual one, the account's."""
    own = _interval(top.get("billing_interval"))
    if own is not None:
        return own
    renewed = renewed[renewed["next_start"] < as_of]
    if pd.notna(top["plan"]):
        of_plan = renewed[renewed["plan"] == top["plan"]]
        if len(of_plan):
            counts = of_plan["months"].value_counts()
            return int(max(counts[counts == counts.max()].index))
    mine = renewed[renewed["account_id"] == top["account_id"]]
    if len(mine):
        last = mine[mine["next_start"] == mine["next_start"].max()]
        return int(last["months"].max())
    return None


def _first_on_or_after(start: pd.Timestamp, as_of: pd.Timestamp, months: int) -> pd.Timestamp:
    """The first date `start + k * months` (k >= 1, month ends clamped) on or after `as_of`."""
    k = 1
    while (day := start + _months(k * months)) < as_of:
        k += 1
    return day


def _account(
    account: pd.Series, subs: pd.DataFrame, snap: pd.Series, renewed: pd.DataFrame
) -> dict:
    as_of = snap["as_of"]
    ends = subs["end_date"].fillna(pd.Timestamp("2262-01-01"))

    def covering(day: pd.Timestamp) -> pd.DataFrame:
        return subs[(subs["start_date"] <= day) & (ends >= day)]

    current = covering(as_of - DAY)
    in_force = covering(as_of)
    main = (
        current[current["start_date"] < as_of]
        .assign(_plan=current["plan"].fillna("\uffff"))
        .sort_values(["mrr", "start_date", "_plan"], ascending=[False, False, True])
    )
    out = {
        "csm_id": account["csm_id"],
        "segment": account["segment"],
        "mrr": in_force["mrr"].sum() if len(in_force) else np.nan,
        "account_name": account.get("name"),
        "account_tenure_days": (as_of - account["created_at"]).days,
        "account_life": snap["life"],
        "account_life_days": (as_of - snap["life_start"]).days,
        "account_segment": account["segment"],
        "account_mrr_now": current["mrr"].sum(),
        "account_mrr_change_90d": current["mrr"].sum() - covering(as_of - 91 * DAY)["mrr"].sum(),
        "account_industry": account["industry"],
        "account_region": account["region"],
    }
    if len(main):
        top = main.iloc[0]
        out["account_plan"] = top["plan"]
        months = _interval_of(top, renewed, as_of)
        if months is None:
            out["account_days_to_anniversary"] = (
                _first_on_or_after(top["start_date"], as_of, 12) - as_of
            ).days
            out["account_days_to_monthiversary"] = (
                _first_on_or_after(top["start_date"], as_of, 1) - as_of
            ).days
        else:
            names = {1: "monthly", 3: "quarterly", 6: "semiannual", 12: "annual"}
            out["account_billing_interval"] = names.get(months, f"{months} months")
            renewal = _first_on_or_after(top["start_date"], as_of, months)
            out["account_days_to_renewal"] = (renewal - as_of).days
    else:
        ended = subs[subs["end_date"] < as_of]
        if len(ended):
            out["account_days_to_renewal"] = (ended["end_date"].max() + DAY - as_of).days
    return out


def _prepare(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    subs = tables["subscriptions"].copy()
    for col in ("start_date", "end_date"):
        subs[col] = pd.to_datetime(subs[col])
    out["subscriptions"] = subs
    accounts = tables["accounts"].copy()
    accounts["created_at"] = pd.to_datetime(accounts["created_at"])
    out["accounts"] = accounts.set_index("account_id")
    if "usage_events" in tables:
        usage = tables["usage_events"]
        usage = usage[usage["quantity"].fillna(1.0) > 0].copy()
        usage["day"] = _day(usage["occurred_at"])
        out["usage_events"] = usage
    if "tickets" in tables:
        tickets = tables["tickets"].copy()
        tickets["opened_at"] = pd.to_datetime(tickets["opened_at"], utc=True)
        tickets["closed_at"] = pd.to_datetime(tickets["closed_at"], utc=True)
        tickets["opened_day"] = _day(tickets["opened_at"])
        tickets["closed_day"] = _day(tickets["closed_at"])
        out["tickets"] = tickets
    if "contacts" in tables:
        contacts = tables["contacts"].copy()
        contacts["day"] = _day(contacts["occurred_at"])
        out["contacts"] = contacts
    if "manager_ratings" in tables:
        ratings = tables["manager_ratings"].copy()
        ratings["rated_at"] = pd.to_datetime(ratings["rated_at"])
        out["manager_ratings"] = ratings
    return out


def build(
    tables: dict[str, pd.DataFrame],
    export: dt.date,
    event_types: list[str],
    horizon: int = 90,
    grace: int = 30,
    freq: str = "W-MON",
    first: dt.date | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Snapshots with labels and every feature, one snapshot row at a time.

    `first` is where the snapshot calendar starts (default: the first paid day). `population`
    is the subscriptions of every account when `tables` holds a sample: a plan's usual billing
    interval is read from all of them.
    """
    data = _prepare(tables)
    subs = data["subscriptions"]
    if population is None:
        renewed = renewed_periods(subs)
    else:
        everyone = population.assign(
            start_date=pd.to_datetime(population["start_date"]),
            end_date=pd.to_datetime(population["end_date"]),
        )
        renewed = renewed_periods(everyone)
    start = first or subs["start_date"].min()
    snaps = snapshots(lives(subs, grace), start, export, freq, horizon, grace)
    by_account = {a: g for a, g in subs.groupby("account_id")}
    grouped = {
        name: {a: g for a, g in frame.groupby("account_id")}
        for name, frame in data.items()
        if name not in ("subscriptions", "accounts")
    }
    families = {
        "usage_events": lambda rows, as_of: _usage(rows, as_of, event_types),
        "tickets": _tickets,
        "contacts": _contacts,
        "manager_ratings": _ratings,
    }
    records = []
    for snap in snaps.to_dict("records"):
        snap = pd.Series(snap)
        account = data["accounts"].loc[snap["account_id"]]
        own = by_account[snap["account_id"]]
        record = snap.to_dict() | _account(account, own, snap, renewed)
        for name, compute in families.items():
            if name in grouped:
                empty = data[name].iloc[:0]
                record |= compute(grouped[name].get(snap["account_id"], empty), snap["as_of"])
        records.append(record)
    return pd.DataFrame(records)
