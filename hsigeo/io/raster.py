"""Open and write hyperspectral rasters as georeferenced :class:`xarray.DataArray`.

:func:`open_hsi` reads GeoTIFF, Cloud Optimized GeoTIFF and ENVI files through
rioxarray into a DataArray with dims ``("band", "y", "x")``, its CRS,
transform and nodata, and these coordinates on ``band``:

``wavelength``
    centre wavelength in nanometres (float; NaN where unknown),
``fwhm``
    band width in nanometres, when the file gives it,
``bad_band``
    bool, True for bands the file marks bad (ENVI ``bbl``), when given.

Where wavelengths come from, first match wins per band:

1. an ENVI header (``wavelength``, ``fwhm``, ``bbl``, ``wavelength units``,
   ``data ignore value``) beside the data file;
2. GDAL band metadata: ``wavelength`` / ``wavelength_units`` items (written by
   :func:`write_hsi` and by GDAL's ENVI driver), the ``IMAGERY`` domain
   ``CENTRAL_WAVELENGTH_UM`` / ``FWHM_UM`` items (GDAL >= 3.10), ``ENVI``
   domain items;
3. band descriptions such as ``"Band 12 (550.0 nm)"`` or ``"0.55 um"``.

Units: micrometres are converted to nanometres.  When a file gives numbers
without units, values below 30 are taken as micrometres (no imaging
spectrometer has bands below 30 nm) and larger ones as nanometres.

Invalid pixels: :func:`valid_mask` treats the nodata value, NaN and +-inf as
invalid, so NaN/inf spectra never reach a model.

:func:`write_hsi` writes a DataArray back to a tiled, compressed GeoTIFF whose
per-band metadata carries the wavelengths, so ``open_hsi(write_hsi(da))``
round-trips them.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.errors import InvalidInputError, RasterReadError
from hsigeo.filesafety import atomic_output

__all__ = [
    "open_hsi",
    "write_hsi",
    "valid_mask",
    "read_envi_header",
    "sample_spectra",
    "ENVI_DATA_SUFFIXES",
]

#: Data-file suffixes tried beside an ENVI ``.hdr`` (and the bare stem).
ENVI_DATA_SUFFIXES: tuple[str, ...] = (".img", ".dat", ".bsq", ".bil", ".bip", ".raw", ".envi")

# GDAL block cache while sample_spectra reads rows: a row of 128-pixel tiles of a 285-band float32
# cube across a 1,800-pixel-wide scene is about 260 MB
_SAMPLE_CACHE_BYTES = 384 * 2**20
# numbers without units below this are micrometres, above are nanometres
_UM_THRESHOLD = 30.0
_DESC_RE = re.compile(
    r"(?P<val>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(?P<unit>nm|nanomet\w*|um|µm|μm|microm\w*)?\s*\)?\s*$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- #
# ENVI headers
# --------------------------------------------------------------------------- #
def read_envi_header(path: str | os.PathLike) -> dict[str, Any]:
    """Parse an ENVI ``.hdr`` file into a dict with lower-case keys.

    Brace lists (``wavelength = { 400.0, 410.0 }``) become lists of strings;
    everything else stays a stripped string.

    Raises
    ------
    RasterReadError
        When the file is unreadable or does not start with ``ENVI``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RasterReadError(f"{path}: cannot read the ENVI header ({exc}); check the file and its permissions.") from exc
    if not text.lstrip().upper().startswith("ENVI"):
        raise RasterReadError(
            f"{path}: not an ENVI header (it must start with the word 'ENVI'); "
            "check that the .hdr belongs to an ENVI image."
        )
    out: dict[str, Any] = {}
    lines = text.splitlines()[1:]  # the first line is the "ENVI" magic word
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if value.startswith("{"):
            # brace values may span lines (and contain '='): read up to the closing brace
            while "}" not in value and i < len(lines):
                value += " " + lines[i].strip()
                i += 1
            inner = value[1:value.find("}")] if "}" in value else value[1:]
            out[key] = [s.strip() for s in inner.split(",") if s.strip()]
        else:
            out[key] = value
    return out


