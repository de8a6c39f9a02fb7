"""Setting hsigeo up for the plugin: a Python environment of its own, filled by pip.

The "Set up hsigeo" algorithm (:mod:`.algorithms.setup`) uses these helpers.  hsigeo
never goes into QGIS's own Python (its numpy, GDAL and Qt belong to QGIS): a virtual
environment is made in the QGIS profile folder, hsigeo and its dependencies are
installed into it by pip, from the package index or offline from a folder of wheels,
and the path of its ``hsigeo`` program becomes the provider's setting.

Standard library only, so it is tested without QGIS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from .runner import clean_environment

__all__ = ["MIN_PYTHON", "default_env_dir", "env_program", "is_venv", "python_version", "find_python",
           "venv_command", "install_command", "version_of"]

#: hsigeo's own requirement (pyproject.toml, requires-python).
MIN_PYTHON = (3, 11)
# interpreters looked for on PATH, newest first ("py" is the Windows launcher)
PYTHON_NAMES = ("python3.13", "python3.12", "python3.11", "python3", "python", "py")
_VERSION = re.compile(r"hsigeo, version (\S+)")


def default_env_dir(profile_dir: str | os.PathLike) -> Path:
    """Where the environment goes by default: ``<QGIS profile>/hsigeo/env``."""
    return Path(profile_dir) / "hsigeo" / "env"


def env_program(env_dir: str | os.PathLike, name: str) -> Path:
    """Path of program ``name`` (``python``, ``hsigeo``) inside a virtual environment."""
    if os.name == "nt":  # pragma: no cover - Windows layout
        return Path(env_dir) / "Scripts" / f"{name}.exe"
    return Path(env_dir) / "bin" / name


def is_venv(env_dir: str | os.PathLike) -> bool:
    """Whether ``env_dir`` is a virtual environment (``pyvenv.cfg`` and its python)."""
    return (Path(env_dir) / "pyvenv.cfg").is_file() and env_program(env_dir, "python").exists()


def python_version(python: str) -> Optional[tuple[int, int]]:
    """``(major, minor)`` of an interpreter that has the ``venv`` module, else ``None``."""
    argv = [python, "-3"] if Path(python).stem == "py" else [python]  # the Windows launcher picks a Python 3
    try:
        out = subprocess.run([*argv, "-c", "import sys, venv, ensurepip; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60, env=clean_environment(),
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def find_python(candidates: Sequence[str] = PYTHON_NAMES, path: Optional[str] = None) -> Optional[str]:
    """The first Python >= 3.11 with ``venv`` on ``path`` (default: PATH), or ``None``.

    The environment made from it is separate from that Python: nothing is installed into it.
    """
    for name in candidates:
        found = shutil.which(name, path=path)
        if found and (python_version(found) or (0, 0)) >= MIN_PYTHON:
            return found
    return None


def venv_command(python: str, env_dir: str | os.PathLike) -> list[str]:
    """Command line that creates the virtual environment ``env_dir`` with ``python``."""
    argv = [python, "-3"] if Path(python).stem == "py" else [python]
    return [*argv, "-m", "venv", str(env_dir)]


def install_command(env_dir: str | os.PathLike, *, wheels: Optional[str] = None,
                    requirement: str = "hsigeo") -> list[str]:
    """pip command installing ``requirement`` and its dependencies into ``env_dir``.

    With ``wheels`` (a folder) pip reads only that folder (``--no-index``): an offline
    install, and the torch build in the folder (CPU or CUDA) is the one installed.
    """
    argv = [str(env_program(env_dir, "python")), "-m", "pip", "install", "--progress-bar", "off",
            "--disable-pip-version-check", "--upgrade"]
    if wheels:
        argv += ["--no-index", "--find-links", str(wheels)]
    return [*argv, requirement]


def version_of(output: str) -> Optional[str]:
    """The version in ``hsigeo --version``'s output (``hsigeo, version 0.1.0``), else ``None``."""
    match = _VERSION.search(output)
    return match.group(1) if match else None
