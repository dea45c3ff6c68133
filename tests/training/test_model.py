import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from venn_abers import VennAbers

from training.calibration import Calibrated, Uncalibrated, VennAbersCalibrated
from training.model import BoostedTrees, ChurnModel, FeatureFrame
from training.portable import export_calibrator


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


def _legacy(method, trees, cal, y):
    """The calibrator object a model saved before calibrators read scores held."""
    frozen = FrozenEstimator(trees)
    if method in ("platt", "isotonic"):
        sklearn_method = "sigmoid" if method == "platt" else "isotonic"
        return CalibratedClassifierCV(frozen, method=sklearn_method).fit(cal, y)
    old = VennAbersCalibrated() if method == "venn_abers" else Uncalibrated()
    old.__dict__.update(estimator=frozen, classes_=np.array([0, 1]))
    if method == "venn_abers":
        fitted = VennAbers().fit(trees.predict_proba(cal), y, precision=4)
        old.__dict__.update(precision=4, venn_abers_=fitted)
    return old


@pytest.mark.filterwarnings("ignore:All-NaN slice")
@pytest.mark.parametrize("method", ["none", "platt", "isotonic", "venn_abers"])
def test_a_model_saved_by_older_code_loads_and_predicts_the_same(
    method, snapshots, manifest, tmp_path
):
    rows = snapshots[snapshots["churned"].notna()]
    features = manifest.feature_names
    fit, cal, test = rows.iloc[:6000], rows.iloc[6000:9000], rows.iloc[9000:9500]
    trees = BoostedTrees(features, ["account_segment"], {"n_estimators": 30}).fit(
        fit, fit["churned"].astype(int)
    )
    old = _legacy(method, trees, cal, cal["churned"].astype(int).to_numpy())
    if method == "venn_abers":
        expected, _ = old.venn_abers_.predict_proba(trees.predict_proba(test))
    elif method == "none":
        expected = trees.predict_proba(test)
    else:
        expected = old.predict_proba(test)
    model = ChurnModel.from_parts(trees, None, method)
    model.calibrator_ = old
    joblib.dump(model, tmp_path / "old.joblib")
    loaded = joblib.load(tmp_path / "old.joblib")
    assert isinstance(loaded.calibrator_, Calibrated)
    np.testing.assert_allclose(
        loaded.predict_proba(test)[:, 1],
        np.clip(np.asarray(expected)[:, 1], 1e-6, 1 - 1e-6),
        rtol=0,
        atol=1e-12,
    )
    assert export_calibrator(loaded.calibrator_, method)["method"] == method
