"""The patch CNN (:mod:`hsigeo.model.patch_cnn`): the ensemble's third member and the HybridSN baseline's network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsigeo.errors import InvalidInputError, NotFittedError
from hsigeo.model.patch_cnn import PatchCNN


@pytest.fixture(scope="module")
def fitted():
    """Four classes in quadrants with distinct spectra, 20 bands, noise; 12 training pixels per class."""
    rng = np.random.default_rng(0)
    h = w = 24
    labels = np.zeros((h, w), np.int64)
    labels[:12, 12:], labels[12:, :12], labels[12:, 12:] = 1, 2, 3
    shapes = rng.uniform(0.1, 0.6, (4, 20))
    bands = (shapes[labels].transpose(2, 0, 1) + rng.normal(0, 0.02, (20, h, w))).astype(np.float32)
    train = np.zeros((h, w), bool)
    for c in range(4):
        rows, cols = np.nonzero(labels == c)
        train[rows[::12], cols[::12]] = True
    rows, cols = np.nonzero(train)
    cnn = PatchCNN(steps=60).fit_scene(bands, rows, cols, labels[train], 4, seed=0)
    return cnn, bands, labels


def test_learns_the_quadrants_and_gives_probabilities(fitted):
    cnn, bands, labels = fitted
    p = cnn.proba_scene(bands).numpy()
    assert p.shape == (4, 24, 24)
    np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-5)
    assert (p.argmax(0) == labels).mean() > 0.9
    assert len(cnn.loss_history) == 60 and cnn.radius == 4 and cnn.basis.shape == (15, 20)


def test_a_tile_with_its_halo_gives_the_scene_map(fitted):
    """The centre of a tile cut with a 4-pixel halo equals the whole-scene map there, whatever the batch."""
    cnn, bands, _ = fitted
    whole = cnn.proba_scene(bands).numpy()
    tile = torch.from_numpy(bands[:, 3:21, 5:23])  # centre: rows 7..16, cols 9..18
    for batch in (1, 7, 4096):
        np.testing.assert_allclose(cnn.proba_tile(tile, batch_size=batch).numpy(), whole[:, 7:17, 9:19], atol=1e-5)


def test_saved_parts_rebuild_the_same_network(fitted):
    cnn, bands, _ = fitted
    tensors, settings = cnn.tensors(), cnn.to_dict()
    assert {k: tuple(v.shape) for k, v in tensors.items()} == PatchCNN.tensor_shapes(settings)
    back = PatchCNN.from_parts(settings, tensors)
    np.testing.assert_array_equal(back.proba_scene(bands).numpy(), cnn.proba_scene(bands).numpy())
    assert back.n_trainable == cnn.n_trainable and settings["n_bands"] == 20 and settings["n_classes"] == 4


def test_errors():
    with pytest.raises(InvalidInputError, match="odd"):
        PatchCNN(patch=8)
    with pytest.raises(NotFittedError):
        PatchCNN().proba_tile(np.zeros((20, 9, 9), np.float32))
    cnn = PatchCNN(n_components=8, steps=1)
    with pytest.raises(InvalidInputError, match="at least 11 PCA components"):
        cnn.fit_scene(np.random.default_rng(0).random((12, 10, 10), dtype=np.float32), np.array([0, 5]),
                      np.array([0, 5]), np.array([0, 1]), 2, seed=0)


def test_the_convolutional_run_equals_the_network_on_each_patch(fitted):
    """Inference slides the network over the scene; training feeds it one patch per pixel: same numbers."""
    cnn, bands, _ = fitted
    whole = cnn.proba_scene(bands).numpy()
    padded = cnn.pad(cnn.reduce(torch.from_numpy(bands)))
    rows, cols = torch.tensor([0, 5, 11, 23, 17]), torch.tensor([0, 23, 12, 3, 9])
    with torch.inference_mode():
        per_patch = torch.softmax(cnn.net(cnn._patches(padded, rows, cols)), 1).numpy()
    np.testing.assert_allclose(per_patch, whole[:, rows, cols].T, atol=1e-5)
