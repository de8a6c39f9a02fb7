"""Products made of an image plus a metadata XML (EnMAP, DESIS): find the pair, scale through a VRT.

The user may give the image, the XML, the product folder or its zip; all four
resolve to the same pair.  A pair with one half missing is an error naming the
file expected.  The image is opened through a cached VRT that applies each
band's gain and offset from the XML (:func:`~hsigeo.io.products.cache.write_scaled_vrt`),
in ascending wavelength, so nothing the size of the scene is written.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsigeo.errors import RasterReadError
from hsigeo.io.products import Member, Product
from hsigeo.io.products.cache import cache_path, gdal_type, write_scaled_vrt
from hsigeo.io.products.files import Listing, listing, parse_subdataset
from hsigeo.io.products.quality import QualityLayer

__all__ = ["Pair", "BandTable", "find_pair", "parse_xml", "build", "member_by_name", "quality_layers"]


@dataclass(frozen=True)
class Pair:
    files: Listing
    image: str  # member name
    xml: str


@dataclass
class BandTable:
    """What a product's XML says per band (in stored band order) and about the product."""

    wavelength: np.ndarray
    fwhm: np.ndarray
    gain: np.ndarray
    offset: np.ndarray
    nodata: float | None = None
    attrs: dict[str, str] = field(default_factory=dict)


def find_pair(path: str | os.PathLike, image_re: re.Pattern[str], xml_re: re.Pattern[str],
              product: str) -> Pair | None:
    """Resolve ``path`` to the image and XML of one product, or ``None`` when it is not this product.

    ``image_re`` and ``xml_re`` match base names and capture the product stem as ``stem``.
    """
    if isinstance(path, str) and parse_subdataset(path):
        return None
    p = Path(path)
    if p.is_file() and not (image_re.search(p.name) or xml_re.search(p.name)) and p.suffix.lower() != ".zip":
        return None
    if not (p.is_dir() or p.is_file()):
        return None
    files = listing(p)
    if files is None:
        return None
    if p.is_file() and p.suffix.lower() != ".zip":
        m = image_re.search(p.name) or xml_re.search(p.name)
        assert m is not None
        stem = m.group("stem")
        images = [n for n in files.find(image_re) if image_re.search(n.rsplit("/", 1)[-1]).group("stem") == stem]
        xmls = [n for n in files.find(xml_re) if xml_re.search(n.rsplit("/", 1)[-1]).group("stem") == stem]
    else:
        images, xmls = files.find(image_re), files.find(xml_re)
        if not images and not xmls:
            return None
        stems = {image_re.search(n.rsplit("/", 1)[-1]).group("stem") for n in images}
        stems |= {xml_re.search(n.rsplit("/", 1)[-1]).group("stem") for n in xmls}
        if len(stems) > 1:
            raise RasterReadError(
                f"{p}: holds {len(stems)} {product} products ({', '.join(sorted(stems)[:4])}); give the "
                "METADATA XML or the image of the one to open.")
    if not xmls:
        raise RasterReadError(
            f"{p}: {product} image {images[0].rsplit('/', 1)[-1]} has no metadata XML beside it (expected "
            f"{_expected(images[0], image_re, 'METADATA.XML')}); the band wavelengths and gains are in it. "
            "Keep the product's files together (unpack the whole product).")
    if not images:
        raise RasterReadError(
            f"{p}: {product} metadata {xmls[0].rsplit('/', 1)[-1]} has no spectral image beside it (expected "
            f"{_expected(xmls[0], xml_re, 'SPECTRAL_IMAGE.TIF')}). Keep the product's files together.")
    return Pair(files, images[0], xmls[0])


def member_by_name(path: str | os.PathLike, prefix: str) -> Member | None:
    """What ``path`` is to a product whose files are named ``<stem>-<PART>.<ext>`` with ``stem`` starting ``prefix``.

    The ``SPECTRAL_IMAGE`` and ``METADATA`` files open the product; every other part (quality
    layers ``QL_*``, ``HISTORY``, an ENVI header...) is a sidecar.  A zip named ``<stem>.zip`` and a
    folder holding the opening files of exactly one product open it too.
    """
    if isinstance(path, str) and parse_subdataset(path):
        return None
    p = Path(path)
    file_re = re.compile(rf"^(?P<stem>{prefix}.+?)-(?P<part>[A-Z][A-Z0-9_]*(?:-\d+)?)\.(?P<ext>[A-Za-z0-9]+)$",
                         re.IGNORECASE)
    if p.is_dir():
        files = listing(p)
        stems = set()
        for name in files.names if files is not None else ():
            m = file_re.match(name.rsplit("/", 1)[-1])
            if m and m.group("part").upper() in _OPENING_PARTS:
                stems.add(m.group("stem"))
        # a folder of several products is no scene: its products are
        return Member(stems.pop(), p.name or str(p), True) if len(stems) == 1 else None
    m = re.match(rf"^(?P<stem>{prefix}[^.]+)\.zip$", p.name, re.IGNORECASE)
    if m:
        return Member(m.group("stem"), m.group("stem"), True)
    m = file_re.match(p.name)
    if m is None:
        return None
    opens = m.group("part").upper() in _OPENING_PARTS and m.group("ext").upper() != "HDR"
    return Member(m.group("stem"), m.group("stem"), opens)


