"""PRISMA L2D surface reflectance (``PRS_L2D_STD_*.he5``, HDF-EOS5): one cube in ascending wavelength.

Layout (ASI, PRISMA Products Specification Document, PRISMA-ASI-PS / "PRISMA
Product Specifications" Issue 2.3, L2D): datasets
``HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields/VNIR_Cube`` and ``.../SWIR_Cube``, uint16,
stored ``(rows, bands, columns)`` with the bands in *descending* wavelength;
root attributes ``List_Cw_Vnir`` / ``List_Cw_Swir`` (band centres, nm, in stored
order; 0 for the bands not delivered), ``List_Fwhm_Vnir`` / ``List_Fwhm_Swir``,
``List_Cw_Vnir_Flags`` / ``List_Cw_Swir_Flags`` (1 = delivered), the scaling
``L2ScaleVnirMin/Max`` and ``L2ScaleSwirMin/Max`` (reflectance =
``Min + DN * (Max - Min) / 65535``), ``Epsg_Code`` (UTM), ``Product_ULcorner_easting/
northing`` and ``Product_LRcorner_easting/northing``, ``Product_StartTime``,
``Processor_Version``.

Decisions (say them to users, README "Sensor products"):

* **Order**: bands are reversed into ascending wavelength; undelivered bands
  (centre 0 or flag 0) are dropped.
* **VNIR/SWIR overlap** (~920-1010 nm is measured by both): every VNIR band is
  kept and the SWIR bands whose centre is not above the last VNIR centre are
  dropped, so the cube has one strictly increasing wavelength axis; the VNIR
  detector is the more sensitive one there (the SWIR detector's first bands
  sit at its sensitivity edge).
* **Grid**: the corner attributes are read as pixel *centres* when
  ``(LR - UL) / (n - 1)`` is the 30 m PRISMA pixel and as pixel *edges* when
  ``(LR - UL) / n`` is (whichever is nearer to 30 m); published readers differ.
* **Nodata**: a pixel whose every delivered band is DN 0 (outside the acquired
  swath in the L2D tile) is nodata (NaN).

GDAL's HDF5 driver would expose each cube as ``columns`` bands of ``rows x bands``
pixels, so h5py reads them; the cube is written once into the cache
(:mod:`.cache`) as a tiled float32 GeoTIFF, 64 rows at a time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.io.products import Member, Product
from hsigeo.io.products.cache import cache_dir, cache_path
from hsigeo.io.products.files import extract_member, parse_subdataset

__all__ = ["open_product", "member"]

_SWATH = "HDFEOS/SWATHS/PRS_L2D_HCO/Data Fields"
_NAME_RE = re.compile(r"^PRS_L(?P<level>[12][A-D]?)_\w+\.he5$", re.IGNORECASE)
_PIXEL_M = 30.0
_ROWS = 64
_FORMAT_VERSION = 2


def member(path: str | os.PathLike) -> Member | None:
    """Whether ``path`` (by name) is a PRISMA product: its ``.he5`` or the zip it comes in."""
    m = re.match(r"^(?P<stem>PRS_L\w+)\.(?:he5|zip)$", Path(str(path)).name, re.IGNORECASE)
    return Member(m.group("stem"), m.group("stem"), True) if m else None


def open_product(path: str | os.PathLike) -> Product | None:
    text = str(path)
    sub = parse_subdataset(text)
    if sub is not None:
        if sub[0] != "HDF5" or not sub[1].lower().endswith(".he5"):
            return None
        he5 = Path(sub[1])
    else:
        p = Path(path)
        if p.suffix.lower() == ".zip" and p.is_file():
            he5 = _from_zip(p)
            if he5 is None:
                return None
        elif p.suffix.lower() == ".he5" and p.is_file():
            he5 = p
        else:
            return None
    if not he5.is_file():
        raise RasterReadError(f"{he5}: file not found (from {text!r}).")
    import h5py

    try:
        f = h5py.File(he5, "r")
    except OSError as exc:
        raise RasterReadError(f"{he5}: not a readable HDF5 file ({exc}); re-download the PRISMA product.") from exc
    with f:
        swaths = list(f.get("HDFEOS/SWATHS", {}).keys())
        if not any(s.startswith("PRS_") for s in swaths):
            return None
        if "PRS_L2D_HCO" not in swaths:
            raise RasterReadError(
                f"{he5}: a PRISMA product without PRS_L2D_HCO (it holds {', '.join(swaths)}); only L2D, the "
                "orthorectified reflectance, is supported. L1/L2B/L2C are in swath geometry; order L2D.")
        return _read(f, he5, text if sub is not None else str(path))


def _from_zip(z: Path) -> Path | None:
    import zipfile

    try:
        with zipfile.ZipFile(z) as zf:
            names = [n for n in zf.namelist() if _NAME_RE.match(n.rsplit("/", 1)[-1])]
    except zipfile.BadZipFile:
        return None
    if not names:
        return None
    out = cache_path("prisma-zip", 1, [z], ".he5", extra=names[0])
    return extract_member(z, names[0], out)


def _attr(f: Any, name: str, he5: Path) -> Any:
    if name not in f.attrs:
        raise RasterReadError(f"{he5}: PRISMA L2D without the root attribute {name}; re-download the product.")
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else v


def _bands(f: Any, det: str, he5: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(stored indices in ascending wavelength, centres, fwhm, scale min, scale max) of delivered bands."""
    cw = np.asarray(_attr(f, f"List_Cw_{det}", he5), dtype=np.float64).reshape(-1)
    fw = np.asarray(_attr(f, f"List_Fwhm_{det}", he5), dtype=np.float64).reshape(-1)
    flags = np.asarray(f.attrs.get(f"List_Cw_{det}_Flags", np.ones(cw.size)), dtype=np.int64).reshape(-1)
    keep = np.flatnonzero((cw > 0) & (flags != 0))
    idx = keep[np.argsort(cw[keep], kind="stable")]
    smin = float(np.asarray(_attr(f, f"L2Scale{det}Min", he5)).reshape(-1)[0])
    smax = float(np.asarray(_attr(f, f"L2Scale{det}Max", he5)).reshape(-1)[0])
    return idx, cw[idx], fw[idx], smin, smax


