"""GIS-ready raster outputs: classification maps and float (confidence/probability) rasters.

Classification rasters (:func:`write_classification`,
:func:`open_classification_writer`) are single-band ``uint8`` (``uint16``
when a class value exceeds 255), tiled 256 x 256, DEFLATE-compressed with a
horizontal predictor (or a Cloud Optimized GeoTIFF with ``cog=True``), with
CRS, transform and nodata (``0`` = unclassified by default), and carry their
class table three ways:

* an embedded GDAL **colour table** (palette; nodata is transparent), inside
  the ``.tif``;
* the dataset metadata item ``HSIGEO_CLASSES`` (JSON list of
  ``{"value", "name", "colour"}``), inside the ``.tif``, read back by
  :func:`read_class_table` / :func:`read_classification`;
* GDAL **category names** in the PAM sidecar ``<name>.tif.aux.xml``
  (``<CategoryNames>``), which ``gdalinfo`` lists under ``Categories:`` and
  QGIS shows as class labels.  GDAL's GeoTIFF driver has no internal storage
  for category names (``SetCategoryNames`` always goes to the PAM sidecar,
  and the ``GDAL_METADATA`` TIFF tag it parses holds only metadata items,
  offsets/scales, units and descriptions), so the sidecar is the only place
  GDAL and QGIS read them from; it is written with the ``.tif`` and removed
  with it on failure.

A QGIS style sidecar ``<name>.qml`` (paletted renderer with the class names and
colours, which QGIS applies automatically when the raster is added) is
written too unless ``qml=False``; :func:`write_qml` writes one on its own.

Float rasters (:func:`write_float_raster`, :func:`open_float_writer`) are
``float32``, NaN nodata, with band descriptions (e.g. class names for
per-class probabilities).

Every output is written to a temporary file beside the target and renamed into
place only when complete (:func:`hsigeo.filesafety.atomic_output`).  The block
writers (:func:`open_classification_writer`, :func:`open_float_writer`) let
tiled inference stream windows to disk::

    with open_classification_writer("classes.tif", like=scene, classes=prompts) as out:
        for window, block in results:
            out.write_window(window, block)
    # renamed into place here; on an exception nothing is left behind
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import xarray as xr

from hsigeo.classes import ClassInfo, normalize_classes
from hsigeo.errors import HsigeoError, InvalidInputError
from hsigeo.filesafety import atomic_output, check_output
from hsigeo.io.qml import paletted_raster_qml

__all__ = [
    "CLASS_TABLE_TAG",
    "RasterBlockWriter",
    "open_classification_writer",
    "open_float_writer",
    "write_classification",
    "write_float_raster",
    "write_qml",
    "write_style",
    "classification_dtype",
]

#: Dataset metadata item holding the class table as JSON inside the GeoTIFF.
CLASS_TABLE_TAG = "HSIGEO_CLASSES"



# --------------------------------------------------------------------------- #
# Class tables
# --------------------------------------------------------------------------- #
def classification_dtype(classes: Sequence[ClassInfo], nodata: int = 0, max_value: int | None = None) -> str:
    """``"uint8"`` when every value (and nodata) fits in 0..255, else ``"uint16"``.

    Raises
    ------
    InvalidInputError
        When a class value does not fit uint16 (or is < 1): written anyway it would wrap
        around (70000 -> 4464) into another class's value; or when nodata is outside 0..65535.
    """
    bad = [int(c.value) for c in classes if not 1 <= int(c.value) <= 65535]
    if bad:
        raise InvalidInputError(
            f"class value(s) {', '.join(map(str, bad[:5]))} cannot be stored in a classification raster "
            "(values are 1..65535, uint16; 0 is nodata). Renumber the classes in the prompts file."
        )
    top = max([nodata, max_value or 0, *(int(c.value) for c in classes)])
    if top > 65535 or nodata < 0:
        raise InvalidInputError(f"class values and nodata must lie in 0..65535 (got max {top}, nodata {nodata})")
    return "uint8" if top <= 255 else "uint16"


# --------------------------------------------------------------------------- #
# Sidecars
# --------------------------------------------------------------------------- #
def _aux_xml(classes: Sequence[ClassInfo], nodata: int) -> str:
    names = {c.value: c.name for c in classes}
    top = max([nodata, *names]) if names else nodata
    # GDAL category names are indexed by pixel value, 0..max
    cats = "\n".join(
        f"      <Category>{escape(names.get(v, 'Unclassified' if v == nodata else ''))}</Category>"
        for v in range(top + 1)
    )
    return (
        "<PAMDataset>\n"
        '  <PAMRasterBand band="1">\n'
        "    <CategoryNames>\n"
        f"{cats}\n"
        "    </CategoryNames>\n"
        "  </PAMRasterBand>\n"
        "</PAMDataset>\n"
    )


def write_qml(path: str | os.PathLike, classes: Any, *, overwrite: bool = True) -> Path:
    """Write a QGIS ``.qml`` style: paletted renderer with class names and colours.

    Saved as ``<raster stem>.qml`` beside a raster, QGIS applies it
    automatically when the raster is added to a project.

    Parameters
    ----------
    path
        The ``.qml`` file to write.
    classes
        Anything :func:`normalize_classes` accepts.
    overwrite
        Replace an existing file (default True: a style follows its raster).
    """
    return write_style(path, paletted_raster_qml(classes), overwrite=overwrite)


def write_style(path: str | os.PathLike, qml: str, *, overwrite: bool = True) -> Path:
    """Write the QML text ``qml`` (from :mod:`hsigeo.io.qml`) to ``path``, atomically."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(qml, encoding="utf-8")
    return Path(path)


