"""scikit-learn conventions of :class:`hsigeo.HsigeoClassifier`: pickling, ``check_is_fitted``, parameter and
input checks (regression tests for issue 19)."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
import xarray as xr
from _inference_models import WAVELENGTHS, random_cube, tiny_model

from hsigeo import HsigeoClassifier, load_model
from hsigeo.errors import InvalidInputError, NotFittedError
from hsigeo.model.base import ZeroShotModel, shipped_base_path
from hsigeo.text.prompts import PromptSet

CUBE = random_cube(14, 16, seed=7).astype(np.float32)


def _zero_shot_clf() -> HsigeoClassifier:
    if not shipped_base_path().is_file():
        pytest.skip("base model not built")
    da = xr.DataArray(CUBE, dims=("band", "y", "x"), coords={"wavelength": ("band", WAVELENGTHS)})
    prompts = PromptSet.from_dict({"classes": [{"name": "a", "prompts": ["green vegetation"]},
                                               {"name": "b", "prompts": ["bare soil"]}]})
    base = load_model("base")
    emb = np.random.default_rng(0).normal(size=(2, 384)).astype(np.float32)
    return HsigeoClassifier.from_model(base.for_scene(da, prompts, text_embeddings=emb, threshold=0.0))


@pytest.mark.parametrize("make", ["trained", "zero-shot"])
def test_fitted_estimator_pickles_through_its_model_file(make, tmp_path):
    """joblib.dump / pickle of a fitted estimator work (the state is the model file's bytes) and predict the same."""
    clf = HsigeoClassifier.from_model(tiny_model(), device="cpu") if make == "trained" else _zero_shot_clf()
    want = np.asarray(clf.predict(CUBE))
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    again = joblib.load(path)
    np.testing.assert_array_equal(np.asarray(again.predict(CUBE)), want)
    assert again.model_.digest() == clf.model_.digest() and again.report_ == clf.report_
    assert again.classes_.tolist() == clf.classes_.tolist() and again.get_params() == clf.get_params()
    data = pickle.dumps(clf)
    assert b"torch" not in data and b"_thread" not in data  # no torch module, no lock: the model file
    assert isinstance(pickle.loads(data).model_, type(clf.model_))
    if make == "zero-shot":
        assert isinstance(again.model_, ZeroShotModel)


def test_unfitted_estimator_pickles_and_check_is_fitted_works():
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    clf = HsigeoClassifier(epochs=3, seed=1)
    with pytest.raises(SkNotFitted):
        check_is_fitted(clf)
    again = pickle.loads(pickle.dumps(clf))
    assert again.get_params() == clf.get_params() and not again.__sklearn_is_fitted__()
    check_is_fitted(HsigeoClassifier.from_model(tiny_model()))


@pytest.mark.parametrize("option, value, words", [
    ("epochs", -1, "epochs = -1: must be an integer >= 1"),
    ("lr", 0.0, "lr = 0.0: must be a finite number > 0"),
    ("val_fraction", 1.5, "val_fraction = 1.5: must be a number in [0, 1)"),
    ("batch_size", 2.5, "batch_size = 2.5: must be an integer >= 1"),
    ("augment", "yes", "augment = 'yes': must be True or False"),
])
def test_parameters_are_checked_at_fit_before_reading_data(option, value, words, tmp_path):
    clf = HsigeoClassifier(**{option: value})  # accepted here, as scikit-learn does
    with pytest.raises(InvalidInputError, match="HsigeoClassifier parameter " + words.replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[").replace("+", r"\+")):
        clf.fit(tmp_path / "no-such-scene.tif", tmp_path / "no-labels.tif", tmp_path / "no-prompts.yaml")


@pytest.mark.parametrize("shape, words", [
    ((12, 30), r"shape \(bands, y, x\); this one has 2 dimension"),
    ((12,), r"shape \(bands, y, x\); this one has 1 dimension"),
    ((12, 0, 5), "the scene is empty"),
    ((0, 4, 5), "the scene is empty"),
])
def test_predict_on_wrong_shapes_says_what_shape_it_needs(shape, words):
    clf = HsigeoClassifier.from_model(tiny_model(), device="cpu")
    for method in (clf.predict, clf.predict_proba, clf.embed):
        with pytest.raises(InvalidInputError, match=words):
            method(np.zeros(shape, np.float32))
    with pytest.raises(InvalidInputError, match="the scene is empty"):
        clf.predict(xr.DataArray(np.zeros((12, 0, 3), np.float32), dims=("band", "y", "x")))


def test_not_fitted_is_still_hsigeo_error():
    with pytest.raises(NotFittedError):
        HsigeoClassifier().predict(CUBE)
