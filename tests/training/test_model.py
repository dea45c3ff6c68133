import joblib
import numpy as np
import pandas as pd

from training.model import ChurnModel, FeatureFrame


def test_feature_frame_learns_levels_and_maps_unseen_to_missing():
    train = pd.DataFrame(
        {"seg": pd.array(["b", "a", None], dtype="str"), "n": pd.array([1, None, 3], "Int64")}
    )
    later = pd.DataFrame(
        {"seg": pd.array(["a", "zz"], dtype="str"), "n": pd.array([2, 5], "Int64")}
    )
    frame = FeatureFrame(["seg", "n"], ["seg"]).fit(train).transform(later)
    assert list(frame["seg"].cat.categories) == ["a", "b"]
    assert frame["seg"].isna().tolist() == [False, True]
    assert frame["n"].dtype == np.float64 and frame["n"].tolist() == [2.0, 5.0]


def test_churn_model_probabilities_and_round_trip(snapshots, manifest, tmp_path):
    rows = snapshots[snapshots["churned"].notna()]
    features = manifest.feature_names
    fit, cal = rows.iloc[:8000], rows.iloc[8000:11000]
    model = ChurnModel(features, ["account_segment"], {"n_estimators": 30}, random_state=1)
    model.fit(fit, fit["churned"].astype(int), calibration_set=(cal, cal["churned"].astype(int)))
    assert model.calibration_method_ in {"none", "platt", "isotonic", "venn_abers"}
    assert set(model.calibration_losses_) == {"none", "platt", "isotonic", "venn_abers"}
    proba = model.predict_proba(rows.iloc[:50])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    joblib.dump(model, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").predict_proba(rows.iloc[:50]), proba
    )
