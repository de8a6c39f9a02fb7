"""One scene as the engines see it: metadata without pixels, and windows read with their halo.

Shared by the in-process pipeline (:mod:`hsigeo.inference.tiled`) and the
cluster tasks (:mod:`hsigeo.inference.cluster`), so both read, validate,
normalise and (when asked) resample a window the same way.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.inference.core import scale_ratio
from hsigeo.inference.model_contract import InferenceModel
from hsigeo.inference.region import Region
from hsigeo.sampling.windows import good_band_mask, halo_indices, valid_pixels

__all__ = ["Scene", "open_scene", "warn_about_scene", "warn_about_dataarray", "warn_about_scale", "read_tile",
           "read_region_tile"]

# Rows normalised at a time: the float temporaries stay small next to the tile.
_NORMALIZE_ROWS = 64
# Side of the central sample read to compare the scene's value range with the model's.
_SAMPLE_PX = 128
# Scene/model value ratio beyond which the scene is almost surely on another scale.
_SCALE_WARN = 20.0


@dataclass(frozen=True)
class Scene:
    path: Path  # what the user gave
    data_path: Path  # what GDAL opens (the data file of an ENVI pair)
    width: int
    height: int
    count: int
    crs: Any
    transform: Any
    nodata: float | int | None
    good_bands: np.ndarray | None
    resampler: Any = None  # hsigeo.io.resample.BandResampler when the scene's bands are resampled


def open_scene(path: Path, model: InferenceModel, resample: bool = False) -> Scene:
    """Open the scene's metadata (no pixels), check its bands against the model (or plan resampling)."""
    from hsigeo.errors import BandMismatchError
    from hsigeo.io.raster import open_hsi

    da = open_hsi(path)
    resampler = None
    try:
        model.check_bands(da)
    except BandMismatchError:
        if not resample:
            raise
        from hsigeo.io.resample import plan_resampling

        wl = da.coords["wavelength"].values if "wavelength" in da.coords else None
        bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
        resampler = plan_resampling(wl, model.wavelengths, bad_band=bad, source=str(path))
    data_path = Path(da.encoding.get("source", path))
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
    return Scene(
        path=path, data_path=data_path, width=int(da.rio.width), height=int(da.rio.height),
        count=int(da.sizes["band"]), crs=da.rio.crs, transform=da.rio.transform(), nodata=nodata,
        good_bands=good_band_mask(bad, int(da.sizes["band"])), resampler=resampler,
    )


