"""Should the refits scale the tree count with their rows? Test-week figures of three choices.

    uv run python benchmarks/rounds.py [--outputs outputs]      # after `make demo`

On the feature table of a run (default: the demo's), the splits of `train` are cut with the
parameters in params.yaml and the starting LightGBM values (no tuning, so the comparison is
quick and the same every run); early stopping on the validation fold picks a tree count; then
the trees are fitted on all training rows with that count kept, scaled by the square root of
the rows ratio, and scaled linearly, each calibrated with Venn-Abers on the calibration weeks
and judged on the test weeks. The production model keeps the count (training/production.py).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from data.params import load_section, read_params
from features.snapshots import read_features
from training.calibration import fit_calibrator
from training.frames import feature_lists, full_windows_from, labeled, split_frames
from training.metrics import score
from training.model import BoostedTrees, ChurnModel
from training.params import EvaluateParams, TrainParams
from training.production import Recipe
from training.splits import make_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=Path("outputs"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    raw = read_params(args.params)
    p = load_section(raw, "train", TrainParams, str(args.params))
    test_weeks = load_section(raw, "evaluate", EvaluateParams, str(args.params)).test_weeks
    snapshots, manifest, _ = read_features(args.outputs / "features")
    rows = labeled(snapshots, manifest)
    splits = make_splits(
        sorted(rows["as_of"].unique()),
        manifest.horizon_days,
        test_weeks,
        p.calibration_weeks,
        p.validation_weeks,
        p.min_train_weeks,
    )
    frames = split_frames(rows, splits, full_windows_from(manifest))
    features, categorical = feature_lists(manifest)
    start = p.booster_params()
    stopped = BoostedTrees(features, categorical, start, p.early_stopping_rounds, 42).fit(
        frames["inner"],
        frames["inner"]["churned"],
        eval_set=(frames["validation"], frames["validation"]["churned"]),
    )
    inner, train = len(frames["inner"]), len(frames["train"])
    print(f"early stopping: {stopped.best_iteration_} trees on {inner} rows; train has {train}")
    params = {k: v for k, v in start.items() if k != "n_estimators"}
    cal, test = frames["calibration"], frames["test"]
    for name, factor in (
        ("kept", 1.0),
        ("sqrt", math.sqrt(train / inner)),
        ("linear", train / inner),
    ):
        started = time.perf_counter()
        rounds = min(p.n_estimators, round(stopped.best_iteration_ * factor))
        trees = Recipe(features, categorical, params, rounds, "venn_abers", 42).fit_trees(
            frames["train"]
        )
        calibrator = fit_calibrator(trees, cal, cal["churned"].to_numpy(), "venn_abers")
        model = ChurnModel.from_parts(trees, calibrator, "venn_abers")
        m = score(test["churned"], model.predict_proba(test)[:, 1], test["mrr"])
        print(
            f"{name:7s} {rounds:5d} trees  test ROC AUC {m['roc_auc']:.4f}  log loss "
            f"{m['log_loss']:.4f}  Brier {m['brier']:.4f}  ECE {m['ece']:.4f}  "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
