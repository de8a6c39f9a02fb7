"""hsigeo: prompt-anchored vision-language classification of hyperspectral imagery.

The estimator :class:`HsigeoClassifier` (``fit`` / ``predict`` / ``predict_proba`` /
``embed`` / ``save``) and :func:`load_model` are the entry points; :func:`open_hsi` reads
scenes.  Importing hsigeo registers the ``.hsi`` DataArray accessor.  torch and
transformers are imported only when a model is trained, loaded or run.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from hsigeo import errors
from hsigeo.errors import HsigeoError

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first access (PEP 562)
_LAZY = {
    "open_hsi": "hsigeo.io.raster",
    "write_hsi": "hsigeo.io.raster",
    "load_dataset": "hsigeo.datasets.scenes",
    "load_prompts": "hsigeo.text.prompts",
    "HsigeoClassifier": "hsigeo.estimator",
    "load_model": "hsigeo.estimator",
    "save_model": "hsigeo.model.modelfile",
    "classify_raster": "hsigeo.inference.tiled",
    "make_synthetic_scene": "hsigeo.datasets.synthetic",
}

__all__ = ["HsigeoError", "errors", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hsigeo' has no attribute {name!r}")


def __dir__() -> list[str]:
    # PEP 562: without this, dir(), help() and IDE completion see only the names bound so far
    return sorted(set(globals()) | set(_LAZY))


import_module("hsigeo.accessor")  # registers the .hsi accessor (the module imports no torch)
