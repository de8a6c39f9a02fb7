"""Scene-scale inference: tiled streaming over rasters on disk and lazy dask/xarray execution.

- :func:`classify_raster` (:mod:`.tiled`): windowed, haloed, streaming classification of a
  raster file into GeoTIFFs (and polygons), flat memory, atomic outputs.
- :func:`classify_dataarray` / :func:`embed_dataarray` (:mod:`.distributed`): the same
  computation as a lazy dask graph (``map_overlap``), for xarray scenes and dask clusters.
- :func:`predict_proba_array` / :func:`classify_array` / :func:`embed_array` (:mod:`.core`):
  whole-scene in-memory inference, the reference both engines reproduce pixel for pixel.
- :class:`InferenceModel` (:mod:`.protocol`): what every engine needs from a model.
"""

from __future__ import annotations

import importlib
from typing import Any

# Exports are imported on first use (PEP 562), so importing a light submodule such as
# ``hsigeo.inference.products`` (the command line's product list) does not load the engines.
_EXPORTS = {
    "classify_raster": "hsigeo.inference.tiled",
    "ClassificationResult": "hsigeo.inference.tiled",
    "RunOptions": "hsigeo.inference.tiled",
    "classify_dataarray": "hsigeo.inference.distributed",
    "embed_dataarray": "hsigeo.inference.distributed",
    "predict_proba_array": "hsigeo.inference.core",
    "classify_array": "hsigeo.inference.core",
    "embed_array": "hsigeo.inference.core",
    "InferenceModel": "hsigeo.inference.model_contract",
    "OutputPlan": "hsigeo.inference.products",
    "PRODUCTS": "hsigeo.inference.products",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hsigeo.inference' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
