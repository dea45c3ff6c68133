"""Who was right at the renewal: the two disagreement lists judged by churn by the next renewal.

The headline label (churn within the horizon, 90 days by default) cannot judge a manager's
rating of an account whose annual contract renews in eight months: nothing is decided before
the renewal, so the model is "right" by construction. Here each list of
`evaluation.compare.disagreement_masks` is judged by `features.labels.renewal_label` instead,
on the rows whose renewal label is known (far renewals near the export are censored: counted,
never dropped). The side that saw the risk was right at the renewal when the list's churn rate
by the renewal is well above the base rate (its Wilson interval lies above it); the other side
when it is near or below it; nobody can tell with too few known rows.

The base rate is that of every row at the same distance to its renewal (RENEWAL_BANDS, the
rates of every known row per band, weighted as the list's known rows): the window "by the
renewal" runs from a few days (monthly contracts) to over a year, and a list of far renewals
would beat the plain rate of every row by its longer windows alone. The plain rate is
reported too, with the verdict it would give.

`rows` holds account_id, as_of, churned (the horizon's label), probability, tier and
manager_rating, plus `churned_by_renewal` and `next_renewal` (`with_renewal` adds them).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from evaluation.compare import KINDS, disagreement_masks
from features.labels import NEXT_RENEWAL, RENEWAL_FEATURE, RENEWAL_LABEL, next_renewal
from features.labels import renewal_label as label_by_renewal

SAW_RISK = {"model_sees_risk": "model", "manager_sees_risk": "manager"}
RENEWAL_BANDS = (30, 90, 180, 270)  # days to the renewal: <= 30, 31-90, ..., over 270
TOO_FEW = "too few known"
KEYS = ["account_id", "as_of"]


def with_renewal(
    rows: pd.DataFrame, snapshots: pd.DataFrame, grace_gap_days: int, export_date: dt.date
) -> pd.DataFrame:
    """`rows` with `churned_by_renewal` and `next_renewal`, from the snapshots on (account, week).

    Columns `rows` already carries (the model side's predictions) are kept as they are; a row
    missing from the snapshots gets an unknown label and renewal.
    """
    if {RENEWAL_LABEL, NEXT_RENEWAL} <= set(rows.columns):
        return rows
    table = snapshots[[*KEYS, "churn_date", RENEWAL_FEATURE]]
    labels = table[KEYS].assign(
        **{
            RENEWAL_LABEL: label_by_renewal(table, grace_gap_days, export_date),
            NEXT_RENEWAL: next_renewal(table),
        }
    )
    return rows.drop(columns=[RENEWAL_LABEL, NEXT_RENEWAL], errors="ignore").merge(
        labels, on=KEYS, how="left"
    )


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN, NaN when n is 0)."""
    if n == 0:
        return math.nan, math.nan
    z = float(norm.ppf(0.5 + confidence / 2))
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _days(part: pd.DataFrame) -> pd.Series:
    """Days from `as_of` to the next renewal (negative in a payment lapse; NaN unknown)."""
    return (pd.to_datetime(part[NEXT_RENEWAL]) - pd.to_datetime(part["as_of"])).dt.days


def _days_to_renewal(part: pd.DataFrame) -> dict[str, Any]:
    days = _days(part).dropna()
    quartiles = days.quantile([0.25, 0.5, 0.75]) if len(days) else pd.Series([math.nan] * 3)
    q1, median, q3 = (float(q) for q in quartiles)
    return {"median": median, "q1": q1, "q3": q3, "unknown": len(part) - len(days)}


def churn_by_renewal(part: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Rows, known and censored labels, churn rate by the renewal (with its interval)."""
    label = part[RENEWAL_LABEL].astype("Int8")
    known = int(label.notna().sum())
    churned = int(label.sum(skipna=True))
    low, high = wilson_interval(churned, known, confidence)
    return {
        "rows": len(part),
        "known": known,
        "unknown": len(part) - known,
        "churned_by_renewal": churned,
        "churn_rate_by_renewal": churned / known if known else math.nan,
        "interval": [low, high],
        "churn_rate_horizon": float(part["churned"].mean()) if len(part) else math.nan,
        "days_to_renewal": _days_to_renewal(part),
    }


def same_distance_rate(part: pd.DataFrame, rows: pd.DataFrame) -> float:
    """The churn rate by the renewal `part` would have at every row's rate per RENEWAL_BANDS."""
    known = rows[rows[RENEWAL_LABEL].notna()]
    per_band = known[RENEWAL_LABEL].astype(float).groupby(_band(known)).mean()
    mine = part[part[RENEWAL_LABEL].notna()]
    return float(_band(mine).map(per_band).mean()) if len(mine) else math.nan


def _band(part: pd.DataFrame) -> pd.Series:
    return pd.Series(np.searchsorted(RENEWAL_BANDS, _days(part), side="left"), index=part.index)


def verdict(kind: str, figures: dict[str, Any], base_rate: float, min_known: int) -> str:
    """Who was right at the renewal on one list: "model", "manager" or TOO_FEW."""
    if figures["known"] < min_known or math.isnan(base_rate):
        return TOO_FEW
    saw, other = SAW_RISK[kind], SAW_RISK[KINDS[1 - KINDS.index(kind)]]
    return saw if figures["interval"][0] > base_rate else other


def judge_lists(rows: pd.DataFrame, confidence: float, min_known: int) -> dict[str, Any]:
    """Every row's churn by the renewal and each list's, against the base rate, with a verdict."""
    base = churn_by_renewal(rows, confidence)
    out: dict[str, Any] = {"base": base}
    masks = disagreement_masks(rows["tier"], rows["manager_rating"])
    for kind, mask in zip(KINDS, masks, strict=True):
        figures = churn_by_renewal(rows[mask], confidence)
        plain = base["churn_rate_by_renewal"]
        matched = same_distance_rate(rows[mask], rows)
        figures |= {
            "saw_risk": SAW_RISK[kind],
            "base_rate_same_distance": matched,
            "base_rate_all_rows": plain,
            "verdict": verdict(kind, figures, matched, min_known),
            "verdict_against_all_rows": verdict(kind, figures, plain, min_known),
        }
        out[kind] = figures
    return out


def weeks_of(rows: pd.DataFrame) -> dict[str, Any]:
    """Which Mondays a set of rows covers."""
    as_of = pd.to_datetime(rows["as_of"])
    first, last = (str(d.date()) if len(as_of) else None for d in (as_of.min(), as_of.max()))
    return {"first": first, "last": last, "count": int(as_of.nunique())}


def per_list(judged: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`judged` (source -> judge_lists) per list, with the verdict of the first source that can.

    Sources come in order of preference (the test weeks first): a list's `verdict` is that of
    the first source with enough known rows, named in `judged_on`.
    """
    out: dict[str, Any] = {"base": {s: j["base"] for s, j in judged.items()}}
    for kind in KINDS:
        entry: dict[str, Any] = {s: j[kind] for s, j in judged.items()}
        found = next((s for s, j in judged.items() if j[kind]["verdict"] != TOO_FEW), None)
        entry["verdict"] = judged[found][kind]["verdict"] if found else TOO_FEW
        entry["judged_on"] = found
        out[kind] = entry
    return out


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None or math.isnan(rate) else f"{rate:.1%}"


def describe(kind: str, source: str, f: dict[str, Any], horizon_days: int) -> str:
    """One sentence on one list and one source of weeks (figures as `judge_lists` gives them)."""
    low, high = f["interval"]
    days = f["days_to_renewal"]
    return (
        f"{kind} ({source.replace('_', ' ')}): {f['rows']} rows, {f['known']} with the renewal "
        f"label known ({f['unknown']} censored): {_pct(f['churn_rate_by_renewal'])} "
        f"[{_pct(low)}-{_pct(high)}] churned by the renewal vs "
        f"{_pct(f['base_rate_same_distance'])} of every row at the same distance to it "
        f"({_pct(f['base_rate_all_rows'])} of all rows); {_pct(f['churn_rate_horizon'])} "
        f"within {horizon_days} days; renewal {days['median']} days away (median) "
        f"-> {f['verdict']}"
    )
