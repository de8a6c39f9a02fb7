"""A product's own quality layers (cloud, shadow, ...) as a pixel mask on its grid.

Products ship per-pixel quality flags beside the reflectance: EnMAP L2A one
``-QL_QUALITY_<FLAG>.TIF`` per flag plus ``-QL_PIXELMASK.TIF``, DESIS L2A one
``-QL_QUALITY-2.tif`` with a band per flag, EMIT L2A a separate ``EMIT_L2A_MASK``
granule (orthorectified by :mod:`.emit` onto the reflectance's grid).  Each
reader lists what its product delivers as :class:`QualityLayer` objects under
one shared vocabulary (:data:`FLAGS`), so ``--product-mask cloud,shadow`` means
the same on every sensor; :func:`quality_mask` picks the asked-for layers of a
scene and :class:`QualityMask` reads them window by window (nothing the size
of the scene is held), for the engines to treat flagged pixels as nodata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hsigeo.errors import InvalidInputError

__all__ = ["FLAGS", "QualityLayer", "QualityMask", "parse_flags", "quality_mask"]

#: The flag names, with what they mean (the products' own terms are mapped onto these).
FLAGS: dict[str, str] = {
    "cloud": "cloud",
    "cirrus": "thin cirrus cloud",
    "dilated-cloud": "cloud, dilated by a margin (EMIT)",
    "shadow": "cloud shadow",
    "haze": "haze",
    "snow": "snow and ice",
    "water": "water",
    "spacecraft": "spacecraft structure in view (EMIT)",
    "aggregate": "the product's own combination of its flags (EMIT's Aggregate Flag)",
    "defective": "defective detector pixels (EnMAP QL_PIXELMASK)",
}


@dataclass(frozen=True)
class QualityLayer:
    """One flag of a product, readable as a window of the product's grid.

    Attributes
    ----------
    path
        What GDAL opens (a file, a ``/vsizip/`` member, or a cache file).
    bands
        1-based bands whose pixels carry the flag (several are OR-ed: DESIS flags cloud over
        land and over water apart); ``()``: every band.
    value
        A pixel is flagged where a band equals this value; ``None``: where any band is nonzero.
    shown
        The file as messages show it.
    """

    path: str
    bands: tuple[int, ...]
    value: int | None
    shown: str

    def flagged(self, row: int, col: int, h: int, w: int) -> np.ndarray:
        """``(h, w)`` bool: pixels of the window at ``(row, col)`` that carry the flag."""
        import rasterio
        from rasterio.windows import Window

        with rasterio.open(self.path) as src:
            data = src.read(list(self.bands) or None, window=Window(col, row, w, h))
        hit = data != 0 if self.value is None else data == self.value
        return hit.any(axis=0)


@dataclass(frozen=True)
class QualityMask:
    """The union of some quality layers of one scene (plain data: it travels to cluster workers).

    Attributes
    ----------
    names
        The flags asked for, in the order given.
    layers
        One :class:`QualityLayer` per name.
    """

    names: tuple[str, ...]
    layers: tuple[QualityLayer, ...]

    def flagged(self, row: int, col: int, h: int, w: int) -> np.ndarray:
        """``(h, w)`` bool, in scene pixels: True where any of the layers flags the pixel."""
        out = np.zeros((h, w), dtype=bool)
        for layer in self.layers:
            out |= layer.flagged(row, col, h, w)
        return out


def parse_flags(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"cloud, shadow"`` -> ``("cloud", "shadow")``, each known and once.

    Raises
    ------
    InvalidInputError
        For a name not in :data:`FLAGS` (the message lists them).
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for part in parts:
        name = part.strip().lower().replace("_", "-")
        if not name:
            continue
        if name not in FLAGS:
            raise InvalidInputError(
                f"--product-mask {part.strip()!r}: not a quality flag; use one or more of {', '.join(FLAGS)}, "
                "separated by commas (e.g. --product-mask cloud,shadow).")
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInputError("--product-mask: give one or more quality flags, e.g. --product-mask cloud,shadow.")
    return tuple(names)


def quality_mask(path: str | os.PathLike, flags: str | Sequence[str], *, width: int | None = None,
                 height: int | None = None) -> QualityMask:
    """The asked-for quality layers of the product at ``path``.

    Parameters
    ----------
    path
        The scene as the user gave it (a product's file, folder, zip or XML).
    flags
        Names from :data:`FLAGS` (a comma-separated string or a sequence).
    width, height
        The scene's size, when known: every layer must be on the same grid.

    Raises
    ------
    InvalidInputError
        When ``path`` is no sensor product, the product delivers none of its quality files, or
        lacks one of the asked-for flags (the message says which file would carry it and which
        flags it has), or a layer's size differs from the scene's.
    """
    import rasterio

    from hsigeo.io.products import open_product

    names = parse_flags(flags)
    product = open_product(path)
    if product is None:
        raise InvalidInputError(
            f"{path}: --product-mask reads a sensor product's own quality files (EMIT L2A MASK granule, "
            "EnMAP L2A -QL_QUALITY_*.TIF, DESIS L2A -QL_QUALITY-2.tif), but this is a plain raster. Leave "
            "--product-mask out, or give polygons of the area to keep with --mask.")
    where = f"{product.sensor} {product.level} product {path}"
    missing = [n for n in names if n not in product.quality]
    if missing:
        have = ", ".join(product.quality) if product.quality else "none"
        expected = "; ".join(f"{n}: {product.quality_expected.get(n, 'not delivered by ' + product.sensor)}"
                             for n in missing)
        raise InvalidInputError(
            f"{where}: has no {', '.join(missing)} quality layer ({expected}). Its quality layers: {have}. "
            "Download the product's quality files with it, or ask --product-mask for the flags it has.")
    layers = tuple(product.quality[n] for n in names)
    if width is not None and height is not None:
        for layer in layers:
            with rasterio.open(layer.path) as src:
                if (src.width, src.height) != (width, height):
                    raise InvalidInputError(
                        f"{layer.shown}: is {src.width} x {src.height} pixels but the scene is {width} x {height}; "
                        "the quality file belongs to another product. Keep each product's files together.")
    return QualityMask(names, layers)
