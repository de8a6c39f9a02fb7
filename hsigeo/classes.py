"""The one class record of hsigeo: label value, name, colour (and the prompts that anchor it).

Prompt sets, models, label readers, raster/vector writers and the inference
engines all speak :class:`ClassInfo`; :func:`normalize_classes` turns the
looser shapes users pass (``{value: name}``, ``(value, name[, colour])``
tuples, prompt sets) into it.  Colour parsing and formatting live here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hsigeo.errors import InvalidInputError

__all__ = ["ClassInfo", "DEFAULT_PALETTE", "MAX_VALUE", "parse_colour", "colour_to_hex", "normalize_classes"]

#: Largest label value: classification rasters are written as uint16 at most.
MAX_VALUE = 65535

#: Default class colours (a tab20-like qualitative palette, strong tones first
#: so that small class counts get the most distinct colours).
DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
)

_HEX_RE = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class ClassInfo:
    """One class: label value, name, display colour and the prompts anchoring it.

    Attributes
    ----------
    value
        Label value (the integer in label and classification rasters), >= 1; 0 is nodata.
    name
        Class name.
    colour
        Display colour ``(r, g, b)``, ints in 0..255.
    prompts
        Descriptive prompts (empty where only a class table is known, e.g. read from a raster).
    """

    value: int
    name: str
    colour: tuple[int, int, int]
    prompts: tuple[str, ...] = ()

    @property
    def colour_hex(self) -> str:
        """The colour as ``"#rrggbb"``."""
        return colour_to_hex(self.colour)


def parse_colour(value: Any, *, lenient: bool = False) -> tuple[int, int, int]:
    """Parse ``"#rrggbb"``, ``"#rgb"`` (``#`` optional) or ``[r, g, b]`` (ints 0..255).

    ``lenient=True`` also takes what colour tables from GDAL or matplotlib give:
    an alpha component is dropped and float components are rounded.

    Raises
    ------
    InvalidInputError
        With a short description of what is wrong.
    """
    if isinstance(value, str):
        m = _HEX_RE.match(value.strip())
        if not m:
            raise InvalidInputError(f"{value[:40]!r} is not a hex colour")
        digits = m.group(1)
        if len(digits) == 3:
            digits = "".join(ch * 2 for ch in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if isinstance(value, (list, tuple)):
        if lenient:
            value = [int(round(float(c))) for c in value][:3]
        if len(value) != 3:
            raise InvalidInputError(f"{list(value)[:5]!r} has {len(value)} components, not 3")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise InvalidInputError(f"{list(value)!r} has non-integer components")
        if not all(0 <= v <= 255 for v in value):
            raise InvalidInputError(f"{list(value)!r} has components outside 0..255")
        return (value[0], value[1], value[2])
    raise InvalidInputError(f"{str(value)[:40]!r} is neither a hex string nor an [r, g, b] list")


def colour_to_hex(rgb: Sequence[int]) -> str:
    """Return ``"#rrggbb"`` for an ``(r, g, b)`` tuple."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def normalize_classes(classes: Any) -> list[ClassInfo]:
    """Turn any supported class description into a list of :class:`ClassInfo`, sorted by value.

    Accepted: a prompt set (anything with ``.classes``), a sequence of objects
    with ``.value`` and ``.name`` (and optionally ``.colour`` as RGB tuple or
    hex string), a sequence of ``(value, name)`` or ``(value,
    name, colour)`` tuples, or a mapping ``{value: name}``.  Missing colours
    come from :data:`DEFAULT_PALETTE`.  Prompts are not carried: this is the class
    table of rasters and vectors.

    Raises
    ------
    InvalidInputError
        On duplicate values, values outside 1..65535, or malformed entries.
    """
    if classes is None:
        return []
    if hasattr(classes, "classes") and not isinstance(classes, Mapping):
        classes = classes.classes
    raw: list[tuple[int, str, Any]] = []
    if isinstance(classes, Mapping):
        for v, n in classes.items():
            raw.append((int(v), str(n), None))
    else:
        for item in classes:
            if hasattr(item, "value") and hasattr(item, "name"):
                raw.append((int(item.value), str(item.name), getattr(item, "colour", None)))
            elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
                raw.append((int(item[0]), str(item[1]), item[2] if len(item) == 3 else None))
            else:
                raise InvalidInputError(f"cannot read a class from {str(item)[:80]!r}: give (value, name[, colour]) "
                                        "or an object with .value/.name")
    seen: set[int] = set()
    out: list[ClassInfo] = []
    for i, (v, n, c) in enumerate(raw):
        if not 1 <= v <= MAX_VALUE:
            raise InvalidInputError(f"class {n[:80]!r}: value {v} is not allowed (0 is nodata/unlabelled; "
                                    f"use 1..{MAX_VALUE})")
        if v in seen:
            raise InvalidInputError(f"class value {v} is used twice (class {n[:80]!r}); class values must be unique")
        seen.add(v)
        rgb = parse_colour(c, lenient=True) if c is not None else DEFAULT_PALETTE[i % len(DEFAULT_PALETTE)]
        out.append(ClassInfo(v, n, rgb))
    return sorted(out, key=lambda e: e.value)
