"""EMIT L2A surface reflectance (``EMIT_L2A_RFL_*.nc``), orthorectified through its GLT.

Layout (EMIT L2A Algorithm Theoretical Basis Document and the EMIT L2A RFL
netCDF-4 product user guide, JPL D-104866 / LP DAAC): root variable
``reflectance(downtrack, crosstrack, bands)`` float32, ``_FillValue`` -9999, in
*swath* geometry; group ``sensor_band_parameters`` with ``wavelengths(bands)``
and ``fwhm(bands)`` in nm and ``good_wavelengths(bands)`` (1 = usable, 0 = deep
water-vapour bands); group ``location`` with ``glt_x(ortho_y, ortho_x)`` and
``glt_y(ortho_y, ortho_x)``, the geometry lookup table: the 1-based crosstrack
column and downtrack row of the swath pixel that fills each pixel of the
north-up grid, 0 where none does (a negative index marks a pixel filled from a
neighbour; its absolute value is used); global attributes ``geotransform``
(GDAL order, of the north-up grid) and ``spatial_ref`` (WKT, EPSG:4326).

GDAL's netCDF driver opens ``reflectance`` with its last two dimensions as the
image (crosstrack x bands), so it cannot be read as a ``(band, y, x)`` raster;
h5py reads it as an array instead.  :func:`open_product` writes the north-up
cube once into the cache (:mod:`.cache`) as a tiled float32 GeoTIFF, a
128 x 128 tile at a time: each tile reads only the swath rows and columns its
GLT entries point at, so memory stays flat for a full granule
(~1,280 x 1,242 x 285).  Why the cube and not the class map is orthorectified:
see the README section "Sensor products" (both were measured).

Quality: the granule's ``EMIT_L2A_MASK_<version>_<time>_<orbit>_<scene>.nc`` beside
the reflectance (EMIT L2A Mask product, same swath) holds ``mask(downtrack,
crosstrack, bands)`` float32, its band names in ``sensor_band_parameters/mask_bands``:
"Cloud flag", "Cirrus flag", "Water flag", "Spacecraft Flag", "Dilated Cloud Flag",
"AOD550", "H2O (g cm-2)", "Aggregate Flag"; the flags are 1 where set.  When the
file is there, its flag bands are placed through the reflectance's GLT into a
uint8 GeoTIFF in the cache (1 = flagged) and offered as masks (:mod:`.quality`);
AOD550 and H2O are values, not flags, and are not read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.io.products import Member, Product
from hsigeo.io.products.cache import cache_path
from hsigeo.io.products.files import parse_subdataset
from hsigeo.io.products.quality import QualityLayer

__all__ = ["open_product", "member", "glt_gather", "GLT_TILE"]

_NAME_RE = re.compile(r"^EMIT_L2A_RFL_(?P<ver>\d{3})_(?P<time>\d{8}T\d{6})_(?P<orbit>\d+)_(?P<scene>\d+)\.nc$",
                      re.IGNORECASE)
# every file of one granule: the reflectance (RFL) opens it; its MASK and RFLUNCERT files are sidecars
_GRANULE_RE = re.compile(r"^EMIT_L2A_(?P<kind>RFL|MASK|RFLUNCERT)_(?P<ver>\d{3})_(?P<id>\d{8}T\d{6}_\d+_\d+)\.nc$",
                         re.IGNORECASE)
# "Cloud flag" -> cloud ...: the MASK file's flag bands under the shared flag names (hsigeo.io.products.quality)
_MASK_FLAGS = {"cloud flag": "cloud", "cirrus flag": "cirrus", "water flag": "water",
               "spacecraft flag": "spacecraft", "dilated cloud flag": "dilated-cloud", "aggregate flag": "aggregate"}
_MASK_FORMAT_VERSION = 1
#: Side of the north-up tiles written at a time.
GLT_TILE = 128
_FORMAT_VERSION = 2
# a tile reads its GLT entries' swath bounding box when that box is at most this many times the tile
# (a north-up tile of a rotated swath spans about twice its area); else row by row
_MAX_BOX_FACTOR = 16


def _is_emit(f: Any) -> bool:
    ds = f.get("reflectance")
    return ds is not None and getattr(ds, "ndim", 0) == 3 and "sensor_band_parameters" in f


def member(path: str | os.PathLike) -> Member | None:
    """Whether ``path`` (by name) is an EMIT L2A granule's reflectance file (opens it) or its MASK/RFLUNCERT file."""
    m = _GRANULE_RE.match(Path(str(path)).name)
    if m is None:
        return None
    return Member(f"EMIT_L2A_{m.group('id')}", f"EMIT_L2A_RFL_{m.group('ver')}_{m.group('id')}",
                  m.group("kind").upper() == "RFL")


