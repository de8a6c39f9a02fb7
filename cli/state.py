"""The command line's small state: which model `hsigeo train` wrote last.

``hsigeo classify`` without ``--model`` (and without a ``model:`` key in the
prompts) falls back to it.  Only the command line remembers anything between
runs; the library is stateless.
"""

from __future__ import annotations

import os
from pathlib import Path

from hsigeo.filesafety import atomic_output

__all__ = ["state_dir", "remember_model", "last_model_path"]


def state_dir() -> Path:
    """Where hsigeo keeps small state: ``$HSIGEO_HOME``, else ``~/.cache/hsigeo``."""
    env = os.environ.get("HSIGEO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hsigeo"


def remember_model(path: str | os.PathLike) -> None:
    """Record ``path`` as the most recently trained model (used by ``hsigeo classify`` without ``--model``)."""
    d = state_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with atomic_output(d / "last_model", overwrite=True) as tmp:
            tmp.write_text(str(Path(path).resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only home must not make training fail; classify then asks for --model


def last_model_path() -> Path | None:
    """The most recently trained model file, or None when none is recorded or it is gone."""
    f = state_dir() / "last_model"
    try:
        text = f.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    p = Path(text) if text else None
    return p if p is not None and p.exists() else None
