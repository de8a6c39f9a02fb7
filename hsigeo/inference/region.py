"""The part of a scene a classification covers: an extent and a polygon mask.

:func:`plan_region` turns ``--extent`` and ``--mask`` into a :class:`Region`:
a pixel-aligned window of the scene (the extent, cut to the mask's bounding
box, cut to the scene) plus, with a mask, the polygons in the scene's CRS.
The tiled engine plans its windows over the region only, reads a window (with
its halo, from the real scene around it) only when the mask touches it, and
marks pixels whose centre is outside every polygon as nodata.  The outputs
are on the region's grid: same pixels as the scene, smaller extent.  A
product's own quality layers (``--product-mask``,
:class:`~hsigeo.io.products.quality.QualityMask`) mark flagged pixels as
nodata the same way, read window by window; a window they flag whole is not
read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError

__all__ = ["Extent", "Region", "parse_extent", "plan_region", "read_mask"]

_EPS = 1e-6  # pixels


@dataclass(frozen=True)
class Extent:
    """A rectangle in map units, in ``crs`` (``None``: the scene's CRS)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    crs: str | None = None


def parse_extent(text: str) -> Extent:
    """Parse ``"xmin,ymin,xmax,ymax[,CRS]"`` (CRS as ``EPSG:32611`` or any string rasterio reads).

    Raises
    ------
    InvalidInputError
        When the text is not four numbers (and a CRS) or the rectangle is empty.
    """
    parts = [p.strip() for p in str(text).split(",")]
    crs = None
    if len(parts) == 5:
        crs = parts.pop() or None
    try:
        xmin, ymin, xmax, ymax = (float(p) for p in parts)
    except ValueError:
        raise InvalidInputError(
            f"extent {text!r}: give xmin,ymin,xmax,ymax in map units, optionally followed by a CRS "
            "(e.g. 493000,3764900,493100,3765000,EPSG:32611)."
        ) from None
    if not (xmax > xmin and ymax > ymin):
        raise InvalidInputError(f"extent {text!r}: xmax must exceed xmin and ymax exceed ymin (order: xmin,ymin,xmax,ymax).")
    return Extent(xmin, ymin, xmax, ymax, crs)


def read_mask(path: str | os.PathLike, crs: Any) -> list[Any]:
    """Polygons of a vector file (``file.gpkg`` or ``file.gpkg|layername=NAME``) in ``crs``.

    Raises
    ------
    InvalidInputError
        When the file cannot be read, has no CRS while the scene has one, or holds no polygon.
    """
    import geopandas as gpd

    text = str(path)
    name, _, option = text.partition("|")
    layer = option.split("=", 1)[1] if option.startswith("layername=") else None
    file = Path(name)
    if not file.exists():
        raise InvalidInputError(f"{file}: mask file not found; check the path.")
    from hsigeo.io.vectors import feature_layer

    layer = feature_layer(file, layer)
    try:
        gdf = gpd.read_file(file, layer=layer) if layer else gpd.read_file(file)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for the same user problem
        raise InvalidInputError(f"{file}: cannot read the mask ({exc}); check it opens in QGIS/ogrinfo.") from exc
    if gdf.crs is None and crs is not None:
        raise InvalidInputError(f"{file}: the mask has no CRS; assign one (QGIS: Layer > Assign projection) and retry.")
    if gdf.crs is not None and crs is not None and gdf.crs != crs:
        gdf = gdf.to_crs(crs)
    geoms = [g for g in gdf.geometry if g is not None and not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon")]
    if not geoms:
        raise InvalidInputError(f"{file}: the mask has no polygons; draw the area to classify as polygons.")
    return geoms


@dataclass
class Region:
    """A pixel-aligned window of the scene, and the mask polygons inside it.

    Attributes
    ----------
    row_off, col_off, height, width
        The window in scene pixels.
    transform
        Affine transform of the window's grid (the outputs').
    geometries
        Mask polygons in the scene CRS, ``None`` without a mask.
    quality
        A :class:`~hsigeo.io.products.quality.QualityMask` (flagged pixels are nodata), or ``None``.
    description
        What chose the region (goes into the outputs' run record).
    """

    row_off: int
    col_off: int
    height: int
    width: int
    transform: Any
    geometries: list[Any] | None = None
    quality: Any = None
    description: dict[str, Any] | None = None
    _tree: Any = field(default=None, repr=False)

    @property
    def whole_scene(self) -> bool:
        """True when neither an extent nor a mask was given."""
        return self.description is None

    def window_mask(self, row: int, col: int, h: int, w: int) -> np.ndarray | None:
        """Pixels of a region window ``(row, col, h, w)`` inside the mask and not flagged (True = classify).

        ``None`` means every pixel (no mask); an all-False array means the
        window can be skipped without reading it.
        """
        clear = None
        if self.quality is not None:
            clear = ~self.quality.flagged(row + self.row_off, col + self.col_off, h, w)
        inside = self._inside_polygons(row, col, h, w)
        if clear is None or inside is None:
            return inside if clear is None else clear
        return inside & clear

    def _inside_polygons(self, row: int, col: int, h: int, w: int) -> np.ndarray | None:
        """Pixels of a region window whose centre is inside a mask polygon; ``None`` without polygons."""
        if self.geometries is None:
            return None
        from affine import Affine
        from rasterio.features import geometry_mask
        from shapely import box
        from shapely.strtree import STRtree

        if self._tree is None:
            self._tree = STRtree(self.geometries)
        wt = self.transform * Affine.translation(col, row)
        corners = [wt * (0, 0), wt * (w, h)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        hits = self._tree.query(box(min(xs), min(ys), max(xs), max(ys)))
        if len(hits) == 0:
            return np.zeros((h, w), dtype=bool)
        # pixel centres inside a polygon, the rule of the training labels
        return geometry_mask([self.geometries[i] for i in hits], out_shape=(h, w), transform=wt, invert=True)


def plan_region(width: int, height: int, transform: Any, crs: Any, *, extent: Extent | str | None = None,
                mask: str | os.PathLike | None = None, quality: Any = None, source: str = "the scene") -> Region:
    """The region of a ``width`` x ``height`` scene on ``transform``/``crs`` to classify.

    Parameters
    ----------
    extent
        :class:`Extent` or its text (:func:`parse_extent`); pixels partly inside count.
    mask
        Vector file of polygons (:func:`read_mask`).
    quality
        The product's quality layers to mask
        (:func:`hsigeo.io.products.quality.quality_mask`); they do not shrink the region.
    source
        Names the scene in messages.

    Raises
    ------
    InvalidInputError
        When the extent or the mask does not overlap the scene.
    """
    from affine import Affine

    # the flags asked for enter the outputs' run record: a rerun with other flags is another result
    described: dict[str, Any] = {} if quality is None else {"product_mask": list(quality.names)}
    full = Region(0, 0, height, width, transform, quality=quality, description=described or None)
    if extent is None and mask is None:
        return full
    bounds: list[float] | None = [0.0, 0.0, float(width), float(height)]  # col0, row0, col1, row1 (fractional)
    if extent is not None:
        ext = parse_extent(extent) if isinstance(extent, str) else extent
        xmin, ymin, xmax, ymax = _in_crs(ext, crs)
        bounds = _intersect(bounds, _to_pixels(transform, xmin, ymin, xmax, ymax))
        described["extent"] = [ext.xmin, ext.ymin, ext.xmax, ext.ymax, ext.crs]
        if bounds is None:
            given = ",".join([f"{v:.10g}" for v in (ext.xmin, ext.ymin, ext.xmax, ext.ymax)] + [ext.crs or ""]).rstrip(",")
            raise InvalidInputError(f"extent {given}: does not overlap {source} ({_bounds_text(transform, width, height)}); "
                              "give it in the scene's CRS, or add the CRS after the four numbers.")
    geometries = None
    if mask is not None:
        from shapely import unary_union

        geometries = read_mask(mask, crs)
        mxmin, mymin, mxmax, mymax = unary_union(geometries).bounds
        bounds = _intersect(bounds, _to_pixels(transform, mxmin, mymin, mxmax, mymax))
        described["mask"] = str(mask)
        if bounds is None:
            raise InvalidInputError(f"{mask}: the mask polygons do not overlap {source}"
                              f"{' within the extent' if extent is not None else ''} "
                              f"({_bounds_text(transform, width, height)}).")
    c0, r0, c1, r1 = bounds
    # outward to whole pixels; the tolerance keeps an edge given in map units on its pixel edge
    col0, row0 = max(0, int(np.floor(c0 + _EPS))), max(0, int(np.floor(r0 + _EPS)))
    col1, row1 = min(width, int(np.ceil(c1 - _EPS))), min(height, int(np.ceil(r1 - _EPS)))
    if col1 <= col0 or row1 <= row0:
        raise InvalidInputError(f"the extent/mask given covers no whole pixel of {source}.")
    return Region(row0, col0, row1 - row0, col1 - col0, transform * Affine.translation(col0, row0),
                  geometries=geometries, quality=quality, description=described)


def _to_pixels(transform: Any, xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[float, float, float, float]:
    """Pixel bounds (col0, row0, col1, row1) of a map rectangle."""
    inv = ~transform
    cols, rows = zip(*(inv * (x, y) for x in (xmin, xmax) for y in (ymin, ymax)))
    return min(cols), min(rows), max(cols), max(rows)


def _intersect(a: Any, b: Any) -> list[float] | None:
    if a is None or b is None:
        return None
    out = [max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]
    return out if out[2] > out[0] and out[3] > out[1] else None


def _in_crs(ext: Extent, crs: Any) -> tuple[float, float, float, float]:
    """The extent's bounds in the scene CRS."""
    if ext.crs is None or crs is None:
        return ext.xmin, ext.ymin, ext.xmax, ext.ymax
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    try:
        src = CRS.from_user_input(ext.crs)
    except Exception as exc:  # noqa: BLE001 - rasterio's CRSError carries the reason
        raise InvalidInputError(f"extent CRS {ext.crs!r}: not a CRS ({exc}); use e.g. EPSG:4326.") from exc
    given = ",".join(f"{v:.10g}" for v in (ext.xmin, ext.ymin, ext.xmax, ext.ymax)) + f",{ext.crs}"
    if src.is_geographic and not (-180 <= ext.xmin <= 360 and -180 <= ext.xmax <= 360
                                  and -90 <= ext.ymin <= 90 and -90 <= ext.ymax <= 90):
        # a latitude beyond 90: most often latitude and longitude swapped; projected, it would come out
        # infinite and cover every scene
        raise InvalidInputError(
            f"extent {given}: not longitudes and latitudes (latitudes run from -90 to 90); in {ext.crs} give "
            "xmin,ymin,xmax,ymax as west longitude, south latitude, east longitude, north latitude.")
    if src == crs:
        return ext.xmin, ext.ymin, ext.xmax, ext.ymax
    try:
        bounds = transform_bounds(src, crs, ext.xmin, ext.ymin, ext.xmax, ext.ymax, densify_pts=21)
    except Exception as exc:  # noqa: BLE001 - PROJ's errors: the rectangle has no place in the scene's CRS
        raise InvalidInputError(f"extent {given}: cannot be placed in the scene's CRS ({exc}).") from exc
    if not all(np.isfinite(bounds)):
        raise InvalidInputError(
            f"extent {given}: lies outside the area the scene's CRS covers, so it cannot be placed on the scene; "
            "check the numbers' order (xmin,ymin,xmax,ymax) and the CRS.")
    return bounds


def _bounds_text(transform: Any, width: int, height: int) -> str:
    x0, y0 = transform * (0, 0)
    x1, y1 = transform * (width, height)
    return "scene bounds " + ",".join(f"{v:.10g}" for v in (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