# the parts of a product that open it; the rest are sidecars
_OPENING_PARTS = frozenset({"SPECTRAL_IMAGE", "METADATA"})


def quality_layers(pair: Pair, stem: str, table: dict[str, tuple[str, tuple[int, ...], int | None]]
                   ) -> tuple[dict[str, QualityLayer], dict[str, str]]:
    """The quality layers of the product ``stem`` that lie beside its image, and the file each flag needs.

    Parameters
    ----------
    table
        Flag name -> (file part, bands, flag value): the layer is ``<stem>-<part>.TIF``
        (any case, ``.TIF``/``.TIFF``), its ``bands`` (``()``: all) carry the flag where they
        equal the value (``None``: where nonzero).

    Returns
    -------
    (present, expected)
        The layers found, by flag; and for every flag of ``table`` the file name expected.
    """
    present: dict[str, QualityLayer] = {}
    expected: dict[str, str] = {}
    by_name = {n.rsplit("/", 1)[-1].upper(): n for n in pair.files.names}
    for flag, (part, bands, value) in table.items():
        expected[flag] = f"{stem}-{part}.TIF"
        name = by_name.get(f"{stem}-{part}.TIF".upper()) or by_name.get(f"{stem}-{part}.TIFF".upper())
        if name is not None:
            present[flag] = QualityLayer(pair.files.gdal_path(name), bands, value, pair.files.shown(name))
    return present, expected


def _expected(name: str, pattern: re.Pattern[str], tail: str) -> str:
    m = pattern.search(name.rsplit("/", 1)[-1])
    return f"{m.group('stem')}-{tail}" if m else tail


def parse_xml(pair: Pair) -> ET.Element:
    """The XML's root element (size-bounded read; entities are not expanded by ElementTree)."""
    try:
        return ET.fromstring(pair.files.read_bytes(pair.xml))
    except ET.ParseError as exc:
        raise RasterReadError(f"{pair.files.shown(pair.xml)}: not well-formed XML ({exc}); re-download the "
                              "product.") from exc


def text(root: ET.Element, *paths: str) -> str | None:
    """The first non-empty text found at one of ``paths``."""
    for p in paths:
        el = root.find(p)
        if el is not None and el.text and el.text.strip():
            return el.text.strip()
    return None


def build(pair: Pair, table: BandTable, *, sensor: str, level: str, reader: str) -> Product:
    """Open the image's metadata, check it against the XML, and return the product read through a scaled VRT."""
    import rasterio
    from rasterio.errors import RasterioIOError

    image = pair.files.gdal_path(pair.image)
    try:
        with rasterio.open(image) as src:
            count, width, height = src.count, src.width, src.height
            dtype, crs, transform, nodata = src.dtypes[0], src.crs, src.transform, src.nodata
            block = src.block_shapes[0] if src.block_shapes else (256, 256)
    except RasterioIOError as exc:
        raise RasterReadError(f"{pair.files.shown(pair.image)}: GDAL cannot read the {sensor} image ({exc}); "
                              "re-download the product.") from exc
    n = table.wavelength.size
    if count != n:
        raise RasterReadError(
            f"{pair.files.shown(pair.image)}: has {count} bands but {pair.files.shown(pair.xml)} describes {n}; "
            "the image and metadata are from different products or the download is incomplete.")
    if table.nodata is not None:
        nodata = table.nodata
    order = np.argsort(table.wavelength, kind="stable")
    sources = [pair.files.root] if pair.files.is_zip else [pair.files.root / pair.image,
                                                          pair.files.root / pair.xml]
    vrt = cache_path(reader, 1, sources, ".vrt", extra=[pair.image, pair.xml])
    if not vrt.is_file():
        write_scaled_vrt(vrt, image if pair.files.is_zip else str(Path(image).resolve()), width=width,
                         height=height, source_dtype=gdal_type(dtype), crs_wkt=crs.to_wkt() if crs else None,
                         transform=transform.to_gdal(), bands=[int(i) + 1 for i in order],
                         scale=table.gain[order], offset=table.offset[order], source_nodata=nodata,
                         block=(block[1], block[0]))
    g = table.gain
    note = (f"gain/offset per band from the metadata XML applied (value * gain + offset; gain "
            f"{g.min():g}..{g.max():g}, offset {table.offset.min():g}..{table.offset.max():g})")
    return Product(
        sensor=sensor, level=level, data_path=str(vrt), wavelength=table.wavelength[order],
        fwhm=table.fwhm[order], bad_band=None, nodata=float("nan"), attrs=table.attrs,
        files=[("metadata", pair.files.shown(pair.xml)), ("image", pair.files.shown(pair.image))],
        scaling=note)
