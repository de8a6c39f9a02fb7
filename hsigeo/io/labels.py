"""Training / reference labels on the scene grid, from a raster or a vector file.

:func:`read_labels` returns a DataArray ``("y", "x")`` of ``int32`` class
values on exactly the grid of the scene (``0`` = unlabelled) with
``attrs["class_names"]`` (``{value: name}``) and ``attrs["label_report"]``, a
:class:`LabelReport`.

Sources
-------
Label raster (``.tif``, ``.img``, ...)
    Must share the scene's size, CRS and transform; otherwise
    :class:`~hsigeo.errors.LabelError` explains the difference, unless
    ``reproject=True`` (nearest-neighbour resampling onto the scene grid).
    The raster's nodata becomes ``0``.
Vector file (GeoPackage, Shapefile, GeoJSON, anything OGR reads)
    Polygons, lines and points with a class field holding integer values or
    class names.  Reprojected to the scene CRS; burnt with
    :func:`rasterio.features.rasterize` (pixel centres inside polygons, or
    every touched pixel with ``all_touched=True``; a point marks exactly the
    pixel that contains it).  Where features overlap the later one in the file
    wins.

Classes
-------
``classes`` (a :class:`~hsigeo.text.prompts.PromptSet`, objects with ``.value``
and ``.name``, ``(value, name)`` pairs or ``{value: name}``) maps names to
values and names the values.  Label classes missing from ``classes``
raise :class:`~hsigeo.errors.LabelError` (``on_unknown="error"``, the
default) or are set to ``0`` and listed in the report
(``on_unknown="drop"``).  Classes of ``classes`` with no labelled pixel are
never an error; they are listed in ``LabelReport.without_samples``.  Labels
with no labelled pixel at all on the scene raise ``LabelError``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.classes import ClassInfo, normalize_classes
from hsigeo.errors import InvalidInputError, InvalidTypeError, LabelError

__all__ = ["read_labels", "LabelReport", "label_report", "VECTOR_SUFFIXES", "RASTER_SUFFIXES"]

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite", ".parquet")
RASTER_SUFFIXES = (".tif", ".tiff", ".img", ".vrt", ".dat", ".bsq", ".jp2", ".asc")
# field names tried, case-insensitively, when none is given
_FIELD_GUESSES = ("class", "class_id", "classid", "class_name", "classname", "label", "labels",
                  "value", "class_value", "category", "type", "name", "id")


@dataclass
class LabelReport:
    """What :func:`read_labels` found.

    Attributes
    ----------
    source
        The label file.
    counts
        Labelled pixels per class value (only values with pixels).
    class_names
        ``{value: name}`` of the returned labels.
    unknown
        Label classes (names, or values as strings) absent from ``classes``;
        their pixels were set to 0 (only non-empty with ``on_unknown="drop"``).
    without_samples
        Names of ``classes`` entries with no labelled pixel.
    remapped
        ``{old value: new value}`` applied where a label raster's own class
        table names a class that ``classes`` gives another value.
    dropped_features
        Vector features skipped (empty geometry or empty class field).
    """

    source: str
    counts: dict[int, int] = field(default_factory=dict)
    class_names: dict[int, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    without_samples: list[str] = field(default_factory=list)
    remapped: dict[int, int] = field(default_factory=dict)
    dropped_features: int = 0

    @property
    def n_labelled(self) -> int:
        """Total labelled pixels."""
        return int(sum(self.counts.values()))

    def summary(self) -> str:
        """A few human-readable lines (for the CLI and logs)."""
        lines = [f"{self.source}: {self.n_labelled} labelled pixels in {len(self.counts)} classes"]
        for v, n in sorted(self.counts.items()):
            lines.append(f"  {v:>5}  {self.class_names.get(v, '?')}: {n}")
        if self.unknown:
            lines.append(f"  dropped, not in the prompts: {', '.join(self.unknown)}")
        if self.without_samples:
            lines.append(f"  prompt classes without samples: {', '.join(self.without_samples)}")
        if self.remapped:
            lines.append("  values remapped by class name: " + ", ".join(f"{a}->{b}" for a, b in self.remapped.items()))
        if self.dropped_features:
            lines.append(f"  {self.dropped_features} features skipped (empty geometry or class)")
        return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Grid of the scene
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Grid:
    width: int
    height: int
    crs: Any
    transform: Any
    da: xr.DataArray | None


def _grid(like: Any) -> _Grid:
    if isinstance(like, (str, os.PathLike)):
        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(like) as src:
                return _Grid(src.width, src.height, src.crs, src.transform, None)
    import rioxarray  # noqa: F401

    return _Grid(int(like.rio.width), int(like.rio.height), like.rio.crs, like.rio.transform(), like)


def _output(arr: np.ndarray, grid: _Grid) -> xr.DataArray:
    import rioxarray  # noqa: F401

    if grid.da is not None:
        coords = {"y": grid.da.coords["y"].values, "x": grid.da.coords["x"].values}
    else:
        t = grid.transform
        coords = {"y": t.f + (np.arange(grid.height) + 0.5) * t.e, "x": t.c + (np.arange(grid.width) + 0.5) * t.a}
    out = xr.DataArray(arr.astype("int32", copy=False), dims=("y", "x"), coords=coords, name="labels")
    if grid.crs is not None:
        out = out.rio.write_crs(grid.crs)
    out = out.rio.write_transform(grid.transform)
    return out.rio.write_nodata(0)


def _crs_name(crs: Any) -> str:
    if crs is None:
        return "none"
    try:
        epsg = crs.to_epsg()
    except Exception:  # noqa: BLE001
        epsg = None
    return f"EPSG:{epsg}" if epsg else str(crs)[:60]


def _same_crs(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    from pyproj import CRS

    return CRS.from_user_input(a).equals(CRS.from_user_input(b), ignore_axis_order=True)


# --------------------------------------------------------------------------- #
# Raster labels
# --------------------------------------------------------------------------- #
def _read_raster_labels(path: Path, grid: _Grid, *, reproject: bool) -> tuple[np.ndarray, dict[int, str]]:
    import rasterio
    from rasterio.errors import RasterioIOError

    from hsigeo.io.classmaps import read_class_table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        raise LabelError(f"{path}: not a readable label raster ({exc}); check the file.") from exc
    with src:
        if src.count != 1:
            raise LabelError(
                f"{path}: a label raster has one band of class values; this one has {src.count}. "
                "Is it the scene itself? Give the label raster or a vector file."
            )
        problems = []
        if (src.height, src.width) != (grid.height, grid.width):
            problems.append(f"size {src.height} x {src.width} pixels vs the scene's {grid.height} x {grid.width}")
        if not _same_crs(src.crs, grid.crs):
            problems.append(f"CRS {_crs_name(src.crs)} vs the scene's {_crs_name(grid.crs)}")
        tol = 1e-6 * max(abs(grid.transform.a), abs(grid.transform.e), 1e-12)
        if not src.transform.almost_equals(grid.transform, precision=tol):
            st, gt = src.transform, grid.transform
            problems.append(
                f"grid origin ({st.c:.6g}, {st.f:.6g}) / pixel size ({st.a:.6g}, {st.e:.6g}) vs the scene's "
                f"({gt.c:.6g}, {gt.f:.6g}) / ({gt.a:.6g}, {gt.e:.6g})"
            )
        dtype = np.dtype(src.dtypes[0])
        nodata = src.nodata
        if problems and not reproject:
            raise LabelError(
                f"{path}: the label raster is not on the scene grid: " + "; ".join(problems) + ". "
                "Resample it onto the scene grid (e.g. gdalwarp -r near with the scene's -t_srs/-te/-tr), "
                "use a vector label file, or pass reproject=True to resample with nearest neighbour."
            )
        if problems:
            from rasterio.warp import Resampling
            from rasterio.warp import reproject as warp

            if src.crs is None or grid.crs is None:
                raise LabelError(f"{path}: cannot resample labels without a CRS on both the labels and the scene.")
            arr = np.zeros((grid.height, grid.width), dtype=dtype)
            warp(
                source=rasterio.band(src, 1), destination=arr, dst_transform=grid.transform, dst_crs=grid.crs,
                resampling=Resampling.nearest, src_nodata=nodata, dst_nodata=nodata if nodata is not None else 0,
            )
        else:
            arr = src.read(1)
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if nodata is not None and not math.isnan(nodata):
            finite &= arr != nodata
        if np.any(arr[finite] != np.round(arr[finite])):
            raise LabelError(f"{path}: label values must be whole numbers; this raster holds fractional values.")
        arr = np.where(finite, arr, 0)
    elif nodata is not None and not math.isnan(nodata):
        arr = np.where(arr == nodata, 0, arr)
    arr = arr.astype("int64")
    if (arr < 0).any():
        raise LabelError(f"{path}: negative label values ({int(arr.min())}); labels are 0 (unlabelled) or >= 1.")
    names = {e.value: e.name for e in read_class_table(path)}
    return arr, names


# --------------------------------------------------------------------------- #
# Vector labels
# --------------------------------------------------------------------------- #
def _pick_field(gdf: Any, field_name: str | None, path: Path) -> str:
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    if field_name is not None:
        if field_name in columns:
            return field_name
        ci = [c for c in columns if c.lower() == field_name.lower()]
        if ci:
            return ci[0]
        raise LabelError(
            f"{path}: no field {field_name!r}; the layer has {', '.join(map(repr, columns)) or 'no attribute fields'}. "
            "Pass the class field with --label-field / field=."
        )
    lower = {c.lower(): c for c in columns}
    for guess in _FIELD_GUESSES:
        if guess in lower:
            return lower[guess]
    if len(columns) == 1:
        return columns[0]
    raise LabelError(
        f"{path}: cannot tell which field holds the class; fields: {', '.join(map(repr, columns)) or 'none'}. "
        "Pass it with --label-field / field=."
    )


def _as_int_values(series: Any) -> np.ndarray | None:
    """Integer values of a column when it holds whole numbers (numbers or numeric strings), else None."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_numeric_dtype(series):
        vals = series.to_numpy(dtype="float64")
    else:
        try:
            vals = np.array([float(str(v).strip()) for v in series], dtype="float64")
        except ValueError:
            return None
    if not np.all(np.isfinite(vals)) or np.any(vals != np.round(vals)):
        return None
    return vals.astype("int64")


