"""What each metric of the report means, in one plain line a manager can read beside it."""

from __future__ import annotations

# metric -> (name, what it means in one plain line); `{horizon}` is the model's horizon in days
GLOSSARY = {
    "roc_auc": (
        "ROC AUC",
        "How often an account that churned was ranked above one that stayed: "
        "0.5 is a coin toss, 1 is perfect.",
    ),
    "brier": (
        "Brier score",
        "Mean squared gap between the predicted chance and what happened "
        "(1 churned, 0 stayed): lower is better, 0 is perfect.",
    ),
    "ece": (
        "ECE",
        "Expected calibration error: how far predicted chances sit, on average, from the share "
        "that churned (0.02 = 2 points off); lower is better.",
    ),
    "top_decile_lift": (
        "Top-decile lift",
        "How many times more often the riskiest tenth churned than all accounts did: "
        "1 is no better than picking at random.",
    ),
    "top_decile_churned_mrr_share": (
        "Churned MRR in top decile",
        "Share of all the revenue that churned which sat in the riskiest tenth of accounts.",
    ),
    "kappa": (
        "Weighted kappa",
        "How much tiers and ratings agree beyond chance: 0 is chance, 1 is full agreement; "
        "far-apart calls count more.",
    ),
    "precision": (
        "Precision",
        "Share of the accounts on the list that churned within {horizon} days.",
    ),
    "churned_mrr_share": (
        "Churned MRR caught",
        "Share of that week's churned revenue that the list held.",
    ),
    "median_lead_days": (
        "Median lead time",
        "Median days from the meeting to the churn of a listed account: the warning it gave.",
    ),
    "top_decile_precision": (
        "Top-decile precision",
        "Share of the riskiest tenth of accounts that churned within {horizon} days.",
    ),
    "risk_curve": (
        "Risk curve",
        "The chance of churn within each horizon of the scored Monday; it never falls, and its "
        "point at {horizon} days is the risk the lists rank by.",
    ),
    "by_renewal": (
        "By renewal",
        "The chance the account stops paying at its next renewal or before it (a last day "
        "written shortly after the renewal counts too).",
    ),
    "psi": (
        "PSI",
        "Population stability index: how far a distribution moved from the training rows; "
        "under 0.1 stable, over 0.25 a major shift.",
    ),
}


def glossary(horizon_days: int) -> dict[str, dict[str, str]]:
    """Each metric's `name` and what it `means`, with the horizon written in."""
    return {
        key: {"name": name, "means": means.format(horizon=horizon_days)}
        for key, (name, means) in GLOSSARY.items()
    }
