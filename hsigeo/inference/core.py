"""Pieces shared by the tiled (on-disk) and the distributed (dask) inference engines.

Both engines cut a scene into blocks, give each block a halo of
``model.radius`` pixels and hand it to :meth:`HsigeoModel.predict_tile`.  For
the stitched result to equal whole-scene inference pixel for pixel, every
engine must

* decide pixel validity the same way (:func:`hsigeo.sampling.windows.valid_pixels`),
* normalise before padding (normalisation is per pixel, so the order does not
  change values, but invalid pixels are zeroed first),
* fill halo pixels that lie outside the scene exactly as ``numpy.pad(...,
  mode="reflect")`` of the *whole* scene would (:func:`hsigeo.sampling.windows.reflect_indices`).

:func:`predict_proba_array` (with :func:`classify_array` and :func:`embed_array`)
is that whole-scene reference, for scenes that fit in memory.  Every function here takes
any :class:`~hsigeo.inference.model_contract.InferenceModel`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hsigeo.device import autocast, resolve_device
from hsigeo.errors import InvalidInputError
from hsigeo.inference.model_contract import InferenceModel, require_model
from hsigeo.inference.products import TileResult
from hsigeo.io.writers import classification_dtype
from hsigeo.sampling.windows import good_band_mask, valid_pixels

__all__ = [
    "default_batch_size",
    "default_tile_size",
    "run_model",
    "class_values",
    "class_dtype",
    "scale_ratio",
    "to_class_map",
    "classify_tile",
    "add_counts",
    "predict_proba_array",
    "classify_array",
    "embed_array",
    "model_digest",
]


# --------------------------------------------------------------------------- #
# Devices
# --------------------------------------------------------------------------- #
def default_batch_size(device: str) -> int:
    """Pixels per forward pass.

    On CPU a small batch is much faster: the model's intermediates then stay
    in cache and in reused heap memory (at 16384 pixels every pass maps fresh
    pages; measured 2x slower).  A GPU needs large batches to be busy.
    """
    return 65536 if device.startswith("cuda") else 2048


def default_tile_size(device: str) -> int:
    """Window size (pixels, before the halo).

    The model runs a tile in strips of ``batch_size // width`` rows, each
    recomputing a ``2 * radius`` halo, so tiles much wider than the batch
    allows waste work; 256 on CPU (with 2048-pixel batches) and 1024 on CUDA
    keep that overhead small and the memory per tile modest.
    """
    return 1024 if device.startswith("cuda") else 256


def run_model(model: InferenceModel, tile: np.ndarray, *, device: str = "cpu", batch_size: int | None = None,
              naive: bool = False, embed: bool = False) -> np.ndarray:
    """Run ``model.predict_tile`` (or ``embed_tile``) on one normalised, haloed tile.

    Parameters
    ----------
    model
        An :class:`~hsigeo.model.classifier.HsigeoModel` (or anything with its contract).
    tile
        ``float32 (B, h + 2r, w + 2r)``, already normalised.
    device
        A resolved device string (see :func:`resolve_device`).
    batch_size
        Patches per forward pass; ``None`` leaves the model's default.
    naive
        Use the one-patch-per-pixel path instead of the dense shared-work path.
    embed
        Return embeddings ``(E, h, w)`` instead of probabilities ``(C, h, w)``.

    Returns
    -------
    numpy.ndarray
        ``float32`` array.
    """
    import torch

    kwargs: dict[str, Any] = {"device": device, "naive": naive}
    if batch_size is not None:
        kwargs["batch_size"] = int(batch_size)
    fn = model.embed_tile if embed else model.predict_tile
    with torch.inference_mode(), autocast(device):
        out = fn(np.ascontiguousarray(tile, dtype=np.float32), **kwargs)
    if isinstance(out, torch.Tensor):
        out = out.detach().float().cpu().numpy()
    return np.asarray(out, dtype=np.float32)


# --------------------------------------------------------------------------- #
# Classes
# --------------------------------------------------------------------------- #
def class_values(model: InferenceModel) -> np.ndarray:
    """Label value of each class, in the model's class (probability band) order."""
    return np.asarray([int(c.value) for c in model.classes], dtype=np.int64)