def _find_envi_pair(path: Path) -> tuple[Path, Path] | None:
    """Return ``(data_file, header)`` when ``path`` is one half of an ENVI pair."""
    if path.suffix.lower() == ".hdr":
        stem = path.with_suffix("")
        for cand in [stem, *(stem.with_suffix(s) for s in ENVI_DATA_SUFFIXES),
                     *(stem.with_suffix(s.upper()) for s in ENVI_DATA_SUFFIXES)]:
            if cand.is_file():
                return cand, path
        raise RasterReadError(
            f"{path}: ENVI header without a data file; expected one of "
            f"{', '.join(stem.name + s for s in ('', *ENVI_DATA_SUFFIXES))} beside it."
        )
    for hdr in (path.with_suffix(".hdr"), path.with_name(path.name + ".hdr"),
                path.with_suffix(".HDR"), path.with_name(path.name + ".HDR")):
        if hdr.is_file() and hdr != path:
            try:
                with open(hdr, "rb") as fh:
                    if fh.read(64).lstrip().upper().startswith(b"ENVI"):
                        return path, hdr
            except OSError:
                return None
    return None


def _floats(values: Any) -> np.ndarray | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    try:
        return np.array([float(v) for v in values], dtype="float64")
    except (TypeError, ValueError):
        return None


def _to_nm(values: np.ndarray, unit: str | None) -> np.ndarray:
    """Convert wavelengths to nanometres given a unit string (or a guess)."""
    u = (unit or "").strip().lower()
    if u.startswith(("micro", "um", "µm", "μm")):
        return values * 1000.0
    if u.startswith(("nano", "nm")):
        return values
    if u in ("", "unknown", "index", "none"):
        finite = values[np.isfinite(values)]
        if finite.size and float(np.nanmax(finite)) < _UM_THRESHOLD:
            return values * 1000.0
        return values
    if u.startswith(("milli", "mm")):
        return values * 1.0e6
    if u.startswith("wavenumber") or u.startswith("ghz") or u.startswith("mhz"):
        # spectral axes in frequency units cannot be mapped to nm without more
        # information: treat them as unknown rather than silently wrong
        return np.full_like(values, np.nan)
    return values


