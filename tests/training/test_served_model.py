"""The registered MLflow model: plain parts that load without this project's code."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest

from data.io import read_json
from training import registry, tracking
from training.model import ChurnModel
from training.tiers import assign_tiers, fit_tiers

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
PROJECT_PACKAGES = tuple(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
# Needed to unpickle `ChurnModel`, never to load the registered model.
PICKLE_ONLY = ("sklearn", "venn_abers", "joblib")


@pytest.fixture
def store(tmp_path):
    """An MLflow store in tmp_path (tests that use another store select it themselves)."""
    tracking.use_store(tmp_path / "mlflow", "served")


@pytest.mark.parametrize("method", ["none", "platt", "isotonic", "venn_abers"])
def test_registered_model_gives_the_churn_models_probability_and_tier(store, snapshots, method):
    rows = snapshots[snapshots["churned"].notna()]
    fit, cal = rows.iloc[:8000], rows.iloc[8000:11000]
    features = ["usage_events_28d", "contacts_days_since_last", "rating_current"]
    model = ChurnModel(
        [*features, "account_segment"],
        ["account_segment"],
        {"n_estimators": 40},
        calibration_methods=(method,),
        random_state=1,
    ).fit(fit, fit["churned"].astype(int), calibration_set=(cal, cal["churned"].astype(int)))
    assert model.calibration_method_ == method
    tiers = fit_tiers(model.predict_proba(cal)[:, 1], cal["rating_current"].astype(float))
    with mlflow.start_run():
        version = registry.log_model(model, tiers, cal.head(5), "served")
    served = mlflow.pyfunc.load_model(f"models:/served/{version}")
    # Later weeks, unlabeled ones included; an unseen segment and missing values on top.
    later = snapshots.iloc[11000:].copy()
    later.loc[later.index[:50], "account_segment"] = "newly-added-tier"
    later.loc[later.index[50:100], ["account_segment", "contacts_days_since_last"]] = None
    frame = registry.signature_frame(later, list(model.features), list(model.categorical))
    out = served.predict(frame)
    expected = model.predict_proba(later)[:, 1]
    assert list(out.columns) == ["probability", "tier"] and out["tier"].dtype == np.int64
    np.testing.assert_array_equal(out["probability"], expected)
    np.testing.assert_array_equal(out["tier"], assign_tiers(expected, tiers))


def test_the_requirements_name_what_the_served_code_imports_and_nothing_of_the_project(trained):
    meta = read_json(trained["root"] / "train" / "production" / "model.json")
    tracking.use_store(trained["root"] / "mlflow", meta["experiment"])
    folder = Path(mlflow.artifacts.download_artifacts(f"runs:/{meta['mlflow_run_id']}/model"))
    code = ast.parse((folder / "served_model.py").read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).partition(".")[0]
        for node in ast.walk(code)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    pinned = dict(line.split("==") for line in (folder / "requirements.txt").read_text().split())
    assert set(pinned) == third_party == set(registry.SERVED_PACKAGES)
    assert not third_party & {*PROJECT_PACKAGES, *PICKLE_ONLY}
    # MLflow copies a uv project's lock into the model unless told otherwise.
    assert not (folder / "uv.lock").exists() and not (folder / "pyproject.toml").exists()
    assert sorted(p.name for p in (folder / "artifacts").iterdir()) == [
        "booster.txt",
        "document.json",
    ]


CHILD = """
import importlib.abc, importlib.util, json, sys

sys.path.append(SITE_PACKAGES)  # the venv's packages, without its .pth files (the project)
reachable = [name for name in PROJECT_PACKAGES if importlib.util.find_spec(name)]

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in PICKLE_ONLY:
            raise ModuleNotFoundError(f"{name} refused by the test", name=name)

sys.meta_path.insert(0, Refuse())
import mlflow, pandas as pd

model = mlflow.pyfunc.load_model("models:/churn-risk@champion")
out = model.predict(pd.read_parquet(sys.argv[1]))
print(json.dumps({"reachable": reachable, **out.to_dict(orient="list")}))
"""


def test_the_champion_loads_and_scores_where_the_project_cannot_be_imported(trained, tmp_path):
    """A fresh interpreter with the venv's packages but not the project, nor what unpickles it.

    `-I -S` skips site, so the editable install's .pth never puts the repository on the
    path; the child checks that no project package is importable, and refuses scikit-learn,
    venn-abers and joblib. It does not check that the pinned requirements install: the
    README's fresh-venv `mlflow models serve` does that, online.
    """
    from mlflow import MlflowClient

    root = trained["root"]
    model = joblib.load(root / "train" / "production" / "model.joblib")
    meta = read_json(root / "train" / "production" / "model.json")
    tracking.use_store(root / "mlflow", meta["experiment"])
    champion = MlflowClient().get_model_version_by_alias("churn-risk", "champion")
    assert str(champion.version) == meta["model_version"]  # the model compared below
    rows = pd.read_parquet(root / "features" / "snapshots.parquet").iloc[-400:]
    frame = registry.signature_frame(rows, meta["features"], meta["categorical"])
    frame.to_parquet(tmp_path / "rows.parquet")
    script = textwrap.dedent(f"""
        SITE_PACKAGES = {sysconfig.get_paths()["purelib"]!r}
        PROJECT_PACKAGES = {PROJECT_PACKAGES!r}
        PICKLE_ONLY = {PICKLE_ONLY!r}
    """) + textwrap.dedent(CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(tmp_path / "rows.parquet")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["reachable"] == []
    expected = model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(out["probability"], expected, rtol=1e-12)
    np.testing.assert_array_equal(out["tier"], assign_tiers(expected, meta["tiers"]))
