"""The API's lookups read from a scored week, with and without the risk curve's columns."""

from __future__ import annotations

import orjson
import pytest

from serving.bundle import load_scores
from serving.schemas import AccountRisk

SERVED = {"model_version": "3", "horizon_days": 90}  # what `load` adds once the model is in


@pytest.mark.parametrize("curve", [True, False])
def test_each_lookup_is_a_valid_account_risk(curve, make_scores, tmp_path):
    make_scores(["Acme", "Globex", None], curve=curve).to_parquet(tmp_path / "scores.parquet")
    records, as_of = load_scores(tmp_path)
    assert as_of == "2026-03-02"
    for record in records.values():
        body = orjson.loads(orjson.dumps(record | SERVED))  # as the route sends it
        AccountRisk.model_validate(body)


def test_a_lookup_holds_the_curve_and_the_renewal(make_scores, tmp_path):
    make_scores(["Acme", "Globex", None], curve=True).to_parquet(tmp_path / "scores.parquet")
    records, _ = load_scores(tmp_path)
    acme = records["ACC-00001"]
    assert acme["risk_curve"] == [
        {"horizon_days": h, "probability": p}
        for h, p in [(30, 0.1), (60, 0.4), (90, 0.6), (180, 0.8)]
    ]
    assert acme["risk_curve"][2]["probability"] == acme["probability"]
    assert (acme["next_renewal"], acme["days_to_renewal"]) == ("2026-03-20", 18)
    assert acme["p_churn_by_renewal"] == 0.15
    assert records["ACC-00002"]["days_to_renewal"] == -10


def test_a_week_scored_before_the_curve_answers_null(make_scores, tmp_path):
    make_scores(["Acme", "Globex"]).to_parquet(tmp_path / "scores.parquet")
    records, _ = load_scores(tmp_path)
    for record in records.values():
        assert record["risk_curve"] is None and record["next_renewal"] is None
        assert record["days_to_renewal"] is None and record["p_churn_by_renewal"] is None
