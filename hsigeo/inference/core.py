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

:func:`predict_array` is that whole-scene reference, for scenes that fit in
memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hsigeo.device import autocast, resolve_device
from hsigeo.errors import InvalidInputError
from hsigeo.sampling.windows import good_band_mask, valid_pixels

__all__ = [
    "default_batch_size",
    "default_tile_size",
    "run_model",
    "class_values",
    "class_dtype",
    "to_class_map",
    "predict_array",
    "classify_array",
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


def run_model(model: Any, tile: np.ndarray, *, device: str = "cpu", batch_size: int | None = None,
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
def class_values(model: Any) -> np.ndarray:
    """Label value of each class, in the model's class (probability band) order."""
    return np.asarray([int(c.value) for c in model.classes], dtype=np.int64)


def class_dtype(model: Any) -> np.dtype:
    """Smallest unsigned type that holds every class value (and nodata 0)."""
    return np.dtype(np.uint8 if int(class_values(model).max(initial=0)) <= 255 else np.uint16)


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
def predict_array(cube: np.ndarray, model: Any, *, nodata: float | int | None = None,
                  bad_band: Sequence[bool] | np.ndarray | None = None, device: str = "auto",
                  batch_size: int | None = None, naive: bool = False, embed: bool = False) -> np.ndarray:
    """Whole-scene in-memory inference: the reference the tiled and dask engines reproduce.

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
    device, batch_size, naive, embed
        As in :func:`run_model`.

    Returns
    -------
    numpy.ndarray
        ``float32 (C, H, W)`` probabilities (or ``(E, H, W)`` embeddings),
        NaN at invalid pixels.
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise InvalidInputError(f"predict_array needs a (band, y, x) cube; got shape {cube.shape}")
    r = int(model.radius)
    valid = valid_pixels(cube, nodata=nodata, good_bands=good_band_mask(bad_band, cube.shape[0]))
    norm = model.normalize(cube, valid)
    tile = np.pad(norm, ((0, 0), (r, r), (r, r)), mode="reflect") if r else norm
    out = run_model(model, tile, device=resolve_device(device), batch_size=batch_size, naive=naive, embed=embed)
    out[:, ~valid] = np.nan
    return out


def classify_array(cube: np.ndarray, model: Any, **kwargs: Any) -> np.ndarray:
    """Class map ``(H, W)`` of an in-memory scene (0 = nodata); ``kwargs`` as :func:`predict_array`."""
    probs = predict_array(cube, model, **kwargs)
    classes, _ = to_class_map(probs, class_values(model), dtype=class_dtype(model))
    return classes


# --------------------------------------------------------------------------- #
# Identity
# --------------------------------------------------------------------------- #
def model_digest(model: Any) -> str:
    """A short hash identifying the model's weights, normalisation and classes.

    Uses ``model.digest`` / ``model.fingerprint`` when the model provides one,
    else hashes the torch state, the normalisation statistics, the class table
    and the text embeddings, so a resumed run never mixes two models' results.
    """
    for name in ("digest", "fingerprint", "model_hash"):
        value = getattr(model, name, None)
        if callable(value):
            value = value()
        if isinstance(value, str) and value:
            return value
    import torch

    h = hashlib.sha256()
    h.update(json.dumps([(c.value, c.name, list(c.colour)) for c in model.classes]).encode())
    h.update(str(int(model.radius)).encode())
    module = None
    for name in ("module", "net", "backbone", "torch_module"):
        candidate = getattr(model, name, None)
        if isinstance(candidate, torch.nn.Module):
            module = candidate
            break
    if module is None and isinstance(model, torch.nn.Module):
        module = model
    if module is not None:
        for key, tensor in sorted(module.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for name in ("mean", "std", "band_mean", "band_std", "text_embeddings", "class_embeddings"):
        value = getattr(model, name, None)
        if value is not None:
            arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            if arr.dtype != object:
                h.update(name.encode())
                h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size and modification time of a file (what 'the same scene' means for resume)."""
    st = os.stat(path)
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