def _read(f: Any, he5: Path, given: str) -> Product:
    v_idx, v_cw, v_fw, v_min, v_max = _bands(f, "Vnir", he5)
    s_idx, s_cw, s_fw, s_min, s_max = _bands(f, "Swir", he5)
    above = s_cw > (v_cw.max() if v_cw.size else -np.inf)
    s_idx, s_cw, s_fw = s_idx[above], s_cw[above], s_fw[above]
    for name in ("VNIR_Cube", "SWIR_Cube"):
        if f"{_SWATH}/{name}" not in f:
            raise RasterReadError(f"{he5}: PRISMA L2D without {_SWATH}/{name}; re-download the product.")
    vnir, swir = f[f"{_SWATH}/VNIR_Cube"], f[f"{_SWATH}/SWIR_Cube"]
    rows, _, cols = vnir.shape
    if swir.shape[0] != rows or swir.shape[2] != cols:
        raise RasterReadError(f"{he5}: VNIR cube {vnir.shape} and SWIR cube {swir.shape} differ in size.")
    epsg = int(np.asarray(_attr(f, "Epsg_Code", he5)).reshape(-1)[0])
    ul_e, ul_n = (float(np.asarray(_attr(f, k, he5)).reshape(-1)[0])
                  for k in ("Product_ULcorner_easting", "Product_ULcorner_northing"))
    lr_e, lr_n = (float(np.asarray(_attr(f, k, he5)).reshape(-1)[0])
                  for k in ("Product_LRcorner_easting", "Product_LRcorner_northing"))
    transform, convention = _grid(ul_e, ul_n, lr_e, lr_n, rows, cols)
    out = cache_path("prisma", _FORMAT_VERSION, [he5], ".tif")
    if not out.is_file():
        _write(he5, vnir, swir, (v_idx, v_min, v_max), (s_idx, s_min, s_max), out, epsg, transform)
    attrs = {"product_id": _decode(f.attrs.get("Product_ID", "")) or he5.stem,
             "acquisition_time": str(_decode(f.attrs.get("Product_StartTime", ""))),
             "processing_version": str(_decode(f.attrs.get("Processor_Version", ""))),
             "grid": convention,
             "band_order": (f"{v_cw.size} VNIR bands {v_cw.min():.0f}-{v_cw.max():.0f} nm then {s_cw.size} SWIR "
                            f"bands {s_cw.min():.0f}-{s_cw.max():.0f} nm, ascending; SWIR bands at or below the "
                            "last VNIR band dropped (overlap)")}
    files = [("VNIR_Cube, SWIR_Cube, band and scale attributes", str(he5)), ("cube (cache)", str(out))]
    if given != str(he5):
        files.insert(0, ("given", given))
    return Product(
        sensor="PRISMA", level="L2D", data_path=str(out), wavelength=np.concatenate([v_cw, s_cw]),
        fwhm=np.concatenate([v_fw, s_fw]), bad_band=None, nodata=float("nan"), attrs=attrs, files=files,
        scaling=(f"L2ScaleVnirMin/Max {v_min:g}/{v_max:g}, L2ScaleSwirMin/Max {s_min:g}/{s_max:g} applied "
                 "(Min + DN * (Max - Min) / 65535)"))


