"""Finding a product's files: given its data file, its metadata file, its folder, its zip or a GDAL subdataset string.

Products arrive as a folder or a zip of a few files named by a common stem
(``ENMAP01-____L2A-...-SPECTRAL_IMAGE.TIF`` beside ``...-METADATA.XML``).
:class:`Listing` lists the files of a folder or zip the same way; members of a
zip are read through GDAL's ``/vsizip/`` (images) or :mod:`zipfile` (XML) and
never extracted, except HDF5 files, which HDF5 can only read from disk (copied
to the cache once, see :func:`extract_member`).
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hsigeo.errors import RasterReadError

__all__ = ["parse_subdataset", "Listing", "listing", "extract_member"]

# NETCDF:"file.nc":var, HDF5:"file.he5"://path, with or without quotes
_SUBDATASET_RE = re.compile(r'^(?P<driver>NETCDF|HDF5|HDF4_EOS|HDF5_EOS):(?P<q>"?)(?P<file>.+?)(?P=q):(?P<var>.+)$',
                            re.IGNORECASE)
# XML metadata read whole; bigger files are not product metadata (hostile-input bound)
MAX_XML_BYTES = 64 * 1024 * 1024


def parse_subdataset(text: str) -> tuple[str, str, str] | None:
    """``('NETCDF', 'f.nc', 'reflectance')`` for ``NETCDF:"f.nc":reflectance``; ``None`` for a plain path."""
    m = _SUBDATASET_RE.match(text.strip())
    if not m:
        return None
    return m.group("driver").upper(), m.group("file"), m.group("var")


@dataclass(frozen=True)
class Listing:
    """The files of a product folder or zip (or the folder of a single file)."""

    root: Path  # the folder or the zip
    names: tuple[str, ...]  # member names (relative paths)
    is_zip: bool

    def gdal_path(self, name: str) -> str:
        """What GDAL opens for member ``name``."""
        return f"/vsizip/{self.root.resolve()}/{name}" if self.is_zip else str(self.root / name)

    def shown(self, name: str) -> str:
        """The member as messages and ``hsigeo info`` show it."""
        return f"{self.root}!{name}" if self.is_zip else str(self.root / name)

    def read_bytes(self, name: str) -> bytes:
        """A (small) member's bytes; refuses members over 64 MiB."""
        if self.is_zip:
            with zipfile.ZipFile(self.root) as zf:
                if zf.getinfo(name).file_size > MAX_XML_BYTES:
                    raise RasterReadError(f"{self.shown(name)}: larger than a product's metadata can be; "
                                          "is this the right file?")
                return zf.read(name)
        p = self.root / name
        if p.stat().st_size > MAX_XML_BYTES:
            raise RasterReadError(f"{p}: larger than a product's metadata can be; is this the right file?")
        return p.read_bytes()

    def find(self, pattern: re.Pattern[str]) -> list[str]:
        """Member names whose base name matches ``pattern`` (sorted)."""
        return sorted(n for n in self.names if pattern.search(n.rsplit("/", 1)[-1]))


def listing(path: Path) -> Listing | None:
    """The files beside ``path`` (a file), in it (a folder) or in it (a zip); ``None`` when it is none of them."""
    if path.is_dir():
        names = []
        for dirpath, _dirs, files in os.walk(path):
            rel = Path(dirpath).relative_to(path)
            names += [str(rel / f) if str(rel) != "." else f for f in files]
            if len(names) > 10_000:
                break  # a product has a few dozen files; do not walk a whole disk given by mistake
        return Listing(path, tuple(names), False)
    if path.is_file() and path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return Listing(path, tuple(i.filename for i in zf.infolist() if not i.is_dir()), True)
        except zipfile.BadZipFile as exc:
            raise RasterReadError(f"{path}: not a readable zip ({exc}); re-download it.") from exc
    if path.is_file():
        return Listing(path.parent, tuple(p.name for p in path.parent.iterdir() if p.is_file()), False)
    return None


def extract_member(zip_path: Path, name: str, out: Path) -> Path:
    """Copy one zip member to ``out`` (streamed, atomic), once."""
    from hsigeo.filesafety import atomic_output

    if out.is_file():
        return out
    with zipfile.ZipFile(zip_path) as zf, zf.open(name) as src, atomic_output(out, overwrite=True) as tmp:
        with open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
    return out
