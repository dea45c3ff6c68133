"""Where a notebook finds the pipeline's outputs, or a small world's when there are none.

`open_outputs()` returns a folder laid out like `outputs/` (validate, features, train, evaluate,
explain, compare, score): the pipeline's own when `make demo` has run, otherwise a small
generated world run through the same stage functions (cached, so the next notebook reuses
it). It prints which, so the first cell of every notebook says where its figures come from.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

NEEDED = (
    "validate/report.json",
    "features/snapshots.parquet",
    "train/model/model.json",
    "evaluate/predictions.parquet",
    "explain/reasons.parquet",
    "compare/summary.json",
    "score/latest/scores.parquet",
)


def complete(folder: Path) -> bool:
    """Whether `folder` holds every stage output the notebooks read."""
    return all((Path(folder) / part).exists() for part in NEEDED)


def open_outputs(
    outputs: Path | str | None = None,
    fallback: Path | str | None = None,
    accounts: int = 400,
    seed: int = 7,
) -> Path:
    """The pipeline's outputs, or a small generated world's.

    `outputs` defaults to `$CHURN_OUTPUTS`, else the project's `outputs/`; the small world goes
    to `fallback` (`$CHURN_NOTEBOOK_WORLD`, else `<outputs>/notebook-world`).
    """
    root = Path(__file__).resolve().parent.parent
    outputs = Path(outputs or os.environ.get("CHURN_OUTPUTS") or root / "outputs")
    if complete(outputs):
        print(f"Reading the pipeline's outputs in {outputs}")
        return outputs
    fallback = Path(
        fallback or os.environ.get("CHURN_NOTEBOOK_WORLD") or outputs / "notebook-world"
    )
    if not complete(fallback):
        print(
            f"No complete pipeline outputs in {outputs}: running the stages on a small "
            f"generated world ({accounts} accounts, seed {seed}) in {fallback} ..."
        )
        run_small_world(fallback, accounts, seed)
    print(
        f"Reading a small generated world's outputs in {fallback} (run `make demo` for the "
        "real thing)"
    )
    return fallback


def run_small_world(out: Path, accounts: int, seed: int) -> None:
    """Every stage up to `score`, with quick training settings, into `out`."""
    from data.params import BaseParams, ValidateParams
    from data.stages import generate, validate
    from evaluation.params import CompareParams, ExplainParams
    from evaluation.stages.compare import compare
    from evaluation.stages.evaluate import evaluate
    from evaluation.stages.explain import explain
    from features.params import FeaturesParams
    from features.stages import features
    from serving.params import ScoreParams
    from serving.stages import score
    from training.params import EvaluateParams, TrainParams
    from training.stages import train

    logging.getLogger().setLevel(logging.WARNING)
    out = Path(out)
    base, evaluation = BaseParams(), EvaluateParams()
    quick = TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20)
    mlflow_dir = out / "mlflow"
    if not (out / "raw" / "accounts.csv").exists():
        generate(out, n_accounts=accounts, seed=seed)
    validate(out / "raw", out / "validate", base, ValidateParams())
    features(out / "validate", out / "features", base, FeaturesParams())
    train(out / "features", out / "train", base, quick, evaluation, mlflow_dir=mlflow_dir)
    evaluate(out / "features", out / "train", out / "evaluate", base, evaluation, mlflow_dir)
    explain(out / "features", out / "train", out / "explain", base, ExplainParams(), mlflow_dir)
    compare(
        out / "features",
        out / "train",
        out / "evaluate",
        out / "explain",
        out / "compare",
        base,
        CompareParams(),
        evaluation,
        mlflow_dir=mlflow_dir,
    )
    score(out / "features", out / "train", out / "score", base, ScoreParams(), None, mlflow_dir)
