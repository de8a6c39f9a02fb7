"""EnMAP L2A (and L1C) products: ``*-SPECTRAL_IMAGE.TIF`` + ``*-METADATA.XML``.

Layout (EnMAP HSI Level 2A product specification, DLR EN-PCV-ICD-2022-3, and the
L1B/L1C/L2A metadata description EN-PCV-TN-4006): a product folder (or zip)
``ENMAP01-____L2A-DT<datatake>_<start>_<tile>_V<processor version>_<processing time>/``
holding ``...-SPECTRAL_IMAGE.TIF`` (int16, 224 bands in ascending wavelength, nodata
-32768; ENVI BSQ/BIL/BIP also orderable) and ``...-METADATA.XML`` whose root element
``level_X`` holds, per band, ``specific/bandCharacterisation/bandID[@number]`` with
``wavelengthCenterOfBand`` and ``FWHMOfBand`` (nm) and ``GainOfBand`` /
``OffsetOfBand`` (reflectance = value * gain + offset; gain 1e-4 for L2A), and
``base/temporalCoverage/startTime``.  Quality layers beside the image, offered
as masks (:mod:`.quality`): ``-QL_QUALITY_CLOUD``, ``-QL_QUALITY_CLOUDSHADOW``,
``-QL_QUALITY_HAZE``, ``-QL_QUALITY_CIRRUS``, ``-QL_QUALITY_SNOW`` (one uint8 band,
1 = flagged) and ``-QL_PIXELMASK`` (defective pixels: flagged where any band is
nonzero); ``-QL_QUALITY_CLASSES`` and ``-QL_QUALITY_TESTFLAGS`` are not read.
"""

from __future__ import annotations

import os
import re

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.io.products import Member, Product
from hsigeo.io.products.tifxml import BandTable, build, find_pair, member_by_name, parse_xml, quality_layers, text

__all__ = ["open_product", "member"]

_IMAGE_RE = re.compile(r"^(?P<stem>ENMAP01-.+?)-SPECTRAL_IMAGE\.(?:TIFF?|GEOTIFF|BSQ|BIL|BIP)$", re.IGNORECASE)
_XML_RE = re.compile(r"^(?P<stem>ENMAP01-.+?)-METADATA\.XML$", re.IGNORECASE)
_LEVEL_RE = re.compile(r"-_*(?P<level>L1B|L1C|L2A)-", re.IGNORECASE)
_VERSION_RE = re.compile(r"_V(?P<v>\d{6})_")
# the spectral image's nodata when the TIF does not say (product specification)
_NODATA = -32768.0
# flag -> (file part, bands, flag value); see the module notes
_QUALITY = {
    "cloud": ("QL_QUALITY_CLOUD", (1,), 1),
    "shadow": ("QL_QUALITY_CLOUDSHADOW", (1,), 1),
    "haze": ("QL_QUALITY_HAZE", (1,), 1),
    "cirrus": ("QL_QUALITY_CIRRUS", (1,), 1),
    "snow": ("QL_QUALITY_SNOW", (1,), 1),
    "defective": ("QL_PIXELMASK", (), None),
}


def member(path: str | os.PathLike) -> Member | None:
    """Whether ``path`` (by name) opens an EnMAP product or is one of its sidecars (quality layers...)."""
    return member_by_name(path, "ENMAP01-")


def open_product(path: str | os.PathLike) -> Product | None:
    pair = find_pair(path, _IMAGE_RE, _XML_RE, "EnMAP")
    if pair is None:
        return None
    root = parse_xml(pair)
    bands = root.findall("specific/bandCharacterisation/bandID")
    if not bands:
        raise RasterReadError(f"{pair.files.shown(pair.xml)}: no specific/bandCharacterisation/bandID elements; "
                              "is this an EnMAP METADATA.XML?")
    bands.sort(key=lambda b: int(b.get("number", "0")))

    def col(tag: str, default: float | None = None) -> np.ndarray:
        out = []
        for b in bands:
            t = b.findtext(tag)
            if t is None or not t.strip():
                if default is None:
                    raise RasterReadError(f"{pair.files.shown(pair.xml)}: band {b.get('number')} has no {tag}.")
                out.append(default)
            else:
                out.append(float(t))
        return np.asarray(out, dtype=np.float64)

    stem = _XML_RE.search(pair.xml.rsplit("/", 1)[-1]).group("stem")
    level = (m.group("level").upper() if (m := _LEVEL_RE.search(stem)) else
             (text(root, "base/level", "metadata/level") or "L2A"))
    attrs = {"product_id": stem, "acquisition_time": text(root, "base/temporalCoverage/startTime") or ""}
    if (v := _VERSION_RE.search(stem)) is not None:
        d = v.group("v")
        attrs["processing_version"] = f"{int(d[:2])}.{int(d[2:4])}.{int(d[4:])}"
    table = BandTable(col("wavelengthCenterOfBand"), col("FWHMOfBand"), col("GainOfBand", 1.0),
                      col("OffsetOfBand", 0.0), None, attrs)
    product = build(pair, table, sensor="EnMAP", level=level, reader="enmap")
    product.quality, product.quality_expected = quality_layers(pair, stem, _QUALITY)
    if level != "L2A":
        product.scaling += " (L1 products are radiance, not reflectance)"
    return product