def _write_sidecars(final: Path, classes: Sequence[ClassInfo], nodata: int, *, qml: bool) -> list[Path]:
    """Write ``final.aux.xml`` (and ``final.qml``) atomically; return what was written."""
    written: list[Path] = []
    aux = final.with_name(final.name + ".aux.xml")
    with atomic_output(aux, overwrite=True) as tmp:
        tmp.write_text(_aux_xml(classes, nodata), encoding="utf-8")
    written.append(aux)
    if qml:
        written.append(write_qml(final.with_suffix(".qml"), classes, overwrite=True))
    return written


# --------------------------------------------------------------------------- #
# Block writers
# --------------------------------------------------------------------------- #
def _grid_from(
    like: Any, width: int | None, height: int | None, crs: Any, transform: Any
) -> tuple[int, int, Any, Any]:
    if like is not None:
        if isinstance(like, (str, os.PathLike)):
            import rasterio

            with rasterio.open(like) as src:
                return src.width, src.height, src.crs, src.transform
        if isinstance(like, Mapping):
            return int(like["width"]), int(like["height"]), like.get("crs"), like.get("transform")
        import rioxarray  # noqa: F401

        return int(like.rio.width), int(like.rio.height), like.rio.crs, like.rio.transform()
    if width is None or height is None:
        raise InvalidInputError("give like= (a DataArray, raster path or profile dict) or width= and height=")
    from affine import Affine

    return int(width), int(height), crs, transform if transform is not None else Affine.identity()


class RasterBlockWriter:
    """A raster open for writing window by window (yielded by the ``open_*_writer`` functions).

    Attributes
    ----------
    path
        The final output path (the data go to a temporary file until the
        ``with`` block ends cleanly).
    width, height, count, dtype, nodata
        The output grid and type.
    """

    def __init__(self, dst: Any, path: Path, *, nodata: float | int | None) -> None:
        self._dst = dst
        self.path = path
        self.width: int = dst.width
        self.height: int = dst.height
        self.count: int = dst.count
        self.dtype = np.dtype(dst.dtypes[0])
        self.nodata = nodata
        self.profile: dict[str, Any] = dict(dst.profile)

    @property
    def block_windows(self) -> list[Any]:
        """The file's internal tile windows (writing whole tiles is fastest)."""
        return [w for _, w in self._dst.block_windows(1)]

    def update_tags(self, **tags: str) -> None:
        """Record dataset metadata items (e.g. a run record) in the file being written."""
        self._dst.update_tags(**tags)

    def write_window(self, window: Any, array: np.ndarray) -> None:
        """Write ``array`` into ``window``.

        Parameters
        ----------
        window
            A :class:`rasterio.windows.Window`, or ``(row_slice, col_slice)``,
            or ``(row_off, col_off, height, width)``.
        array
            ``(h, w)`` for a single-band output or ``(count, h, w)``.
            Floating values that are NaN become nodata in integer outputs.
        """
        from rasterio.windows import Window

        if isinstance(window, tuple) and len(window) == 2 and all(isinstance(s, slice) for s in window):
            rs, cs = window
            window = Window(cs.start, rs.start, cs.stop - cs.start, rs.stop - rs.start)
        elif isinstance(window, tuple) and len(window) == 4:
            r, c, h, w = window
            window = Window(c, r, w, h)
        arr = np.asarray(array)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (self.count, int(window.height), int(window.width)):
            raise InvalidInputError(
                f"{self.path}: block of shape {arr.shape} does not fit window {window} "
                f"({self.count} band(s) x {int(window.height)} x {int(window.width)})"
            )
        if (window.row_off < 0 or window.col_off < 0 or window.row_off + window.height > self.height
                or window.col_off + window.width > self.width):
            raise InvalidInputError(f"{self.path}: window {window} lies outside the {self.height} x {self.width} raster")
        if np.issubdtype(self.dtype, np.integer) and np.issubdtype(arr.dtype, np.floating):
            arr = np.where(np.isfinite(arr), arr, self.nodata if self.nodata is not None else 0)
        self._dst.write(arr.astype(self.dtype, copy=False), window=window)

    def write(self, array: np.ndarray) -> None:
        """Write the whole raster at once (``(h, w)`` or ``(count, h, w)``)."""
        self.write_window((0, 0, self.height, self.width), array)