def warn_about_scene(scene: Scene, model: InferenceModel) -> None:
    """Warn when the outputs will silently be poor: no CRS, or values on another scale than the model's."""
    import rasterio
    from rasterio.windows import Window

    if scene.crs is None:
        warnings.warn(f"{scene.path}: the scene has no CRS; the outputs will not be georeferenced either "
                      "(assign one with gdal_edit.py -a_srs EPSG:xxxx).", stacklevel=3)
    if getattr(model, "mean", None) is None:
        return  # a model without a training scale (the base model normalises brightness per pixel)
    h, w = min(_SAMPLE_PX, scene.height), min(_SAMPLE_PX, scene.width)
    window = Window((scene.width - w) // 2, (scene.height - h) // 2, w, h)
    try:
        with rasterio.open(scene.data_path) as src:
            sample = src.read(window=window)
    except (rasterio.errors.RasterioError, OSError):
        return  # an unreadable block is reported, with its window, by the classification itself
    valid = valid_pixels(sample, nodata=scene.nodata, good_bands=scene.good_bands)
    warn_about_scale(scene.path, sample, valid, model, stacklevel=4)


def warn_about_dataarray(da: Any, model: InferenceModel, *, nodata: Any, good_bands: np.ndarray | None) -> None:
    """The scale check of :func:`warn_about_scene` for an in-memory or dask scene (reads a central sample)."""
    if getattr(model, "mean", None) is None:
        return
    h, w = min(_SAMPLE_PX, int(da.sizes["y"])), min(_SAMPLE_PX, int(da.sizes["x"]))
    y0, x0 = (int(da.sizes["y"]) - h) // 2, (int(da.sizes["x"]) - w) // 2
    sample = np.asarray(da.isel(y=slice(y0, y0 + h), x=slice(x0, x0 + w)).values)
    valid = valid_pixels(sample, nodata=nodata, good_bands=good_bands)
    warn_about_scale(da.attrs.get("source", "the scene"), sample, valid, model, stacklevel=5)


def warn_about_scale(source: Any, sample: np.ndarray, valid: np.ndarray, model: InferenceModel, *,
                     stacklevel: int = 3) -> None:
    """Warn when a raw scene sample is on another value scale than the model's training data."""
    # the bands' share of the training normalisation (a base-model prior appends its own channels)
    mean = np.asarray(model.mean)[: int(model.n_bands)]
    ratio = scale_ratio(sample, valid, mean)
    if ratio is None or 1 / _SCALE_WARN <= ratio <= _SCALE_WARN:
        return
    factor = 10 ** round(math.log10(ratio))
    how = f"{1 / factor:,.0f} times smaller" if ratio < 1 else f"{factor:,.0f} times larger"
    warnings.warn(
        f"{source}: the scene's values are about {how} than those the model was trained on "
        f"(typical band mean {ratio * float(np.median(np.abs(mean))):.4g} here, "
        f"{float(np.median(np.abs(mean))):.4g} in training), e.g. 0-1 reflectance against reflectance x 10000. "
        "The map will probably be one class: rescale the scene or use a model trained on this scale.",
        stacklevel=stacklevel)


def read_tile(src: Any, scene: Scene, window: tuple[int, int, int, int], radius: int,
               model: InferenceModel) -> tuple[np.ndarray, np.ndarray]:
    """Read one window plus halo; return the normalised tile and the window's validity.

    Rows/columns of the halo outside the scene are gathered by reflection, so
    the tile equals the matching crop of the reflect-padded whole scene.
    """
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    row, col, h, w = window
    r0, r1, rows = halo_indices(row, row + h, radius, scene.height)
    c0, c1, cols = halo_indices(col, col + w, radius, scene.width)
    try:
        raw = src.read(window=Window(c0, r0, c1 - c0, r1 - r0))
    except (RasterioError, OSError) as exc:
        # rasterio's own message only points at the GDAL error it chains
        detail = exc.__cause__ or exc
        raise RasterReadError(
            f"{scene.data_path}: cannot read rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1} "
            f"(window at row {row}, column {col}, {h} x {w} pixels plus a {radius}-pixel halo): {detail}. "
            "The file is probably truncated or corrupt; re-export or re-download it."
        ) from exc
    valid = valid_pixels(raw, nodata=scene.nodata, good_bands=scene.good_bands)
    if scene.resampler is not None:
        raw = scene.resampler.apply(raw)
    # normalisation is per pixel: doing it a strip of rows at a time gives the same values
    # while its float temporaries stay small next to the tile
    # (the model input may hold more channels than the raw bands: a base-model prior adds its own)
    tile = None
    for y in range(0, raw.shape[1], _NORMALIZE_ROWS):
        part = model.normalize(raw[:, y:y + _NORMALIZE_ROWS], valid[y:y + _NORMALIZE_ROWS])
        if tile is None:
            tile = np.empty((part.shape[0], *raw.shape[1:]), dtype=np.float32)
        tile[:, y:y + _NORMALIZE_ROWS] = part
    del raw
    # only edge windows need a gather; interior ones are already the right crop
    if not (rows[0] == 0 and rows.size == r1 - r0):
        tile, valid = np.take(tile, rows, axis=1), np.take(valid, rows, axis=0)
    if not (cols[0] == 0 and cols.size == c1 - c0):
        tile, valid = np.take(tile, cols, axis=2), np.take(valid, cols, axis=1)
    return tile, valid[radius:radius + h, radius:radius + w]


def read_region_tile(src: Any, scene: Scene, region: Region, window: tuple[int, int, int, int], radius: int,
                      model: Any) -> tuple[np.ndarray | None, np.ndarray]:
    """:func:`read_tile` for a window of ``region``: ``(None, all False)`` when the mask misses it."""
    row, col, h, w = window
    inside = region.window_mask(row, col, h, w)
    if inside is not None and not inside.any():
        return None, inside
    tile, valid = read_tile(src, scene, (row + region.row_off, col + region.col_off, h, w), radius, model)
    return tile, valid if inside is None else valid & inside
