"""Baselines: SVM / random forest on spectra and the HybridSN-style CNN on a small numpy-built scene."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.errors import LabelError, NotFittedError
from hsigeo.evaluation.baselines.hybridsn import HybridSNBaseline
from hsigeo.evaluation.baselines.interface import Method, as_cube, class_index, training_pixels
from hsigeo.evaluation.baselines.spectral import RandomForestBaseline, SVMBaseline
from hsigeo.sampling.splits import stratified_split

VALUES = (1, 10, 14)  # non-contiguous on purpose, like Salinas-A


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: several-fold faster than two on a busy shared CPU, and as fast on a quiet one here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 24-band, 30 x 36 cube of three vertical field strips with distinct smooth spectra plus noise."""
    rng = np.random.default_rng(0)
    bands, h, w = 24, 30, 36
    t = np.linspace(0, 1, bands)
    spectra = np.stack([0.3 + 0.2 * t, 0.6 - 0.3 * t, 0.4 + 0.15 * np.sin(6 * t)])
    labels = np.zeros((h, w), np.int32)
    strip = np.repeat(np.arange(3), w // 3)
    labels[:] = np.asarray(VALUES)[strip][None, :]
    labels[:2] = 0  # an unlabelled margin
    idx = np.searchsorted(VALUES, np.where(labels > 0, labels, VALUES[0]))
    cube = spectra[idx].transpose(2, 0, 1) * rng.uniform(0.9, 1.1, (1, h, w))
    cube = cube + rng.normal(0, 0.02, cube.shape)
    return cube.astype(np.float32), labels


def _oa(pred: np.ndarray, labels: np.ndarray, test: np.ndarray) -> float:
    return float(np.mean(pred[test] == labels[test]))


@pytest.mark.parametrize("make", [SVMBaseline, lambda: RandomForestBaseline(n_estimators=50)], ids=["svm", "rf"])
def test_spectral_baselines_reach_floor(scene, make):
    cube, labels = scene
    train, test = stratified_split(labels, fraction=0.05, seed=0)
    m = make()
    assert isinstance(m, Method) and m.n_trainable == 0
    pred = m.fit(cube, labels, train, seed=0).predict(cube)
    assert pred.shape == labels.shape and pred.dtype == np.int32
    assert set(np.unique(pred)) <= set(VALUES)  # label values come back, not 0..C-1 indices
    assert _oa(pred, labels, test) >= 0.95
    assert m.n_trainable > 0 and m.parameter_note


def test_svm_grid_uses_training_pixels_only(scene):
    cube, labels = scene
    train, _ = stratified_split(labels, fraction=0.05, seed=1)
    m = SVMBaseline(C_grid=(1.0, 100.0), gamma_factors=(1.0,)).fit(cube, labels, train, seed=1)
    assert m.best_params_["C"] in (1.0, 100.0) and m.extras == m.best_params_
    # with one training pixel per class no CV is possible: falls back to a fixed grid point
    one, _ = stratified_split(labels, count=1, seed=0)
    m1 = SVMBaseline().fit(cube, labels, one, seed=0)
    assert m1.best_params_["C"] == 100.0
    assert m1.predict(cube).shape == labels.shape


def test_hybridsn_reaches_floor_and_is_deterministic(scene):
    cube, labels = scene
    train, test = stratified_split(labels, fraction=0.05, seed=0)
    a = HybridSNBaseline(steps=80, batch_size=32).fit(cube, labels, train, seed=3)
    pa = a.predict(cube)
    assert pa.shape == labels.shape and set(np.unique(pa)) <= set(VALUES)
    assert _oa(pa, labels, test) >= 0.85
    assert 10_000 < a.n_trainable < 200_000  # a small CPU-sized network
    assert len(a.loss_history_) == 80 and np.mean(a.loss_history_[-10:]) < np.mean(a.loss_history_[:10])
    b = HybridSNBaseline(steps=80, batch_size=32).fit(cube, labels, train, seed=3)
    np.testing.assert_array_equal(pa, b.predict(cube))
    # probabilities: one band per class in classes_ order, summing to one, whose argmax is the map
    prob = a.predict_proba(cube)
    assert prob.shape == (len(a.classes_), *labels.shape) and prob.dtype == np.float32
    np.testing.assert_allclose(prob.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a.classes_[prob.argmax(0)], pa)


def test_hybridsn_pca_on_training_pixels(scene):
    cube, labels = scene
    train, test = stratified_split(labels, fraction=0.1, seed=0)
    m = HybridSNBaseline(steps=40, pca_fit="train", n_components=11, patch=7).fit(cube, labels, train, seed=0)
    assert m.radius == 3 and _oa(m.predict(cube), labels, test) > 0.6


def test_hybridsn_argument_checks(scene):
    cube, labels = scene
    with pytest.raises(ValueError, match="odd"):
        HybridSNBaseline(patch=8)
    with pytest.raises(ValueError, match="pca_fit"):
        HybridSNBaseline(pca_fit="all")
    train, _ = stratified_split(labels, fraction=0.1, seed=0)
    with pytest.raises(ValueError, match="PCA components"):
        HybridSNBaseline(n_components=8, steps=1).fit(cube, labels, train, seed=0)
    with pytest.raises(NotFittedError, match="before fit"):
        HybridSNBaseline().predict(cube)


def test_shared_helpers(scene):
    cube, labels = scene
    with pytest.raises(LabelError, match="no labelled pixel"):
        training_pixels(cube, labels, np.zeros_like(labels, bool))
    bad = cube.copy()
    bad[0, 0, 0] = np.nan
    assert np.isfinite(as_cube(bad)).all()
    with pytest.raises(ValueError, match="band, y, x"):
        as_cube(cube[0])
    classes, idx = class_index(np.array([14, 1, 10, 14]))
    assert classes.tolist() == [1, 10, 14] and idx.tolist() == [2, 0, 1, 2]
    with pytest.raises(NotFittedError, match="before fit"):
        SVMBaseline().predict(cube)
    with pytest.raises(NotFittedError, match="before fit"):
        RandomForestBaseline().predict(cube)
