# %% [markdown]
# # 02 · Do the features mean what they say?
# For each important feature: the churn rate of each decile, with 95% Wilson intervals, on the
# labeled weeks the model trained on. A feature whose churn rate does not move across deciles,
# or moves the wrong way, deserves a look. Then: which features say the same thing
# (Spearman correlation, grouped by hierarchical clustering).

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import binomtest

from features.manifest import Manifest
from serving.workspace import open_outputs
from training.frames import labeled

OUT = open_outputs()
manifest = Manifest.load(OUT / "features" / "manifest.json")
names = manifest.descriptions()
rows = labeled(
    pd.read_parquet(OUT / "features" / "snapshots.parquet").assign(
        as_of=lambda f: pd.to_datetime(f["as_of"]).dt.date
    ),
    manifest,
)
importance = pd.read_csv(OUT / "explain" / "plots" / "importance.csv")
numeric = [f["name"] for f in manifest.features if f["dtype"] != "category"]
top = [f for f in importance["feature"] if f in numeric][:8]
print(f"{len(rows):,} labeled account-weeks, churn rate {rows['churned'].mean():.1%}")
importance.head(10)[["description", "mean_abs_probability"]]

# %% [markdown]
# ## Churn rate by decile (95% Wilson interval)


# %%
def cohorts(frame: pd.DataFrame, feature: str) -> pd.DataFrame:
    values = frame[feature].astype("Float64")
    bins = pd.qcut(values.astype(float), 10, duplicates="drop")
    groups = frame.assign(bin=bins.astype(str).where(values.notna(), "missing")).groupby("bin")
    out = groups["churned"].agg(["sum", "count"])
    ci = [binomtest(int(k), int(n)).proportion_ci(method="wilson") for k, n in out.to_numpy()]
    out["rate"] = out["sum"] / out["count"]
    out["low"] = [c.low for c in ci]
    out["high"] = [c.high for c in ci]
    return out


fig, axes = plt.subplots(int(np.ceil(len(top) / 2)), 2, figsize=(12, 3 * np.ceil(len(top) / 2)))
for ax, feature in zip(axes.flat, top, strict=False):
    c = cohorts(rows, feature)
    x = np.arange(len(c))
    ax.errorbar(
        x,
        c["rate"] * 100,
        yerr=[(c["rate"] - c["low"]) * 100, (c["high"] - c["rate"]) * 100],
        fmt="o-",
        capsize=3,
    )
    ax.set_xticks(x, c.index, rotation=40, ha="right", fontsize=7)
    ax.axhline(rows["churned"].mean() * 100, color="grey", ls=":")
    ax.set_title(names[feature], fontsize=10)
    ax.set_ylabel("churn %")
plt.tight_layout()

# %% [markdown]
# ## Features that say the same thing
# Spearman correlation between the numeric features; features closer than |ρ| = 0.8 are
# grouped. Within a group the model can use any of them, and SHAP splits the credit.

# %%
sample = (
    rows[numeric].astype("Float64").astype(float).sample(min(len(rows), 20_000), random_state=0)
)
usable = [c for c in numeric if sample[c].nunique() > 1]
rho = sample[usable].corr(method="spearman").fillna(0)
distance = (1 - rho.abs()).to_numpy(copy=True)
np.fill_diagonal(distance, 0)
groups = fcluster(linkage(squareform(distance, checks=False), "average"), 0.2, "distance")
grouped = pd.DataFrame({"feature": usable, "group": groups}).groupby("group")["feature"].apply(list)
for members in grouped[grouped.map(len) > 1]:
    print(" · ".join(names[m] for m in members))

# %%
order = [f for members in grouped for f in members]
fig, ax = plt.subplots(figsize=(10, 8))
im = ax.imshow(rho.loc[order, order], cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(len(order)), order, rotation=90, fontsize=6)
ax.set_yticks(range(len(order)), order, fontsize=6)
fig.colorbar(im, ax=ax, label="Spearman ρ")
ax.set_title("Feature correlation, grouped")
