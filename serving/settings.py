"""Settings of the risk API, from the environment (`CHURN_…`); nothing secret lives in the repo."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where scores and the model come from, who may call, and the limits."""

    model_config = SettingsConfigDict(env_prefix="CHURN_", frozen=True)

    scores_dir: Path = Path("outputs/score/latest")  # a scored week (the `latest` link follows)
    model: str = "champion"  # the registry's champion, or a folder holding model.joblib + json
    train_dir: Path = Path("outputs/train")
    mlflow_dir: Path = Path("outputs/mlflow")
    features_dir: Path = Path("outputs/features")  # manifest, for models that lack their own
    # Keys that read (the CRM): comma-separated, or a file with one key per line (# comments).
    api_keys: str = ""
    api_keys_file: Path | None = None
    # Keys that may also reload (operators), the same two ways.
    admin_keys: str = ""
    admin_keys_file: Path | None = None
    reload_min_seconds: float = Field(default=10.0, ge=0)  # admin reloads at most this often
    max_batch: int = Field(default=1000, ge=1)  # account ids per POST /v1/accounts/risk
    max_predict_rows: int = Field(default=100, ge=1)  # rows per POST /v1/predict
    # Live predict refuses a number further outside the training range than this many widths
    # of that range (and a negative number where training saw none).
    predict_range_margin: float = Field(default=1.0, ge=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    watch_seconds: float = Field(
        default=30.0, ge=0
    )  # poll for new scores / champion / key files; 0: only reload
    docs: bool = False  # serve /docs and /openapi.json
