"""The scikit-learn style estimator: fit/predict/predict_proba/embed, save/load, parameters.

One real fit per module: the session's synthetic GeoTIFF scene, its label raster and prompts
YAML (all given as paths), the packaged MiniLM text model, a tiny backbone and a few epochs.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr

import hsigeo
from hsigeo import HsigeoClassifier, load_model
from hsigeo.errors import HsigeoError, LabelError, NotFittedError

TINY = dict(stem_dim=16, width=16, heads=2, embed_dim=16, depth=1, epochs=8, min_steps_per_epoch=6,
            val_fraction=0.0, seed=0)


@pytest.fixture(scope="module")
def fitted(synthetic_scene):
    clf = HsigeoClassifier(device="cpu", **TINY)
    # this small crop of the synthetic scene has no labelled Water pixel: the class still gets an anchor
    with pytest.warns(UserWarning, match=r"no training pixels for class\(es\) \['Water'\]"):
        out = clf.fit(synthetic_scene.scene_path, synthetic_scene.labels_path, synthetic_scene.prompts_path)
    return clf, out


@pytest.fixture(scope="module")
def scene(synthetic_scene):
    return hsigeo.open_hsi(synthetic_scene.scene_path)


@pytest.fixture(scope="module")
def cube(scene):
    """The scene as a plain array; an array carries no nodata value, so nodata becomes NaN (the array way)."""
    arr = np.asarray(scene.values, dtype=np.float32)
    arr[arr == scene.rio.nodata] = np.nan
    return arr


@pytest.fixture(scope="module")
def labels(synthetic_scene, scene):
    from hsigeo.io.labels import read_labels

    return np.asarray(read_labels(synthetic_scene.labels_path, like=scene).values)


def test_fit_returns_self_with_fitted_attributes(fitted, synthetic_scene, synthetic_scene_kw):
    clf, out = fitted
    assert out is clf
    assert clf.classes_.tolist() == [c.value for c in synthetic_scene.classes]
    assert clf.class_names_ == [c.name for c in synthetic_scene.classes]
    assert clf.n_features_in_ == synthetic_scene_kw["bands"]
    assert len(clf.report_.history["epoch"]) == TINY["epochs"]
    assert clf.report_.n_train == sum(v[0] for v in clf.report_.per_class.values()) > 0
    # the scene has wavelengths, so the default init ("auto") adds the base model's 64 channels
    assert clf.report_.config["init_used"] == "base"
    assert clf.model_.config.width == 16 and clf.model_.config.n_bands == synthetic_scene_kw["bands"] + 64
    from hsigeo.inference import InferenceModel

    assert isinstance(clf.model_, InferenceModel)  # what every inference engine takes


def test_predict_dataarray_is_georeferenced_and_accurate(fitted, scene, labels):
    clf, _ = fitted
    pred = clf.predict(scene)
    assert isinstance(pred, xr.DataArray) and pred.dims == ("y", "x") and pred.chunks is None
    assert pred.rio.crs == scene.rio.crs and pred.rio.crs.to_epsg() == 32611
    assert pred.rio.transform() == scene.rio.transform()
    assert pred.rio.nodata == 0
    assert pred.attrs["class_names"] == dict(zip(clf.classes_.tolist(), clf.class_names_, strict=True))
    values = np.asarray(pred.values)
    border = 2  # nodata frame of the synthetic scene
    assert (values[:border] == 0).all() and (values[:, -border:] == 0).all()
    inner = values[border:-border, border:-border]
    assert set(np.unique(inner).tolist()) <= set(clf.classes_.tolist())
    lab = labels > 0
    assert np.mean(values[lab] == labels[lab]) >= 0.85  # trained on these labels; chance is 0.2


def test_predict_array_matches_dataarray(fitted, scene, cube):
    clf, _ = fitted
    got = clf.predict(cube)
    assert isinstance(got, np.ndarray) and got.shape == scene.shape[1:]
    np.testing.assert_array_equal(got, np.asarray(clf.predict(scene).values))


def test_predict_proba_sums_to_one_and_agrees_with_predict(fitted, scene, cube):
    clf, _ = fitted
    proba = clf.predict_proba(scene)
    assert proba.dims == ("class", "y", "x") and proba.coords["class"].values.tolist() == clf.classes_.tolist()
    assert proba.rio.crs == scene.rio.crs and proba.rio.transform() == scene.rio.transform()
    p = np.asarray(proba.values)
    valid = np.isfinite(p).all(axis=0)
    assert valid.sum() == (scene.shape[1] - 4) * (scene.shape[2] - 4)  # all but the 2-px nodata frame
    np.testing.assert_allclose(p[:, valid].sum(axis=0), 1.0, atol=1e-5)
    assert (p[:, valid] >= 0).all()
    pred = np.asarray(clf.predict(scene).values)
    np.testing.assert_array_equal(clf.classes_[p[:, valid].argmax(axis=0)], pred[valid])
    arr_proba = clf.predict_proba(cube)
    assert isinstance(arr_proba, np.ndarray) and np.isnan(arr_proba[:, ~valid]).all()
    np.testing.assert_allclose(arr_proba[:, valid], p[:, valid], atol=1e-5)


def test_embed_unit_vectors(fitted, scene):
    clf, _ = fitted
    emb = clf.embed(scene)
    assert emb.dims == ("embedding", "y", "x") and emb.sizes["embedding"] == TINY["embed_dim"]
    assert emb.rio.crs == scene.rio.crs
    e = np.asarray(emb.values)
    valid = np.isfinite(e).all(axis=0)
    np.testing.assert_allclose(np.linalg.norm(e[:, valid], axis=0), 1.0, atol=1e-4)
    assert np.isnan(e[:, 0, 0]).all()  # nodata corner


def test_lazy_scene_gives_lazy_result(fitted, synthetic_scene, scene):
    clf, _ = fitted
    lazy = hsigeo.open_hsi(synthetic_scene.scene_path, chunks={"y": 24, "x": 28})
    pred = clf.predict(lazy)
    assert pred.chunks is not None
    np.testing.assert_array_equal(pred.compute().values, clf.predict(scene).values)


def test_save_load_round_trip(fitted, scene, tmp_path):
    clf, _ = fitted
    path = clf.save(tmp_path / "m.hsigeo")
    loaded = load_model(path)
    assert isinstance(loaded, HsigeoClassifier) and loaded is not clf
    assert loaded.classes_.tolist() == clf.classes_.tolist() and loaded.class_names_ == clf.class_names_
    assert loaded.model_.digest() == clf.model_.digest()
    assert loaded.get_params()["epochs"] == TINY["epochs"] and loaded.get_params()["width"] == 16
    assert loaded.report_.n_train == clf.report_.n_train
    np.testing.assert_array_equal(loaded.predict(scene).values, clf.predict(scene).values)
    with pytest.raises(HsigeoError, match="exists"):
        clf.save(path)


def test_accessor_takes_the_estimator(fitted, scene):
    clf, _ = fitted
    np.testing.assert_array_equal(scene.hsi.classify(clf).values, clf.predict(scene).values)


def test_get_and_set_params():
    from sklearn.base import clone

    clf = HsigeoClassifier(epochs=3, loss="softmax")
    params = clf.get_params()
    assert params["epochs"] == 3 and params["loss"] == "softmax" and params["lr"] == 1e-3
    assert params["device"] == "auto" and params["width"] == 64
    assert clf.set_params(epochs=5, width=32, device="cpu") is clf
    assert clf.get_params()["epochs"] == 5 and clf.get_params()["width"] == 32 and clf.device == "cpu"
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    with pytest.raises(TypeError, match="unknown training option"):
        clf.set_params(epoks=3)
    with pytest.raises(TypeError, match="unknown training option"):
        HsigeoClassifier(combine="mean")  # removed: it accepted one value
    with pytest.raises(ValueError, match="divisible"):
        HsigeoClassifier(width=30, heads=4)
    assert clf.get_params()["epochs"] == 5  # a refused set_params changed nothing


def test_not_fitted_and_bad_labels(synthetic_scene, scene):
    clf = HsigeoClassifier()
    with pytest.raises(NotFittedError, match="not fitted") as info:
        clf.predict(scene)
    assert isinstance(info.value, ValueError) and isinstance(info.value, HsigeoError)
    with pytest.raises(LabelError, match="georeferenced scene"):
        clf.fit(np.asarray(scene.values), synthetic_scene.labels_path, synthetic_scene.prompts_path)


def test_engines_say_what_to_pass(fitted, scene, synthetic_scene, tmp_path):
    """The engines take the trained model; handing them the estimator fails with one clear line."""
    from hsigeo.inference import classify_dataarray, classify_raster, predict_proba_array

    clf, _ = fitted
    for call in (lambda: classify_raster(synthetic_scene.scene_path, clf, tmp_path / "c.tif"),
                 lambda: classify_dataarray(scene, clf),
                 lambda: predict_proba_array(np.asarray(scene.values), clf)):
        with pytest.raises(TypeError, match=r"got HsigeoClassifier; .*clf\.model_"):
            call()
    assert not (tmp_path / "c.tif").exists()
    result = clf.predict_raster(synthetic_scene.scene_path, tmp_path / "c.tif")
    with rasterio.open(tmp_path / "c.tif") as dst:
        assert dst.crs == scene.rio.crs and dst.transform == scene.rio.transform()
        np.testing.assert_array_equal(dst.read(1), clf.predict(scene).values)
    assert sum(result.class_counts.values()) == int((clf.predict(scene).values > 0).sum())


def test_model_files_of_earlier_versions_load_as_estimators():
    """A training record with options this version no longer has (``combine``) still gives an estimator."""
    from _inference_models import tiny_model

    model = tiny_model()
    model.report = {"config": {"epochs": 7, "combine": "mean", "width": 8, "fraction": 0.05}, "n_train": 12}
    clf = HsigeoClassifier.from_model(model, device="cpu")
    assert clf.get_params()["epochs"] == 7 and clf.get_params()["width"] == 8 and "combine" not in clf.get_params()
    assert clf.report_.n_train == 12 and clf.report_.history == {}
    assert clf.classes_.tolist() == [10, 20, 30, 40] and clf.n_features_in_ == 12
