# %% [markdown]
# # 04 · The model beside the managers
# From `compare`, on the test weeks: where the model's tiers and the managers' ratings agree,
# how good each manager's ratings are, how staleness hurts them, and the disagreements —
# with who turned out to be right.

# %%
import json

import pandas as pd
from IPython.display import Image, display

from serving.workspace import open_outputs

OUT = open_outputs()
summary = json.loads((OUT / "compare" / "summary.json").read_text())
print(summary["status"])
if summary["status"] != "compared":
    raise SystemExit("this export has no manager ratings: nothing to compare")
a = summary["agreement"]
pd.Series(
    {
        "rated account-weeks": a["rated_rows"],
        "weighted kappa (quadratic)": round(a["kappa_quadratic"], 3),
        "Spearman tier vs rating": round(a["spearman"], 3),
        "model ROC AUC": round(a["metrics"]["model"]["roc_auc"], 3),
        "rating ROC AUC": round(a["metrics"]["rating"]["roc_auc"], 3),
        "model + rating ROC AUC": round(a["metrics"]["both"]["roc_auc"], 3),
    }
)

# %% [markdown]
# ## Tier × rating, and churn by level

# %%
plots = OUT / "compare" / "plots"
display(Image(filename=str(plots / "tier_vs_rating.png")))
display(Image(filename=str(plots / "churn_by_level.png")))

# %% [markdown]
# ## Is the rating worth anything on top of the data?

# %%
worth = summary["without_manager_features"]
pd.DataFrame({"with the manager features": worth["with"], "without them": worth["without"]}).round(
    4
)

# %% [markdown]
# ## Staleness: rating quality by the rating's age

# %%
display(Image(filename=str(plots / "rating_age.png")))
pd.DataFrame(summary["by_rating_age"]).round(3)

# %% [markdown]
# ## Per manager

# %%
managers = pd.read_parquet(OUT / "compare" / "per_manager.parquet")
display(Image(filename=str(plots / "per_manager.png")))
managers[
    [
        "csm_id",
        "accounts",
        "churn_rate",
        "rating_auc",
        "optimism_bias",
        "stale_share",
        "not_contacted_90d",
    ]
].round(3)

# %% [markdown]
# ## The disagreements, and who was right

# %%
right = summary["who_was_right"]
pd.DataFrame(
    {kind: {k: v for k, v in counts.items() if k != "first_week"} for kind, counts in right.items()}
).T

# %%
dis = pd.read_parquet(OUT / "compare" / "disagreements.parquet")
for kind, part in dis.groupby("kind"):
    print(kind)
    display(
        part.head(8)[
            [
                "account_id",
                "as_of",
                "probability",
                "tier",
                "manager_rating",
                "rating_age_days",
                "days_since_contact",
                "mrr",
                "churned",
                "right",
                "reasons",
            ]
        ]
    )
