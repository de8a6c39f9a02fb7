"""Stored values to reflectance: the scale and offset a file declares, and a check of the result.

Rules, applied to every raster :func:`hsigeo.io.raster.open_hsi` reads:

* GDAL per-band scale and offset (``GetScale``/``GetOffset``: GeoTIFF band
  metadata, netCDF ``scale_factor``/``add_offset``, ENVI ``data gain values`` /
  ``data offset values``) are applied: ``value * scale + offset``.
* The ENVI ``reflectance scale factor`` (the number that, divided into the data,
  gives 0-1 reflectance) is applied after them: ``/ factor``.
* Product readers apply what their product specification says (EnMAP/DESIS
  gain and offset per band, PRISMA ``L2Scale*Min/Max``).

Whatever was applied is recorded in ``da.attrs["scaling"]``.  A file that
declares nothing is read as it is: e.g. the EnMAP-Box Berlin test scene
(int16, reflectance x 10000, no scale factor in its header) keeps its integer
values, so models trained on it keep working; :func:`value_scale` says in
``hsigeo info`` what the values look like.  Only when a scale was applied (or a
product promises reflectance) and the values still do not look like 0-1
reflectance does :func:`check_reflectance` warn, since then the declared scale
itself is suspect.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Scaling", "declared_scaling", "sample_median", "value_scale", "check_reflectance"]

# side of the central window sampled to judge the value range (all bands)
_SAMPLE_PX = 48
# median band value of plausible 0-1 reflectance (bright snow and specular glint stay below ~1.5)
_REFLECTANCE_RANGE = (-0.05, 1.5)


@dataclass(frozen=True)
class Scaling:
    """Per-band ``value * scale + offset``, and where it came from."""

    scale: np.ndarray
    offset: np.ndarray
    note: str


def _trivial(scale: np.ndarray, offset: np.ndarray) -> bool:
    return bool(np.all(scale == 1.0) and np.all(offset == 0.0))


def declared_scaling(scales: Any, offsets: Any, envi: dict[str, Any] | None, count: int) -> Scaling | None:
    """The scaling a plain GDAL/ENVI raster declares, or ``None`` when it declares none.

    Parameters
    ----------
    scales, offsets
        rasterio's ``src.scales`` / ``src.offsets`` (GDAL's per-band values).
    envi
        The parsed ENVI header, when the raster has one.
    count
        Number of bands.
    """
    scale = np.array([1.0 if s is None else float(s) for s in (scales or [1.0] * count)], dtype=np.float64)
    offset = np.array([0.0 if o is None else float(o) for o in (offsets or [0.0] * count)], dtype=np.float64)
    notes = []
    if not _trivial(scale, offset):
        notes.append("GDAL band scale/offset applied (value * scale + offset; "
                     f"scale {_span(scale)}, offset {_span(offset)})")
    factor = None
    if envi:
        raw = envi.get("reflectance scale factor")
        try:
            factor = float(raw) if isinstance(raw, str) and raw.strip() else None
        except ValueError:
            factor = None
        if factor is not None and (not math.isfinite(factor) or factor <= 0):
            warnings.warn(f"ENVI header: 'reflectance scale factor = {raw}' is not a positive number; ignored.",
                          stacklevel=3)
            factor = None
    if factor is not None and factor != 1.0:
        scale, offset = scale / factor, offset / factor
        notes.append(f"ENVI 'reflectance scale factor = {factor:g}' applied (divided by it)")
    if not notes:
        return None
    return Scaling(scale, offset, "; ".join(notes))


def _span(a: np.ndarray) -> str:
    lo, hi = float(np.min(a)), float(np.max(a))
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"


def sample_median(data_path: str, nodata: float | None, bad_band: Any = None) -> float | None:
    """Median over the good bands of the median value of a central window's valid pixels.

    Reads one ``48 x 48`` window of all bands, so it is cheap on any scene size.
    ``None`` when the window holds no valid pixel.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(data_path) as src:
        h, w = min(_SAMPLE_PX, src.height), min(_SAMPLE_PX, src.width)
        block = src.read(window=Window((src.width - w) // 2, (src.height - h) // 2, w, h)).astype(np.float64)
    if bad_band is not None:
        good = ~np.asarray(bad_band, dtype=bool)
        if good.any():
            block = block[good]
    invalid = ~np.isfinite(block)
    if nodata is not None and not math.isnan(float(nodata)):
        invalid |= block == float(nodata)
    valid = ~invalid.any(axis=0)
    if not valid.any():
        return None
    return float(np.median(np.median(block[:, valid], axis=1)))


def value_scale(median: float | None) -> str:
    """What a sample's median value suggests, in words."""
    if median is None:
        return "unknown (no valid pixel in the central sample)"
    lo, hi = _REFLECTANCE_RANGE
    if lo <= median <= hi:
        return f"reflectance 0-1 (median {median:.3g})"
    if 100 <= median <= 15000:
        return f"looks like reflectance x 10000 or x 1000 (median {median:.4g}); used as stored"
    return f"not reflectance-like (median {median:.4g}); radiance or digital numbers?"


def check_reflectance(source: str, median: float | None, applied: str) -> None:
    """Warn when values that should be 0-1 reflectance (a scale was applied) do not look like it."""
    lo, hi = _REFLECTANCE_RANGE
    if median is None or lo <= median <= hi:
        return
    warnings.warn(
        f"{source}: after the scaling the file declares ({applied}) the values still do not look like "
        f"0-1 reflectance (median of a central sample {median:.4g}). Check the product level (radiance "
        "products are not reflectance) and its scale factors; models will see the values as they are.",
        UserWarning, stacklevel=3)