def open_product(path: str | os.PathLike) -> Product | None:
    text = str(path)
    sub = parse_subdataset(text)
    if sub is not None:
        if sub[0] != "NETCDF" or sub[2].strip("/") != "reflectance":
            return None
        nc = Path(sub[1])
    else:
        nc = Path(path)
        if nc.suffix.lower() != ".nc" or not nc.is_file():
            return None
    if not nc.is_file():
        raise RasterReadError(f"{nc}: file not found (from the subdataset string {text!r}).")
    import h5py

    try:
        f = h5py.File(nc, "r")
    except OSError:
        return None  # netCDF-3 or not HDF5 at all: not EMIT; the plain path reports it
    with f:
        if not _is_emit(f):
            return None
        return _read(f, nc)


def _attr(f: Any, name: str) -> str:
    v = f.attrs.get(name)
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(-1)[0]
        return v.decode() if isinstance(v, bytes) else str(v)
    return str(v)


def _read(f: Any, nc: Path) -> Product:
    refl = f["reflectance"]
    sbp = f["sensor_band_parameters"]
    for need in ("wavelengths", "fwhm"):
        if need not in sbp:
            raise RasterReadError(f"{nc}: EMIT file without sensor_band_parameters/{need}; re-download the granule.")
    wl = np.asarray(sbp["wavelengths"][:], dtype=np.float64)
    fwhm = np.asarray(sbp["fwhm"][:], dtype=np.float64)
    good = np.asarray(sbp["good_wavelengths"][:]) if "good_wavelengths" in sbp else np.ones(wl.size)
    if refl.shape[2] != wl.size:
        raise RasterReadError(f"{nc}: reflectance has {refl.shape[2]} bands but sensor_band_parameters lists "
                              f"{wl.size} wavelengths; the file is damaged.")
    loc = f.get("location")
    if loc is None or "glt_x" not in loc or "glt_y" not in loc:
        raise RasterReadError(
            f"{nc}: EMIT L2A file without location/glt_x and location/glt_y, the lookup table that places "
            "swath pixels on the map; hsigeo needs it to orthorectify. Re-download the full granule .nc.")
    gt = f.attrs.get("geotransform")
    if gt is None or np.asarray(gt).size != 6:
        raise RasterReadError(f"{nc}: EMIT file without its 'geotransform' attribute; re-download the granule.")
    wkt = _attr(f, "spatial_ref") or "EPSG:4326"
    out = cache_path("emit", _FORMAT_VERSION, [nc], ".tif")
    if not out.is_file():
        _write_ortho(f, nc, out, [float(v) for v in np.asarray(gt).reshape(-1)], wkt)
    m = _NAME_RE.match(nc.name)
    attrs = {"product_id": nc.stem,
             "acquisition_time": _attr(f, "time_coverage_start") or (m.group("time") if m else ""),
             "processing_version": _attr(f, "product_version") or (f"V{m.group('ver')}" if m else "")}
    files = [("reflectance, band parameters, GLT", str(nc)), ("north-up cube (cache)", str(out))]
    mask_nc = _mask_file(nc)
    quality: dict[str, QualityLayer] = {}
    if mask_nc is not None:
        quality = _quality(f, nc, mask_nc, [float(v) for v in np.asarray(gt).reshape(-1)], wkt)
        files.append(("quality flags (MASK granule)", str(mask_nc)))
    expected = (f"a band of {mask_nc.name}, which lacks it" if mask_nc is not None else
                f"{_mask_name(nc)} beside the reflectance file (the granule's L2A MASK file)")
    return Product(
        sensor="EMIT", level="L2A", data_path=str(out), wavelength=wl, fwhm=fwhm, bad_band=good == 0,
        nodata=float("nan"), attrs=attrs, files=files,
        scaling="none needed (float32 reflectance); orthorectified through location/glt_x, glt_y",
        quality=quality, quality_expected={flag: expected for flag in _MASK_FLAGS.values()})


