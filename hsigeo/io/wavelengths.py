"""Band centre wavelengths from a plain list: the way into hsigeo for a scene that carries none.

A GeoTIFF exported by another program often has no per-band ``wavelength`` items;
the prompt-only base model and ``--resample`` need them.  :func:`read_wavelength_list`
reads the list a sensor's documentation gives (one number a band), and
:func:`with_wavelengths` puts it on a scene, which :func:`hsigeo.write_hsi` then
stores as the per-band GDAL items ``wavelength`` / ``wavelength_units``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from hsigeo.errors import InvalidInputError

__all__ = ["read_wavelength_list", "with_wavelengths", "MAX_LIST_BYTES"]

#: Largest wavelength list read: a few thousand bands fit in well under this.
MAX_LIST_BYTES = 1_000_000
# numbers separated by line breaks, commas, semicolons, tabs or spaces
_SEPARATORS = re.compile(r"[\s,;]+")


def read_wavelength_list(path: str | os.PathLike, n_bands: int | None = None) -> np.ndarray:
    """Read band centre wavelengths from a text file, in nanometres.

    Parameters
    ----------
    path
        Text file of numbers, one a band in band order, separated by line breaks,
        commas, semicolons or spaces; lines starting with ``#`` are comments.
        Values are nanometres, or micrometres when every value is below 30, as
        :func:`hsigeo.open_hsi` reads unitless values.
    n_bands
        The scene's band count, checked when given.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 centre wavelengths in nm, strictly positive.

    Raises
    ------
    InvalidInputError
        The file is missing, too large, holds something that is not a number, a
        non-positive or non-finite value, or a count other than ``n_bands``.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the wavelength list ({exc.strerror or exc}).") from exc
    if size > MAX_LIST_BYTES:
        raise InvalidInputError(f"{path}: {size:,} bytes is too large for a wavelength list "
                                f"(at most {MAX_LIST_BYTES:,}); give one number a band.")
    text = path.read_text(encoding="utf-8", errors="replace")
    words = [w for line in text.splitlines() if not line.lstrip().startswith("#")
             for w in _SEPARATORS.split(line.strip()) if w]
    values = []
    for i, word in enumerate(words, 1):
        try:
            values.append(float(word))
        except ValueError:
            raise InvalidInputError(f"{path}: value {i} is {word[:40]!r}, not a number; the file should list "
                                    "one centre wavelength (nm) per band.") from None
    wl = np.asarray(values, dtype=np.float64)
    if wl.size == 0:
        raise InvalidInputError(f"{path}: no wavelengths in the file; list one centre wavelength (nm) per band.")
    if not np.isfinite(wl).all() or (wl <= 0).any():
        raise InvalidInputError(f"{path}: wavelengths must be positive numbers (nm).")
    if n_bands is not None and wl.size != n_bands:
        raise InvalidInputError(f"{path}: {wl.size} wavelengths for a scene of {n_bands} bands; "
                                "list exactly one per band, in band order.")
    return wl * 1000.0 if wl.max() < 30 else wl  # micrometres, as open_hsi reads unitless values


def with_wavelengths(da: xr.DataArray, wavelengths: np.ndarray) -> xr.DataArray:
    """``da`` with ``wavelengths`` (nm) as its ``wavelength`` band coordinate.

    Parameters
    ----------
    da
        Scene ``("band", "y", "x")``, as :func:`hsigeo.open_hsi` returns it.
    wavelengths
        One centre wavelength (nm) per band.

    Returns
    -------
    xarray.DataArray
        The same data (nothing is copied or loaded) with the new coordinate.

    Raises
    ------
    InvalidInputError
        When the count differs from the band count.
    """
    wl = np.asarray(wavelengths, dtype=np.float64)
    if wl.shape != (da.sizes["band"],):
        raise InvalidInputError(f"{wl.size} wavelengths for a scene of {da.sizes['band']} bands.")
    return da.assign_coords(wavelength=("band", wl))