def _cog_options(profile: Mapping[str, Any], *, categorical: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "driver": "COG",
        "compress": "DEFLATE",
        "predictor": "YES",
        "blocksize": int(profile.get("blockxsize", 256)),
        "overview_resampling": "NEAREST" if categorical else "AVERAGE",
        "BIGTIFF": "IF_SAFER",
    }
    return opts


@contextlib.contextmanager
def _open_writer(
    path: str | os.PathLike,
    profile: dict[str, Any],
    *,
    overwrite: bool,
    cog: bool,
    setup: Any,
    categorical: bool,
    after: Any = None,
) -> Iterator[RasterBlockWriter]:
    import rasterio
    import rasterio.shutil

    final = check_output(path, overwrite=overwrite)
    sidecars: list[Path] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with atomic_output(final, overwrite=overwrite) as tmp:
                # COG is copy-only in GDAL: stream into a tiled GTiff, then convert
                work = tmp.with_name(tmp.name + ".work.tif") if cog else tmp
                try:
                    with rasterio.open(work, "w", **profile) as dst:
                        setup(dst)
                        yield RasterBlockWriter(dst, final, nodata=profile.get("nodata"))
                    if cog:
                        rasterio.shutil.copy(work, tmp, **_cog_options(profile, categorical=categorical))
                finally:
                    if cog:
                        for p in (work, work.with_name(work.name + ".aux.xml")):
                            with contextlib.suppress(FileNotFoundError):
                                p.unlink()
                    # GDAL may leave PAM files for the temporary name; they are not ours to keep
                    with contextlib.suppress(FileNotFoundError):
                        tmp.with_name(tmp.name + ".aux.xml").unlink()
                if after is not None:
                    # sidecars go in just before the .tif is renamed into place
                    sidecars = after(final)
    except BaseException as exc:
        for p in sidecars:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if _names_no_output(exc, final):
            raise _write_error(final, exc) from exc
        raise


def _names_no_output(exc: BaseException, final: Path) -> bool:
    """A write error that names nothing (GDAL) or only this output's temporary file."""
    import rasterio.errors

    if isinstance(exc, HsigeoError) or not isinstance(exc, (OSError, rasterio.errors.RasterioError)):
        return False
    name = getattr(exc, "filename", None)
    return name is None or Path(name).name.startswith(f".{final.name}.hsigeo-")


def _write_error(final: Path, exc: BaseException) -> OSError:
    """An OSError naming the output (GDAL's messages name the temporary file, or nothing)."""
    import errno

    if isinstance(exc, OSError) and exc.filename is not None and exc.errno is not None:
        return OSError(exc.errno, exc.strerror, str(final))
    text = str(exc.__cause__ or exc) or type(exc).__name__
    code = errno.ENOSPC if "no space" in text.lower() else (getattr(exc, "errno", None) or errno.EIO)
    reason = "no space left on device" if code == errno.ENOSPC else f"could not write the raster ({text})"
    return OSError(code, reason, str(final))


def _base_profile(width: int, height: int, crs: Any, transform: Any, *, count: int, dtype: str,
                  nodata: Any, blocksize: int, predictor: int) -> dict[str, Any]:
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "compress": "deflate",
        "predictor": predictor,
        "interleave": "band",
        "BIGTIFF": "IF_SAFER",
    }


