"""Train/test splits: sizes per class, disjointness, determinism, spatial separation."""

import numpy as np
import pytest

from hsigeo.errors import LabelError
from hsigeo.sampling.splits import block_split, split_counts, stratified_split


@pytest.fixture()
def labels() -> np.ndarray:
    rng = np.random.default_rng(3)
    lab = np.zeros((60, 80), dtype=np.int32)
    lab[:30, :40], lab[:30, 40:], lab[30:, :40], lab[30:, 40:] = 1, 2, 5, 7
    lab[rng.random(lab.shape) < 0.2] = 0  # unlabelled holes
    lab[0:2, 0:2] = 9  # a tiny class of 4 pixels
    return lab


def test_stratified_fraction_sizes_and_disjoint(labels):
    train, test = stratified_split(labels, fraction=0.05, seed=1)
    assert not np.any(train & test)
    assert np.array_equal(train | test, labels > 0)
    for value, (n_train, n_test) in split_counts(labels, train, test).items():
        n = n_train + n_test
        assert n_train == max(1, min(round(0.05 * n), n - 1))
    assert split_counts(labels, train, test)[9] == (1, 3)


def test_stratified_count_and_seed(labels):
    a = stratified_split(labels, count=10, seed=4)
    b = stratified_split(labels, count=10, seed=4)
    c = stratified_split(labels, count=10, seed=5)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    counts = split_counts(labels, *a)
    assert counts[1][0] == 10 and counts[9][0] == 3  # capped: one pixel stays for testing


def test_stratified_within_restricts_training(labels):
    within = np.zeros_like(labels, dtype=bool)
    within[:, :40] = True
    train, test = stratified_split(labels, fraction=0.5, seed=0, within=within)
    assert not np.any(train[:, 40:]) and not np.any(test[:, :40])


def test_stratified_bad_arguments(labels):
    with pytest.raises(ValueError):
        stratified_split(labels)
    with pytest.raises(ValueError):
        stratified_split(labels, fraction=1.5)
    with pytest.raises(LabelError, match="no labelled pixels"):
        stratified_split(np.zeros((4, 4), int), fraction=0.1)


def test_block_split_is_spatially_disjoint(labels):
    train, test = block_split(labels, block_size=10, test_fraction=0.5, seed=2, gap=2)
    assert not np.any(train & test)
    counts = split_counts(labels, train, test)
    for value in (1, 2, 5, 7):
        assert counts[value][0] > 0 and counts[value][1] > 0
    # no test pixel within 2 pixels of a training pixel
    ty, tx = np.nonzero(test)
    ry, rx = np.nonzero(train)
    d = np.maximum(np.abs(ty[:, None] - ry[None, :]), np.abs(tx[:, None] - rx[None, :]))
    assert d.min() > 2
