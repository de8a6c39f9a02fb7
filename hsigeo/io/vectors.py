"""Class maps to polygons, and vector output that QGIS reads.

:func:`vectorize_classes` turns a classification raster into one polygon per
connected region of a class (:func:`rasterio.features.shapes`), optionally
after removing small regions with :func:`rasterio.features.sieve`.
:func:`write_vector` writes GeoPackage 1.2 (readable by QGIS 3.22 and later),
Shapefile or GeoJSON, chosen by the file extension, atomically.  A
GeoPackage of class polygons carries its QGIS style in the GeoPackage's
``layer_styles`` table (the table QGIS itself writes with *Save Style > In
Database*), marked as the default, so the polygons show their class names and
colours whenever the layer is added, by hand or by Processing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.classes import normalize_classes
from hsigeo.errors import InvalidInputError
from hsigeo.filesafety import atomic_output, check_output, temporary_path

__all__ = ["vectorize_classes", "write_vector", "area_unit", "embed_layer_style", "feature_layer", "layer_name",
           "VECTOR_DRIVERS",
           "CLASSES_ATTR"]

#: File extension -> OGR driver used by :func:`write_vector`.
VECTOR_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
                  ".fgb": "FlatGeobuf"}
#: ``GeoDataFrame.attrs`` key where :func:`vectorize_classes` leaves the class table
#: (:class:`~hsigeo.classes.ClassInfo` list) that :func:`write_vector` styles the layer with.
CLASSES_ATTR = "hsigeo_classes"
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")


def area_unit(da: xr.DataArray) -> str:
    """Unit of polygon areas on the grid of ``da``: ``"m²"``, ``"ft²"``, ``"deg²"`` or ``"map units²"``."""
    crs = da.rio.crs
    if crs is None:
        return "map units² (no CRS)"
    if crs.is_geographic:
        return "deg²"
    unit = (crs.linear_units or "").lower()
    if unit in ("metre", "meter", "m"):
        return "m²"
    if "foot" in unit or "feet" in unit:
        return "ft²"
    return f"{unit or 'map units'}²"


def vectorize_classes(
    class_da: xr.DataArray | str | os.PathLike,
    classes: Any = None,
    *,
    min_area: float = 0.0,
    sieve: int = 0,
    connectivity: int = 4,
    nodata: int | None = None,
) -> Any:
    """Polygonise a class map.

    Parameters
    ----------
    class_da
        DataArray ``("y", "x")`` of class values with ``.rio`` georeferencing,
        or the path of a classification raster (read with
        :func:`hsigeo.io.classmaps.read_classification`).
    classes
        Class table for the ``class_name`` column (anything
        :func:`hsigeo.classes.normalize_classes` accepts); default
        ``class_da.attrs["class_names"]``; unnamed values get ``"class <v>"``.
    min_area
        Drop polygons smaller than this, in CRS units squared (m² for a
        projected CRS in metres).
    sieve
        Before polygonising, merge regions of fewer than ``sieve`` pixels into
        their largest neighbour (0 = off).
    connectivity
        4 or 8: which pixel neighbours join a region.
    nodata
        Value that is not a class (default ``class_da.rio.nodata`` or 0).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``class_id`` (int), ``class_name`` (str), ``area`` (float, CRS
        units²) and ``geometry`` (Polygon), in the raster's CRS, ordered by
        ``class_id`` then descending area.
    """
    import geopandas as gpd
    import rioxarray  # noqa: F401
    from rasterio.features import shapes
    from rasterio.features import sieve as rio_sieve
    from shapely.geometry import shape

    if connectivity not in (4, 8):
        raise InvalidInputError(f"connectivity must be 4 or 8, not {connectivity}")
    if isinstance(class_da, (str, os.PathLike)):
        from hsigeo.io.classmaps import read_classification

        class_da = read_classification(class_da)
    names: dict[int, str] = dict(class_da.attrs.get("class_names", {}) or {})
    colours: dict[int, Any] = dict(class_da.attrs.get("class_colours", {}) or {})
    if classes is not None:
        given = normalize_classes(classes)
        names.update({e.value: e.name for e in given})
        colours.update({e.value: e.colour for e in given})
    if nodata is None:
        nd = class_da.rio.nodata
        nodata = int(nd) if nd is not None and np.isfinite(nd) else 0
    arr = np.asarray(class_da.values)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InvalidInputError(f"vectorize_classes needs a 2-D class map; got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.where(np.isfinite(arr), arr, nodata)
    # rasterio.features handles int16/int32/uint8/uint16/float32
    arr = arr.astype("int32" if arr.max(initial=0) > 65535 or arr.min(initial=0) < 0 else "uint16")
    transform = class_da.rio.transform()
    valid = arr != nodata
    if sieve and sieve > 1:
        arr = rio_sieve(arr, size=int(sieve), mask=valid, connectivity=connectivity)
        valid = arr != nodata

    records = []
    for geom, value in shapes(arr, mask=valid, transform=transform, connectivity=connectivity):
        poly = shape(geom)
        records.append((int(value), poly))
    crs = class_da.rio.crs
    gdf = gpd.GeoDataFrame(
        {
            "class_id": np.array([v for v, _ in records], dtype="int32"),
            "class_name": [names.get(v, f"class {v}") for v, _ in records],
        },
        geometry=[p for _, p in records],
        crs=crs,
    )
    gdf["area"] = gdf.geometry.area.astype("float64")
    if min_area > 0:
        gdf = gdf[gdf["area"] >= float(min_area)]
    gdf = gdf.sort_values(["class_id", "area"], ascending=[True, False], kind="stable").reset_index(drop=True)
    gdf = gdf[["class_id", "class_name", "area", "geometry"]]
    # every named class (present or not), so the style's legend matches the raster's
    gdf.attrs[CLASSES_ATTR] = normalize_classes([(v, n, colours.get(v)) for v, n in sorted(names.items()) if v != nodata])
    return gdf


def write_vector(
    gdf: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    layer: str | None = None,
    classes: Any = None,
) -> Path:
    """Write a GeoDataFrame as GeoPackage 1.2, Shapefile or GeoJSON (by extension), atomically.

    GeoPackages are written with ``VERSION=1.2`` so QGIS 3.22 reads them.
    A Shapefile's parts (``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg``) are
    written to a temporary folder and moved into place together.

    Parameters
    ----------
    gdf
        The features.
    path
        Output file; ``.gpkg``, ``.shp``, ``.geojson``/``.json`` or ``.fgb``.
    overwrite
        Replace an existing file (else :class:`~hsigeo.errors.OutputExistsError`).
    layer
        GeoPackage layer name (default the file stem).
    classes
        Class table of the polygons (anything
        :func:`~hsigeo.classes.normalize_classes` accepts); default the one
        :func:`vectorize_classes` left in ``gdf.attrs``.  A GeoPackage then
        carries a categorised style on ``class_id`` as its default style
        (:func:`embed_layer_style`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    driver = VECTOR_DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInputError(f"{path}: unknown vector extension; use one of {', '.join(VECTOR_DRIVERS)}")
    layer = layer or layer_name(path)
    with warnings.catch_warnings():
        # shapefile field-name truncation and similar notices are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        if driver == "ESRI Shapefile":
            return _write_shapefile(gdf, path, overwrite=overwrite, layer=layer)
        kwargs: dict[str, Any] = {"driver": driver, "engine": "pyogrio"}
        if driver == "GPKG":
            kwargs.update(layer=layer, dataset_options={"VERSION": "1.2"})
        if classes is None:
            classes = getattr(gdf, "attrs", {}).get(CLASSES_ATTR)
        with atomic_output(path, overwrite=overwrite) as tmp:
            try:
                gdf.to_file(tmp, **kwargs)
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - GDAL write errors (disk full...) come as pyogrio errors
                raise _write_error(path, exc) from exc
            if driver == "GPKG" and classes and "class_id" in gdf.columns:
                from hsigeo.io.qml import categorized_vector_qml

                embed_layer_style(tmp, layer, categorized_vector_qml(classes, field="class_id"),
                                  geometry_column=_geometry_column(tmp, layer))
    return path


def layer_name(path: str | os.PathLike) -> str:
    """The layer name hsigeo gives the features of a new vector file: its file name without extension.

    GDAL's GeoPackage driver refuses a layer name that does not start with a
    letter, a digit or ``_`` (``-dash``, ``.x``, ``$x``); such a name gets a
    leading ``_``.
    """
    stem = Path(path).stem
    return stem if stem[:1].isalnum() or stem[:1] == "_" else "_" + stem


def _write_error(path: Path, exc: Exception) -> OSError:
    """An OSError naming ``path`` for a failed vector write (the CLI prints it as one line)."""
    import errno

    text = str(exc)
    code = errno.ENOSPC if "space" in text.lower() else errno.EIO
    return OSError(code, f"could not write the vector file ({text.splitlines()[0] if text else type(exc).__name__})",
                   str(path))


def feature_layer(path: str | os.PathLike, layer: str | int | None = None) -> str | int | None:
    """The layer to read from ``path``: ``layer`` when given, else its only layer with geometries.

    A GeoPackage styled in QGIS (or written by hsigeo) also holds the
    ``layer_styles`` table; naming the feature layer keeps readers from
    warning about it.  ``None`` when the choice is not clear (the reader's
    default applies).
    """
    if layer is not None:
        return layer
    try:
        import pyogrio

        layers = [str(name) for name, geometry in pyogrio.list_layers(path) if geometry is not None]
    except Exception:  # noqa: BLE001 - unreadable files get the reader's own error later
        return None
    return layers[0] if len(layers) == 1 else None


def _geometry_column(gpkg: Path, layer: str) -> str:
    """The geometry column GDAL gave ``layer`` of ``gpkg`` (``geom`` unless told otherwise)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(gpkg)) as db:
        row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
    return row[0] if row else "geom"


# the table as QGIS creates it (QgsOgrProviderMetadata::saveStyle), so QGIS reads and updates it unchanged
_LAYER_STYLES_DDL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)


def embed_layer_style(gpkg: str | os.PathLike, layer: str, qml: str, *, geometry_column: str = "geom",
                      name: str = "hsigeo", description: str = "class names and colours (hsigeo)") -> None:
    """Store ``qml`` as the default QGIS style of ``layer`` in the GeoPackage ``gpkg``.

    Writes a row of the ``layer_styles`` table (created, and registered in
    ``gpkg_contents`` as an attribute table, when missing); an earlier
    default of the same layer stops being the default.  QGIS applies the
    default row when the layer is added, before any ``.qml`` file beside it.

    Parameters
    ----------
    gpkg
        An existing GeoPackage (written by hsigeo or anyone).
    layer
        Table name of the feature layer.
    qml
        The style (see :mod:`hsigeo.io.qml`).
    geometry_column
        The layer's geometry column (QGIS matches it).
    name, description
        Shown in QGIS's style manager.
    """
    import sqlite3

    with contextlib.closing(sqlite3.connect(gpkg)) as db, db:
        db.execute(_LAYER_STYLES_DDL)
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
        )
        db.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
        # catalog and schema are '' (not NULL): QGIS filters on f_table_schema=''
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
            "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', NULL)",
            (layer, geometry_column, name, qml, description),
        )


def _write_shapefile(gdf: Any, path: Path, *, overwrite: bool, layer: str) -> Path:
    check_output(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    # hsigeo's temporary naming, so a killed run's folder is swept by the next one
    tmpdir = temporary_path(path, folder=True)
    try:
        # a plain name inside the temporary folder (GDAL reads ';' and line breaks in names as syntax);
        # each part gets its final name by a rename
        gdf.to_file(tmpdir / ("layer" + path.suffix), driver="ESRI Shapefile", engine="pyogrio")
        stem = path.name[: -len(path.suffix)]
        for old in (path.with_name(stem + s) for s in _SHP_PARTS):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        for part in tmpdir.iterdir():
            os.replace(part, path.parent / (stem + part.name[len("layer"):]))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
