# %% [markdown]
# # 03 · How good is the model, and why does it say what it says?
# Test weeks only (never seen in training or calibration): the model beside the baselines,
# its reliability, lift and churned-MRR curves, the SHAP summary, and a few accounts explained.

# %%
import json

import pandas as pd
from IPython.display import Image, display

from evaluation.explain import explain, reason_frame, shap_explanation
from features.manifest import Manifest
from serving.workspace import open_outputs
from training.bundle import load_model

OUT = open_outputs()
metrics = json.loads((OUT / "evaluate" / "metrics.json").read_text())
names = [
    k
    for k in ("model", "logistic", "manager_rating", "days_since_contact", "base_rate")
    if k in metrics
]
table = pd.DataFrame({k: metrics[k] for k in names}).T
print("test weeks:", metrics["test_period"])
table[
    [
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "top_decile_lift",
        "top_decile_churned_mrr_share",
    ]
].round(4)

# %% [markdown]
# ## Reliability, ROC and the churned-MRR curve

# %%
plots = OUT / "evaluate" / "plots"
for name in ("reliability", "lift", "backtest"):
    if (plots / f"{name}.png").exists():
        display(Image(filename=str(plots / f"{name}.png")))

# %% [markdown]
# ## By segment

# %%
pd.DataFrame(metrics["model_by_segment"]).T[["rows", "base_rate", "roc_auc", "brier", "ece"]].round(
    3
)

# %% [markdown]
# ## What drives the model (SHAP, in log-odds)

# %%
import shap

model, meta = load_model(OUT / "train" / "model")
manifest = Manifest.load(OUT / "features" / "manifest.json")
descriptions = manifest.descriptions()
snaps = pd.read_parquet(OUT / "features" / "snapshots.parquet")
test = snaps[
    pd.to_datetime(snaps["as_of"])
    .dt.date.astype(str)
    .between(meta.splits["test_start"], meta.splits["test_end"])
]
sample = test.sample(min(3000, len(test)), random_state=0)
explained = explain(model, sample)
values = shap_explanation(
    explained,
    model.trees_.columns_.transform(sample),
    [descriptions[f] for f in explained.features],
)
shap.plots.beeswarm(values, max_display=12)

# %% [markdown]
# ## A few accounts explained
# The three riskiest test rows and one calm one: the probability, then each driver's
# contribution in probability points (they add up to the probability minus the base rate).

# %%
reasons = reason_frame(explained, sample, manifest)
picks = list(reasons["probability"].nlargest(3).index) + [reasons["probability"].idxmin()]
for i in picks:
    r = reasons.loc[i]
    print(
        f"{r['account_id']} on {r['as_of']}: {r['probability']:.0%} "
        f"(base {r['base_probability']:.0%})"
    )
    for text, c in zip(r["reasons_up"], r["contributions_up"], strict=True):
        print(f"   + {c * 100:4.1f} pts  {text}")
    for text, c in zip(r["reasons_down"], r["contributions_down"], strict=True):
        print(f"   - {-c * 100:4.1f} pts  {text}")