def class_dtype(model: InferenceModel) -> np.dtype:
    """Smallest unsigned type that holds every class value (and nodata 0).

    The rule of the classification writers (:func:`hsigeo.io.writers.classification_dtype`),
    which refuses class values a raster cannot hold before any work is done.
    """
    return np.dtype(classification_dtype(model.classes))


def scale_ratio(block: np.ndarray, valid: np.ndarray, mean: np.ndarray) -> float | None:
    """How many times larger a scene's values are than the model's training values.

    The median over bands of the scene sample's band means, divided by the
    median of the model's band means (absolute values).  About 1 for a scene
    like the training scene; about 1e-4 for a 0..1 reflectance scene against
    a model trained on reflectance x 10000.

    Parameters
    ----------
    block
        A raw sample of the scene, ``(B, h, w)``.
    valid
        Its valid pixels ``(h, w)``.
    mean
        The model's per-band normalisation mean ``(B,)``.

    Returns
    -------
    float or None
        The ratio, or ``None`` when the sample has no valid pixel or the model's means are 0.
    """
    if not valid.any():
        return None
    pixels = np.asarray(block)[:, valid].astype(np.float64)
    scene = float(np.median(np.abs(np.nanmean(pixels, axis=1))))
    model = float(np.median(np.abs(np.asarray(mean, dtype=np.float64))))
    if not (math.isfinite(scene) and math.isfinite(model)) or model == 0.0:
        return None
    return scene / model


def to_class_map(probs: np.ndarray, values: np.ndarray, valid: np.ndarray | None = None, *,
                 dtype: np.dtype | str = np.uint16) -> tuple[np.ndarray, np.ndarray]:
    """Class values and confidence (max probability) from ``(C, h, w)`` probabilities.

    Invalid pixels (``~valid``, or any NaN probability) get class ``0`` and
    confidence NaN.
    """
    finite = np.isfinite(probs).all(axis=0)
    ok = finite if valid is None else (finite & valid)
    safe = np.where(finite[None], probs, -np.inf) if not finite.all() else probs
    best = np.argmax(safe, axis=0)
    classes = np.where(ok, values[best], 0).astype(dtype, copy=False)
    conf = np.take_along_axis(safe, best[None], axis=0)[0].astype(np.float32, copy=False)
    conf = np.where(ok, conf, np.float32(np.nan))
    return classes, conf


# --------------------------------------------------------------------------- #
# Whole-scene reference
# --------------------------------------------------------------------------- #
def _whole_scene(cube: np.ndarray, model: InferenceModel, *, nodata: float | int | None,
                 bad_band: Sequence[bool] | np.ndarray | None, device: str, batch_size: int | None, naive: bool,
                 embed: bool) -> np.ndarray:
    """The one whole-scene pass: normalise, reflect-pad by ``model.radius``, run as one tile."""
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise InvalidInputError(f"whole-scene inference needs a (band, y, x) cube; got shape {cube.shape}")
    model = require_model(model)
    r = int(model.radius)
    valid = valid_pixels(cube, nodata=nodata, good_bands=good_band_mask(bad_band, cube.shape[0]))
    norm = model.normalize(cube, valid)
    tile = np.pad(norm, ((0, 0), (r, r), (r, r)), mode="reflect") if r else norm
    out = run_model(model, tile, device=resolve_device(device), batch_size=batch_size, naive=naive, embed=embed)
    out[:, ~valid] = np.nan
    return out


