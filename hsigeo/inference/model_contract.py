"""What the inference engines need from a model: the :class:`InferenceModel` protocol.

The tiled engine (:mod:`hsigeo.inference.tiled`), the dask engine
(:mod:`hsigeo.inference.distributed`) and the whole-scene reference
(:mod:`hsigeo.inference.core`) use nothing of a model beyond these members, so
they are typed against this protocol instead of the concrete
:class:`hsigeo.model.classifier.HsigeoModel` (which satisfies it).  Structural
typing keeps the engines independent of how a model is built and trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ModelClass", "InferenceModel", "require_model"]


class ModelClass(Protocol):
    """One output class of a model, in probability-band order."""

    @property
    def value(self) -> int:
        """Label value written to class rasters."""

    @property
    def name(self) -> str:
        """Class name (category names, legends)."""

    @property
    def colour(self) -> tuple[int, int, int] | None:
        """Display colour ``(r, g, b)``, or None for the writers' default palette."""


@runtime_checkable
class InferenceModel(Protocol):
    """A trained per-pixel classifier with a square receptive field of ``2 * radius + 1``.

    Tiles handed to :meth:`predict_tile` / :meth:`embed_tile` are normalised
    with :meth:`normalize` first and carry a halo of ``radius`` pixels on each
    side, filled at scene edges by numpy-style reflection.
    """

    @property
    def radius(self) -> int:
        """Halo a tile needs on each side (the patch radius)."""

    @property
    def n_bands(self) -> int:
        """Spectral bands of the input."""

    @property
    def wavelengths(self) -> np.ndarray | None:
        """Band centres in nm, or None when unknown."""

    @property
    def classes(self) -> Sequence[ModelClass]:
        """Output classes in probability-band order."""

    def normalize(self, block: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Raw ``(B, h, w)`` block -> float32 model input, invalid pixels set to 0."""

    def predict_tile(self, tile: np.ndarray, *, device: Any = None, batch_size: int = ...,
                     naive: bool = False) -> np.ndarray:
        """Probabilities ``(C, h, w)`` of a normalised tile ``(B, h + 2r, w + 2r)``."""

    def embed_tile(self, tile: np.ndarray, *, device: Any = None, batch_size: int = ...,
                   naive: bool = False) -> np.ndarray:
        """Unit embeddings ``(E, h, w)`` of a normalised tile ``(B, h + 2r, w + 2r)``."""

    def check_bands(self, da: Any) -> None:
        """Raise :class:`~hsigeo.errors.BandMismatchError` when a scene's bands do not fit."""

    def digest(self) -> str:
        """Short hash of weights, normalisation and classes (identity for resume and caching)."""


def require_model(model: object) -> InferenceModel:
    """``model`` when it has every member of :class:`InferenceModel`; else a :class:`TypeError` saying what to pass.

    The engines call this first, so a wrong object fails with one clear line instead of an
    ``AttributeError`` deep inside a tile loop.
    """
    if isinstance(model, InferenceModel):
        return model
    raise TypeError(
        f"expected a trained model (radius, n_bands, normalize, predict_tile, ...), got {type(model).__name__}; "
        "an HsigeoClassifier's model is clf.model_ (or call clf.predict / clf.predict_raster)."
    )
