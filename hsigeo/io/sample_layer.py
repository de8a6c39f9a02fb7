"""Reference-sample points as a GeoPackage to label in QGIS, and reading them back.

A sample layer (written by ``hsigeo sample``) is a GeoPackage 1.2 point layer,
one point at the centre of each sample pixel, with the fields

``point_id``
    1..n, stable (the order of the draw);
``stratum``
    the stratum the point was drawn from (the map class, or the strata raster's value);
``map_class``, ``map_name``
    the map's class value and name there;
``reference``
    empty (NULL): the class a person finds on the ground or in imagery, as a class value.

Its default QGIS style (the GeoPackage's ``layer_styles`` table,
:func:`hsigeo.io.vectors.embed_layer_style`) colours the points by map class and
gives ``reference`` a class-name list (:func:`hsigeo.io.qml.sample_points_qml`).
The design (how the sample was drawn, the strata's pixel counts) is kept as
JSON in the layer's ``gpkg_contents.description``, where the evaluation finds
it again; the GeoPackage stays an ordinary point layer for every other reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.classes import normalize_classes
from hsigeo.errors import InvalidInputError
from hsigeo.filesafety import atomic_output

__all__ = ["REFERENCE_FIELD", "SAMPLE_FIELDS", "read_design_record", "read_sample_layer", "write_sample_layer"]

#: The field a person fills in.
REFERENCE_FIELD = "reference"
#: Fields of a sample layer, in order.
SAMPLE_FIELDS = ("point_id", "stratum", "map_class", "map_name", REFERENCE_FIELD)
#: Longest design record read back (a hostile file gets a bounded read).
_MAX_RECORD = 1 << 20


def write_sample_layer(path: str | os.PathLike, x: np.ndarray, y: np.ndarray, *, stratum: np.ndarray,
                       map_class: np.ndarray, classes: Any, crs: Any, record: dict[str, Any] | None = None,
                       reference: np.ndarray | None = None, overwrite: bool = False, layer: str | None = None) -> Path:
    """Write sample points (``.gpkg``), styled for labelling, atomically.

    Parameters
    ----------
    path
        Output GeoPackage.
    x, y
        Point coordinates in ``crs``.
    stratum, map_class
        Per point.
    classes
        The map's class table (names and colours; anything
        :func:`~hsigeo.classes.normalize_classes` accepts).
    crs
        The map's CRS.
    record
        The design (JSON-able), stored in the layer's description.
    reference
        Reference classes already known (0 = not labelled); default none.
    overwrite
        Replace an existing file.
    layer
        Layer name (default the file stem).
    """
    import geopandas as gpd
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise InvalidInputError(f"{path}: a sample is written as a GeoPackage; name it *.gpkg.")
    layer = layer or path.stem
    entries = normalize_classes(classes)
    names = {e.value: e.name for e in entries}
    mc = np.asarray(map_class, dtype=np.int64)
    gdf = gpd.GeoDataFrame(
        {
            "point_id": np.arange(1, mc.size + 1, dtype=np.int32),
            "stratum": np.asarray(stratum, dtype=np.int32),
            "map_class": mc.astype(np.int32),
            "map_name": [names.get(int(v), f"class {int(v)}") for v in mc],
            REFERENCE_FIELD: pd.array([pd.NA if reference is None or int(reference[k]) <= 0 else int(reference[k])
                                       for k in range(mc.size)], dtype="Int32"),
        },
        geometry=gpd.points_from_xy(np.asarray(x, float), np.asarray(y, float)),
        crs=crs,
    )
    from hsigeo.io.qml import sample_points_qml
    from hsigeo.io.vectors import _geometry_column, embed_layer_style

    style_classes = [e for e in entries if e.value != 0]
    with atomic_output(path, overwrite=overwrite) as tmp:
        gdf.to_file(tmp, driver="GPKG", engine="pyogrio", layer=layer, dataset_options={"VERSION": "1.2"})
        embed_layer_style(tmp, layer, sample_points_qml(style_classes, read_only=("point_id", "stratum", "map_class",
                                                                                  "map_name")),
                          geometry_column=_geometry_column(tmp, layer),
                          description="sample points by map class; label 'reference' (hsigeo)")
        if record is not None:
            with contextlib.closing(sqlite3.connect(tmp)) as db, db:
                db.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?",
                           (json.dumps(record, sort_keys=True), layer))
    return path


def read_design_record(path: str | os.PathLike, layer: str | None = None) -> dict[str, Any] | None:
    """The design stored by :func:`write_sample_layer`, or ``None`` (another file, or none kept)."""
    path = Path(path)
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return None
    try:
        uri = f"file:{path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT table_name, substr(description, 1, ?) FROM gpkg_contents "
                              "WHERE data_type = 'features'", (_MAX_RECORD,)).fetchall()
    except sqlite3.Error:
        return None
    for name, text in rows:
        if layer is not None and name != layer:
            continue
        try:
            record = json.loads(text or "")
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("hsigeo_sample") == 1:
            return record
    return None


def read_sample_layer(path: str | os.PathLike, *, reference_field: str = REFERENCE_FIELD,
                      classes: Any = None, layer: str | None = None) -> tuple[Any, np.ndarray]:
    """Read labelled sample points: the GeoDataFrame and each point's reference class (0 = not labelled).

    The reference field may hold class values or class names (matched without
    regard to case against ``classes``).

    Raises
    ------
    InvalidInputError
        Not a point layer, no such field, or labels that name no class.
    """
    import geopandas as gpd
    import pandas as pd

    from hsigeo.io.vectors import feature_layer

    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: reference sample not found; check the path.")
    try:
        gdf = gpd.read_file(path, layer=feature_layer(path, layer), engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - any OGR failure means the same to the user
        raise InvalidInputError(f"{path}: cannot read the reference sample ({exc}).") from exc
    if len(gdf) == 0:
        raise InvalidInputError(f"{path}: the reference sample holds no point.")
    kinds = set(gdf.geometry.geom_type.dropna())
    if not kinds <= {"Point"}:
        raise InvalidInputError(
            f"{path}: an area and accuracy estimate needs sample points (from `hsigeo sample`); this layer holds "
            f"{', '.join(sorted(kinds))}. For a pixel-level comparison with reference polygons, run "
            "`hsigeo evaluate` without --design.")
    if reference_field not in gdf.columns:
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        raise InvalidInputError(f"{path}: no field {reference_field!r} holding the reference class; the fields are "
                                f"{', '.join(fields)}. Name the right one with --label-field.")
    column = gdf[reference_field]
    entries = normalize_classes(classes) if classes is not None else []
    by_name = {e.name.strip().lower(): e.value for e in entries}
    ref = np.zeros(len(gdf), dtype=np.int64)
    bad: list[str] = []
    for k, v in enumerate(column.tolist()):
        if v is None or (not isinstance(v, str) and pd.isna(v)) or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, str):
            text = v.strip()
            if text.lower() in by_name:
                ref[k] = by_name[text.lower()]
                continue
            try:
                v = float(text)
            except ValueError:
                bad.append(repr(text))
                continue
        if float(v) != int(float(v)) or int(float(v)) < 0:
            bad.append(repr(v))
            continue
        ref[k] = int(float(v))
    if bad:
        known = ", ".join(f"{e.value} {e.name}" for e in entries) or "integer class values"
        raise InvalidInputError(f"{path}: field {reference_field!r} holds labels that name no class: "
                                f"{', '.join(sorted(set(bad))[:10])}. Use one of: {known}.")
    return gdf, ref
