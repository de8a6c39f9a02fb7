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

from hsigeo.inference.core import classify_array, embed_array, predict_proba_array
from hsigeo.inference.distributed import classify_dataarray, embed_dataarray
from hsigeo.inference.protocol import InferenceModel
from hsigeo.inference.tiled import ClassificationResult, classify_raster

__all__ = [
    "classify_raster",
    "ClassificationResult",
    "classify_dataarray",
    "embed_dataarray",
    "predict_proba_array",
    "classify_array",
    "embed_array",
    "InferenceModel",
]