def _mask_name(nc: Path) -> str:
    """The MASK file name of the granule of reflectance file ``nc`` (any version: ``EMIT_L2A_MASK_*``)."""
    m = _GRANULE_RE.match(nc.name)
    return f"EMIT_L2A_MASK_{m.group('ver')}_{m.group('id')}.nc" if m else "EMIT_L2A_MASK_<version>_<granule>.nc"


def _mask_file(nc: Path) -> Path | None:
    """The granule's MASK file beside ``nc`` (newest version first), or ``None``."""
    m = _GRANULE_RE.match(nc.name)
    if m is None:
        return None
    found = sorted(nc.parent.glob(f"EMIT_L2A_MASK_*_{m.group('id')}.nc"), reverse=True)
    return found[0] if found else None


def _quality(f: Any, nc: Path, mask_nc: Path, gt: list[float], wkt: str) -> dict[str, QualityLayer]:
    """Orthorectify the MASK granule's flag bands (once, into the cache); the layers by flag name."""
    import h5py

    try:
        mf = h5py.File(mask_nc, "r")
    except OSError as exc:
        raise RasterReadError(f"{mask_nc}: not a readable EMIT MASK file ({exc}); re-download it, or move it "
                              "away to open the reflectance without its quality flags.") from exc
    with mf:
        names = mf.get("sensor_band_parameters/mask_bands")
        mask = mf.get("mask")
        if names is None or mask is None or getattr(mask, "ndim", 0) != 3:
            raise RasterReadError(f"{mask_nc}: an EMIT MASK file without mask(downtrack, crosstrack, bands) and "
                                  "sensor_band_parameters/mask_bands; re-download it.")
        labels = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names[:]).reshape(-1)]
        if mask.shape[:2] != f["reflectance"].shape[:2] or mask.shape[2] != len(labels):
            raise RasterReadError(
                f"{mask_nc}: its mask is {mask.shape[0]} x {mask.shape[1]} x {mask.shape[2]} but the reflectance "
                f"{nc.name} is {f['reflectance'].shape[0]} x {f['reflectance'].shape[1]} with {len(labels)} mask "
                "band names; the MASK file is from another granule.")
        picked = [(i, _MASK_FLAGS[lab.strip().lower()]) for i, lab in enumerate(labels)
                  if lab.strip().lower() in _MASK_FLAGS]
        if not picked:
            return {}
        out = cache_path("emit-mask", _MASK_FORMAT_VERSION, [mask_nc, nc], ".tif")
        if not out.is_file():
            _write_mask(mask, [i for i, _ in picked], f["location/glt_x"], f["location/glt_y"], out, gt, wkt)
    return {flag: QualityLayer(str(out), (k + 1,), 1, str(mask_nc)) for k, (_, flag) in enumerate(picked)}


