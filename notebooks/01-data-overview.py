# %% [markdown]
# # 01 · The data behind the risk
# What the validated export holds: accounts by segment and tenure, revenue, churn by month
# (customer and MRR churn, gross revenue retention), product usage over time, tickets and
# contacts per account, and the managers' ratings with their age.

# %%
import duckdb
import matplotlib.pyplot as plt
import pandas as pd

from serving.workspace import open_outputs

OUT = open_outputs()
V = OUT / "validate"
report = pd.read_json(V / "report.json", typ="series")
print(
    "export date:", report["export_date"], "| missing sources:", report["missing_sources"] or "none"
)
pd.DataFrame(report["tables"]).T[["rows_in", "rows", "orphans", "duplicates"]]

# %% [markdown]
# ## Accounts by segment and tenure

# %%
accounts = pd.read_parquet(V / "accounts.parquet")
export = pd.Timestamp(report["export_date"])
accounts["tenure_years"] = (export - pd.to_datetime(accounts["created_at"])).dt.days / 365.25
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
accounts["segment"].fillna("unknown").value_counts().plot.bar(
    ax=axes[0], title="Accounts by segment"
)
accounts["tenure_years"].plot.hist(bins=30, ax=axes[1], title="Tenure (years since sign-up)")
plt.tight_layout()

# %% [markdown]
# ## Monthly recurring revenue

# %%
subs = pd.read_parquet(V / "subscriptions.parquet")
latest = subs.sort_values("start_date").groupby("account_id").tail(1)
ax = (
    latest["mrr"]
    .clip(lower=1)
    .plot.hist(bins=40, logx=False, figsize=(6, 3.5), title="MRR of each account's latest period")
)
ax.set_xlabel("MRR")
latest["mrr"].describe().round(0)

# %% [markdown]
# ## Churn by month: customers, MRR, gross revenue retention
# A churn is the end of a life (the pipeline's rule: no restart within the grace gap), taken
# from the feature table so the notebook and the model count the same churns.

# %%
snaps = pd.read_parquet(
    OUT / "features" / "snapshots.parquet",
    columns=["account_id", "life", "as_of", "churn_date", "mrr"],
)
snaps["month"] = pd.to_datetime(snaps["as_of"]).dt.to_period("M")
start_of_month = snaps.sort_values("as_of").groupby(["month", "account_id", "life"]).head(1)
churns = (
    snaps.dropna(subset=["churn_date"]).sort_values("as_of").groupby(["account_id", "life"]).tail(1)
)
churns["month"] = pd.to_datetime(churns["churn_date"]).dt.to_period("M")
monthly = pd.DataFrame(
    {
        "active": start_of_month.groupby("month")["account_id"].count(),
        "mrr": start_of_month.groupby("month")["mrr"].sum(),
        "churned": churns.groupby("month")["account_id"].count(),
        "churned_mrr": churns.groupby("month")["mrr"].sum(),
    }
).fillna(0)
monthly = monthly[monthly.index < pd.Period(export, "M")]
monthly["customer_churn"] = monthly["churned"] / monthly["active"]
monthly["mrr_churn"] = monthly["churned_mrr"] / monthly["mrr"]
monthly["gross_revenue_retention"] = 1 - monthly["mrr_churn"]
ax = (monthly[["customer_churn", "mrr_churn"]] * 100).plot(figsize=(10, 3.5), marker="o", ms=3)
ax.set_ylabel("% per month")
ax.set_title("Monthly churn (downgrades are not counted: gross retention here is churn only)")
monthly.tail(6).round(3)

# %% [markdown]
# ## Product usage over time

# %%
usage = V / "usage_events.parquet"
if usage.exists():
    weekly = duckdb.sql(f"""
        SELECT date_trunc('week', occurred_at) AS week, sum(coalesce(quantity, 1)) AS events,
               count(DISTINCT account_id) AS accounts
        FROM '{usage}' GROUP BY 1 ORDER BY 1""").df()
    weekly["events_per_account"] = weekly["events"] / weekly["accounts"]
    weekly.set_index("week")[["accounts", "events_per_account"]].plot(
        subplots=True, figsize=(10, 4.5), title="Weekly active accounts and events per account"
    )
else:
    print("no usage_events in this export")

# %% [markdown]
# ## Tickets and contacts per account, per year of tenure


# %%
def per_account(table: str, column: str) -> pd.Series:
    path = V / f"{table}.parquet"
    if not path.exists():
        return pd.Series(dtype=float)
    return pd.read_parquet(path, columns=["account_id", column]).groupby("account_id").size()


counts = pd.DataFrame(
    {
        "tickets": per_account("tickets", "opened_at"),
        "contacts": per_account("contacts", "occurred_at"),
    }
)
counts = accounts.set_index("account_id")[["segment", "tenure_years"]].join(counts).fillna(0)
rates = counts[["tickets", "contacts"]].div(counts["tenure_years"].clip(lower=0.25), axis=0)
rates.groupby(counts["segment"].fillna("unknown")).median().plot.bar(
    figsize=(6, 3.5), title="Median per account and year, by segment"
)

# %% [markdown]
# ## Manager ratings and how old they are

# %%
latest_week = pd.read_parquet(OUT / "features" / "snapshots.parquet")
latest_week = latest_week[latest_week["as_of"] == latest_week["as_of"].max()]
if "rating_current" in latest_week:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    latest_week["rating_current"].value_counts(dropna=False).sort_index().plot.bar(
        ax=axes[0], title="Rating in force (1 = highest risk; NaN = never rated)"
    )
    latest_week["rating_age_days"].plot.hist(bins=30, ax=axes[1], title="Age of the rating (days)")
    plt.tight_layout()
    print(
        f"never rated: {latest_week['rating_current'].isna().mean():.0%}; "
        f"older than 90 days: {(latest_week['rating_age_days'] >= 90).mean():.0%}"
    )
else:
    print("no manager ratings in this export")
