"""The window plan shared by the tiled and the dask engines: windows, halos, edge reflection, validity.

A model with patch radius ``r`` needs ``r`` pixels around every window.  At
the scene's edges those pixels come from numpy-style reflection
(``numpy.pad(mode="reflect")``), so any tiling reproduces whole-scene
inference pixel for pixel.  The plan is plain data (``(row, col, h, w)``
tuples and index arrays), so both engines and the tests share one definition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError

__all__ = ["plan_windows", "halo_indices", "reflect_indices", "good_band_mask", "valid_pixels"]


def plan_windows(height: int, width: int, tile_size: int) -> list[tuple[int, int, int, int]]:
    """Row-major ``(row_off, col_off, h, w)`` windows covering the scene; edge windows are smaller."""
    if tile_size < 1:
        raise InvalidInputError(f"tile_size must be >= 1, not {tile_size}")
    return [
        (r, c, min(tile_size, height - r), min(tile_size, width - c))
        for r in range(0, height, tile_size)
        for c in range(0, width, tile_size)
    ]


def halo_indices(start: int, stop: int, radius: int, n: int) -> tuple[int, int, np.ndarray]:
    """What to read along one axis for positions ``start..stop-1`` plus a ``radius`` halo.

    Returns ``(lo, hi, idx)``: read ``lo..hi-1`` from the scene, then gather
    ``idx`` (relative to ``lo``) to get the reflect-padded run of
    ``stop - start + 2 * radius`` pixels.
    """
    full = reflect_indices(start - radius, stop + radius, n)
    lo, hi = int(full.min()), int(full.max()) + 1
    return lo, hi, full - lo


def reflect_indices(start: int, stop: int, n: int) -> np.ndarray:
    """Indices into a length-``n`` axis for positions ``start..stop-1`` of its reflect padding.

    Position ``-k`` maps to ``k`` and ``n-1+k`` to ``n-1-k`` (the edge pixel is
    not repeated), with repeated reflection when the padding is wider than the
    axis, exactly as ``numpy.pad(x, pad, mode="reflect")``.  (dask's
    ``boundary="reflect"`` repeats the edge pixel, i.e. numpy's ``"symmetric"``;
    it is deliberately not used.)

    Parameters
    ----------
    start, stop
        Positions in scene coordinates; may lie outside ``0..n-1``.
    n
        Axis length (>= 1).

    Returns
    -------
    numpy.ndarray
        ``int64`` indices in ``0..n-1``, one per position.
    """
    idx = np.arange(start, stop, dtype=np.int64)
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx < n, idx, period - idx)


def good_band_mask(bad_band: Any, n_bands: int) -> np.ndarray | None:
    """Bands that decide validity: all but those flagged bad (``None`` = all).

    Mirrors :func:`hsigeo.io.raster.valid_mask` with ``ignore_bad_bands=True``:
    zero-filled water-absorption bands do not make a pixel invalid.
    """
    if bad_band is None:
        return None
    good = ~np.asarray(bad_band, dtype=bool).reshape(-1)
    if good.size != n_bands or good.all() or not good.any():
        return None
    return good


def valid_pixels(block: np.ndarray, *, nodata: float | int | None = None,
                 good_bands: np.ndarray | None = None) -> np.ndarray:
    """Pixels with a usable spectrum in a ``(B, h, w)`` block (True = valid).

    A pixel is invalid when any (good) band equals ``nodata``, is NaN or is
    infinite, the rule of :func:`hsigeo.io.raster.valid_mask`.

    Parameters
    ----------
    block
        Raw values, ``(bands, h, w)``.
    nodata
        The scene's nodata value (``None`` or NaN: only non-finite values count).
    good_bands
        Boolean band mask from :func:`good_band_mask`; ``None`` = all bands.
    """
    data = block if good_bands is None else block[good_bands]
    invalid = np.zeros(data.shape[1:], dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        invalid |= ~np.isfinite(data).all(axis=0)
    if nodata is not None and not math.isnan(float(nodata)) and _fits(nodata, data.dtype):
        invalid |= (data == data.dtype.type(nodata)).any(axis=0)
    return ~invalid


def _fits(value: float | int, dtype: np.dtype) -> bool:
    """Whether ``value`` is representable in ``dtype`` (else no pixel can equal it)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(value).is_integer() and info.min <= value <= info.max
    return True
