"""The HybridSN-style baseline: :class:`hsigeo.model.patch_cnn.PatchCNN` fitted on a raw scene.

The network, its PCA and its training live in :mod:`hsigeo.model.patch_cnn` (the few-label
ensemble uses the same network as a member); this wrapper gives it the benchmark's method
interface (``fit(cube, labels, train_mask, seed)``, ``predict(cube)``) and the original recipe's
choice of fitting the standardisation and PCA on the whole scene, label-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError, NotFittedError
from hsigeo.evaluation.baselines.interface import as_cube, class_index, training_pixels

__all__ = ["HybridSNBaseline"]

class HybridSNBaseline:
    """HybridSN-style 3-D/2-D CNN baseline.

    Parameters
    ----------
    n_components
        PCA components kept (at least 11 for the two spectral kernels).
    patch
        Side of the square input patch (odd); the scene is reflect-padded by
        ``patch // 2`` so that border pixels get full patches.
    steps
        Optimiser steps (mini-batches drawn with replacement); fixed so that
        the training time is the same at 1 % and 10 % training data.
    batch_size
        Mini-batch size.
    lr, weight_decay
        Adam settings.
    pca_fit
        ``"scene"``: standardization and PCA are fitted on (a sample of) all
        scene pixels, label-free, as in the original recipe; ``"train"``: on
        the training pixels only.
    augment
        Random 90-degree rotations and flips of each mini-batch.
    predict_batch
        Pixels per forward pass at prediction time.
    """

    name = "hybridsn"
    parameter_note = "trainable torch parameters (PCA basis not counted)"

    def __init__(
        self,
        *,
        n_components: int = 15,
        patch: int = 9,
        steps: int = 400,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        pca_fit: str = "scene",
        augment: bool = True,
        predict_batch: int = 2048,
    ) -> None:
        if patch % 2 != 1:
            raise InvalidInputError(f"patch must be odd, got {patch}")
        if pca_fit not in ("scene", "train"):
            raise InvalidInputError(f"pca_fit must be 'scene' or 'train', not {pca_fit!r}")
        self.n_components = n_components
        self.patch = patch
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.pca_fit = pca_fit
        self.augment = augment
        self.predict_batch = predict_batch
        self.classes_: np.ndarray | None = None
        self._cnn: Any = None

    @property
    def radius(self) -> int:
        """Pixels of context each side of the centre pixel."""
        return self.patch // 2

    @property
    def loss_history_(self) -> list[float]:
        """Training loss of every step."""
        return [] if self._cnn is None else self._cnn.loss_history

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "HybridSNBaseline":
        """Fit PCA, then train the network with cross-entropy on training-pixel patches."""
        from hsigeo.model.patch_cnn import PatchCNN

        arr = as_cube(cube)
        labels = np.asarray(labels)
        mask = np.asarray(train_mask, dtype=bool) & (labels > 0)
        _, values = training_pixels(arr, labels, mask)  # validates the mask
        self.classes_, targets = class_index(values)
        cnn = PatchCNN(n_components=self.n_components, patch=self.patch, steps=self.steps,
                       batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, augment=self.augment)
        rows, cols = np.nonzero(mask)
        self._cnn = cnn.fit_scene(arr, rows, cols, targets, len(self.classes_), seed=seed,
                                  pca_pixels=arr[:, mask].T if self.pca_fit == "train" else None)
        return self

    def predict_proba(self, cube: Any) -> np.ndarray:
        """Softmax class probabilities ``(C, y, x)`` of every pixel, bands in :attr:`classes_` order."""
        import torch

        if self._cnn is None or self.classes_ is None:
            raise NotFittedError("HybridSNBaseline.predict called before fit")
        return self._cnn.proba_scene(torch.from_numpy(as_cube(cube)), batch_size=self.predict_batch).numpy()

    def predict(self, cube: Any) -> np.ndarray:
        """Class map of every pixel: the most probable class of :meth:`predict_proba`."""
        p = self.predict_proba(cube)
        assert self.classes_ is not None
        return self.classes_[p.argmax(0)].astype(np.int32)

    @property
    def n_trainable(self) -> int:
        """Trainable torch parameters."""
        return 0 if self._cnn is None else self._cnn.n_trainable
