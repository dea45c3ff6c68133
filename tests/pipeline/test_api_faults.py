"""The risk API never fails open: faults an operator hit, each answered with JSON and a reason.

A reload that cannot load keeps the old bundle; nothing loadable still starts and says why;
only admin keys reload, and not too often; the watcher reloads only on a change; the key is
checked before the body is read; live predict refuses values it cannot vouch for.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.api import create_app
from serving.settings import Settings
from training.bundle import load_model

READ = {"X-API-Key": "test-key-123"}
ADMIN = {"X-API-Key": "admin-key-456"}


@pytest.fixture
def week(api_settings: Settings, tmp_path: Path) -> Path:
    """A copy of the latest scored week that a test may break."""
    folder = tmp_path / "week"
    shutil.copytree(api_settings.scores_dir.resolve(), folder)
    return folder


@pytest.fixture
def settings(api_settings: Settings, week: Path) -> Settings:
    return api_settings.model_copy(update={"scores_dir": week})


def _one_id(week: Path) -> str:
    return str(pd.read_parquet(week / "scores.parquet")["account_id"].iloc[0])


# ---------------------------------------------------------------- 1. a failed reload
@pytest.mark.parametrize(
    ("breakage", "words"),
    [
        (lambda week: shutil.rmtree(week), "no scored week"),
        (lambda week: (week / "scores.parquet").unlink(), "no scores.parquet"),
        (
            lambda week: (
                pd.read_parquet(week / "scores.parquet").head(0).to_parquet(week / "scores.parquet")
            ),
            "has no rows",
        ),
        (lambda week: (week / "scores.parquet").write_bytes(b"PAR1 torn"), "cannot be read"),
    ],
    ids=["folder gone", "file gone", "no rows", "corrupt"],
)
def test_a_failed_reload_keeps_serving_the_old_bundle(settings, week, started, breakage, words):
    account = _one_id(week)
    with started(create_app(settings)) as client:
        before = client.get(f"/v1/accounts/{account}/risk", headers=READ)
        assert before.status_code == 200
        breakage(week)
        response = client.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "reload_failed" and words in error["message"]
        after = client.get(f"/v1/accounts/{account}/risk", headers=READ)
        assert after.status_code == 200 and after.content == before.content
        ready = client.get("/readyz")
        assert ready.status_code == 200 and "last reload failed" in ready.json()["detail"]


def test_scores_of_another_model_version_are_not_swapped_in(settings, week, started):
    with started(create_app(settings)) as client:
        version = client.get("/v1/model", headers=READ).json()["version"]
        summary = json.loads((week / "summary.json").read_text())
        summary["model"]["version"] = f"{version}0"
        (week / "summary.json").write_text(json.dumps(summary))
        response = client.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 503
        assert "scored by model version" in response.json()["error"]["message"]
        assert client.get("/v1/model", headers=READ).json()["version"] == version


def test_starting_without_scores_answers_503_not_unknown_account(settings, week, started):
    account = _one_id(week)
    shutil.rmtree(week)
    with started(create_app(settings)) as client:
        response = client.get(f"/v1/accounts/{account}/risk", headers=READ)
        assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"
        assert "no scored week" in response.json()["error"]["message"]
        assert client.get("/readyz").status_code == 503


# ---------------------------------------------------------------- 2. nothing loadable
@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s, tmp: {"model": str(tmp / "nonexistent")}, "CHURN_MODEL"),
        (
            lambda s, tmp: {
                "model": "champion",
                "scores_dir": tmp / "outputs" / "score" / "latest",
                "train_dir": tmp / "outputs" / "train",
                "mlflow_dir": tmp / "outputs" / "mlflow",
            },
            "CHURN_SCORES_DIR holds no scored week",
        ),
        (
            lambda s, tmp: {
                "model": "champion",
                "train_dir": tmp / "outputs" / "train",
                "mlflow_dir": tmp / "outputs" / "mlflow",
            },
            "which scored the week, is neither",
        ),
        (lambda s, tmp: {"api_keys": "", "api_keys_file": tmp / "keys.txt"}, "KEYS_FILE"),
        (lambda s, tmp: {"api_keys": "", "admin_keys": ""}, "no API key configured"),
    ],
    ids=["no model folder", "no outputs", "scoring model gone", "key file missing", "no keys"],
)
def test_nothing_loadable_still_starts_and_says_why(settings, started, tmp_path, change, words):
    broken = settings.model_copy(update=change(settings, tmp_path))
    with started(create_app(broken)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "detail": None}
        ready = client.get("/readyz")
        assert ready.status_code == 503 and words in ready.json()["detail"]
        assert str(tmp_path) not in ready.text  # the reason names the setting, not the path


def test_corrupt_scores_at_start_up_is_503(settings, week, started):
    (week / "scores.parquet").write_bytes(b"not parquet at all")
    with started(create_app(settings)) as client:
        response = client.get("/v1/model", headers=READ)
        assert response.status_code == 503 and "cannot be read" in response.text


def test_a_key_file_that_appears_later_is_picked_up(settings, started, tmp_path):
    keys = tmp_path / "keys.txt"
    watching = settings.model_copy(
        update={"api_keys": "", "api_keys_file": keys, "watch_seconds": 0.1}
    )
    with started(create_app(watching)) as client:
        assert client.get("/readyz").status_code == 503
        keys.write_text("# the CRM\nfresh-key\n")
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.get("/v1/model", headers={"X-API-Key": "fresh-key"}).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_churn_serve_without_a_model_answers_health_and_not_ready(api_settings, tmp_path):
    """The real process with two workers, as an orchestrator sees it, logging JSON lines.

    (Its start-up is timed by benchmarks/api_faults.py.)
    """
    port = _free_port()
    env = os.environ | {
        "CHURN_MODEL": str(tmp_path / "nonexistent"),
        "CHURN_SCORES_DIR": str(api_settings.scores_dir),
        "CHURN_API_KEYS": "k",
    }
    churn = Path(sys.executable).parent / "churn"
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [churn, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while health is None:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "churn serve never answered /healthz"
            try:
                health = _get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.1)
        assert health[0] == 200
        while True:  # loading, then the reason it cannot
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            assert status == 503
            if "CHURN_MODEL" in (body["detail"] or ""):
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
        status, body = _get(f"http://127.0.0.1:{port}/v1/model")
        assert status == 401  # no key sent: refused before anything else
        assert process.poll() is None  # and still up
    finally:
        process.terminate()
        process.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    started = {r["process"] for r in lines if r["message"].startswith("Started server process")}
    assert len(started) == 2, lines  # both workers log, as JSON
    assert any(r["logger"] == "churn.access" and r["path"] == "/readyz" for r in lines)
    assert any(r["logger"] == "churn.api" and "nothing to serve" in r["message"] for r in lines)


# ---------------------------------------------------------------- 3. admin keys, debounced
def test_only_admin_keys_reload_and_not_too_often(settings, started):
    debounced = settings.model_copy(update={"reload_min_seconds": 60})
    with started(create_app(debounced)) as client:
        refused = client.post("/v1/admin/reload", headers=READ)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        first = client.post("/v1/admin/reload", headers=ADMIN)
        assert first.status_code == 200 and first.json()["status"] == "reloaded"
        again = client.post("/v1/admin/reload", headers=ADMIN)
        assert again.status_code == 429 and again.json()["error"]["code"] == "reload_too_soon"
        assert 0 < int(again.headers["retry-after"]) <= 60
        assert client.get("/v1/model", headers=ADMIN).status_code == 200  # admins read too


# ---------------------------------------------------------------- 4. the watcher
@pytest.mark.parametrize("model", ["folder", "champion, none registered"])
def test_the_watcher_does_not_reload_an_unchanged_service(settings, started, tmp_path, model):
    update: dict = {"watch_seconds": 0.05}
    if model != "folder":
        update |= {"model": "champion", "mlflow_dir": tmp_path / "no-registry"}
    with started(create_app(settings.model_copy(update=update))) as client:
        service = client.app.state.service
        first = service.loaded
        assert first is not None, service.problem
        time.sleep(1.0)  # 20 ticks
        assert service.loaded is first


def test_the_watcher_reloads_when_the_model_folder_changes(settings, started, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(Path(settings.model), folder)
    watching = settings.model_copy(update={"model": str(folder), "watch_seconds": 0.05})
    with started(create_app(watching)) as client:
        service = client.app.state.service
        first = service.loaded
        meta = json.loads((folder / "model.json").read_text())
        meta["trained_at"] = "2099-01-01T00:00:00+00:00"
        (folder / "model.json").write_text(json.dumps(meta))
        deadline = time.monotonic() + 20
        while service.loaded is first:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/v1/model", headers=READ).json()["trained_at"].startswith("2099")


# ---------------------------------------------------------------- 8. headers, bodies, docs
def test_the_key_is_checked_before_the_body_is_read(settings, started):
    with started(create_app(settings)) as client:
        for body in (b"{not json", b'{"account_ids": 3}'):
            sent = {"Content-Type": "application/json"}
            response = client.post("/v1/accounts/risk", content=body, headers=sent)
            assert response.status_code == 401, response.text


def test_a_chunked_body_over_the_limit_is_413(settings, started):
    def chunks():
        for _ in range(30):
            yield b" " * 1000

    with started(create_app(settings)) as client:
        response = client.post(
            "/v1/accounts/risk",
            content=chunks(),
            headers=READ | {"Content-Type": "application/json"},
        )
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
        small = client.post(
            "/v1/accounts/risk",
            content=iter([b'{"account_ids"', b': ["x"]}']),
            headers=READ | {"Content-Type": "application/json"},
        )
        assert small.status_code == 200 and small.json()["unknown"] == ["x"]


def test_docs_are_served_only_when_enabled(settings, started):
    with started(create_app(settings)) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404
    with started(create_app(settings.model_copy(update={"docs": True}))) as client:
        assert client.get("/docs").status_code == 200
        schema = client.get("/openapi.json").json()
        assert "APIKeyHeader" in schema["components"]["securitySchemes"]


def _row(settings: Settings, featured: Path) -> dict:
    model, _ = load_model(Path(settings.model))
    snap = pd.read_parquet(featured / "snapshots.parquet").tail(1)[model.features]
    record = snap.astype(object).to_dict("records")[0]
    return {
        k: None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v)
        for k, v in record.items()
    }


@pytest.mark.parametrize(
    ("feature", "value", "words"),
    [
        ("account_tenure_days", -1e20, "outside the accepted range"),
        ("account_tenure_days", -1, "outside the accepted range"),
        ("account_tenure_days", 1e12, "outside the accepted range"),
        ("account_segment", "no-such-segment", "unknown category 'no-such-segment'"),
    ],
)
def test_predict_refuses_what_training_never_saw(
    settings, featured, started, feature, value, words
):
    row = _row(settings, featured)
    with started(create_app(settings)) as client:
        assert client.post("/v1/predict", json={"rows": [row]}, headers=READ).status_code == 200
        response = client.post("/v1/predict", json={"rows": [row | {feature: value}]}, headers=READ)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert f"feature '{feature}'" in message and words in message
