"""AVIRIS-NG and AVIRIS-3 L2 reflectance: ENVI files, read by the ENVI path of ``open_hsi``; named here.

JPL delivers them as ENVI pairs (AVIRIS-NG Distribution Document: flight lines
``angYYYYMMDDtHHNNSS``, ``..._rfl_VVV_img`` + ``.hdr``, older ``..._corr_VVV_img``;
AVIRIS-3 ``AV3YYYYMMDDtHHNNSS_..._RFL_ORT``).  Their headers carry
``wavelength units = Nanometers``, ``fwhm``, ``data ignore value = -9999`` and
float32 0-1 reflectance with no scale factor, all of which the generic ENVI
reader already applies; ``bbl`` where present.  This module only recognises
the flight line from the file name, so the scene carries its sensor, level and
acquisition time, and says when a radiance (``rdn``) file is given instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["describe_envi"]

_NAME_RE = re.compile(
    r"^(?P<sensor>ang|AV3)(?P<date>\d{8})t(?P<time>\d{6})(?:_\d+)?_(?P<kind>rfl|corr|rdn|RFL|RDN)(?:_(?P<ver>v[0-9a-z]+))?",
    re.IGNORECASE)


def describe_envi(hdr: dict[str, Any], data_path: Path, info: dict[str, Any]) -> dict[str, str]:
    """Product attributes of an AVIRIS-NG/-3 ENVI file (empty for other ENVI files)."""
    m = _NAME_RE.match(data_path.name)
    if not m:
        return {}
    sensor = "AVIRIS-NG" if m.group("sensor").lower() == "ang" else "AVIRIS-3"
    kind = m.group("kind").lower()
    d, t = m.group("date"), m.group("time")
    out = {
        "sensor": sensor,
        "product_level": "L1B radiance" if kind == "rdn" else "L2 reflectance",
        "acquisition_time": f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}Z",
        "product_id": data_path.name,
    }
    if m.group("ver"):
        out["processing_version"] = m.group("ver")
    if kind == "rdn":
        out["values_note"] = ("radiance (uW cm-2 sr-1 nm-1), not reflectance: use the rfl file, or a model "
                              "that estimates the radiometry (the base model's radiance correction)")
    return out
