"""Typed `train:` and `evaluate:` sections of params.yaml."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from data.params import Section


def _registered(method: str) -> str:
    """A calibration method's name, if `training.calibrators.CALIBRATORS` registers it.

    The registry is imported here, when a `train` section is read, not with this module:
    every `churn` command (and each API worker) imports the params, and the calibrators bring
    scikit-learn and SciPy, seconds of start-up.
    """
    from training.calibrators import CALIBRATORS

    if method not in CALIBRATORS:
        raise ValueError(f"unknown calibration method {method!r} (known: {sorted(CALIBRATORS)})")
    return method


Calibrator = Annotated[str, AfterValidator(_registered)]


class TrainParams(Section):
    """Splits, LightGBM starting values, the Optuna budget, calibration and the promotion gate."""

    calibration_weeks: int = Field(13, ge=1)  # weekly snapshots in the calibration period
    validation_weeks: int = Field(13, ge=1)  # early-stopping / tuning fold at the end of train
    min_train_weeks: int = Field(13, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(100, ge=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    n_estimators: int = Field(2000, ge=1)  # an upper bound: early stopping picks the number
    early_stopping_rounds: int = Field(50, ge=1)
    tuning_minutes: float = Field(1.5, ge=0)
    n_trials: int = Field(40, ge=0)  # 0: only the values above are tried
    calibration_methods: list[Calibrator] = ["none", "platt", "isotonic", "venn_abers"]
    calibration_folds: int = Field(4, ge=2)
    refit_calibration_blocks: int = Field(2, ge=1)  # production calibrator: newest blocks of
    # `calibration_weeks` weeks, each scored by trees fitted a horizon before it
    gate_max_auc_drop: float = Field(0.005, ge=0)
    gate_max_ece: float = Field(0.02, ge=0)
    model_name: str = "churn-risk"
    experiment: str = "churn-risk"

    def booster_params(self) -> dict[str, float | int]:
        """The LightGBM hyper-parameters that Optuna starts from."""
        return {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "n_estimators": self.n_estimators,
        }


class EvaluateParams(Section):
    """The test period and how the model is compared with the baselines."""

    test_weeks: int = Field(26, ge=1)  # last labeled weekly snapshots held out for testing
    ece_bins: int = Field(10, ge=2)
    rating_feature: str = "rating_current"  # the manager's 1-4 rating, as a baseline
    contact_feature: str = "contacts_days_since_last"
