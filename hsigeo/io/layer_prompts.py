"""Class prompts from training polygons and their categorized style: a vector layer -> a prompts YAML.

:func:`prompts_from_layer` reads the class field of a vector layer (class
values or class names), the layer's categorized style (a QGIS ``.qml``, or
the default style a GeoPackage keeps in its ``layer_styles`` table), and
optionally a field of descriptions, and builds the content of a prompts file
(the mapping :meth:`hsigeo.text.prompts.PromptSet.from_dict` validates; this
module stays independent of :mod:`hsigeo.text`) that ``hsigeo train`` and
``hsigeo classify`` take directly with the same layer as labels:

* class **names** are the field's values when it holds names (so the polygons
  match the prompts), else the style's category labels, else ``class <v>``;
* class **values** are the field's values when it holds whole numbers, else
  1..C in the style's legend order (classes the style does not list follow,
  sorted by name);
* **colours** are the style's category colours (else hsigeo's palette);
* **prompts** are the distinct texts of the description field, else a
  readable name (the style's label, or the name with ``_`` as spaces), to be
  replaced by a real description of what the class looks like.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsigeo.errors import PromptError

__all__ = ["StyleCategory", "prompts_from_layer", "read_categories"]

#: Distinct descriptions kept per class (the first ones in the layer).
MAX_PROMPTS = 5


@dataclass(frozen=True)
class StyleCategory:
    """One category of a categorized style: the field value, its legend label and fill colour."""

    value: str
    label: str
    colour: tuple[int, int, int] | None


def read_categories(qml: str, *, source: str = "the style") -> tuple[str | None, list[StyleCategory]]:
    """The field and categories of a categorized renderer in QML text.

    Returns ``(None, [])`` when the style has another kind of renderer.

    Raises
    ------
    PromptError
        When the QML is not XML.
    """
    try:
        root = ET.fromstring(qml)
    except ET.ParseError as exc:
        raise PromptError(f"{source}: not a QGIS style (.qml): {exc}. Export it again from QGIS.") from exc
    renderer = root.find(".//renderer-v2")
    if renderer is None or renderer.get("type") != "categorizedSymbol":
        return None, []
    colours = {s.get("name"): _symbol_colour(s) for s in renderer.findall("./symbols/symbol")}
    categories = [
        StyleCategory(c.get("value", ""), c.get("label") or c.get("value", ""), colours.get(c.get("symbol")))
        for c in renderer.findall("./categories/category")
        if c.get("value", "") != ""  # "all other values"
    ]
    return renderer.get("attr"), categories


def _symbol_colour(symbol: ET.Element) -> tuple[int, int, int] | None:
    """Colour of a symbol's first layer (``"r,g,b,a"``, also in QGIS 3.28's ``"r,g,b,a,rgb:..."`` form)."""
    layer = symbol.find("./layer")
    if layer is None:
        return None
    text = next((p.get("v") for p in layer.findall("./prop") if p.get("k") == "color"), None)
    if text is None:
        text = next((o.get("value") for o in layer.iter("Option") if o.get("name") == "color"), None)
    try:
        r, g, b = (int(v) for v in (text or "").split(",")[:3])
    except ValueError:
        return None
    return r, g, b


def _geopackage_style(path: Path, layer: str | None) -> str | None:
    """The default style QGIS would apply to ``layer`` of a GeoPackage (newest first), or ``None``."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if layer is None:
                rows = db.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'").fetchall()
                if len(rows) != 1:
                    return None
                layer = rows[0][0]
            row = db.execute(
                "SELECT styleQML FROM layer_styles WHERE f_table_name = ? "
                "ORDER BY useAsDefault DESC, update_time DESC LIMIT 1", (layer,)
            ).fetchone()
    except sqlite3.Error:  # no layer_styles table, or not SQLite at all
        return None
    return row[0] if row and row[0] else None


def _layer_style(path: Path, layer: str | None) -> tuple[str | None, str]:
    """QML text of the layer's own style: the GeoPackage's default, else a ``.qml`` beside the file."""
    if path.suffix.lower() == ".gpkg":
        qml = _geopackage_style(path, layer)
        if qml:
            return qml, f"{path} (layer_styles)"
    sidecar = path.with_suffix(".qml")
    if sidecar.is_file():
        return sidecar.read_text(encoding="utf-8"), str(sidecar)
    return None, ""


def _whole_numbers(values: list[Any]) -> list[int] | None:
    """The values as ints when every one is a whole number (or its text), else ``None``."""
    out = []
    for v in values:
        try:
            f = float(str(v).strip())
        except ValueError:
            return None
        if not f.is_integer() or isinstance(v, bool):
            return None
        out.append(int(f))
    return out


def layer_files(path: str | os.PathLike, style: str | os.PathLike | None = None) -> list[Path]:
    """The files :func:`prompts_from_layer` reads: the vector file, and the style given or the ``.qml`` beside it.

    The vector file's own parts (a shapefile's ``.dbf``...) are added by
    :func:`hsigeo.filesafety.input_files`; commands declare all of these as
    inputs, so no output replaces them.
    """
    file = Path(str(path).partition("|")[0])
    return [file, Path(style) if style is not None else file.with_suffix(".qml")]