def _read_vector_labels(
    path: Path, grid: _Grid, *, field_name: str | None, layer: str | int | None, all_touched: bool,
    entries: list[ClassInfo], on_unknown: str, report: LabelReport,
) -> tuple[np.ndarray, dict[int, str]]:
    import geopandas as gpd
    from rasterio.features import rasterize

    from hsigeo.io.vectors import feature_layer

    layer = feature_layer(path, layer)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for the same user problem
        raise LabelError(f"{path}: cannot read the vector file ({exc}); check it opens in QGIS/ogrinfo.") from exc
    if len(gdf) == 0:
        raise LabelError(f"{path}: the layer has no features; draw or export some labelled features.")
    fname = _pick_field(gdf, field_name, path)

    if gdf.crs is None and grid.crs is not None:
        raise LabelError(
            f"{path}: the vector file has no CRS but the scene is in {_crs_name(grid.crs)}; "
            "assign the right CRS (QGIS: Layer > Assign projection, or ogr2ogr -a_srs EPSG:XXXX) and retry."
        )
    if gdf.crs is not None and grid.crs is None:
        raise LabelError(
            f"{path}: the vector file is in {_crs_name(gdf.crs)} but the scene has no CRS, so they cannot be "
            "matched; georeference the scene (gdal_edit.py -a_srs) or use a label raster on its pixel grid."
        )
    if gdf.crs is not None and not _same_crs(gdf.crs, grid.crs):
        gdf = gdf.to_crs(grid.crs)

    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty & gdf[fname].notna()
    if gdf[fname].dtype == object:
        keep &= gdf[fname].astype(str).str.strip() != ""
    report.dropped_features = int((~keep).sum())
    gdf = gdf[keep]
    if len(gdf) == 0:
        raise LabelError(f"{path}: no feature has both a geometry and a value in field {fname!r}.")

    by_name = {e.name.strip().casefold(): e.value for e in entries}
    known_values = {e.value for e in entries}
    ints = _as_int_values(gdf[fname])
    unknown: list[str] = []
    if ints is not None:
        if (ints < 0).any():
            raise LabelError(f"{path}: field {fname!r} has negative values; class values are >= 1 (0 = unlabelled).")
        values = ints
        names: dict[int, str] = {e.value: e.name for e in entries}
        if entries:
            unknown = sorted({str(v) for v in values if v != 0 and v not in known_values}, key=int)
    else:
        labels = gdf[fname].astype(str).str.strip()
        if entries:
            values = np.array([by_name.get(s.casefold(), -1) for s in labels], dtype="int64")
            unknown = sorted({s for s, v in zip(labels, values) if v < 0})
            names = {e.value: e.name for e in entries}
        else:
            # no class table: number the names in sorted order for a stable result
            uniq = sorted(set(labels), key=str.casefold)
            lookup = {s: i + 1 for i, s in enumerate(uniq)}
            values = np.array([lookup[s] for s in labels], dtype="int64")
            names = {v: s for s, v in lookup.items()}
    if unknown:
        if on_unknown == "error":
            raise LabelError(_unknown_message(path, fname, unknown, entries))
        report.unknown = unknown
        values = np.where(values < 0, 0, values)
        values = np.where(np.isin(values, list(known_values)), values, 0)

    shapes = [(geom, int(v)) for geom, v in zip(gdf.geometry, values) if v > 0]
    if not shapes:
        arr = np.zeros((grid.height, grid.width), dtype="int32")
    else:
        arr = rasterize(shapes, out_shape=(grid.height, grid.width), transform=grid.transform, fill=0,
                        all_touched=all_touched, dtype="int32")
    return arr.astype("int64"), names


