"""Lazy classification of xarray/dask scenes, on one machine or a dask cluster.

:func:`classify_dataarray` and :func:`embed_dataarray` build a dask graph with
:func:`dask.array.map_overlap` (depth = ``model.radius`` on ``y`` and ``x``)
and compute nothing until asked.  The result equals whole-scene inference
(:func:`hsigeo.inference.core.predict_proba_array`) pixel for pixel:

* dask's ``boundary="reflect"`` repeats the edge pixel (numpy's
  ``"symmetric"``) while whole-scene inference pads with numpy's
  ``mode="reflect"``, so it is not used.  Blocks are overlapped with
  ``boundary="none"`` and each block at the scene edge fills its missing halo
  by the same reflection as whole-scene padding
  (:func:`~hsigeo.sampling.windows.reflect_indices`); the block always holds the
  pixels that reflection needs, because it extends ``radius`` pixels inward.
* validity and normalisation are the shared ones of :mod:`hsigeo.inference.core`.

The model reaches dask workers as one graph key (a :class:`ModelRef`): in the
threaded scheduler the in-memory model itself; across processes its model
file bytes (safetensors + JSON, :mod:`hsigeo.model.modelfile`), loaded once
per worker process and cached.

CPU threads: every task runs torch with torch's own thread pool, so dask
threads x torch threads should not exceed the cores; prefer one dask thread
per worker process (``LocalCluster(threads_per_worker=1)``), or call
``torch.set_num_threads(1)`` when using the threaded scheduler.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.device import resolve_device
from hsigeo.errors import InvalidInputError
from hsigeo.inference.core import (
    class_dtype,
    class_values,
    default_batch_size,
    default_tile_size,
    model_digest,
    run_model,
    to_class_map,
)
from hsigeo.inference.model_contract import InferenceModel, require_model
from hsigeo.inference.scene import warn_about_dataarray
from hsigeo.sampling.windows import good_band_mask, reflect_indices, valid_pixels

__all__ = ["classify_dataarray", "embed_dataarray", "ModelRef"]

# (digest -> model) in each worker process, so a model is loaded once per process
_MODEL_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


class ModelRef:
    """A picklable handle on a model for dask tasks.

    In the process that made it, :meth:`get` returns the model object itself.
    Pickled (dask's transport to worker processes), it carries the model file
    bytes written by :func:`hsigeo.model.modelfile.save_model` (no pickled
    torch objects) and the model's digest; :meth:`get` then loads the model
    once per process.

    Parameters
    ----------
    model
        The model to ship.
    """

    def __init__(self, model: InferenceModel) -> None:
        self._model: Any = model
        self.digest = model_digest(model)
        self._payload: bytes | None = None

    def __dask_tokenize__(self) -> tuple[str, str]:
        # without this dask would pickle the whole model just to hash it
        return ("hsigeo-model", self.digest)

    def __getstate__(self) -> dict[str, Any]:
        if self._payload is None:
            self._payload = _model_to_bytes(self._model)
        return {"digest": self.digest, "payload": self._payload}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.digest = state["digest"]
        self._payload = state["payload"]
        self._model = None

    def get(self) -> Any:
        """The model (loaded from the shipped bytes on first use in a worker process)."""
        if self._model is None:
            with _CACHE_LOCK:
                model = _MODEL_CACHE.get(self.digest)
                if model is None:
                    model = _MODEL_CACHE[self.digest] = _model_from_bytes(self._payload or b"")
            self._model = model
        return self._model


def _model_to_bytes(model: Any) -> bytes:
    """The model file (safetensors + JSON zip) of ``model``, as bytes.

    Shipping to other processes goes through the model file, so it needs an
    :class:`~hsigeo.model.classifier.HsigeoModel`, not just any :class:`InferenceModel`.
    """
    from hsigeo.model.modelfile import model_bytes

    return model_bytes(model)


def _model_from_bytes(payload: bytes) -> Any:
    from hsigeo.model.modelfile import load_model_bytes

    # the bounded, no-pickle loader of model files, straight from the shipped bytes
    return load_model_bytes(payload, source="the model shipped to this dask worker")


# --------------------------------------------------------------------------- #
# Block function
# --------------------------------------------------------------------------- #
def _block_infer(block: np.ndarray, *, model_ref: ModelRef, radius: int, offsets: tuple[tuple[int, ...], ...],
                 shape: tuple[int, int], nodata: Any, good_bands: np.ndarray | None, device: str,
                 batch_size: int | None, naive: bool, embed: bool, resampler: Any = None,
                 block_info: dict | None = None) -> np.ndarray:
    """Model output ``(C or E, h, w)`` for one chunk, from the chunk plus its (inner) halo.

    ``offsets[axis]`` are the chunk start positions along y and x (with the
    total length appended); with ``boundary="none"`` the block holds scene rows
    ``max(y0 - r, 0) .. min(y1 + r, H)``, and the halo outside the scene is
    gathered by numpy-style reflection.
    """
    model = model_ref.get()
    device = resolve_device(device)  # "auto" resolves on the worker: a cluster's machines differ
    iy, ix = block_info[0]["chunk-location"][1:]  # type: ignore[index]
    (H, W), r = shape, radius
    y0, y1 = offsets[0][iy], offsets[0][iy + 1]
    x0, x1 = offsets[1][ix], offsets[1][ix + 1]
    rows = reflect_indices(y0 - r, y1 + r, H) - max(y0 - r, 0)
    cols = reflect_indices(x0 - r, x1 + r, W) - max(x0 - r, 0)
    valid = valid_pixels(block, nodata=nodata, good_bands=good_bands)
    if resampler is not None:  # the scene's bands onto the model's, after validity (as the tiled engine)
        block = resampler.apply(block)
    tile = model.normalize(block, valid)
    tile = np.take(np.take(tile, rows, axis=1), cols, axis=2)
    valid = np.take(np.take(valid, rows, axis=0), cols, axis=1)[r:r + y1 - y0, r:r + x1 - x0]
    out = run_model(model, tile, device=device, batch_size=batch_size or default_batch_size(device),
                    naive=naive, embed=embed)
    out[:, ~valid] = np.nan
    return out


def _classes_block(probs: np.ndarray, *, values: np.ndarray, out_dtype: str) -> np.ndarray:
    return to_class_map(probs, values, dtype=out_dtype)[0]


def _confidence_block(probs: np.ndarray) -> np.ndarray:
    return to_class_map(probs, np.arange(1, probs.shape[0] + 1))[1]


# --------------------------------------------------------------------------- #
# Graph construction
# --------------------------------------------------------------------------- #
def _spatial_chunks(chunks: tuple[int, ...], radius: int) -> tuple[int, ...]:
    """Merge chunks smaller than the halo into their neighbour (map_overlap needs chunk >= depth)."""
    out: list[int] = []
    for c in chunks:
        if out and (c < radius or out[-1] < radius):
            out[-1] += c
        else:
            out.append(c)
    return tuple(out)


def _lazy_model_output(da: xr.DataArray, model: InferenceModel, *, n_out: int, embed: bool, batch_size: int | None,
                       device: str, naive: bool, resample: bool = False) -> Any:
    """The dask array ``(n_out, y, x)`` of probabilities or embeddings (NaN at invalid pixels)."""
    import dask
    import dask.array as dsa

    if set(da.dims) != {"band", "y", "x"}:
        raise InvalidInputError(f"expected a scene with dims ('band', 'y', 'x'); got {da.dims}")
    da = da.transpose("band", "y", "x")
    resampler = _resampler(da, model, resample)
    r = int(model.radius)
    data = da.data
    if not isinstance(data, dsa.Array):
        size = default_tile_size("cuda" if str(device).startswith("cuda") else "cpu")
        data = dsa.from_array(np.asarray(data), chunks=(-1, size, size))
    data = data.rechunk((-1, _spatial_chunks(data.chunks[1], r), _spatial_chunks(data.chunks[2], r)))
    H, W = int(data.shape[1]), int(data.shape[2])
    offsets = tuple(tuple(int(v) for v in np.cumsum((0, *c))) for c in data.chunks[1:])
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
    good_bands = good_band_mask(bad, int(data.shape[0]))
    if not embed:  # the tiled engine's check: a scene on another value scale than the training data
        warn_about_dataarray(da, model, nodata=nodata, good_bands=good_bands)
    ref = dask.delayed(ModelRef(model), pure=True)  # one graph key, shipped once per worker
    return dsa.map_overlap(
        _block_infer, data, depth={0: 0, 1: r, 2: r}, boundary="none", trim=False,
        chunks=((n_out,), data.chunks[1], data.chunks[2]), dtype=np.float32,
        meta=np.empty((0, 0, 0), dtype=np.float32),
        model_ref=ref, radius=r, offsets=offsets, shape=(H, W), nodata=nodata,
        good_bands=good_bands, device=device,
        batch_size=batch_size, naive=naive, embed=embed, resampler=resampler,
    )


def _resampler(da: xr.DataArray, model: InferenceModel, resample: bool) -> Any:
    """``None`` when the scene's bands fit the model; with ``resample``, the plan onto the model's bands."""
    from hsigeo.errors import BandMismatchError

    try:
        model.check_bands(da)
        return None
    except BandMismatchError:
        if not resample:
            raise
    from hsigeo.io.resample import plan_resampling

    wl = da.coords["wavelength"].values if "wavelength" in da.coords else None
    bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
    return plan_resampling(wl, model.wavelengths, bad_band=bad, source=str(da.attrs.get("source", "the scene")))


def _region(da: xr.DataArray, extent: Any, mask: Any) -> Any:
    """The :class:`~hsigeo.inference.region.Region` of ``extent``/``mask`` on the scene's grid (as the tiled engine)."""
    from hsigeo.inference.region import plan_region

    return plan_region(int(da.sizes["x"]), int(da.sizes["y"]), da.rio.transform(), da.rio.crs, extent=extent,
                       mask=mask, source=str(da.attrs.get("source", "the scene")))


def _in_region(out: Any, region: Any) -> Any:
    """The region's window of a lazy ``(n, y, x)`` output; NaN (nodata) outside the mask polygons.

    Only the chunks the window touches are computed.  Cropping the whole-scene output keeps
    the real neighbours in every halo, exactly as the tiled engine reads them.
    """
    import dataclasses

    out = out[:, region.row_off:region.row_off + region.height, region.col_off:region.col_off + region.width]
    if region.geometries is None and region.quality is None:
        return out
    shipped = dataclasses.replace(region, _tree=None)  # the spatial index is rebuilt where the task runs
    return out.map_blocks(_mask_block, region=shipped, dtype=out.dtype, meta=np.empty((0, 0, 0), dtype=out.dtype))


def _mask_block(block: np.ndarray, *, region: Any, block_info: dict | None = None) -> np.ndarray:
    (_, _), (r0, r1), (c0, c1) = block_info[0]["array-location"]  # type: ignore[index]
    inside = region.window_mask(r0, c0, r1 - r0, c1 - c0)
    out = block.copy()
    out[:, ~inside] = np.nan
    return out


def _georef(out: xr.DataArray, like: xr.DataArray, *, nodata: Any) -> xr.DataArray:
    """Copy CRS and transform from ``like`` and set nodata."""
    import rioxarray  # noqa: F401 - registers .rio

    if like.rio.crs is not None:
        out = out.rio.write_crs(like.rio.crs)
    out = out.rio.write_transform(like.rio.transform())
    return out.rio.write_nodata(nodata, encoded=False)


def _spatial_coords(da: xr.DataArray) -> dict[str, Any]:
    return {k: v for k, v in da.coords.items() if set(v.dims) <= {"y", "x"} and k != "spatial_ref"}


def classify_dataarray(
    da: xr.DataArray,
    model: InferenceModel,
    *,
    probabilities: bool = False,
    confidence: bool = False,
    batch_size: int | None = None,
    device: str = "auto",
    naive: bool = False,
    extent: Any = None,
    mask: Any = None,
    resample: bool = False,
) -> xr.DataArray | xr.Dataset:
    """Classify a scene lazily with dask.

    Parameters
    ----------
    da
        Scene ``("band", "y", "x")`` (numpy- or dask-backed; numpy input is
        chunked like the tiled engine's windows, 256 x 256 on CPU).  The band
        axis becomes one chunk; chunks smaller than ``model.radius`` are merged
        into their neighbour.
    model
        A trained :class:`~hsigeo.model.classifier.HsigeoModel`.
    probabilities
        Also return per-class probabilities.
    confidence
        Also return the winning class's probability.
    batch_size
        Pixels per forward pass (``None``: 2048 on CPU, 65536 on CUDA).
    device
        Torch device for the tasks (``"auto"``, the default, resolves on each worker; ``"cpu"``, ``"cuda"``).
    naive
        Use the model's one-patch-per-pixel path.
    extent
        Classify only this rectangle: ``"xmin,ymin,xmax,ymax[,CRS]"`` or an
        :class:`~hsigeo.inference.region.Extent` (map units; default CRS the scene's), as
        ``hsigeo classify --extent``.  The outputs cover it, on the scene's pixel grid.
    mask
        Polygons (a vector file): pixels whose centre is outside them are nodata, the outputs
        cover their bounding box (within ``extent``), as ``hsigeo classify --mask``.
    resample
        When the scene's bands differ from the model's and both know their wavelengths,
        interpolate the scene onto the model's bands, block by block (``--resample``).

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Without extras: a lazy DataArray ``("y", "x")`` of class values
        (``0`` = nodata) named ``"classes"``, with the scene's CRS, transform
        and spatial coordinates, ``attrs["class_names"]`` ``{value: name}``
        and ``attrs["class_colours"]`` ``{value: "#rrggbb"}`` (the form
        :func:`hsigeo.io.writers.write_classification` reads).  With
        ``probabilities`` or ``confidence``: a Dataset with ``classes`` plus
        ``probabilities`` ``("class", "y", "x")`` (coords ``class`` = value,
        ``class_name``) and/or ``confidence`` ``("y", "x")``, float32 with NaN
        at nodata.  Variables computed together share one model pass.
    """
    model = require_model(model)
    entries = model.classes
    values = class_values(model)
    region = _region(da, extent, mask) if extent is not None or mask is not None else None
    probs = _lazy_model_output(da, model, n_out=len(entries), embed=False, batch_size=batch_size,
                               device=device, naive=naive, resample=resample)
    if region is not None and not region.whole_scene:
        probs = _in_region(probs, region)
        da = da.isel(y=slice(region.row_off, region.row_off + region.height),
                     x=slice(region.col_off, region.col_off + region.width)).rio.write_transform(region.transform)
    coords = _spatial_coords(da)
    classes = xr.DataArray(
        probs.map_blocks(_classes_block, values=values, out_dtype=str(class_dtype(model)), dtype=class_dtype(model), drop_axis=0,
                         meta=np.empty((0, 0), dtype=class_dtype(model))),
        dims=("y", "x"), coords=coords, name="classes",
    )
    classes = _georef(classes, da, nodata=0)
    classes.attrs.update({
        "class_names": {e.value: e.name for e in entries},
        "class_colours": {e.value: e.colour_hex for e in entries},
    })
    if not (probabilities or confidence):
        return classes
    out = {"classes": classes}
    if confidence:
        conf = xr.DataArray(
            probs.map_blocks(_confidence_block, dtype=np.float32, drop_axis=0,
                             meta=np.empty((0, 0), dtype=np.float32)),
            dims=("y", "x"), coords=coords, name="confidence",
        )
        out["confidence"] = _georef(conf, da, nodata=np.nan)
    if probabilities:
        p = xr.DataArray(probs, dims=("class", "y", "x"), name="probabilities",
                         coords={**coords, "class": values, "class_name": ("class", [e.name for e in entries])})
        out["probabilities"] = _georef(p, da, nodata=np.nan)
    return xr.Dataset(out)


def embed_dataarray(
    da: xr.DataArray,
    model: InferenceModel,
    *,
    batch_size: int | None = None,
    device: str = "auto",
    naive: bool = False,
) -> xr.DataArray:
    """Per-pixel embeddings of a scene, lazily with dask.

    Parameters
    ----------
    da, model, batch_size, device, naive
        As in :func:`classify_dataarray`.

    Returns
    -------
    xarray.DataArray
        Lazy ``float32`` ``("embedding", "y", "x")``, NaN at nodata pixels,
        georeferenced like ``da``.
    """
    model = require_model(model)
    n_embed = _embedding_size(model)
    emb = _lazy_model_output(da, model, n_out=n_embed, embed=True, batch_size=batch_size, device=device,
                             naive=naive)
    out = xr.DataArray(emb, dims=("embedding", "y", "x"), name="embedding",
                       coords={**_spatial_coords(da), "embedding": np.arange(n_embed)})
    return _georef(out, da, nodata=np.nan)


def _embedding_size(model: InferenceModel) -> int:
    """Embedding length: the model's attribute when it has one, else from a one-pixel probe."""
    for name in ("embed_dim", "embedding_dim", "embedding_size"):
        value = getattr(model, name, None)
        if isinstance(value, (int, np.integer)):
            return int(value)
    r = int(model.radius)
    probe = model.normalize(np.zeros((int(model.n_bands), 2 * r + 1, 2 * r + 1), dtype=np.float32))
    return int(run_model(model, probe, embed=True).shape[0])