def _envi_band_info(hdr: dict[str, Any], count: int, hdr_path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {}
    unit = hdr.get("wavelength units")
    wl = _floats(hdr.get("wavelength"))
    if wl is not None:
        if wl.size != count:
            warnings.warn(
                f"{hdr_path}: 'wavelength' lists {wl.size} values for {count} bands; wavelengths ignored.",
                stacklevel=3,
            )
        else:
            info["wavelength"] = _to_nm(wl, unit if isinstance(unit, str) else None)
    fw = _floats(hdr.get("fwhm"))
    if fw is not None and fw.size == count:
        # fwhm shares the wavelength unit; reuse the wavelength guess when unitless
        if isinstance(unit, str) and unit.strip():
            info["fwhm"] = _to_nm(fw, unit)
        elif "wavelength" in info and wl is not None and np.nanmax(wl) < _UM_THRESHOLD:
            info["fwhm"] = fw * 1000.0
        else:
            info["fwhm"] = fw
    bbl = _floats(hdr.get("bbl"))
    if bbl is not None and bbl.size == count:
        info["bad_band"] = bbl == 0  # ENVI: 1 = good, 0 = bad
    div = hdr.get("data ignore value")
    if isinstance(div, str) and div.strip():
        try:
            info["nodata"] = float(div)
        except ValueError:
            pass
    return info


# --------------------------------------------------------------------------- #
# GDAL metadata
# --------------------------------------------------------------------------- #
def _get_ci(tags: Mapping[str, str], *names: str) -> str | None:
    lower = {k.lower(): v for k, v in tags.items()}
    for n in names:
        if n.lower() in lower and str(lower[n.lower()]).strip() != "":
            return str(lower[n.lower()])
    return None


def _parse_float(text: str | None) -> float:
    if text is None:
        return math.nan
    try:
        return float(str(text).strip().strip("{}").split(",")[0])
    except ValueError:
        return math.nan


def _gdal_band_info(src: Any) -> dict[str, Any]:
    """Wavelength/fwhm/bad-band per band from GDAL metadata of an open dataset."""
    n = src.count
    wl = np.full(n, np.nan)
    fw = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    have_bad = False
    ds_tags = src.tags()
    ds_unit = _get_ci(ds_tags, "wavelength_units", "wavelength units")
    for i in range(n):
        bidx = i + 1
        tags = src.tags(bidx)
        value = _get_ci(tags, "wavelength", "center_wavelength", "central_wavelength")
        unit = _get_ci(tags, "wavelength_units", "wavelength units", "units_wavelength") or ds_unit
        if value is not None and math.isfinite(_parse_float(value)):
            raw = _parse_float(value)
            wl[i] = _to_nm(np.array([raw]), unit)[0]
            fwv = _get_ci(tags, "fwhm", "bandwidth")
            if fwv is not None:
                # fwhm shares the wavelength's unit, guessed or given
                fw[i] = _parse_float(fwv) * (wl[i] / raw if raw else 1.0)
        else:
            # GDAL >= 3.10 standard imagery metadata, always micrometres
            try:
                img = src.tags(bidx, ns="IMAGERY")
            except Exception:  # noqa: BLE001 - older GDAL: no such domain
                img = {}
            cw = _parse_float(_get_ci(img, "CENTRAL_WAVELENGTH_UM"))
            if math.isfinite(cw):
                wl[i] = cw * 1000.0
                fw[i] = _parse_float(_get_ci(img, "FWHM_UM")) * 1000.0
        if not math.isfinite(wl[i]):
            desc = (src.descriptions[i] or "").strip()
            m = _DESC_RE.search(desc) if desc else None
            # a bare number only counts when the description looks spectral
            if m and (m.group("unit") or re.search(r"\(|wavelength", desc, re.IGNORECASE)):
                wl[i] = _to_nm(np.array([float(m.group("val"))]), m.group("unit"))[0]
        bb = _get_ci(tags, "bad_band", "bbl")
        if bb is not None:
            have_bad = True
            key = next(k for k in tags if k.lower() in ("bad_band", "bbl"))
            truthy = bb.strip().lower() in ("1", "true", "yes")
            # bbl follows ENVI (1 = good); bad_band is the direct flag
            bad[i] = (not truthy) if key.lower() == "bbl" else truthy
    info: dict[str, Any] = {"wavelength": wl}
    if np.isfinite(fw).any():
        info["fwhm"] = fw
    if have_bad:
        info["bad_band"] = bad
    return info


# --------------------------------------------------------------------------- #
# Opening
# --------------------------------------------------------------------------- #
def _check_file(path: Path) -> None:
    if not path.exists():
        raise RasterReadError(f"{path}: file not found; check the path (relative paths start at {Path.cwd()}).")
    if path.is_dir():
        raise RasterReadError(f"{path}: is a folder, not a raster file; give the path of a .tif, .img or .hdr file.")
    if path.stat().st_size == 0:
        raise RasterReadError(f"{path}: the file is empty (0 bytes); re-export or re-download it.")


def open_hsi(
    path: str | os.PathLike,
    *,
    chunks: Any = None,
    masked: bool = False,
    min_bands: int = 2,
    lock: Any = None,
) -> xr.DataArray:
    """Open a hyperspectral raster or sensor product as a georeferenced DataArray.

    Parameters
    ----------
    path
        A GeoTIFF/COG, an ENVI data file (``.img``, ``.dat``, ... with a
        ``.hdr`` beside it) or an ENVI ``.hdr``; a GDAL subdataset string
        (``NETCDF:"f.nc":var``); or a sensor product as downloaded (see
        :mod:`hsigeo.io.products`): EMIT L2A RFL ``.nc``, PRISMA L2D ``.he5``,
        EnMAP/DESIS L2A image, metadata XML, product folder or zip.
    chunks
        Passed to :func:`rioxarray.open_rasterio`: ``None`` reads lazily
        without dask (values load on first access); a dict such as
        ``{"band": -1, "y": 256, "x": 256}``, an int or ``True``/``"auto"``
        gives a dask-backed array.
    masked
        Replace nodata with NaN (data become floating point).  The original
        nodata value stays in ``da.rio.encoded_nodata``.
    min_bands
        Fewest bands accepted; a single-band raster is most often a label or
        classification map given by mistake.
    lock
        Passed to rioxarray (``False`` for no lock with dask's threads).

    Returns
    -------
    xarray.DataArray
        Dims ``("band", "y", "x")``; coordinates ``wavelength`` (nm, NaN
        where unknown) and, when the file has them, ``fwhm`` and ``bad_band``
        on ``band``; ``attrs["source"]`` is the path given.  Values are scaled
        as the file or product declares (``attrs["scaling"]`` says how; see
        :mod:`hsigeo.io.products.scaling`); products add ``attrs`` ``sensor``,
        ``product_level``, ``acquisition_time``, ``processing_version``,
        ``read_from`` and, when its quality files are present, ``quality_layers``
        (the flags :func:`hsigeo.io.products.quality.quality_mask` can mask).  Rasters without a CRS open but carry ``attrs["crs_note"]``.

    Raises
    ------
    RasterReadError
        When the file is missing, empty, not a raster GDAL can read, a
        container of several subdatasets (the message lists them), an
        incomplete product (the message names the missing file), or has
        fewer than ``min_bands`` bands or empty dimensions.
    """
    import rioxarray  # noqa: F401 - registers .rio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    from hsigeo.io.products import open_product
    from hsigeo.io.products.scaling import check_reflectance, sample_median

    product = open_product(path)
    if product is not None:
        data_path: str | Path = product.data_path
        info: dict[str, Any] = {"wavelength": product.wavelength, "nodata": product.nodata}
        if product.fwhm is not None:
            info["fwhm"] = product.fwhm
        if product.bad_band is not None:
            info["bad_band"] = product.bad_band
        attrs = {"sensor": product.sensor, "product_level": product.level, **product.attrs,
                 "read_from": product.read_from(), "scaling": product.scaling,
                 # what --product-mask may ask for (hsigeo.io.products.quality)
                 "quality_layers": ", ".join(product.quality)}
        driver = f"{product.sensor} {product.level}"
        has_crs, has_transform = True, True
        count = int(np.asarray(product.wavelength).size)
    else:
        data_path, info, attrs, driver, has_crs, has_transform, count = _open_plain(path, min_bands)
    if count < min_bands:
        raise RasterReadError(
            f"{path}: has {count} band(s) but a hyperspectral scene needs at least {min_bands}; "
            "is this a label or classification raster? Use hsigeo.io.labels.read_labels for those."
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            da = rioxarray.open_rasterio(data_path, chunks=chunks, masked=masked, lock=lock)
    except (RasterioIOError, OSError) as exc:
        raise RasterReadError(f"{data_path}: cannot read the raster ({exc}); check the file.") from exc
    if isinstance(da, list) or not isinstance(da, xr.DataArray):
        raise RasterReadError(
            f"{data_path}: holds several subdatasets; open one of them (see `gdalinfo {data_path}`)."
        )
    if da.ndim == 3 and tuple(da.dims[1:]) == ("y", "x") and da.dims[0] != "band":
        # a netCDF subdataset names its band dimension after the variable's (e.g. 'bands', 'time')
        da = da.rename({da.dims[0]: "band"}).assign_coords(band=np.arange(1, da.shape[0] + 1))
    if tuple(da.dims) != ("band", "y", "x"):
        raise RasterReadError(f"{data_path}: unexpected dimensions {da.dims}; expected (band, y, x).")

    # ENVI's "data ignore value" is nodata even where GDAL did not pick it up
    nod = info.get("nodata")
    if nod is not None and da.rio.nodata is None and da.rio.encoded_nodata is None:
        if masked:
            da = da.where(da != nod).rio.write_nodata(nod, encoded=True)
        else:
            da = da.rio.write_nodata(nod)

    coords: dict[str, Any] = {"wavelength": ("band", np.asarray(info["wavelength"], dtype="float64"))}
    if "fwhm" in info:
        coords["fwhm"] = ("band", np.asarray(info["fwhm"], dtype="float64"))
    if "bad_band" in info:
        coords["bad_band"] = ("band", np.asarray(info["bad_band"], dtype=bool))
    da = da.assign_coords(coords)
    # rioxarray copies band 1's metadata into attrs; per-band items there mislead
    for key in list(da.attrs):
        if key.lower() in ("wavelength", "wavelength_units", "fwhm", "bad_band", "bbl"):
            del da.attrs[key]
    da.attrs.update({k: str(v) for k, v in attrs.items() if v not in (None, "")})
    da.attrs["source"] = str(path)
    da.attrs["driver"] = driver
    if not has_crs:
        da.attrs["crs_note"] = (
            f"{data_path} has no coordinate reference system"
            + ("" if has_transform else " and no geotransform (pixel coordinates)")
            + "; outputs will not be georeferenced. Assign one with `gdal_edit.py -a_srs EPSG:XXXX` "
            "or da.rio.write_crs()."
        )
    if attrs.get("scaling"):
        # the file promised reflectance: say so when its values do not look like it
        median = sample_median(str(data_path), nod, info.get("bad_band"))
        check_reflectance(str(path), median, attrs["scaling"])
    da.name = da.name or Path(str(path).rstrip("/\\")).stem.split(":")[-1] or "scene"
    return da


def _open_plain(path: str | os.PathLike, min_bands: int) -> tuple[Any, dict[str, Any], dict[str, str], str,
                                                                     bool, bool, int]:
    """Metadata of a plain GeoTIFF/ENVI raster or a GDAL subdataset; a scaled VRT when it declares a scale."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    from hsigeo.io.products.cache import cache_path, gdal_type, write_scaled_vrt
    from hsigeo.io.products.files import parse_subdataset
    from hsigeo.io.products.scaling import declared_scaling

    sub = parse_subdataset(str(path))
    if sub is not None:
        _check_file(Path(sub[1]))
        data_path: Any = str(path)
        envi = None
    else:
        path = Path(path)
        _check_file(path)
        envi = _find_envi_pair(path)
        data_path = envi[0] if envi else path
        if envi:
            _check_file(data_path)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(data_path) as src:
                count, height, width = src.count, src.height, src.width
                has_crs = src.crs is not None
                has_transform = not src.transform.is_identity
                gdal_info = _gdal_band_info(src)
                driver = src.driver
                subdatasets = list(src.subdatasets) if count == 0 else []
                scales, offsets = src.scales, src.offsets
                dtype = src.dtypes[0] if count else ""
                crs_wkt = src.crs.to_wkt() if src.crs else None
                transform = src.transform.to_gdal()
                src_nodata = src.nodata
    except RasterioIOError as exc:
        raise RasterReadError(
            f"{data_path}: not a raster GDAL can read (corrupt, truncated or not an image: {exc}); "
            "check the file, or re-export it as GeoTIFF or ENVI."
        ) from exc

    if subdatasets:
        raise RasterReadError(_subdataset_message(data_path, subdatasets))
    if height < 1 or width < 1 or count < 1:
        raise RasterReadError(f"{data_path}: the raster is empty ({count} bands, {height} x {width} pixels).")

    info = dict(gdal_info)
    hdr = None
    if envi:
        hdr = read_envi_header(envi[1])
        env = _envi_band_info(hdr, count, envi[1])
        for key in ("wavelength", "fwhm", "bad_band", "nodata"):
            if key in env:
                info[key] = env[key]
    attrs: dict[str, str] = {}
    if hdr is not None:
        from hsigeo.io.products.aviris import describe_envi

        attrs.update(describe_envi(hdr, Path(data_path), info))
    scaling = declared_scaling(scales, offsets, hdr, count) if count >= min_bands else None
    if scaling is not None:
        nodata = info.get("nodata", src_nodata)
        sources = [str(data_path)] if sub is None else [sub[1]]
        vrt = cache_path("scaled", 1, sources, ".vrt", extra=[str(data_path), list(scaling.scale),
                                                               list(scaling.offset), nodata])
        if not vrt.is_file():
            write_scaled_vrt(vrt, str(Path(data_path).resolve()) if sub is None else str(data_path),
                             width=width, height=height, source_dtype=gdal_type(dtype), crs_wkt=crs_wkt,
                             transform=transform if has_transform else None, bands=range(1, count + 1),
                             scale=scaling.scale, offset=scaling.offset, source_nodata=nodata)
        attrs["scaling"] = scaling.note
        attrs["read_from"] = f"image: {data_path}" + (f"; header: {envi[1]}" if envi else "")
        info["nodata"] = None  # the VRT's own nodata (NaN) replaces it
        data_path = vrt
    return data_path, info, attrs, driver, has_crs, has_transform, count


def _subdataset_message(path: Any, subdatasets: list[str]) -> str:
    """Name every subdataset of a container with its size, and say which to pass."""
    import rasterio

    described = []
    cubes = []
    for s in subdatasets[:40]:
        try:
            with rasterio.open(s) as sd:
                described.append(f"{s} ({sd.count} bands, {sd.width} x {sd.height})")
                if sd.count >= 2:
                    cubes.append(s)
        except Exception:  # noqa: BLE001 - a subdataset GDAL cannot open is still worth listing
            described.append(s)
    more = f" and {len(subdatasets) - 40} more" if len(subdatasets) > 40 else ""
    pick = (f"pass the image cube as the path, e.g. '{cubes[0]}'" if cubes else
            "pass one of them as the path")
    return (f"{path}: is a container of {len(subdatasets)} subdatasets, not one image: "
            + "; ".join(described) + more + f". {pick} (quote it in a shell). EMIT L2A RFL and PRISMA L2D "
            "files are recognised by their layout and need no subdataset.")


# --------------------------------------------------------------------------- #
# Validity
# --------------------------------------------------------------------------- #
def valid_mask(da: xr.DataArray, *, how: str = "any", ignore_bad_bands: bool = True) -> xr.DataArray:
    """Pixels with a usable spectrum: not nodata, not NaN, not +-inf.

    Parameters
    ----------
    da
        A scene with dims ``("band", "y", "x")``.
    how
        ``"any"`` (default): a pixel is invalid when *any* band is nodata,
        NaN or infinite, since a model cannot use a partial spectrum.
        ``"all"``: invalid only when every band is.
    ignore_bad_bands
        Skip bands flagged by the ``bad_band`` coordinate (water-absorption
        bands are often zero-filled) when deciding.

    Returns
    -------
    xarray.DataArray
        Bool, dims ``("y", "x")``, True = valid; lazy when ``da`` is dask-backed.
    """
    if how not in ("any", "all"):
        raise InvalidInputError(f"how must be 'any' or 'all', not {how!r}")
    if "band" not in da.dims:
        raise InvalidInputError(f"valid_mask needs a 'band' dimension; got dims {da.dims}")
    if ignore_bad_bands and "bad_band" in da.coords:
        good = ~np.asarray(da.coords["bad_band"].values, dtype=bool)
        if good.any():
            da = da.isel(band=np.flatnonzero(good))
    invalid = xr.zeros_like(da, dtype=bool) if not np.issubdtype(da.dtype, np.floating) else ~np.isfinite(da)
    nodata = da.rio.nodata if hasattr(da, "rio") else None
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        invalid = invalid | (da == nodata)
    bad = invalid.any("band") if how == "any" else invalid.all("band")
    out = ~bad
    out.name = "valid"
    out.attrs = {}
    return out


def sample_spectra(da: xr.DataArray, n: int, *, start: int | None = None) -> np.ndarray:
    """Up to about ``n`` spectra ``(k, bands)`` on a regular grid of rows and columns, read a row at a time.

    A strided ``da.isel(y=slice(0, None, s), x=...)`` on a rioxarray scene reads the
    whole scene before striding (5 GB for a full EMIT cube); this reads one
    one-row window per sampled row from the file GDAL opens (``da.encoding["source"]``),
    so memory stays at one row plus GDAL's block cache.  In-memory arrays are strided
    directly.  Invalid values are returned as they are (the caller filters).  ``start``: the
    first sampled row and column (default: half a stride, so the grid is centred).
    """
    import rasterio
    from rasterio.windows import Window

    b, h, w = (int(v) for v in da.shape)
    step = max(1, int(np.sqrt(h * w / max(n, 1))))
    first = step // 2 if start is None else int(start)
    source = da.encoding.get("source") if hasattr(da, "encoding") else None
    rows = range(first, h, step)
    if source is None or not hasattr(da, "rio"):
        sub = np.asarray(da.values if hasattr(da, "values") else da)[:, first::step, first::step]
        return sub.reshape(b, -1).T.astype(np.float32)
    # the DataArray may be a band/row/column subset of the file: map its coordinates back to the file's grid
    # GDAL's cache holds one row of tiles (all bands) while its rows are sampled; no more
    with rasterio.Env(GDAL_CACHEMAX=_SAMPLE_CACHE_BYTES), rasterio.open(source) as src:
        inv = ~src.transform
        col0, row0 = (int(round(v - 0.5)) for v in inv * (float(da.x[0]), float(da.y[0])))
        bands = [int(v) for v in np.asarray(da.coords["band"].values)] if "band" in da.coords else None
        out = [src.read(bands, window=Window(col0, row0 + r, w, 1))[:, 0, first::step] for r in rows]
    return np.concatenate(out, axis=1).T.astype(np.float32) if out else np.empty((0, b), np.float32)


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
def _band_values(da: xr.DataArray, name: str) -> np.ndarray | None:
    if name in da.coords and da.coords[name].dims == ("band",):
        return np.asarray(da.coords[name].values)
    return None


def write_hsi(
    da: xr.DataArray,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    nodata: float | int | None = None,
    dtype: str | np.dtype | None = None,
    compress: str = "deflate",
    blocksize: int = 256,
    interleave: str = "band",
    rows_per_write: int = 512,
) -> Path:
    """Write a ``("band", "y", "x")`` DataArray as a tiled, compressed GeoTIFF.

    Per band, GDAL metadata items ``wavelength`` and ``wavelength_units=nm``
    (plus ``fwhm`` and ``bad_band`` when known), the ``IMAGERY`` domain items
    ``CENTRAL_WAVELENGTH_UM``/``FWHM_UM`` that GDAL >= 3.10 and QGIS read, and
    a description ``"Band 12 (550.0 nm)"`` are stored, so :func:`open_hsi`
    reads the wavelengths back.  Dask-backed arrays are written a strip of
    rows at a time, so the scene never has to fit in memory.

    Parameters
    ----------
    da
        Scene with dims ``("band", "y", "x")``; CRS and transform from ``da.rio``.
    path
        Output ``.tif``.
    overwrite
        Replace an existing file (else :class:`~hsigeo.errors.OutputExistsError`).
    nodata
        Nodata value to record; default ``da.rio.nodata`` (or the encoded one).
    dtype
        Output data type; default the array's.
    compress
        GDAL compression (``deflate``, ``lzw``, ``zstd``, ``none``).
    blocksize
        Tile size in pixels.
    interleave
        ``"band"`` (good for band subsets) or ``"pixel"`` (good for whole spectra).
    rows_per_write
        Rows computed and written at a time.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    import rasterio
    import rioxarray  # noqa: F401

    if tuple(da.dims) != ("band", "y", "x"):
        raise InvalidInputError(f"write_hsi needs dims ('band', 'y', 'x'); got {da.dims}. Use da.transpose('band', 'y', 'x').")
    count, height, width = (int(s) for s in da.shape)
    out_dtype = np.dtype(dtype or da.dtype)
    if out_dtype == np.float64:
        out_dtype = np.dtype("float32")  # float64 doubles the size for no spectral gain
    if nodata is None:
        nodata = da.rio.nodata
        if nodata is None or (isinstance(nodata, float) and math.isnan(nodata) and not np.issubdtype(out_dtype, np.floating)):
            nodata = da.rio.encoded_nodata
    predictor = 3 if np.issubdtype(out_dtype, np.floating) else 2
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "count": count,
        "height": height,
        "width": width,
        "dtype": out_dtype.name,
        "crs": da.rio.crs,
        "transform": da.rio.transform(),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "interleave": interleave,
        "BIGTIFF": "IF_SAFER",
    }
    if compress and compress.lower() != "none":
        profile.update(compress=compress, predictor=predictor)
    wl = _band_values(da, "wavelength")
    fw = _band_values(da, "fwhm")
    bad = _band_values(da, "bad_band")
    fill = None
    if np.issubdtype(out_dtype, np.integer) and nodata is not None and not math.isnan(float(nodata)):
        fill = nodata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with atomic_output(path, overwrite=overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
            for i in range(count):
                bidx = i + 1
                tags: dict[str, str] = {}
                desc = f"Band {bidx}"
                if wl is not None and math.isfinite(float(wl[i])):
                    tags.update(wavelength=f"{float(wl[i]):.10g}", wavelength_units="nm")
                    desc = f"Band {bidx} ({float(wl[i]):.6g} nm)"
                    img = {"CENTRAL_WAVELENGTH_UM": f"{float(wl[i]) / 1000.0:.10g}"}
                    if fw is not None and math.isfinite(float(fw[i])):
                        img["FWHM_UM"] = f"{float(fw[i]) / 1000.0:.10g}"
                    dst.update_tags(bidx, ns="IMAGERY", **img)
                if fw is not None and math.isfinite(float(fw[i])):
                    tags["fwhm"] = f"{float(fw[i]):.10g}"
                if bad is not None:
                    tags["bad_band"] = "1" if bool(bad[i]) else "0"
                if tags:
                    dst.update_tags(bidx, **tags)
                dst.set_band_description(bidx, desc)
            for r0 in range(0, height, rows_per_write):
                r1 = min(height, r0 + rows_per_write)
                block = np.asarray(da.isel(y=slice(r0, r1)).values)
                if fill is not None and np.issubdtype(block.dtype, np.floating):
                    block = np.where(np.isfinite(block), block, fill)
                dst.write(block.astype(out_dtype, copy=False),
                          window=rasterio.windows.Window(0, r0, width, r1 - r0))
    return Path(path)