def open_classification_writer(
    path: str | os.PathLike,
    *,
    classes: Any,
    like: Any = None,
    width: int | None = None,
    height: int | None = None,
    crs: Any = None,
    transform: Any = None,
    nodata: int = 0,
    dtype: str | None = None,
    cog: bool = False,
    overwrite: bool = False,
    qml: bool = True,
    blocksize: int = 256,
) -> contextlib.AbstractContextManager[RasterBlockWriter]:
    """Open a single-band classification GeoTIFF for window-by-window writing.

    Use as a context manager; the file appears at ``path`` (with its
    ``.aux.xml`` category names and ``.qml`` style) only when the ``with``
    block ends without an exception.  Unwritten tiles read as ``nodata``.

    Parameters
    ----------
    path
        Output ``.tif``.
    classes
        Class table (anything :func:`normalize_classes` accepts): sets the
        colour table, category names and ``HSIGEO_CLASSES`` metadata.
    like
        Grid to copy: a DataArray with ``.rio``, a raster path, or a dict with
        ``width``, ``height``, ``crs``, ``transform``.  Or give ``width``,
        ``height``, ``crs``, ``transform`` directly.
    nodata
        Value of unclassified pixels (transparent in the colour table).
    dtype
        ``"uint8"`` or ``"uint16"``; default the smallest that holds the values.
    cog
        Write a Cloud Optimized GeoTIFF (with nearest-neighbour overviews).
    overwrite
        Replace existing outputs (else :class:`~hsigeo.errors.OutputExistsError`).
    qml
        Also write the QGIS style ``<stem>.qml``.
    blocksize
        Tile size.

    Yields
    ------
    RasterBlockWriter
        Call ``write_window(window, array)`` for each block.
    """
    entries = normalize_classes(classes)
    w, h, crs_, tr = _grid_from(like, width, height, crs, transform)
    dt = dtype or classification_dtype(entries, nodata)
    profile = _base_profile(w, h, crs_, tr, count=1, dtype=dt, nodata=nodata, blocksize=blocksize, predictor=2)

    def setup(dst: Any) -> None:
        # unnamed values (nodata included) are transparent
        cmap = {v: (0, 0, 0, 0) for v in range(0, max([nodata, *(e.value for e in entries)]) + 1)}
        for e in entries:
            cmap[e.value] = (*e.colour, 255)
        dst.write_colormap(1, cmap)
        dst.update_tags(**{CLASS_TABLE_TAG: json.dumps(
            [{"value": e.value, "name": e.name, "colour": e.colour_hex} for e in entries])})
        dst.set_band_description(1, "class")

    return _open_writer(
        path, profile, overwrite=overwrite, cog=cog, setup=setup, categorical=True,
        after=lambda final: _write_sidecars(final, entries, nodata, qml=qml),
    )


def open_float_writer(
    path: str | os.PathLike,
    *,
    count: int = 1,
    band_names: Sequence[str] | None = None,
    like: Any = None,
    width: int | None = None,
    height: int | None = None,
    crs: Any = None,
    transform: Any = None,
    nodata: float = math.nan,
    cog: bool = False,
    overwrite: bool = False,
    blocksize: int = 256,
    style: str | None = None,
) -> contextlib.AbstractContextManager[RasterBlockWriter]:
    """Open a ``float32`` GeoTIFF (confidence, probabilities) for window-by-window writing.

    Parameters
    ----------
    path
        Output ``.tif``.
    count
        Number of bands (e.g. 1 for confidence, C for per-class probabilities).
    band_names
        Band descriptions (e.g. class names), ``count`` of them.
    like, width, height, crs, transform
        The grid, as in :func:`open_classification_writer`.
    nodata
        Nodata value (default NaN).
    cog, overwrite, blocksize
        As in :func:`open_classification_writer`.
    style
        QML text (e.g. :func:`hsigeo.io.qml.pseudocolor_raster_qml`) written
        beside the raster as ``<stem>.qml``, which QGIS applies when the raster
        is added; ``None``: no style.
    """
    if band_names is not None and len(band_names) != count:
        raise InvalidInputError(f"{len(band_names)} band names for {count} bands")
    w, h, crs_, tr = _grid_from(like, width, height, crs, transform)
    profile = _base_profile(w, h, crs_, tr, count=count, dtype="float32", nodata=nodata,
                            blocksize=blocksize, predictor=3)

    def setup(dst: Any) -> None:
        for i in range(count):
            if band_names is not None:
                dst.set_band_description(i + 1, str(band_names[i]))

    after = None if style is None else (lambda final: [write_style(final.with_suffix(".qml"), style)])
    return _open_writer(path, profile, overwrite=overwrite, cog=cog, setup=setup, categorical=False, after=after)


