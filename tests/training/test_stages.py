import json

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from data.io import read_json
from features.manifest import Manifest
from training.bundle import ModelMeta


def test_model_round_trips_through_mlflow(trained):
    root = trained["root"]
    meta = read_json(root / "train" / "model" / "model.json")
    model = joblib.load(root / "train" / "model" / "model.joblib")
    snapshots = pd.read_parquet(root / "features" / "snapshots.parquet").head(300)
    from training.tracking import use_store

    use_store(root / "mlflow", meta["experiment"])  # whatever store an earlier test selected
    loaded = mlflow.pyfunc.load_model(f"runs:/{meta['mlflow_run_id']}/model")
    from training.registry import signature_frame

    served = loaded.predict(signature_frame(snapshots, meta["features"], meta["categorical"]))
    assert list(served.columns) == ["probability", "tier"]
    np.testing.assert_allclose(
        served["probability"], model.predict_proba(snapshots)[:, 1], rtol=1e-9
    )


def test_train_runs_say_what_ran_and_take_the_feature_table_as_input(trained):
    from mlflow import MlflowClient

    from training.tracking import use_store

    root = trained["root"]
    use_store(root / "mlflow", trained["params"].experiment)
    client = MlflowClient()
    for folder, role in (("model", "evaluated"), ("production", "production")):
        meta = read_json(root / "train" / folder / "model.json")
        run = client.get_run(meta["mlflow_run_id"])
        assert run.info.run_name == f"train {role}, data through {meta['data_through']}"
        (dataset_input,) = run.inputs.dataset_inputs
        dataset = dataset_input.dataset
        assert dataset.name == "snapshots" and dataset.digest == meta["features_digest"][:32]
        source = json.loads(dataset.source)
        assert source["uri"] == str((root / "features" / "snapshots.parquet").resolve())
        assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
        assert json.loads(dataset.profile)["num_rows"] == len(pd.read_parquet(source["uri"]))


def test_train_writes_model_metadata_and_calibration_rows(trained):
    root = trained["root"]
    meta = read_json(root / "train" / "model" / "model.json")
    assert meta["model_version"] == "1" and meta["calibration_method"] in {
        "none",
        "platt",
        "isotonic",
        "venn_abers",
    }
    cal = pd.read_parquet(root / "train" / "calibration_predictions.parquet")
    assert list(cal.columns) == [
        "account_id",
        "as_of",
        "churned",
        "probability",
        "raw_score",
        "manager_rating",
        "segment",
        "mrr",
        "csm_id",
    ]
    assert cal["churned"].notna().all()
    assert str(cal["as_of"].min()) == meta["splits"]["calibration_start"]


def test_train_saves_the_profile_of_exactly_the_training_rows(trained, snapshots, manifest):
    from training.frames import labeled, split_frames
    from training.profile import profile_rows, saved_profile
    from training.splits import Splits

    meta = ModelMeta.load(trained["root"] / "train" / "model" / "model.json")
    profile = saved_profile(meta)
    assert profile is not None and list(profile.features) == meta.features
    splits = Splits.from_dict(meta.splits)
    assert (str(profile.start), str(profile.end)) == (
        meta.splits["train_start"],
        meta.splits["train_end"],
    )
    rows = split_frames(labeled(snapshots, manifest), splits)["train"]
    # The score's reference: the model's probabilities of the calibration weeks (unseen).
    cal = pd.read_parquet(trained["root"] / "train" / "calibration_predictions.parquet")
    scores = cal["probability"].to_numpy()
    assert profile == profile_rows(rows, meta.feature_manifest, scores=scores)


def test_evaluate_metrics_match_scikit_learn(trained):
    root = trained["root"]
    preds = pd.read_parquet(root / "evaluate" / "predictions.parquet")
    metrics = read_json(root / "evaluate" / "metrics.json")
    assert preds["churned"].notna().all() and len(preds) == 8 * 250
    for name, column in [
        ("model", "probability"),
        ("logistic", "logistic_probability"),
        ("manager_rating", "manager_rating_probability"),
    ]:
        assert metrics[name]["roc_auc"] == pytest.approx(
            roc_auc_score(preds["churned"], preds[column])
        )
        assert metrics[name]["brier"] == pytest.approx(
            brier_score_loss(preds["churned"], preds[column])
        )
    assert metrics["base_rate"]["roc_auc"] == 0.5
    assert set(metrics["model_by_segment"]) == {"smb", "mid", "ent"}
    assert metrics["model"]["roc_auc"] > metrics["manager_rating"]["roc_auc"]
    assert (root / "evaluate" / "plots" / "reliability.png").stat().st_size > 0


def test_labeled_rows_start_with_the_first_observable_churn():
    import datetime as dt

    from training.frames import labeled

    d = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(6)]
    frame = pd.DataFrame(
        {
            "as_of": d,
            "churned": pd.array([0, 0, 1, 0, None, 0], "Int8"),
            "churn_date": [None, None, dt.date(2024, 1, 20), None, None, None],
        }
    )
    manifest = Manifest(features=[], export_date=dt.date(2024, 2, 12), horizon_days=7)
    # Labels known up to 2024-02-05; the first churn (2024-01-20) starts the history.
    assert labeled(frame, manifest)["as_of"].tolist() == d[3:4] + d[5:6]


def test_an_export_without_churn_in_training_is_refused_by_name(tmp_path, snapshots, manifest):

    import pytest

    from data.errors import ContractError
    from data.params import BaseParams
    from training.params import EvaluateParams, TrainParams
    from training.stages import train

    quiet = snapshots.assign(churned=snapshots["churned"] * 0)
    (tmp_path / "features").mkdir()
    quiet.to_parquet(tmp_path / "features" / "snapshots.parquet", index=False)
    manifest.save(tmp_path / "features" / "manifest.json")
    with pytest.raises(ContractError, match=r"churned.*inner weeks .* hold no churn"):
        train(
            tmp_path / "features",
            tmp_path / "train",
            BaseParams(horizon_days=28),
            TrainParams(tuning_minutes=0),
            EvaluateParams(test_weeks=8),
            tmp_path / "mlflow",
        )
    assert not (tmp_path / "train").exists()
