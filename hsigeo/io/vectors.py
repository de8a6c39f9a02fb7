"""Class maps to polygons, and vector output that QGIS reads.

:func:`vectorize_classes` turns a classification raster into one polygon per
connected region of a class (:func:`rasterio.features.shapes`), optionally
after removing small regions with :func:`rasterio.features.sieve`.
:func:`write_vector` writes GeoPackage 1.2 (readable by QGIS 3.22 and later),
Shapefile or GeoJSON, chosen by the file extension, atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hsigeo.classes import normalize_classes
from hsigeo.errors import InvalidInputError
from hsigeo.outputs import atomic_output, check_output

__all__ = ["vectorize_classes", "write_vector", "VECTOR_DRIVERS"]

#: File extension -> OGR driver used by :func:`write_vector`.
VECTOR_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
                  ".fgb": "FlatGeobuf"}
_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")


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
        :func:`hsigeo.io.writers.read_classification`).
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
        from hsigeo.io.writers import read_classification

        class_da = read_classification(class_da)
    names: dict[int, str] = dict(class_da.attrs.get("class_names", {}) or {})
    if classes is not None:
        names.update({e.value: e.name for e in normalize_classes(classes)})
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
    return gdf[["class_id", "class_name", "area", "geometry"]]


def write_vector(
    gdf: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    layer: str | None = None,
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

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    driver = VECTOR_DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInputError(f"{path}: unknown vector extension; use one of {', '.join(VECTOR_DRIVERS)}")
    layer = layer or path.stem
    with warnings.catch_warnings():
        # shapefile field-name truncation and similar notices are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        if driver == "ESRI Shapefile":
            return _write_shapefile(gdf, path, overwrite=overwrite, layer=layer)
        kwargs: dict[str, Any] = {"driver": driver, "engine": "pyogrio"}
        if driver == "GPKG":
            kwargs.update(layer=layer, dataset_options={"VERSION": "1.2"})
        with atomic_output(path, overwrite=overwrite) as tmp:
            gdf.to_file(tmp, **kwargs)
    return path


def _write_shapefile(gdf: Any, path: Path, *, overwrite: bool, layer: str) -> Path:
    check_output(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        gdf.to_file(tmpdir / path.name, driver="ESRI Shapefile", engine="pyogrio", layer=layer)
        stem = path.name[: -len(path.suffix)]
        for old in (path.with_name(stem + s) for s in _SHP_PARTS):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        for part in tmpdir.iterdir():
            os.replace(part, path.parent / part.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
