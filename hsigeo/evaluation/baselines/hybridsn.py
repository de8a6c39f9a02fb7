"""A small HybridSN-style spectral-spatial CNN, trained with cross-entropy on PCA-reduced patches.

The idea (Roy et al., 2019): reduce the spectra with PCA, cut a square patch
around each pixel, learn joint spectral-spatial filters with 3-D convolutions,
then spatial filters with a 2-D convolution over the stacked spectral maps,
and classify with dense layers.  This one is sized for CPUs (about 50 k
parameters with the defaults, not the paper's ~5 M): two 3-D convolutions
(8 and 16 filters), one 2-D convolution (32 filters), one hidden dense layer
(64 units), batch normalisation, and training for a fixed number of steps
so its cost does not grow with the training-set size.

torch is imported only when the model is fitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError, NotFittedError
from hsigeo.evaluation.baselines.interface import as_cube, class_index, training_pixels

__all__ = ["HybridSNBaseline"]


def _build_net(n_components: int, patch: int, n_classes: int, *, hidden: int = 64, dropout: float = 0.4) -> Any:
    """The torch module; built here so that importing this file never imports torch."""
    import torch
    from torch import nn

    k1, k2 = 7, 5  # spectral kernel depths of the two 3-D convolutions
    if n_components < k1 + k2 - 1:
        raise InvalidInputError(f"HybridSN needs at least {k1 + k2 - 1} PCA components, got {n_components}")
    if patch < 7:
        raise InvalidInputError(f"HybridSN needs patches of at least 7 pixels (three 3x3 convolutions), got {patch}")
    depth = n_components - (k1 - 1) - (k2 - 1)
    side = patch - 6  # three valid 3x3 convolutions

    class HybridNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv3d = nn.Sequential(
                nn.Conv3d(1, 8, (k1, 3, 3)), nn.BatchNorm3d(8), nn.ReLU(inplace=True),
                nn.Conv3d(8, 16, (k2, 3, 3)), nn.BatchNorm3d(16), nn.ReLU(inplace=True),
            )
            # the 3-D maps' spectral axis is folded into channels for the 2-D convolution
            self.conv2d = nn.Sequential(nn.Conv2d(16 * depth, 32, 3), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(32 * side * side, hidden), nn.ReLU(inplace=True),
                nn.Dropout(dropout), nn.Linear(hidden, n_classes),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (n, 1, components, patch, patch)
            z = self.conv3d(x)
            z = z.flatten(1, 2)
            return self.head(self.conv2d(z))

    return HybridNet()


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
        self.loss_history_: list[float] = []
        self._net: Any = None
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None
        self._basis: np.ndarray | None = None

    @property
    def radius(self) -> int:
        """Pixels of context each side of the centre pixel."""
        return self.patch // 2

    # -- preprocessing ------------------------------------------------------- #
    def _fit_pca(self, cube: np.ndarray, train_mask: np.ndarray, seed: int) -> None:
        b = cube.shape[0]
        if self.pca_fit == "train":
            sample = cube[:, train_mask].T
        else:
            flat = cube.reshape(b, -1)
            rng = np.random.default_rng(seed)
            # 50 k pixels pin the covariance down well and bound the cost on large scenes
            take = rng.choice(flat.shape[1], size=min(flat.shape[1], 50_000), replace=False)
            sample = flat[:, take].T
        sample = sample.astype(np.float64)
        self._mean = sample.mean(0)
        self._std = sample.std(0) + 1e-6
        z = (sample - self._mean) / self._std
        k = min(self.n_components, b)
        evals, evecs = np.linalg.eigh(np.cov(z, rowvar=False))
        order = np.argsort(evals)[::-1][:k]
        # one common scale (mean kept variance -> 1), not whitening: whitening would blow the
        # noise-only trailing components up to the size of the informative ones
        scale = np.sqrt(max(float(evals[order].mean()), 1e-12))
        self._basis = (evecs[:, order] / scale).T.astype(np.float32)

    def _reduce(self, cube: np.ndarray) -> np.ndarray:
        """PCA scores, reflect-padded by the patch radius: ``(components, y + 2r, x + 2r)``."""
        assert self._basis is not None and self._mean is not None and self._std is not None
        b, h, w = cube.shape
        z = (cube.reshape(b, -1) - self._mean[:, None].astype(np.float32)) / self._std[:, None].astype(np.float32)
        scores = (self._basis @ z).reshape(-1, h, w)
        r = self.radius
        mode = "reflect" if min(h, w) > r else "symmetric"  # reflect needs more pixels than the radius
        return np.pad(scores, ((0, 0), (r, r), (r, r)), mode=mode).astype(np.float32)

    def _patches(self, padded: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(n, 1, components, patch, patch)`` patches centred on ``(rows, cols)`` of the unpadded grid."""
        windows = np.lib.stride_tricks.sliding_window_view(padded, (self.patch, self.patch), axis=(1, 2))
        return np.ascontiguousarray(windows[:, rows, cols].transpose(1, 0, 2, 3)[:, None])

    # -- fit / predict --------------------------------------------------------- #
    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "HybridSNBaseline":
        """Fit PCA, then train the network with cross-entropy on training-pixel patches."""
        import torch

        arr = as_cube(cube)
        labels = np.asarray(labels)
        mask = np.asarray(train_mask, dtype=bool) & (labels > 0)
        _, values = training_pixels(arr, labels, mask)  # validates the mask
        self.classes_, targets = class_index(values)
        self._fit_pca(arr, mask, seed)
        padded = self._reduce(arr)
        rows, cols = np.nonzero(mask)
        x_all = torch.from_numpy(self._patches(padded, rows, cols))
        y_all = torch.from_numpy(targets)

        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self._net = _build_net(padded.shape[0], self.patch, len(self.classes_))
        opt = torch.optim.Adam(self._net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        self._net.train()
        self.loss_history_ = []
        n = x_all.shape[0]
        for _ in range(self.steps):
            idx = torch.randint(n, (min(self.batch_size, max(n, 2)),), generator=gen)
            xb, yb = x_all[idx], y_all[idx]
            if self.augment:
                # one rotation/flip per batch: cheap, and patches have no preferred orientation
                k = int(torch.randint(4, (1,), generator=gen))
                xb = torch.rot90(xb, k, dims=(3, 4))
                if int(torch.randint(2, (1,), generator=gen)):
                    xb = torch.flip(xb, dims=(4,))
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(self._net(xb), yb)
            loss.backward()
            opt.step()
            self.loss_history_.append(float(loss.detach()))
        self._net.eval()
        return self

    def predict_proba(self, cube: Any) -> np.ndarray:
        """Softmax class probabilities ``(C, y, x)`` of every pixel, bands in :attr:`classes_` order.

        Patches are cut in batches of :attr:`predict_batch` pixels, so large scenes fit in memory.
        """
        import torch

        if self._net is None or self.classes_ is None:
            raise NotFittedError("HybridSNBaseline.predict called before fit")
        arr = as_cube(cube)
        _, h, w = arr.shape
        padded = self._reduce(arr)
        rows, cols = np.divmod(np.arange(h * w), w)
        out = np.empty((len(self.classes_), h * w), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, h * w, self.predict_batch):
                sl = slice(start, start + self.predict_batch)
                logits = self._net(torch.from_numpy(self._patches(padded, rows[sl], cols[sl])))
                out[:, sl] = torch.softmax(logits, 1).numpy().T
        return out.reshape(-1, h, w)

    def predict(self, cube: Any) -> np.ndarray:
        """Class map of every pixel: the most probable class of :meth:`predict_proba`."""
        p = self.predict_proba(cube)
        assert self.classes_ is not None
        return self.classes_[p.argmax(0)].astype(np.int32)

    @property
    def n_trainable(self) -> int:
        """Trainable torch parameters."""
        if self._net is None:
            return 0
        return int(sum(p.numel() for p in self._net.parameters() if p.requires_grad))
