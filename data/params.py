"""Typed sections of `params.yaml` for the data package, and the loader every CLI uses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data.errors import ParamsError


class Section(BaseModel):
    """A frozen params section: an unknown (misspelt) key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseParams(Section):
    """Values shared by every stage (`base:`)."""

    raw_dir: str = "outputs/demo/raw"
    seed: int = 42
    horizon_days: int = Field(90, gt=0)
    horizons_days: tuple[int, ...] = (30, 60, 90, 180)
    grace_gap_days: int = Field(30, ge=0)
    export_date: dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_curve_holds_the_headline(cls, data: Any) -> Any:
        """Without `horizons_days`, the default curve with the headline horizon added."""
        if isinstance(data, dict) and data.get("horizons_days") is None:
            headline = data.get("horizon_days", 90)
            return data | {"horizons_days": tuple(sorted({30, 60, 90, 180, int(headline)}))}
        return data

    @model_validator(mode="after")
    def _headline_on_the_curve(self) -> BaseParams:
        days = self.horizons_days
        if list(days) != sorted(set(days)) or min(days, default=1) <= 0:
            raise ValueError("horizons_days must be positive and increasing, each once")
        if self.horizon_days not in days:
            raise ValueError(f"horizons_days must include horizon_days ({self.horizon_days})")
        return self


class ValidateParams(Section):
    """Rules of the `validate` stage (`validate:`)."""

    max_orphan_share: float = Field(0.01, ge=0, le=1)
    memory_limit: str = "4GB"
    threads: int | None = Field(None, ge=1)


S = TypeVar("S", bound=Section)


def read_params(path: Path = Path("params.yaml")) -> dict[str, Any]:
    """Read `params.yaml` as a plain mapping (an empty file is an empty mapping)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: file not found")
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    return loaded


def load_section(raw: dict[str, Any], name: str, model: type[S], source: str = "params.yaml") -> S:
    """Validate section `name` of `raw` against `model`, naming any bad key in the error."""
    try:
        return model.model_validate(raw.get(name) or {})
    except ValidationError as err:
        problems = "; ".join(
            f"{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ParamsError(f"{source}: {problems}") from None
