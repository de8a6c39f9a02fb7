"""Where product readers keep what they derive from a product: scaled VRTs, orthorectified cubes.

The engines (:mod:`hsigeo.inference.tiled`, the cluster tasks) read scene windows
with rasterio from one GDAL-readable path.  A product that GDAL cannot read as a
``(band, y, x)`` raster with reflectance values (an EnMAP TIF whose gains live in
an XML, an EMIT swath that needs its GLT, a PRISMA cube stored ``(y, band, x)``)
is therefore turned into such a path once, here, and every later command reuses
it.  Nothing is ever written beside the user's files.

The cache folder is ``$HSIGEO_CACHE_DIR`` or ``$XDG_CACHE_HOME/hsigeo/products``
(``~/.cache/hsigeo/products``).  An entry is named by a hash of the reader, its
format version and the source file's path, size and modification time, so a
changed product gets a new entry.  Cluster workers on other machines need the
folder on a shared file system (set ``HSIGEO_CACHE_DIR`` there).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from hsigeo.filesafety import atomic_output

__all__ = ["cache_dir", "cache_path", "write_scaled_vrt", "gdal_type"]


def cache_dir() -> Path:
    """The folder derived product files go to (created on demand)."""
    env = os.environ.get("HSIGEO_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hsigeo" / "products"


def cache_path(reader: str, version: int, sources: Sequence[str | os.PathLike], suffix: str,
               extra: Any = None) -> Path:
    """A cache file name that changes whenever a source file or the reader's output format does.

    Parameters
    ----------
    reader, version
        The reader's name and its output-format version (bump it when the output changes).
    sources
        The files the entry is derived from (path, size and mtime enter the key).
    suffix
        File suffix (``".vrt"``, ``".tif"``).
    extra
        Anything else the output depends on (JSON-serialisable).
    """
    parts: list[Any] = [reader, version, extra]
    for s in sources:
        p = Path(s)
        st = p.stat()
        parts.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]
    stem = Path(sources[0]).name.split(".")[0][:60] if sources else reader
    return cache_dir() / f"{stem}.{reader}.{digest}{suffix}"


def _num(v: float) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


def write_scaled_vrt(out: Path, source: str, *, width: int, height: int, source_dtype: str,
                     crs_wkt: str | None, transform: Sequence[float] | None,
                     bands: Sequence[int], scale: Sequence[float], offset: Sequence[float],
                     source_nodata: float | None, block: tuple[int, int] = (256, 256)) -> Path:
    """Write a GDAL VRT that reads ``source``'s bands as Float32 ``value * scale + offset``.

    GDAL applies the scaling as it reads (``ComplexSource`` ``ScaleRatio``/``ScaleOffset``),
    so a window read by the engines, a dask chunk read by rioxarray and QGIS all see
    reflectance, and nothing the size of the scene is written.  Source pixels equal to
    ``source_nodata`` become NaN (the VRT's nodata).

    Parameters
    ----------
    out
        The VRT to write (in the cache; replaced atomically).
    source
        What GDAL opens: a path, or a ``/vsizip/`` path into a zip.
    bands
        1-based source band of each output band (order = output order).
    scale, offset
        Per output band.
    source_nodata
        The source's nodata value, or ``None``.
    """
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if crs_wkt:
        lines.append(f"  <SRS>{escape(crs_wkt)}</SRS>")
    if transform is not None:
        lines.append("  <GeoTransform>" + ", ".join(repr(float(v)) for v in transform) + "</GeoTransform>")
    src = escape(str(source))
    bx, by = block
    for i, (b, s, o) in enumerate(zip(bands, scale, offset, strict=True)):
        lines += [
            f'  <VRTRasterBand dataType="Float32" band="{i + 1}">',
            "    <NoDataValue>nan</NoDataValue>",
            "    <ComplexSource>",
            f'      <SourceFilename relativeToVRT="0">{src}</SourceFilename>',
            f"      <SourceBand>{int(b)}</SourceBand>",
            f'      <SourceProperties RasterXSize="{width}" RasterYSize="{height}" DataType="{source_dtype}" '
            f'BlockXSize="{bx}" BlockYSize="{by}"/>',
            f'      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
            f'      <DstRect xOff="0" yOff="0" xSize="{width}" ySize="{height}"/>',
        ]
        if source_nodata is not None and not (isinstance(source_nodata, float) and math.isnan(source_nodata)):
            lines.append(f"      <NODATA>{_num(source_nodata)}</NODATA>")
        lines += [
            f"      <ScaleOffset>{_num(o)}</ScaleOffset>",
            f"      <ScaleRatio>{_num(s)}</ScaleRatio>",
            "    </ComplexSource>",
            "  </VRTRasterBand>",
        ]
    lines.append("</VRTDataset>")
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def float_array(values: Any, n: int, default: float) -> np.ndarray:
    """``values`` as ``n`` float64s, ``default`` where missing (``None``)."""
    out = np.full(n, default, dtype=np.float64)
    if values is not None:
        for i, v in enumerate(list(values)[:n]):
            if v is not None:
                out[i] = float(v)
    return out


def gdal_type(dtype: str) -> str:
    """GDAL's name of a numpy dtype name (``"int16"`` -> ``"Int16"``)."""
    return {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
            "int32": "Int32", "float32": "Float32", "float64": "Float64", "uint64": "UInt64",
            "int64": "Int64"}.get(dtype, "Float32")