def prompts_from_layer(
    path: str | os.PathLike,
    field: str,
    *,
    layer: str | None = None,
    style: str | os.PathLike | None = None,
    description_field: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Build class prompts from a vector layer of training polygons.

    Parameters
    ----------
    path
        Vector file (GeoPackage, Shapefile, GeoJSON...); ``file.gpkg|layername=NAME`` picks a layer.
    field
        The class field (values or names).
    layer
        Layer of a multi-layer file (overrides ``|layername=``).
    style
        A QGIS ``.qml`` with the layer's categorized style; default the
        GeoPackage's default style (``layer_styles``), else ``<file>.qml``.
    description_field
        Field with descriptions of the classes (their distinct texts become the prompts).
    name
        Name of the prompt set (default the layer's file stem).

    Returns
    -------
    dict
        ``{"name", "description", "classes": [{"name", "value", "colour", "prompts"}, ...]}``,
        the prompts YAML schema (build the set with ``PromptSet.from_dict``).

    Raises
    ------
    PromptError
        When the file or a field cannot be read, or no feature has a class.
    """
    import geopandas as gpd

    text = str(path)
    file_text, _, option = text.partition("|")
    file = Path(file_text)
    if layer is None and option.startswith("layername="):
        layer = option.split("=", 1)[1]
    if not file.exists():
        raise PromptError(f"{file}: vector file not found; check the path.")
    from hsigeo.io.vectors import feature_layer

    layer = feature_layer(file, layer)
    try:
        table = gpd.read_file(file, layer=layer, ignore_geometry=True) if layer else \
            gpd.read_file(file, ignore_geometry=True)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for the same user problem
        raise PromptError(f"{file}: cannot read the layer ({exc}); check it opens in QGIS/ogrinfo.") from exc
    columns = {c.casefold(): c for c in table.columns}
    for wanted in (field, description_field):
        if wanted is not None and wanted.casefold() not in columns:
            raise PromptError(f"{file}: no field {wanted!r}; the layer has {', '.join(map(repr, table.columns))}.")
    field = columns[field.casefold()]
    keep = table[field].notna() & (table[field].astype(str).str.strip() != "")
    table = table[keep]
    if table.empty:
        raise PromptError(f"{file}: no feature has a value in field {field!r}; fill in the classes first.")

    categories: list[StyleCategory] = []
    style_source = ""
    # the style given, else the one stored with the file; one that is not categorized on this field
    # says nothing about these classes
    for qml, style_source in ([(Path(style).read_text(encoding="utf-8"), str(style))] if style is not None else []) \
            + [_layer_style(file, layer)]:
        attr, categories = read_categories(qml, source=style_source) if qml else (None, [])
        if attr is not None and attr.strip('"').casefold() != field.casefold():
            categories = []
        if categories:
            break

    raw = list(dict.fromkeys(str(v).strip() for v in table[field]))  # distinct, in layer order
    ints = _whole_numbers(raw)
    by_style = {}
    for order, cat in enumerate(categories):
        key = str(int(float(cat.value))) if ints is not None and _whole_numbers([cat.value]) else cat.value
        by_style[key] = (order, cat)

    classes = []
    if ints is not None:
        for value in sorted(set(ints)):
            cat = by_style.get(str(value), (None, None))[1]
            label = cat.label if cat is not None and cat.label != str(value) else f"class {value}"
            classes.append((str(value), label, value, cat))
    else:
        listed = sorted((v for v in raw if v in by_style), key=lambda v: by_style[v][0])
        others = sorted((v for v in raw if v not in by_style), key=str.casefold)
        for i, value in enumerate(listed + others):
            classes.append((value, value, i + 1, by_style.get(value, (None, None))[1]))

    descriptions: dict[str, list[str]] = {}
    if description_field is not None:
        dcol = columns[description_field.casefold()]
        for key, text_value in zip(table[field], table[dcol]):
            texts = descriptions.setdefault(str(key).strip() if ints is None else str(int(float(key))), [])
            text_value = "" if text_value is None else str(text_value).strip()
            if text_value and text_value != "nan" and text_value not in texts and len(texts) < MAX_PROMPTS:
                texts.append(text_value)

    entries = []
    for key, class_name, value, cat in classes:
        readable = (cat.label if cat is not None and cat.label != key else class_name).replace("_", " ").strip()
        entry: dict[str, Any] = {"name": class_name, "value": value,
                                 "prompts": descriptions.get(key) or [readable]}
        if cat is not None and cat.colour is not None:
            entry["colour"] = list(cat.colour)
        entries.append(entry)
    return {
        "name": name or file.stem,
        "description": f"classes of {file.name}{f' ({layer})' if layer else ''}, field {field}"
                       f"{', colours from ' + style_source if categories else ''}. "
                       "Replace each class's prompts with a description of what it looks like from above.",
        "classes": entries,
    }