def predict_proba_array(cube: np.ndarray, model: InferenceModel, *, nodata: float | int | None = None,
                        bad_band: Sequence[bool] | np.ndarray | None = None, device: str = "auto",
                        batch_size: int | None = None, naive: bool = False) -> np.ndarray:
    """Class probabilities of an in-memory scene: the reference the tiled and dask engines reproduce.

    The scene is normalised, reflect-padded by ``model.radius`` (numpy
    ``mode="reflect"``) and run as a single tile.

    Parameters
    ----------
    cube
        Raw scene ``(B, H, W)`` (any numeric type).
    model
        The model.
    nodata, bad_band
        How invalid pixels are recognised (see :func:`hsigeo.sampling.windows.valid_pixels`).
    device, batch_size, naive
        As in :func:`run_model`.

    Returns
    -------
    numpy.ndarray
        ``float32 (C, H, W)`` probabilities summing to 1 over classes, NaN at invalid pixels.
    """
    return _whole_scene(cube, model, nodata=nodata, bad_band=bad_band, device=device, batch_size=batch_size,
                        naive=naive, embed=False)


def embed_array(cube: np.ndarray, model: InferenceModel, *, nodata: float | int | None = None,
                bad_band: Sequence[bool] | np.ndarray | None = None, device: str = "auto",
                batch_size: int | None = None, naive: bool = False) -> np.ndarray:
    """Unit pixel embeddings ``float32 (E, H, W)`` of an in-memory scene, NaN at invalid pixels.

    Arguments as :func:`predict_proba_array`.
    """
    return _whole_scene(cube, model, nodata=nodata, bad_band=bad_band, device=device, batch_size=batch_size,
                        naive=naive, embed=True)


def classify_array(cube: np.ndarray, model: InferenceModel, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class map and confidence of an in-memory scene (``kwargs`` as :func:`predict_proba_array`).

    Returns
    -------
    classes : numpy.ndarray
        ``(H, W)`` class values in :func:`class_dtype`, ``0`` at invalid pixels.
    confidence : numpy.ndarray
        ``float32 (H, W)`` probability of the winning class, NaN at invalid pixels.
    """
    probs = predict_proba_array(cube, model, **kwargs)
    return to_class_map(probs, class_values(model), dtype=class_dtype(model))


# --------------------------------------------------------------------------- #
# Identity
# --------------------------------------------------------------------------- #
def model_digest(model: InferenceModel) -> str:
    """A short hash identifying the model's weights, normalisation and classes (``model.digest()``).

    A resumed run compares it with the one recorded in its outputs, so two models' results
    are never mixed.
    """
    return str(require_model(model).digest())


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size and modification time of a file (what 'the same scene' means for resume)."""
    st = os.stat(path)
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def classify_tile(model: Any, tile: np.ndarray | None, valid: np.ndarray, values: np.ndarray, dtype: np.dtype, *,
                  window: tuple[int, int, int, int], device: str, batch_size: int | None, naive: bool,
                  keep_probabilities: bool) -> TileResult:
    """The one model step of every engine (in-process pipeline and cluster tasks), so they agree pixel for pixel.

    ``tile`` is ``None`` for a window outside the mask (nothing read, nothing to run). Returns the
    window's :class:`~hsigeo.inference.products.TileResult`: classes, confidence, class counts and,
    when ``keep_probabilities``, the probabilities (NaN at nodata).
    """
    shape = tuple(window[2:])
    if tile is None:
        probs = np.zeros((len(values), *shape), dtype=np.float32)
    else:
        probs = run_model(model, tile, device=device, batch_size=batch_size, naive=naive)
    classes, conf = to_class_map(probs, values, valid, dtype=dtype)
    found, n = np.unique(classes[valid], return_counts=True)
    counts = dict(zip(found.tolist(), n.tolist()))
    if keep_probabilities:
        probs[:, ~valid] = np.nan
    return TileResult(tuple(int(v) for v in window), classes, conf, probs if keep_probabilities else None, counts)


def add_counts(counts: dict[int, int], more: dict[int, int]) -> None:
    """Add the class counts ``more`` into ``counts``."""
    for v, k in more.items():
        counts[v] = counts.get(v, 0) + k