def _write_mask(mask: Any, bands: list[int], glt_x: Any, glt_y: Any, out: Path, gt: list[float], wkt: str) -> None:
    """The flag bands north-up, uint8 (1 = flagged; fill and GLT gaps 0), tile by tile like the cube."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from hsigeo.filesafety import atomic_output

    h, w = glt_x.shape
    profile = {"driver": "GTiff", "count": len(bands), "height": h, "width": w, "dtype": "uint8", "crs": wkt,
               "transform": Affine.from_gdal(*gt), "tiled": True, "blockxsize": GLT_TILE,
               "blockysize": GLT_TILE, "compress": "deflate"}
    with atomic_output(out, overwrite=True) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r in range(0, h, GLT_TILE):
            for c in range(0, w, GLT_TILE):
                th, tw = min(GLT_TILE, h - r), min(GLT_TILE, w - c)
                tile = glt_gather(mask, glt_x[r:r + th, c:c + tw], glt_y[r:r + th, c:c + tw], fill=0.0)
                # flags are 1 where set; the -9999 fill and NaN are "not known to be flagged"
                dst.write((tile[bands] == 1).astype(np.uint8), window=Window(c, r, tw, th))


def glt_gather(swath: Any, glt_x: np.ndarray, glt_y: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Place swath pixels on the north-up grid: ``out[..., r, c] = swath[glt_y - 1, glt_x - 1, ...]``.

    Parameters
    ----------
    swath
        ``(downtrack, crosstrack, bands)`` (an h5py dataset or an array; only the
        bounding box of the rows/columns referenced is read) or ``(downtrack, crosstrack)``.
    glt_x, glt_y
        1-based crosstrack column / downtrack row per output pixel (0 = none; negative = filled
        from a neighbour, absolute value used).
    fill
        Value of output pixels no swath pixel fills.

    Returns
    -------
    numpy.ndarray
        ``(bands, h, w)`` float32 for a 3-D swath, ``(h, w)`` of the swath's dtype for 2-D.
    """
    gx, gy = np.abs(glt_x.astype(np.int64)), np.abs(glt_y.astype(np.int64))
    valid = (gx > 0) & (gy > 0)
    three = len(swath.shape) == 3
    if three:
        out = np.full((swath.shape[2], *glt_x.shape), fill, dtype=np.float32)
    else:
        out = np.full(glt_x.shape, fill, dtype=np.asarray(swath[:1, :1]).dtype)
    if not valid.any():
        return out
    ix, iy = gx[valid] - 1, gy[valid] - 1
    y0, y1, x0, x1 = int(iy.min()), int(iy.max()) + 1, int(ix.min()), int(ix.max()) + 1
    if y1 > swath.shape[0] or x1 > swath.shape[1]:
        raise RasterReadError(f"the GLT points outside the swath (row {y1}, column {x1} of a "
                              f"{swath.shape[0]} x {swath.shape[1]} swath); the file is damaged.")
    if (y1 - y0) * (x1 - x0) <= _MAX_BOX_FACTOR * glt_x.size:
        block = np.asarray(swath[y0:y1, x0:x1])
        picked = block[iy - y0, ix - x0]
    else:
        # entries scattered over the swath (a damaged or hostile GLT): read row by row so memory stays bounded
        picked = np.empty((iy.size, *swath.shape[2:]), dtype=np.asarray(swath[:1, :1]).dtype)
        for row in np.unique(iy):
            sel = np.flatnonzero(iy == row)
            c0, c1 = int(ix[sel].min()), int(ix[sel].max()) + 1
            picked[sel] = np.asarray(swath[int(row), c0:c1])[ix[sel] - c0]
    if three:
        out[:, valid] = picked.T
    else:
        out[valid] = picked
    return out


def _write_ortho(f: Any, nc: Path, out: Path, gt: list[float], wkt: str) -> None:
    """Write the north-up cube tile by tile (memory: one tile's swath bounding box)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from hsigeo.filesafety import atomic_output
    from hsigeo.progress import track

    refl = f["reflectance"]
    fill = refl.attrs.get("_FillValue", -9999.0)
    fill = float(np.asarray(fill).reshape(-1)[0])
    glt_x, glt_y = f["location/glt_x"], f["location/glt_y"]
    h, w = glt_x.shape
    bands = refl.shape[2]
    # zstd level 1: written once and read many times, fast to write, compresses the NaN fill well
    profile = {"driver": "GTiff", "count": bands, "height": h, "width": w, "dtype": "float32",
               "crs": wkt, "transform": Affine.from_gdal(*gt), "nodata": float("nan"), "tiled": True,
               "blockxsize": GLT_TILE, "blockysize": GLT_TILE, "interleave": "pixel", "compress": "zstd", "zstd_level": 1,
               "predictor": 3, "BIGTIFF": "IF_SAFER"}
    tiles = [(r, c) for r in range(0, h, GLT_TILE) for c in range(0, w, GLT_TILE)]
    with atomic_output(out, overwrite=True) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r, c in track(tiles, total=len(tiles), desc=f"EMIT: orthorectifying {nc.name}", unit="tile"):
            th, tw = min(GLT_TILE, h - r), min(GLT_TILE, w - c)
            tile = glt_gather(refl, glt_x[r:r + th, c:c + tw], glt_y[r:r + th, c:c + tw])
            tile[tile == fill] = np.nan
            dst.write(tile, window=Window(c, r, tw, th))
