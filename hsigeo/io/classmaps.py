"""Reading classification rasters back: the class map as a DataArray and its class table.

The counterpart of :mod:`hsigeo.io.writers`: the class table is read from the
``HSIGEO_CLASSES`` item inside the file, else from GDAL's category names in the
``.aux.xml`` sidecar, with colours from the colour table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import xarray as xr

from hsigeo.classes import DEFAULT_PALETTE, ClassInfo, normalize_classes
from hsigeo.errors import RasterReadError
from hsigeo.io.writers import CLASS_TABLE_TAG

__all__ = ["read_class_table", "read_classification"]


def _aux_category_names(path: Path) -> list[str]:
    aux = path.with_name(path.name + ".aux.xml")
    if not aux.is_file():
        return []
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(aux).getroot()
    except ET.ParseError:
        return []
    band = root.find("./PAMRasterBand[@band='1']")
    if band is None:
        return []
    return [(c.text or "") for c in band.findall("./CategoryNames/Category")]


def read_class_table(path: str | os.PathLike) -> list[ClassInfo]:
    """Read the class table of a classification raster written by hsigeo (or by GDAL tools).

    Looks, in order, at the ``HSIGEO_CLASSES`` metadata item inside the file,
    then at GDAL category names in the ``.aux.xml`` sidecar; colours come
    from the colour table when present.  Returns ``[]`` when the raster
    names no classes.
    """
    import rasterio

    path = Path(path)
    with rasterio.open(path) as src:
        tag = src.tags().get(CLASS_TABLE_TAG)
        try:
            cmap = src.colormap(1)
        except ValueError:
            cmap = {}
        nodata = src.nodata
    if tag:
        try:
            return normalize_classes([(d["value"], d["name"], d.get("colour")) for d in json.loads(tag)])
        except (ValueError, KeyError, TypeError):
            pass
    names = _aux_category_names(path)
    out = []
    for v, n in enumerate(names):
        if n and v != nodata and v >= 1:
            rgb = cmap.get(v, (0, 0, 0, 255))[:3] if cmap else DEFAULT_PALETTE[(v - 1) % len(DEFAULT_PALETTE)]
            out.append(ClassInfo(v, n, tuple(int(x) for x in rgb)))  # type: ignore[arg-type]
    return out


def read_classification(path: str | os.PathLike, *, chunks: Any = None) -> xr.DataArray:
    """Open a classification raster as DataArray ``("y", "x")`` with ``attrs["class_names"]``.

    ``attrs["class_names"]`` is ``{value: name}`` and ``attrs["class_colours"]``
    ``{value: "#rrggbb"}`` from :func:`read_class_table`.
    """
    import rioxarray


    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise RasterReadError(f"{path}: classification raster missing or empty; check the path.")
    try:
        da = rioxarray.open_rasterio(path, chunks=chunks)
    except Exception as exc:  # noqa: BLE001 - any GDAL failure means the same to the user
        raise RasterReadError(f"{path}: cannot read the classification raster ({exc}).") from exc
    if da.sizes["band"] != 1:
        raise RasterReadError(f"{path}: a classification raster has one band; this one has {da.sizes['band']}.")
    da = da.squeeze("band", drop=True)
    table = read_class_table(path)
    da.attrs = {k: v for k, v in da.attrs.items() if k != CLASS_TABLE_TAG}
    da.attrs["class_names"] = {e.value: e.name for e in table}
    da.attrs["class_colours"] = {e.value: e.colour_hex for e in table}
    da.attrs["source"] = str(path)
    return da
