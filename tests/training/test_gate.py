import os

from mlflow import MlflowClient

from training.registry import decide_promotion
from training.stages import train


def test_gate_refuses_a_worse_model():
    gate = decide_promotion(0.770, 0.01, champion_auc=0.780, max_auc_drop=0.005, max_ece=0.02)
    assert not gate.promote and "champion 0.7800" in gate.reason


def test_gate_accepts_a_small_drop_and_refuses_poor_calibration():
    assert decide_promotion(0.776, 0.01, 0.780, 0.005, 0.02).promote
    assert decide_promotion(0.90, 0.01, None, 0.005, 0.02).promote
    refused = decide_promotion(0.90, 0.03, 0.5, 0.005, 0.02)
    assert not refused.promote and refused.reason.startswith("ECE")


def test_second_run_failing_the_gate_becomes_challenger(trained):
    root = trained["root"]
    first = trained["metrics"]["gate"]
    strict = trained["params"].model_copy(update={"gate_max_ece": 0.0})
    metrics = train(
        root / "features",
        root / "train2",
        trained["base"],
        strict,
        trained["evaluate"],
        root / "mlflow",
    )
    assert first["promoted"] and first["champion_auc"] is None
    assert not metrics["gate"]["promoted"]
    # The champion's vouching recipe was re-scored on the same test rows (not the production
    # champion, which learned from them): same data and seed, same AUC.
    assert abs(metrics["gate"]["champion_auc"] - trained["metrics"]["test"]["roc_auc"]) < 1e-9
    client = MlflowClient()
    # Each run registers its evaluated version, then the production refit it vouches for.
    champion = client.get_model_version_by_alias("churn-risk", "champion")
    assert str(champion.version) == "2" and champion.tags["role"] == "production"
    assert champion.tags["vouched_by_version"] == "1"
    challenger = client.get_model_version_by_alias("churn-risk", "challenger")
    assert str(challenger.version) == "4" and challenger.tags["gate"] == "refused"
    assert challenger.tags["vouched_by_version"] == "3"
    assert client.get_model_version("churn-risk", "3").tags["role"] == "evaluated"


def test_each_store_is_used_in_turn_and_the_environment_is_left_alone(tmp_path, monkeypatch):
    import mlflow

    from training.tracking import use_store

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    use_store(tmp_path / "a", "e")
    use_store(tmp_path / "b", "e")
    assert (tmp_path / "b" / "mlflow.db").exists()
    assert str(tmp_path / "b") in mlflow.get_tracking_uri()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'server.db'}")
    previous = mlflow.get_tracking_uri()
    try:
        use_store(tmp_path / "c", "e")
        assert mlflow.get_tracking_uri().endswith("server.db") and not (tmp_path / "c").exists()
    finally:
        mlflow.set_tracking_uri(previous)  # MLflow's own global: leave it as other tests expect
