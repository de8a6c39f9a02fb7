"""The interface every benchmarked classifier implements, and helpers shared by the baselines.

A *method* is a small object with ``fit(cube, labels, train_mask, *, seed,
prompts)`` and ``predict(cube) -> class map``.  The benchmark gives every
method the same cube, labels and masks, so methods differ only in what they
do with them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from hsigeo.errors import InvalidInputError, LabelError

__all__ = ["Method", "as_cube", "training_pixels", "class_index"]


@runtime_checkable
class Method(Protocol):
    """A classifier the benchmark can run.

    Attributes
    ----------
    name
        Short identifier used in tables and file names (``svm``, ``hybridsn``...).
    n_trainable
        Number of trainable (fitted) parameters after :meth:`fit`; what counts
        as a parameter for non-neural methods is stated in ``parameter_note``.
    parameter_note
        One line saying what ``n_trainable`` counts.
    """

    name: str
    parameter_note: str

    @property
    def n_trainable(self) -> int: ...

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "Method":
        """Fit on the labelled pixels selected by ``train_mask``.

        Parameters
        ----------
        cube
            ``(band, y, x)`` array or DataArray of the whole scene.
        labels
            ``(y, x)`` integer labels, ``0`` = unlabelled; values are the
            dataset's label values (not necessarily ``1..C``).
        train_mask
            Boolean ``(y, x)`` mask of the training pixels; a method must not
            look at labels outside it.
        seed
            Seed for every random choice the method makes.
        prompts
            The dataset's :class:`~hsigeo.text.prompts.PromptSet` (ignored by the
            baselines).
        """
        ...

    def predict(self, cube: Any) -> np.ndarray:
        """Class map ``(y, x)`` int32 of label values for every pixel of ``cube``."""
        ...


def as_cube(cube: Any) -> np.ndarray:
    """``(band, y, x)`` float32 numpy array from an array or DataArray.

    Non-finite values become 0 so that scikit-learn and torch never see NaN.
    """
    arr = np.asarray(getattr(cube, "values", cube), dtype=np.float32)
    if arr.ndim != 3:
        raise InvalidInputError(f"expected a (band, y, x) cube, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    return arr


def training_pixels(cube: np.ndarray, labels: np.ndarray, train_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectra ``(n, band)`` and label values ``(n,)`` of the labelled training pixels.

    Raises
    ------
    LabelError
        When the mask selects no labelled pixel.
    """
    labels = np.asarray(labels)
    mask = np.asarray(train_mask, dtype=bool) & (labels > 0)
    if not mask.any():
        raise LabelError("the training mask selects no labelled pixel; use a larger training fraction.")
    return cube[:, mask].T, labels[mask].astype(np.int64)


def class_index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted class values and each sample's index into them (for 0..C-1 targets)."""
    classes, idx = np.unique(values, return_inverse=True)
    return classes, idx.astype(np.int64)
