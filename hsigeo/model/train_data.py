"""Data setup shared by every training method: the scene, its labels and the training pixels.

:func:`prepare_training` reads the scene (a DataArray keeps its wavelengths, nodata and band
flags), checks the labels against the prompts and draws the training pixels once; the network
trainer (:mod:`hsigeo.model.trainer`), the SVM and the method selection
(:mod:`hsigeo.model.selection`) all start from the :class:`TrainingData` it returns.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hsigeo.errors import InvalidInputError, InvalidTypeError, LabelError

if TYPE_CHECKING:
    from hsigeo.text.prompts import PromptSet

__all__ = ["TrainingData", "prepare_training", "scene_statistics", "scene_array"]


@dataclass
class TrainingData:
    """A scene, its labels and the training pixels, as every training method reads them.

    Attributes
    ----------
    prompt_set
        The classes (their order is the model's output order).
    arr, wavelengths, nodata, bad_band
        The scene's values ``(B, H, W)`` and band facts (see :func:`scene_array`).
    labels
        ``(H, W)`` int64 label values, ``0`` = unlabelled.
    valid
        ``(H, W)`` valid pixels (the inference engines' rule).
    pool
        ``(H, W)`` training pixels: labelled, valid, inside the mask, the stratified draw when asked.
    source
        The scene as given (a DataArray keeps its wavelengths, nodata and band flags for the
        base-model prior).
    fraction, count
        The stratified draw that made ``pool`` (``None``: every labelled pixel of the mask).
    seconds
        How long this data setup took (a training report's time includes it).
    """

    prompt_set: PromptSet
    arr: np.ndarray
    wavelengths: np.ndarray | None
    nodata: float | None
    bad_band: np.ndarray | None
    labels: np.ndarray
    valid: np.ndarray
    pool: np.ndarray
    source: Any = None
    fraction: float | None = None
    count: int | None = None
    seconds: float = 0.0

    @property
    def values(self) -> list[int]:
        """Class label values in output order."""
        return [c.value for c in self.prompt_set.classes]

    def class_indices(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Class index (prompt order) of each pixel of ``mask`` (default: ``pool``), in raster order."""
        cls_of = {v: i for i, v in enumerate(self.values)}
        labels = self.labels[self.pool if mask is None else mask]
        return np.array([cls_of[int(v)] for v in labels], dtype=np.int64)

    def class_counts(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Pixels of each class (prompt order) in ``mask`` (default: ``pool``); zero for a class without any."""
        return np.bincount(self.class_indices(mask), minlength=len(self.values))


def prepare_training(cube: Any, labels: Any, prompts: Any, *, train_mask: np.ndarray | None = None,
                     fraction: float | None = None, count: int | None = None, seed: int = 0) -> TrainingData:
    """Read the scene, check the labels against the prompts and draw the training pixels.

    Parameters
    ----------
    cube, labels, prompts
        The scene, its label values ``(y, x)`` (``0`` = unlabelled) and the classes (a
        :class:`~hsigeo.text.prompts.PromptSet` or a prompts YAML path), as
        :func:`hsigeo.model.training.train` takes them.
    train_mask
        Pixels that may train (default: every labelled valid pixel).
    fraction, count
        A stratified draw of this share / this many pixels per class from those pixels.
    seed
        Seeds the stratified draw.

    Returns
    -------
    TrainingData
        The scene's values and band facts, labels, valid pixels and training pixels.

    Raises
    ------
    LabelError
        When labels hold values that no prompt class has, do not fit the grid, or no training
        pixel is left.
    """
    t_start = time.perf_counter()
    prompt_set = _prompt_set(prompts)
    arr, wavelengths, nodata, bad_band = scene_array(cube)
    lab = np.asarray(labels.values if hasattr(labels, "values") else labels)
    if lab.shape != arr.shape[1:]:
        raise LabelError(f"labels {lab.shape} do not match the scene grid {arr.shape[1:]}.")
    lab = lab.astype(np.int64)

    values = [c.value for c in prompt_set.classes]
    present = set(np.unique(lab[lab > 0]).tolist())
    unknown = sorted(present - set(values))
    if unknown:
        raise LabelError(
            f"labels hold value(s) {unknown} that no class of the prompts has (values {values}); "
            "add those classes to the prompts file or relabel them 0."
        )
    valid = _valid_mask(arr, nodata, bad_band)
    pool = (lab > 0) & valid
    if train_mask is not None:
        pool &= np.asarray(train_mask, dtype=bool)
    if fraction is not None or count is not None:
        from hsigeo.sampling.splits import stratified_split

        pool, _ = stratified_split(np.where(pool, lab, 0), fraction=fraction, count=count, seed=seed)
    if not pool.any():
        raise LabelError("no labelled, valid training pixels (check the labels, the mask and nodata).")
    return TrainingData(prompt_set, arr, wavelengths, nodata, bad_band, lab, valid, pool, cube, fraction, count,
                        seconds=time.perf_counter() - t_start)


def scene_array(cube: Any) -> tuple[np.ndarray, np.ndarray | None, float | None, np.ndarray | None]:
    """A scene's values ``(B, H, W)``, wavelengths, nodata and bad-band flags (each ``None`` when unknown).

    A DataArray gives all four (transposed to ``(band, y, x)`` first); an array only its values.

    Raises
    ------
    InvalidInputError
        When the values are not three-dimensional.
    """
    wavelengths = nodata = bad_band = None
    if hasattr(cube, "dims") and hasattr(cube, "values"):
        if tuple(cube.dims) != ("band", "y", "x"):
            cube = cube.transpose("band", "y", "x")
        if "wavelength" in cube.coords:
            wl = np.asarray(cube.coords["wavelength"].values, dtype=np.float64)
            wavelengths = wl if np.isfinite(wl).any() else None
        if "bad_band" in cube.coords:
            bad_band = np.asarray(cube.coords["bad_band"].values, dtype=bool)
        try:
            nodata = cube.rio.nodata
        except Exception:  # no rioxarray accessor / no georeferencing
            nodata = cube.attrs.get("nodata")
        cube = cube.values
    arr = np.asarray(cube)
    if arr.ndim != 3:
        raise InvalidInputError(f"cube must be (band, y, x); got shape {arr.shape}")
    return arr, wavelengths, nodata, bad_band


def _valid_mask(arr: np.ndarray, nodata: float | None, bad_band: np.ndarray | None) -> np.ndarray:
    """Valid pixels by the rule inference uses (:func:`hsigeo.sampling.windows.valid_pixels`)."""
    from hsigeo.sampling.windows import good_band_mask, valid_pixels

    return valid_pixels(arr, nodata=nodata, good_bands=good_band_mask(bad_band, arr.shape[0]))


def scene_statistics(arr: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation over the valid pixels of a ``(B, H, W)`` scene.

    Bands with (near) zero spread get a standard deviation of 1, so they standardise to 0
    instead of blowing up.
    """
    pix = arr[:, valid].astype(np.float64)
    if pix.shape[1] == 0:
        raise LabelError("the scene has no valid pixels (all nodata or non-finite).")
    pix = np.where(np.isfinite(pix), pix, np.nan)
    mean = np.nanmean(pix, axis=1)
    std = np.nanstd(pix, axis=1)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-6 * (np.abs(mean) + 1.0)), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def _prompt_set(prompts: Any) -> PromptSet:
    """The prompts as a :class:`~hsigeo.text.prompts.PromptSet` (a set as given, a path read)."""
    from hsigeo.text.prompts import PromptSet, load_prompts

    if isinstance(prompts, PromptSet):
        return prompts
    if isinstance(prompts, (str, os.PathLike)):
        return load_prompts(prompts)
    raise InvalidTypeError(f"prompts must be a PromptSet or a path to a prompts YAML file, not {type(prompts).__name__}")
