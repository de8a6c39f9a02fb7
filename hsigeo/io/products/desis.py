"""DESIS L2A products: ``*-SPECTRAL_IMAGE.tif`` + ``*-METADATA.xml``.

Layout (DESIS Level 2A product specification, DLR/Teledyne Brown
"DESIS Product Specification", DLR-DESIS-PS; file names
``DESIS-HSI-L2A-DT<datatake>_<tile>-<start>-V<version>-SPECTRAL_IMAGE.tif``): the
metadata XML lists each band as a ``band`` element with ``bandNumber``,
``wavelengthCenterOfBand`` and ``wavelengthWidthOfBand`` (nm), ``gainOfBand`` and
``offsetOfBand`` (reflectance = value * gain + offset), and the product as
``mission``, ``productType``, ``version``, ``startTime`` and ``backgroundValue``
(the fill value of pixels outside the scene).

Quality (offered as masks, :mod:`.quality`): ``-QL_QUALITY-2.tif``, the L2A
quality layer, one uint8 band per flag, 1 = flagged: 1 shadow, 2 land, 3 snow,
4 haze over land, 5 haze over water, 6 cloud over land, 7 cloud over water,
8 water, then aerosol optical thickness and water vapour (values, not flags;
not read).  ``cloud`` is bands 6 or 7, ``haze`` bands 4 or 5.
"""

from __future__ import annotations

import os
import re

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.io.products import Member, Product
from hsigeo.io.products.tifxml import BandTable, build, find_pair, member_by_name, parse_xml, quality_layers, text

__all__ = ["open_product", "member"]

_IMAGE_RE = re.compile(r"^(?P<stem>DESIS-HSI-.+?)-SPECTRAL_IMAGE\.TIFF?$", re.IGNORECASE)
_XML_RE = re.compile(r"^(?P<stem>DESIS-HSI-.+?)-METADATA\.XML$", re.IGNORECASE)
_LEVEL_RE = re.compile(r"DESIS-HSI-(?P<level>L1[ABC]|L2A)-", re.IGNORECASE)
# flag -> (file part, bands, flag value); see the module notes
_QUALITY = {
    "shadow": ("QL_QUALITY-2", (1,), 1),
    "snow": ("QL_QUALITY-2", (3,), 1),
    "haze": ("QL_QUALITY-2", (4, 5), 1),
    "cloud": ("QL_QUALITY-2", (6, 7), 1),
    "water": ("QL_QUALITY-2", (8,), 1),
}


def member(path: str | os.PathLike) -> Member | None:
    """Whether ``path`` (by name) opens a DESIS product or is one of its sidecars (quality layers...)."""
    return member_by_name(path, "DESIS-HSI-")


def open_product(path: str | os.PathLike) -> Product | None:
    pair = find_pair(path, _IMAGE_RE, _XML_RE, "DESIS")
    if pair is None:
        return None
    root = parse_xml(pair)
    rows = [b for b in root.iter() if b.tag.rsplit("}", 1)[-1] == "band" and b.find("bandNumber") is not None]
    if not rows:
        raise RasterReadError(f"{pair.files.shown(pair.xml)}: no band elements with a bandNumber; "
                              "is this a DESIS METADATA.xml?")
    rows.sort(key=lambda b: int(b.findtext("bandNumber")))

    def col(tag: str, default: float | None = None) -> np.ndarray:
        out = []
        for b in rows:
            t = b.findtext(tag)
            if t is None or not t.strip():
                if default is None:
                    raise RasterReadError(f"{pair.files.shown(pair.xml)}: band {b.findtext('bandNumber')} has "
                                          f"no {tag}.")
                out.append(default)
            else:
                out.append(float(t))
        return np.asarray(out, dtype=np.float64)

    stem = _XML_RE.search(pair.xml.rsplit("/", 1)[-1]).group("stem")
    level = (text(root, ".//productType") or (m.group("level") if (m := _LEVEL_RE.search(stem)) else "L2A")).upper()
    background = text(root, ".//backgroundValue")
    attrs = {"product_id": stem, "acquisition_time": text(root, ".//startTime") or "",
             "processing_version": text(root, ".//version") or ""}
    table = BandTable(col("wavelengthCenterOfBand"), col("wavelengthWidthOfBand"), col("gainOfBand", 1.0),
                      col("offsetOfBand", 0.0), float(background) if background else None, attrs)
    product = build(pair, table, sensor="DESIS", level=level, reader="desis")
    product.quality, product.quality_expected = quality_layers(pair, stem, _QUALITY)
    return product
