"""Readers for the hyperspectral products users download, one module per product family.

:func:`hsigeo.io.raster.open_hsi` asks :func:`open_product` first; a reader that
recognises the path (the product's data file, its metadata XML, its folder, its
zip, or a GDAL subdataset string) returns a :class:`Product`: a GDAL-readable
``data_path`` whose bands are in ascending wavelength and whose values are
reflectance 0-1 (a scaled VRT or an orthorectified GeoTIFF in the cache, see
:mod:`.cache`), plus band centres, FWHM, bad-band flags, nodata and product
attributes.  Paths no reader claims open as plain GeoTIFF/ENVI rasters.

Adding a sensor is one module with ``open_product(path) -> Product | None``
(``None``: not this product; :class:`~hsigeo.errors.RasterReadError` naming the
missing file when it is this product but incomplete) listed in :data:`READERS`,
and one test that builds the product's documented layout.  A reader may also
offer ``member(path) -> Member | None``, which says from the name alone whether
a file or folder belongs to one of its products and whether it opens the
product or is a sidecar of it (quality layers, the EMIT MASK granule), so a
many-scene glob classifies each product once (:func:`product_member`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import numpy as np

__all__ = ["Product", "Member", "READERS", "open_product", "product_member"]

#: Reader modules, asked in this order (the first that claims a path wins).
READERS: tuple[str, ...] = (
    "hsigeo.io.products.emit",
    "hsigeo.io.products.prisma",
    "hsigeo.io.products.enmap",
    "hsigeo.io.products.desis",
)


@dataclass
class Product:
    """A product as :func:`hsigeo.io.raster.open_hsi` needs it.

    Attributes
    ----------
    sensor, level
        E.g. ``"EnMAP"``, ``"L2A"``.
    data_path
        What GDAL/rasterio opens: ``(band, y, x)``, ascending wavelength, reflectance 0-1.
    wavelength, fwhm
        Band centres and widths in nm (``fwhm`` may be ``None``).
    bad_band
        True for bands the product flags as unusable, or ``None``.
    nodata
        The nodata value of ``data_path`` (NaN for the float outputs of the readers).
    attrs
        Product attributes (``acquisition_time``, ``processing_version``, ``product_id``, ...).
    files
        ``(role, path)`` for every file read, for ``hsigeo info`` and error messages.
    scaling
        How the stored values became reflectance, in words.
    quality
        The product's quality layers that are present, by flag name
        (:data:`hsigeo.io.products.quality.FLAGS` -> :class:`~hsigeo.io.products.quality.QualityLayer`).
    quality_expected
        For every flag this kind of product can carry, the file that carries it (for messages
        when it is missing).
    """

    sensor: str
    level: str
    data_path: str
    wavelength: np.ndarray
    fwhm: np.ndarray | None
    bad_band: np.ndarray | None
    nodata: float | None
    attrs: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)
    scaling: str = ""
    quality: dict[str, Any] = field(default_factory=dict)
    quality_expected: dict[str, str] = field(default_factory=dict)

    def read_from(self) -> str:
        """``"metadata: a.xml; image: a.tif"``."""
        return "; ".join(f"{role}: {path}" for role, path in self.files)


@dataclass(frozen=True)
class Member:
    """A file or folder recognised by name as part of a product.

    Attributes
    ----------
    key
        The product's identity: every file of one product has the same key.
    name
        The product's name for outputs named after a scene (``<name>_classes.tif``).
    opens
        True when the path opens the product (its image, metadata XML, folder, zip or data
        file); False for a sidecar (a quality layer, the EMIT MASK granule), never a scene.
    """

    key: str
    name: str
    opens: bool


def product_member(path: str | os.PathLike) -> Member | None:
    """What ``path`` is to a product, judged by names only (no pixels read); ``None``: no product's.

    Folders are listed (a product folder is one holding a single product's files).
    """
    for name in READERS:
        reader: Any = import_module(name)
        member = getattr(reader, "member", None)
        found = member(path) if member is not None else None
        if found is not None:
            return found
    return None


def open_product(path: str | os.PathLike) -> Product | None:
    """The product at ``path``, or ``None`` when no reader recognises it (a plain raster).

    Raises
    ------
    RasterReadError
        When ``path`` is a recognised product that is incomplete or unreadable.
    """
    for name in READERS:
        reader: Any = import_module(name)
        product = reader.open_product(path)
        if product is not None:
            return product
    return None
