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
    api_keys: str = ""  # comma-separated; or a file with one key per line:
    api_keys_file: Path | None = None
    max_batch: int = Field(default=1000, ge=1)  # account ids per POST /v1/accounts/risk
    max_predict_rows: int = Field(default=100, ge=1)  # rows per POST /v1/predict
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    watch_seconds: float = Field(
        default=30.0, ge=0
    )  # poll for new scores / champion; 0: only reload

    def api_key_list(self) -> list[str]:
        """The accepted API keys (never logged)."""
        keys = [k.strip() for k in self.api_keys.split(",") if k.strip()]
        if self.api_keys_file is not None:
            lines = Path(self.api_keys_file).read_text(encoding="utf-8").splitlines()
            keys += [k.strip() for k in lines if k.strip() and not k.startswith("#")]
        return keys