# --------------------------------------------------------------------------- #
# Whole-array writers
# --------------------------------------------------------------------------- #
def _as_2d(da: xr.DataArray | np.ndarray) -> np.ndarray:
    arr = da.values if isinstance(da, xr.DataArray) else np.asarray(da)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InvalidInputError(f"a classification raster must be 2-D (y, x); got shape {arr.shape}")
    return arr


def write_classification(
    classes_da: xr.DataArray,
    path: str | os.PathLike,
    *,
    classes: Any = None,
    nodata: int = 0,
    cog: bool = False,
    overwrite: bool = False,
    dtype: str | None = None,
    qml: bool = True,
    rows_per_write: int = 1024,
) -> Path:
    """Write a class map as a GIS-ready classification GeoTIFF.

    Parameters
    ----------
    classes_da
        DataArray ``("y", "x")`` (or ``(1, y, x)``) of class values with
        ``.rio`` georeferencing; NaN becomes ``nodata``.
    path
        Output ``.tif``.
    classes
        Class table (anything :func:`normalize_classes` accepts); default
        ``classes_da.attrs["class_names"]``, else ``"class <v>"`` for each
        value present.
    nodata, cog, overwrite, dtype, qml
        As in :func:`open_classification_writer`.
    rows_per_write
        Rows written at a time (bounds memory for dask-backed input).

    Returns
    -------
    pathlib.Path
        The written ``.tif``.
    """
    if classes is None:
        classes = classes_da.attrs.get("class_names") if isinstance(classes_da, xr.DataArray) else None
    if classes is None:
        values = np.unique(_as_2d(classes_da))
        values = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
        classes = {int(v): f"class {int(v)}" for v in values if int(v) != nodata}
    entries = normalize_classes(classes)
    if isinstance(classes_da, xr.DataArray) and classes_da.ndim == 3:
        classes_da = classes_da.squeeze(classes_da.dims[0], drop=True)
    height = int(classes_da.shape[-2])
    with open_classification_writer(path, classes=entries, like=classes_da, nodata=nodata, dtype=dtype,
                                    cog=cog, overwrite=overwrite, qml=qml) as out:
        ydim = classes_da.dims[-2]
        for r0 in range(0, height, rows_per_write):
            r1 = min(height, r0 + rows_per_write)
            block = _as_2d(classes_da.isel({ydim: slice(r0, r1)}))
            out.write_window((r0, 0, r1 - r0, out.width), block)
    return Path(path)


def write_float_raster(
    da: xr.DataArray,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    nodata: float = math.nan,
    band_names: Sequence[str] | None = None,
    cog: bool = False,
    rows_per_write: int = 1024,
) -> Path:
    """Write a float32 raster (confidence, per-class probabilities, indices).

    Parameters
    ----------
    da
        DataArray ``(y, x)`` or ``(band-like, y, x)`` with ``.rio`` georeferencing.
    path
        Output ``.tif``.
    overwrite
        Replace an existing file (else :class:`~hsigeo.errors.OutputExistsError`).
    nodata
        Nodata value (default NaN).
    band_names
        Band descriptions; default the values of the first dimension's
        coordinate when ``da`` is 3-D and they are strings, or the DataArray name.
    cog
        Write a Cloud Optimized GeoTIFF.
    rows_per_write
        Rows written at a time.
    """
    if da.ndim == 2:
        da = da.expand_dims("band")
    if da.ndim != 3:
        raise InvalidInputError(f"write_float_raster needs (y, x) or (band, y, x); got dims {da.dims}")
    count = int(da.shape[0])
    if band_names is None:
        first = da.dims[0]
        if first in da.coords and da.coords[first].dtype.kind in "UO":
            band_names = [str(v) for v in da.coords[first].values]
        elif "class_name" in da.coords:
            band_names = [str(v) for v in da.coords["class_name"].values]
        elif count == 1 and da.name:
            band_names = [str(da.name)]
    height = int(da.shape[1])
    with open_float_writer(path, count=count, band_names=band_names, like=da, nodata=nodata,
                           cog=cog, overwrite=overwrite) as out:
        for r0 in range(0, height, rows_per_write):
            r1 = min(height, r0 + rows_per_write)
            block = np.asarray(da.isel({da.dims[1]: slice(r0, r1)}).values, dtype="float32")
            if not math.isnan(nodata):
                block = np.where(np.isfinite(block), block, nodata)
            out.write_window((r0, 0, r1 - r0, out.width), block)
    return Path(path)
