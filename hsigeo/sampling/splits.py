"""Train/test splits of labelled pixels: stratified per class, or spatially disjoint blocks.

All functions take a label array (``0`` = unlabelled) and return boolean masks
of the same shape; the same seed always gives the same split.
"""

from __future__ import annotations

import numpy as np

from hsigeo.errors import InvalidInputError, LabelError

__all__ = ["stratified_split", "block_split", "split_counts"]


def _class_values(labels: np.ndarray) -> np.ndarray:
    values = np.unique(labels)
    values = values[values > 0]
    if values.size == 0:
        raise LabelError("the label array has no labelled pixels (all values are 0 = unlabelled).")
    return values


def stratified_split(
    labels: np.ndarray,
    *,
    fraction: float | None = None,
    count: int | None = None,
    seed: int = 0,
    min_per_class: int = 1,
    within: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw training pixels per class; the rest of the labelled pixels are the test set.

    Parameters
    ----------
    labels
        Integer label array, ``0`` = unlabelled.
    fraction
        Share of each class's labelled pixels used for training (e.g. 0.05).
    count
        Fixed number of training pixels per class (instead of ``fraction``).
    seed
        Random seed; a split is a pure function of labels, sizes and seed.
    min_per_class
        At least this many training pixels per class (small classes at 1 % would
        otherwise get none).  Each class keeps at least one test pixel when it
        has two or more pixels.
    within
        Optional boolean mask restricting where training pixels may be drawn
        (e.g. the training blocks of :func:`block_split`); test pixels are then
        the labelled pixels outside ``within``.

    Returns
    -------
    train, test : numpy.ndarray of bool
        Disjoint masks with the shape of ``labels``.
    """
    if (fraction is None) == (count is None):
        raise InvalidInputError("give exactly one of fraction= or count=")
    if fraction is not None and not 0.0 < fraction < 1.0:
        raise InvalidInputError(f"fraction must be in (0, 1), not {fraction}")
    if count is not None and count < 1:
        raise InvalidInputError(f"count must be >= 1, not {count}")
    labels = np.asarray(labels)
    pool = labels > 0 if within is None else (labels > 0) & np.asarray(within, dtype=bool)
    rng = np.random.default_rng(seed)
    flat = labels.ravel()
    train = np.zeros(flat.shape, dtype=bool)
    for value in _class_values(labels):
        idx = np.flatnonzero((flat == value) & pool.ravel())
        if idx.size == 0:
            continue
        n = round(fraction * idx.size) if fraction is not None else int(count)  # type: ignore[arg-type]
        n = max(n, min_per_class)
        if within is None and idx.size > 1:
            n = min(n, idx.size - 1)  # keep something to test on
        n = min(n, idx.size)
        train[rng.permutation(idx)[:n]] = True
    train = train.reshape(labels.shape)
    test = (labels > 0) & ~train
    if within is not None:
        test &= ~np.asarray(within, dtype=bool)
    return train, test


def block_split(
    labels: np.ndarray,
    *,
    block_size: int = 16,
    test_fraction: float = 0.5,
    gap: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Spatially disjoint split: square blocks go wholly to training or to testing.

    Random splits let a test pixel's patch overlap a training pixel's patch,
    which inflates accuracy; blocks measure that leakage.

    Parameters
    ----------
    labels
        Integer label array, ``0`` = unlabelled.
    block_size
        Side of the square blocks in pixels.
    test_fraction
        Share of the blocks (that hold labelled pixels) assigned to testing.
    gap
        Test pixels closer than ``gap`` pixels (Chebyshev distance) to a
        training block are dropped, so no test patch of radius ``gap`` sees
        training pixels.  Use the model's patch radius.
    seed
        Random seed.

    Returns
    -------
    train, test : numpy.ndarray of bool
        Masks of labelled pixels in training blocks and in test blocks.
        Every class with pixels in two or more blocks has pixels on both sides.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise InvalidInputError("block_split needs a 2-D label array")
    values = _class_values(labels)
    h, w = labels.shape
    by, bx = np.divmod(np.arange(h), block_size)[0], np.divmod(np.arange(w), block_size)[0]
    block_id = by[:, None] * (bx.max() + 1) + bx[None, :]
    ids = np.unique(block_id[labels > 0])
    rng = np.random.default_rng(seed)
    order = rng.permutation(ids)
    n_test = int(round(test_fraction * ids.size))
    test_blocks = set(order[:n_test].tolist())
    # per block, per class pixel counts, to repair classes that ended up on one side only
    counts = {int(b): np.bincount(labels[block_id == b], minlength=int(values.max()) + 1) for b in ids}
    for value in values:
        holders = [b for b in ids if counts[int(b)][value] > 0]
        if len(holders) < 2:
            continue
        train_has = any(b not in test_blocks for b in holders)
        test_has = any(b in test_blocks for b in holders)
        if not train_has:
            test_blocks.discard(max(holders, key=lambda b: counts[int(b)][value]))
        elif not test_has:
            test_blocks.add(max(holders, key=lambda b: counts[int(b)][value]))
    in_test_block = np.isin(block_id, list(test_blocks))
    train = (labels > 0) & ~in_test_block
    test = (labels > 0) & in_test_block
    if gap > 0:
        from scipy.ndimage import binary_dilation

        near_train = binary_dilation(~in_test_block, structure=np.ones((2 * gap + 1, 2 * gap + 1), bool))
        test &= ~near_train
    return train, test


def split_counts(labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict[int, tuple[int, int]]:
    """Per class value: (training pixels, test pixels)."""
    labels = np.asarray(labels)
    return {int(v): (int(np.sum(train & (labels == v))), int(np.sum(test & (labels == v)))) for v in _class_values(labels)}
