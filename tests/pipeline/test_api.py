"""The risk API on the small world's model and scores: routes, auth, limits, reload, schema."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from data.params import BaseParams
from evaluation.explain import explain, reason_frame
from features.manifest import Manifest
from serving.api import create_app
from serving.bundle import load
from serving.guard import Guard, Keys
from serving.live import LivePredictor
from serving.params import ScoreParams
from serving.settings import Settings
from serving.stages import score
from training.bundle import load_model
from training.curve import predict_curve

KEY = "test-key-123"
HEADERS = {"X-API-Key": KEY}
ADMIN = {"X-API-Key": "admin-key-456"}


@pytest.fixture(scope="module")
def settings(api_settings: Settings) -> Settings:
    assert api_settings.api_keys.endswith(KEY) and api_settings.admin_keys == ADMIN["X-API-Key"]
    return api_settings


@pytest.fixture(scope="module")
def client(settings: Settings, started):
    with started(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def scores(settings: Settings) -> pd.DataFrame:
    return pd.read_parquet(settings.scores_dir / "scores.parquet")


@pytest.fixture(scope="module")
def feature_rows(featured: Path, settings: Settings) -> tuple[list[dict], pd.DataFrame]:
    model, _ = load_model(Path(settings.model))
    snaps = pd.read_parquet(featured / "snapshots.parquet").tail(40).reset_index(drop=True)
    rows = []
    for record in snaps[model.features].astype(object).to_dict("records"):
        rows.append({k: (None if pd.isna(v) else v) for k, v in record.items()})
    for row in rows:  # JSON has numbers, booleans and strings only
        for k, v in row.items():
            if isinstance(v, np.generic):
                row[k] = v.item()
    return rows, snaps


def test_health_and_readiness_need_no_key(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_lookup_returns_the_weekly_score(client, scores):
    row = scores.iloc[0]
    body = client.get(f"/v1/accounts/{row['account_id']}/risk", headers=HEADERS).json()
    assert body["probability"] == pytest.approx(row["probability"])
    assert body["tier"] == row["tier"] and body["reasons_up"] == list(row["reasons_up"])
    assert body["as_of"] == str(pd.Timestamp(row["as_of"]).date())
    missing = client.get("/v1/accounts/NOT-AN-ACCOUNT/risk", headers=HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_account"


def test_batch_lookup_and_its_limit(client, scores):
    ids = [*scores["account_id"].head(3), "NOPE"]
    body = client.post("/v1/accounts/risk", json={"account_ids": ids}, headers=HEADERS).json()
    assert [r["account_id"] for r in body["results"]] == ids[:3] and body["unknown"] == ["NOPE"]
    many = client.post("/v1/accounts/risk", json={"account_ids": ["a"] * 6}, headers=HEADERS)
    assert many.status_code == 422 and "CHURN_MAX_BATCH" in many.json()["error"]["message"]


def test_live_predict_equals_the_saved_model(client, feature_rows, settings):
    rows, snaps = feature_rows
    model, meta = load_model(Path(settings.model))
    body = client.post("/v1/predict", json={"rows": rows[:3]}, headers=HEADERS).json()
    expected = model.predict_proba(snaps.head(3))[:, 1]
    got = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_a_larger_predict_request_is_scored_off_the_event_loop_alike(
    feature_rows, settings, started
):
    from serving.api import INLINE_PREDICT_ROWS

    rows, snaps = feature_rows
    n = INLINE_PREDICT_ROWS + 3
    model, _ = load_model(Path(settings.model))
    with started(create_app(settings.model_copy(update={"max_predict_rows": n}))) as c:
        big = c.post("/v1/predict", json={"rows": rows[:n]}, headers=HEADERS).json()
        small = c.post("/v1/predict", json={"rows": rows[:1]}, headers=HEADERS).json()
    got = [p["probability"] for p in big["predictions"]]
    np.testing.assert_allclose(got, model.predict_proba(snaps.head(n))[:, 1], rtol=1e-9)
    assert small["predictions"][0] == big["predictions"][0]


def test_live_predictor_matches_explain_reasons(feature_rows, settings):
    rows, snaps = feature_rows
    model, meta = load_model(Path(settings.model))
    manifest = Manifest.load(settings.features_dir / "manifest.json")
    live = LivePredictor(model, meta, manifest.features)
    got = live.predict(rows)
    offline = reason_frame(explain(model, snaps), snaps, manifest, 3, 2, 0.005)
    assert [g["reasons_up"] for g in got] == offline["reasons_up"].tolist()
    assert [g["reasons_down"] for g in got] == offline["reasons_down"].tolist()
    assert live.base_probability == pytest.approx(explain(model, snaps).base_probability)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r.pop(next(iter(r))), "missing"),
        (lambda r: r.update({"not_a_feature": 1.0}), "unknown feature"),
        (lambda r: r.update({"account_segment": 3.0}), "expected a string"),
        (lambda r: r.update({"usage_events_7d": "many"}), "expected a number"),
    ],
)
def test_a_bad_feature_is_a_422_naming_it(client, feature_rows, change, words):
    row = dict(feature_rows[0][0])
    change(row)
    response = client.post("/v1/predict", json={"rows": [row]}, headers=HEADERS)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert words in message and "feature '" in message


def test_predict_row_limit_and_body_limit(client, feature_rows):
    rows = feature_rows[0]
    too_many = client.post("/v1/predict", json={"rows": rows[:4]}, headers=HEADERS)
    assert too_many.status_code == 422 and "CHURN_MAX_PREDICT_ROWS" in too_many.text
    huge = client.post("/v1/accounts/risk", json={"account_ids": ["x" * 30_000]}, headers=HEADERS)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"


def test_every_v1_route_needs_a_key_and_answers_alike(client, scores):
    # Every route the app serves is in its schema (the routes sit on an included router).
    paths = client.app.openapi()["paths"]
    routes = [(p, m) for p, ops in paths.items() if p.startswith("/v1") for m in ops]
    assert len(routes) == 5
    known = scores["account_id"].iloc[0]
    for template, method in routes:
        path = template.replace("{account_id}", known)
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY[:-1]}):
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (path, headers)
            assert response.json()["error"]["code"] == "unauthorized"
    unknown = client.get("/v1/accounts/NOPE/risk").json()
    assert unknown["error"]["code"] == "unauthorized"  # same shape, known or not


def test_the_model_card(client, settings):
    card = client.get("/v1/model", headers=HEADERS).json()
    meta = json.loads((settings.train_dir / "production" / "model.json").read_text())
    assert card["version"] == meta["model_version"]
    assert [f["name"] for f in card["features"]] == meta["features"]
    assert card["tiers"]["cuts"] == meta["tiers"]["cuts"]
    # The production model: what it learned up to, and the evaluated version vouching for it.
    assert card["role"] == "production" and card["data_through"] == meta["data_through"]
    assert card["vouched_by"] == meta["vouched_by"]["model_version"]
    assert card["test_metrics"] == meta["vouched_by"]["test_metrics"]


def test_access_log_has_request_ids_and_never_the_key(client, caplog):
    with caplog.at_level(logging.INFO, logger="churn.access"):
        response = client.get("/v1/model", headers=HEADERS | {"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    lines = [r.fields for r in caplog.records if r.name == "churn.access"]
    assert lines and lines[-1]["request_id"] == "abc123" and lines[-1]["status"] == 200
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "sent", [b"\xff\xfe-not-utf8", "caf\u00e9".encode(), b"a b", b"x" * 65, b"\x01ctl"]
)
def test_an_unusable_request_id_is_replaced_not_a_500(client, caplog, sent):
    with caplog.at_level(logging.INFO, logger="churn.access"):
        response = client.get("/v1/model", headers=[("X-API-Key", KEY), ("X-Request-ID", sent)])
    assert response.status_code == 200
    rid = response.headers["x-request-id"]
    assert len(rid) == 32 and int(rid, 16) >= 0  # a fresh id, not the header echoed
    lines = [r.fields for r in caplog.records if r.name == "churn.access"]
    assert lines and lines[-1]["request_id"] == rid and lines[-1]["status"] == 200


def test_reload_under_load_loses_no_request(client, scores):
    ids = scores["account_id"].head(20).tolist()
    failures: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        i = 0
        while not stop.is_set():
            r = client.get(f"/v1/accounts/{ids[i % len(ids)]}/risk", headers=HEADERS)
            if r.status_code != 200:
                failures.append(r.status_code)
            i += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    before = client.get("/v1/model", headers=HEADERS).json()["loaded_at"]
    for _ in range(3):
        assert client.post("/v1/admin/reload", headers=ADMIN).status_code == 200
    stop.set()
    for t in threads:
        t.join()
    assert not failures
    assert client.get("/v1/model", headers=HEADERS).json()["loaded_at"] != before


def test_a_slow_request_times_out_as_json():
    async def slow(scope, receive, send):
        await asyncio.sleep(1)

    guard = Guard(slow, Settings(request_timeout_seconds=0.05), keys=Keys)
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(
        guard({"type": "http", "method": "GET", "path": "/x", "headers": []}, receive, send)
    )
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"])["error"]["code"] == "timeout"


def test_schemathesis_finds_no_server_error_and_no_schema_break(settings):
    """Generated requests for every operation of the OpenAPI schema (Hypothesis underneath)."""
    from hypothesis import given
    from schemathesis.checks import (
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    documented = settings.model_copy(update={"docs": True})
    app = create_app(documented, preload=load(documented))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    failures = []
    for operation in operations:

        @hypothesis_settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def run(case):
            case.call_and_validate(headers=HEADERS, checks=checks)

        try:
            run()
        except Exception as err:  # every broken operation reported at once
            failures.append(f"{operation.label}: {err}")
    assert not failures, "\n\n".join(failures)


def test_a_new_scored_week_is_picked_up_without_a_restart(
    featured, modeled, settings, tmp_path, started
):
    import time

    dates = sorted(
        pd.to_datetime(pd.read_parquet(featured / "snapshots.parquet")["as_of"]).dt.date.unique()
    )
    out = tmp_path / "score"
    score(featured, modeled / "train", out, BaseParams(), ScoreParams(model="train"), dates[-2])
    watching = settings.model_copy(update={"scores_dir": out / "latest", "watch_seconds": 0.2})
    with started(create_app(watching)) as c:
        assert c.get("/v1/model", headers=HEADERS).json()["scores_as_of"] == str(dates[-2])
        score(featured, modeled / "train", out, BaseParams(), ScoreParams(model="train"), dates[-1])
        deadline = time.time() + 20
        seen = None
        while time.time() < deadline:
            seen = c.get("/v1/model", headers=HEADERS).json()["scores_as_of"]
            if seen == str(dates[-1]):
                break
            time.sleep(0.2)
        assert seen == str(dates[-1])


def test_every_invalid_field_is_reported_in_one_422(client):
    body = {"account_ids": [1, "ok", None], "extra": True}
    response = client.post("/v1/accounts/risk", json=body, headers=HEADERS)
    assert response.status_code == 422
    error = response.json()["error"]
    fields = {d["field"] for d in error["details"]}
    assert {"body.account_ids.0", "body.account_ids.2", "body.extra"} <= fields
    assert "body.account_ids.0" in error["message"] and "body.extra" in error["message"]


def test_lookups_state_their_horizon_and_dates_are_typed(client, settings, scores):
    meta = json.loads((settings.train_dir / "production" / "model.json").read_text())
    account = scores["account_id"].iloc[0]
    body = client.get(f"/v1/accounts/{account}/risk", headers=HEADERS).json()
    assert body["horizon_days"] == meta["horizon_days"] > 0
    card = client.get("/v1/model", headers=HEADERS).json()
    assert card["horizon_days"] == meta["horizon_days"]
    schema = client.app.openapi()["components"]["schemas"]
    assert schema["AccountRisk"]["properties"]["as_of"]["format"] == "date"
    assert "horizon_days" in schema["AccountRisk"]["properties"]["probability"]["description"]


def test_live_reasons_follow_the_score_settings_of_the_served_week(
    featured, modeled, feature_rows, settings, tmp_path, started
):
    rows, snaps = feature_rows
    out = tmp_path / "score"
    terse = ScoreParams(model="train", reasons_up=1, reasons_down=0, min_contribution=0.02)
    score(featured, modeled / "train", out, BaseParams(), terse)
    model, meta = load_model(Path(settings.model))
    manifest = Manifest.load(settings.features_dir / "manifest.json")
    offline = reason_frame(explain(model, snaps.head(3)), snaps.head(3), manifest, 1, 0, 0.02)
    served = settings.model_copy(update={"scores_dir": out / "latest"})
    with started(create_app(served)) as c:
        body = c.post("/v1/predict", json={"rows": rows[:3]}, headers=HEADERS).json()
    got = body["predictions"]
    assert [g["reasons_up"] for g in got] == offline["reasons_up"].tolist()
    assert all(g["reasons_down"] == [] for g in got)
    default = LivePredictor(model, meta, manifest.features)
    assert any(len(p["reasons_up"]) > 1 for p in default.predict(rows[:3]))
    summary = json.loads((out / "latest" / "summary.json").read_text())
    assert (summary["reasons_up"], summary["reasons_down"]) == (1, 0)


def test_lookups_and_live_predict_carry_the_risk_curve(client, scores, feature_rows, settings):
    model, _ = load_model(Path(settings.model))
    curve = getattr(model, "curve_", None)
    row = scores.iloc[0]
    body = client.get(f"/v1/accounts/{row['account_id']}/risk", headers=HEADERS).json()
    rows, snaps = feature_rows
    live = client.post("/v1/predict", json={"rows": rows[:2]}, headers=HEADERS).json()
    if curve is None:  # the small world left the curve out: every curve field is null
        assert body["risk_curve"] is None and live["predictions"][0]["risk_curve"] is None
        return
    points = {p["horizon_days"]: p["probability"] for p in body["risk_curve"]}
    assert list(points) == list(curve.horizons)
    assert points == {h: pytest.approx(row[f"p_churn_{h}d"]) for h in curve.horizons}
    assert points[curve.headline] == pytest.approx(body["probability"])
    renewal = row["next_renewal"]
    if pd.isna(renewal):
        assert body["next_renewal"] is None and body["days_to_renewal"] is None
    else:
        assert body["next_renewal"] == str(pd.Timestamp(renewal).date())
        assert body["days_to_renewal"] == (renewal - pd.Timestamp(row["as_of"])).days
    expected = predict_curve(model, snaps.head(2), curve.headline)
    for i, got in enumerate(live["predictions"]):
        live_points = [p["probability"] for p in got["risk_curve"]]
        want = expected[[f"p_churn_{h}d" for h in curve.horizons]].iloc[i].tolist()
        np.testing.assert_allclose(live_points, want, rtol=1e-9)
        assert got["days_to_renewal"] == rows[i].get("account_days_to_renewal")
    schema = client.app.openapi()["components"]["schemas"]
    assert "horizon_days" in schema["AccountRisk"]["properties"]["risk_curve"]["description"]
