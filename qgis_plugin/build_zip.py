#!/usr/bin/env python3
"""Build the installable QGIS plugin zip from this folder (standard library only).

The zip holds one top folder, ``hsigeo_qgis/``: QGIS imports a plugin as a
package named after its folder, and ``hsigeo`` would shadow the library of
the same name in QGIS's Python.  Install it with Plugins > Manage and Install
Plugins > Install from ZIP.

Usage::

    python3 qgis_plugin/build_zip.py --out dist/hsigeo_qgis_plugin.zip
"""

from __future__ import annotations

import argparse
import configparser
import os
import sys
import zipfile
from pathlib import Path

PLUGIN_FOLDER = "hsigeo_qgis"
SOURCE = Path(__file__).resolve().parent
# metadata keys the QGIS plugin manager needs to install and load the plugin
REQUIRED_METADATA = ("name", "qgisMinimumVersion", "qgisMaximumVersion", "description", "about", "version", "author")
# also required by plugins.qgis.org for an upload: release settings, filled in at release (RELEASING.md)
RELEASE_METADATA = ("email", "repository")
# not part of the installed plugin
EXCLUDED_NAMES = {"build_zip.py", "__pycache__", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".zip"}
# fixed timestamp, so that the same sources give the same zip
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def check_metadata(source: Path = SOURCE, *, release: bool = False) -> configparser.ConfigParser:
    """Read ``metadata.txt`` and fail when a required key is missing or empty.

    ``release`` also requires the keys plugins.qgis.org needs for an upload (contact, repository).
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are camelCase (qgisMinimumVersion)
    if not parser.read(source / "metadata.txt", encoding="utf-8"):
        raise SystemExit(f"{source / 'metadata.txt'}: missing; a QGIS plugin needs it.")
    general = parser["general"] if parser.has_section("general") else {}
    required = REQUIRED_METADATA + (RELEASE_METADATA if release else ())
    missing = [key for key in required if not str(general.get(key, "")).strip()]
    if missing:
        raise SystemExit(f"{source / 'metadata.txt'}: [general] lacks {', '.join(missing)}.")
    return parser


def plugin_files(source: Path = SOURCE) -> list[Path]:
    """Files of the plugin, relative to ``source``, sorted (caches and this script left out)."""
    files = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in EXCLUDED_NAMES or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in EXCLUDED_SUFFIXES:
            files.append(relative)
    return files


def build_zip(out: Path, source: Path = SOURCE, folder: str = PLUGIN_FOLDER, *, release: bool = False) -> list[str]:
    """Write the plugin zip to ``out`` (atomically) and return the names it holds."""
    check_metadata(source, release=release)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")
    names = []
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for relative in plugin_files(source):
                info = zipfile.ZipInfo(f"{folder}/{relative.as_posix()}", date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (source / relative).read_bytes())
                names.append(info.filename)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return names


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Build the hsigeo QGIS plugin zip.")
    parser.add_argument("--out", type=Path, default=Path("dist/hsigeo_qgis_plugin.zip"), help="zip file to write")
    parser.add_argument("--release", action="store_true",
                        help="also require the release settings (email, repository) that plugins.qgis.org needs")
    args = parser.parse_args(argv)
    names = build_zip(args.out, release=args.release)
    print(f"{args.out}: {len(names)} files in {PLUGIN_FOLDER}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