def _decode(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return _decode(v.reshape(-1)[0]) if v.size else ""
    return str(v)


def _grid(ul_e: float, ul_n: float, lr_e: float, lr_n: float, rows: int, cols: int) -> tuple[Any, str]:
    from affine import Affine

    centres = abs((lr_e - ul_e) / max(cols - 1, 1) - _PIXEL_M)
    edges = abs((lr_e - ul_e) / cols - _PIXEL_M)
    if centres <= edges:
        px, py = (lr_e - ul_e) / max(cols - 1, 1), (ul_n - lr_n) / max(rows - 1, 1)
        return Affine(px, 0, ul_e - px / 2, 0, -py, ul_n + py / 2), "corner attributes read as pixel centres"
    px, py = (lr_e - ul_e) / cols, (ul_n - lr_n) / rows
    return Affine(px, 0, ul_e, 0, -py, ul_n), "corner attributes read as pixel edges"


def _write(he5: Path, vnir: Any, swir: Any, v: tuple, s: tuple, out: Path, epsg: int, transform: Any) -> None:
    import rasterio
    from rasterio.windows import Window

    from hsigeo.filesafety import atomic_output
    from hsigeo.progress import track

    rows, _, cols = vnir.shape
    count = len(v[0]) + len(s[0])
    profile = {"driver": "GTiff", "count": count, "height": rows, "width": cols, "dtype": "float32",
               "crs": f"EPSG:{epsg}", "transform": transform, "nodata": float("nan"), "tiled": True,
               "blockxsize": 128, "blockysize": 128, "interleave": "pixel", "compress": "zstd", "zstd_level": 1, "predictor": 3,
               "BIGTIFF": "IF_SAFER"}
    cache_dir().mkdir(parents=True, exist_ok=True)
    with atomic_output(out, overwrite=True) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for r0 in track(range(0, rows, _ROWS), total=-(-rows // _ROWS), desc=f"PRISMA: reading {he5.name}",
                        unit="strip"):
            r1 = min(rows, r0 + _ROWS)
            parts, zero = [], None
            for cube, (idx, lo, hi) in ((vnir, v), (swir, s)):
                dn = np.asarray(cube[r0:r1])[:, idx, :]  # (rows, bands, cols), bands ascending
                z = (dn == 0).all(axis=1)
                zero = z if zero is None else zero & z
                parts.append((lo + dn.astype(np.float32) * np.float32((hi - lo) / 65535.0)).transpose(1, 0, 2))
            block = np.concatenate(parts, axis=0)
            block[:, zero] = np.nan
            dst.write(block, window=Window(0, r0, cols, r1 - r0))