def _unknown_message(path: Path, fname: str, unknown: Sequence[str], entries: Sequence[ClassInfo]) -> str:
    shown = ", ".join(repr(u) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
    known = ", ".join(f"{e.value}={e.name!r}" for e in entries)
    return (
        f"{path}: classes in field {fname!r} that are not in the prompts: {shown}. The prompts define {known}. "
        "Add these classes to the prompts file, fix their names/values in the labels, "
        "or leave their samples out (command line: --on-unknown drop; Python: on_unknown='drop')."
    )


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def label_report(labels: xr.DataArray | np.ndarray, classes: Any = None, *, source: str = "") -> LabelReport:
    """Count labelled pixels per class and list ``classes`` entries without samples."""
    arr = np.asarray(labels.values if isinstance(labels, xr.DataArray) else labels)
    vals, counts = np.unique(arr[arr > 0], return_counts=True)
    names = dict(labels.attrs.get("class_names", {})) if isinstance(labels, xr.DataArray) else {}
    entries = normalize_classes(classes) if classes is not None else []
    names.update({e.value: e.name for e in entries})
    rep = LabelReport(source=source, counts={int(v): int(n) for v, n in zip(vals, counts)},
                      class_names={int(v): names.get(int(v), f"class {int(v)}") for v in vals})
    rep.without_samples = [e.name for e in entries if e.value not in rep.counts]
    return rep


def read_labels(
    source: str | os.PathLike,
    like: Any,
    *,
    field: str | None = None,
    classes: Any = None,
    all_touched: bool = False,
    reproject: bool = False,
    layer: str | int | None = None,
    on_unknown: str = "error",
) -> xr.DataArray:
    """Read labels from a raster or vector file onto the grid of a scene.

    Parameters
    ----------
    source
        Label raster or vector file (GeoPackage, Shapefile, GeoJSON, ...).
    like
        The scene (DataArray with ``.rio``) or a raster path whose grid the
        labels must match.
    field
        Vector field holding the class (integer value or class name).
        Default: the first of ``class``, ``class_id``, ``label``, ``value``,
        ``name``... present (case-insensitive), or the only field.
    classes
        Class table (PromptSet, ``(value, name)`` pairs, ``{value: name}``)
        mapping names to values and naming values.
    all_touched
        Vector polygons: burn every pixel they touch, not only pixels whose
        centre lies inside.
    reproject
        Label rasters on another grid: resample onto the scene grid with
        nearest neighbour instead of raising.
    layer
        Layer of a multi-layer vector file (GeoPackage).
    on_unknown
        ``"error"`` (default): label classes missing from ``classes`` raise
        :class:`~hsigeo.errors.LabelError`.  ``"drop"``: set them to 0 and
        list them in the report.

    Returns
    -------
    xarray.DataArray
        ``int32`` ``("y", "x")``, 0 = unlabelled, same coords/CRS/transform as
        ``like``; ``attrs["class_names"]`` ``{value: name}`` and
        ``attrs["label_report"]`` (:class:`LabelReport`).

    Raises
    ------
    LabelError
        Missing/unreadable file, grid mismatch, missing field, vector without
        CRS, unknown classes (with ``on_unknown="error"``), or no labelled
        pixel on the scene.
    """
    if on_unknown not in ("error", "drop"):
        raise InvalidInputError(f"on_unknown must be 'error' or 'drop', not {on_unknown!r}")
    if not isinstance(source, (str, os.PathLike)):
        # labels already in memory need no reading: the estimator takes them as they are
        raise InvalidTypeError(
            f"read_labels reads a label file (raster or vector), not a {type(source).__name__}; pass a (y, x) "
            "array or DataArray of labels (0 = unlabelled) straight to HsigeoClassifier.fit.")
    path = Path(source)
    if not path.exists():
        raise LabelError(f"{path}: label file not found; check the path.")
    if path.is_file() and path.stat().st_size == 0:
        raise LabelError(f"{path}: the label file is empty (0 bytes).")
    try:
        entries = normalize_classes(classes)
    except ValueError as exc:
        raise LabelError(f"invalid class table for {path}: {exc}") from exc
    grid = _grid(like)
    report = LabelReport(source=str(path))

    suffix = path.suffix.lower()
    is_vector = suffix in VECTOR_SUFFIXES or (suffix not in RASTER_SUFFIXES and _looks_vector(path))
    if is_vector:
        arr, names = _read_vector_labels(path, grid, field_name=field, layer=layer, all_touched=all_touched,
                                         entries=entries, on_unknown=on_unknown, report=report)
    else:
        arr, file_names = _read_raster_labels(path, grid, reproject=reproject)
        names = dict(file_names)
        if entries:
            arr, names = _reconcile_raster(arr, file_names, entries, path, on_unknown, report)
    if arr.max(initial=0) > np.iinfo("int32").max:
        raise LabelError(f"{path}: label values above {np.iinfo('int32').max} are not supported.")

    out = _output(arr.astype("int32"), grid)
    present = np.unique(arr[arr > 0])
    if present.size == 0:
        raise LabelError(
            f"{path}: no labelled pixel falls on the scene"
            + (f" ({report.dropped_features} features skipped)" if report.dropped_features else "")
            + ". Check that the labels overlap the scene (same area, right CRS) and use values >= 1."
        )
    class_names = {int(v): names.get(int(v), f"class {int(v)}") for v in present}
    for e in entries:
        class_names.setdefault(e.value, e.name)
    rep = label_report(arr, entries, source=str(path))
    report.counts, report.without_samples = rep.counts, rep.without_samples
    report.class_names = {v: class_names[v] for v in report.counts}
    out.attrs["class_names"] = dict(sorted(class_names.items()))
    out.attrs["label_report"] = report
    out.attrs["source"] = str(path)
    return out


def _looks_vector(path: Path) -> bool:
    try:
        import pyogrio

        pyogrio.read_info(path)
        return True
    except Exception:  # noqa: BLE001
        return False


def _reconcile_raster(
    arr: np.ndarray, file_names: dict[int, str], entries: list[ClassInfo], path: Path, on_unknown: str,
    report: LabelReport,
) -> tuple[np.ndarray, dict[int, str]]:
    """Align raster label values with the class table (by name when the raster names its classes)."""
    by_name = {e.name.strip().casefold(): e.value for e in entries}
    known = {e.value for e in entries}
    remap = {v: by_name[n.strip().casefold()] for v, n in file_names.items()
             if n.strip().casefold() in by_name and by_name[n.strip().casefold()] != v}
    if remap:
        lut_src = np.array(list(remap.keys()))
        lut_dst = np.array(list(remap.values()))
        out = arr.copy()
        for s, d in zip(lut_src, lut_dst):
            out[arr == s] = d
        arr = out
        report.remapped = {int(k): int(v) for k, v in remap.items()}
    present = np.unique(arr[arr > 0])
    unknown_vals = [int(v) for v in present if int(v) not in known]
    if unknown_vals:
        unknown = [f"{v} ({file_names[v]})" if v in file_names else str(v) for v in unknown_vals]
        if on_unknown == "error":
            raise LabelError(_unknown_message(path, "values", unknown, entries))
        arr = np.where(np.isin(arr, unknown_vals), 0, arr)
        report.unknown = unknown
    return arr, {e.value: e.name for e in entries}
