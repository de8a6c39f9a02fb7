"""A small HybridSN-style spectral-spatial CNN on PCA-reduced patches, trained with cross-entropy.

The idea (Roy et al., 2019): reduce the spectra with PCA, cut a square patch around each pixel,
learn joint spectral-spatial filters with 3-D convolutions, then spatial filters with a 2-D
convolution over the stacked spectral maps, and classify with dense layers.  This one is sized
for CPUs (about 50 k parameters with the defaults, not the paper's ~5 M): two 3-D convolutions
(8 and 16 filters), one 2-D convolution (32 filters), one hidden dense layer (64 units), batch
normalisation, and a fixed number of optimiser steps, so its cost does not grow with the
training-set size.

It serves twice: as the benchmark's ``hybridsn`` baseline
(:class:`hsigeo.evaluation.baselines.hybridsn.HybridSNBaseline`, which fits it on a raw scene)
and as the convolutional member of the few-label ensemble (:class:`hsigeo.model.combined.CombinedModel`,
which fits it on the standardised bands the other members read, and runs it tile by tile through
:meth:`PatchCNN.proba_tile`).  Its fitted state is plain arrays (the PCA statistics and basis,
the network's tensors) and a few integers, so a model file stores it as safetensors + JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from hsigeo.errors import InvalidInputError, NotFittedError

__all__ = ["PatchCNN"]

# spectral kernel depths of the two 3-D convolutions
_K1, _K2 = 7, 5
# a scene's PCA is fitted on at most this many pixels: 50 k pin the covariance down well and bound the cost
_PCA_SAMPLE = 50_000


def _build_net(n_components: int, patch: int, n_classes: int, hidden: int, dropout: float) -> nn.Module:
    """The torch module (three valid 3 x 3 convolutions, so the patch shrinks by 6 pixels)."""
    if n_components < _K1 + _K2 - 1:
        raise InvalidInputError(f"the patch CNN needs at least {_K1 + _K2 - 1} PCA components, got {n_components}")
    if patch < 7:
        raise InvalidInputError(f"the patch CNN needs patches of at least 7 pixels (three 3x3 convolutions), got {patch}")
    depth = n_components - (_K1 - 1) - (_K2 - 1)
    side = patch - 6

    class HybridNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv3d = nn.Sequential(
                nn.Conv3d(1, 8, (_K1, 3, 3)), nn.BatchNorm3d(8), nn.ReLU(inplace=True),
                nn.Conv3d(8, 16, (_K2, 3, 3)), nn.BatchNorm3d(16), nn.ReLU(inplace=True),
            )
            # the 3-D maps' spectral axis is folded into channels for the 2-D convolution
            self.conv2d = nn.Sequential(nn.Conv2d(16 * depth, 32, 3), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(32 * side * side, hidden), nn.ReLU(inplace=True),
                nn.Dropout(dropout), nn.Linear(hidden, n_classes),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (n, 1, components, patch, patch)
            z = self.conv3d(x)
            return self.head(self.conv2d(z.flatten(1, 2)))

    return HybridNet()


class PatchCNN:
    """HybridSN-style CNN: PCA of the bands, a square patch per pixel, cross-entropy.

    ``MIN_COMPONENTS``: the fewest PCA components (so bands) its spectral kernels need.

    Parameters
    ----------
    n_components
        PCA components kept (at least 11 for the two spectral kernels).
    patch
        Side of the square input patch (odd).
    steps
        Optimiser steps (mini-batches drawn with replacement).
    batch_size
        Mini-batch size.
    lr, weight_decay
        Adam settings.
    augment
        A random 90-degree rotation and flip of each mini-batch.
    hidden, dropout
        Width of the hidden dense layer and its dropout.
    label_smoothing
        Label smoothing of the cross-entropy (0: none): less extreme probabilities, so a fusion
        that weights members by their confidence does not over-trust this one.

    Attributes
    ----------
    n_classes
        Output classes (after :meth:`fit`).
    mean, std, basis
        The PCA's per-band statistics ``(B,)`` and projection ``(components, B)`` (after
        :meth:`fit_reduction`).
    loss_history
        Training loss of every step.
    """

    MIN_COMPONENTS = _K1 + _K2 - 1

    def __init__(self, *, n_components: int = 15, patch: int = 9, steps: int = 400, batch_size: int = 64,
                 lr: float = 1e-3, weight_decay: float = 1e-4, augment: bool = True, hidden: int = 64,
                 dropout: float = 0.4, label_smoothing: float = 0.0) -> None:
        if patch % 2 != 1:
            raise InvalidInputError(f"patch must be odd, got {patch}")
        self.n_components, self.patch, self.steps, self.batch_size = n_components, patch, steps, batch_size
        self.lr, self.weight_decay, self.augment = lr, weight_decay, augment
        self.hidden, self.dropout = hidden, dropout
        if not 0.0 <= label_smoothing < 1.0:
            raise InvalidInputError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)
        self.n_classes = 0
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.basis: np.ndarray | None = None
        self.net: nn.Module | None = None
        self.loss_history: list[float] = []

    @property
    def radius(self) -> int:
        """Pixels of context each side of the centre pixel."""
        return self.patch // 2

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has run (or the state was loaded)."""
        return self.net is not None and self.basis is not None

    @property
    def n_trainable(self) -> int:
        """Trainable torch parameters (the PCA basis not counted)."""
        return 0 if self.net is None else int(sum(p.numel() for p in self.net.parameters() if p.requires_grad))

    # -- PCA ------------------------------------------------------------------ #
    def fit_reduction(self, pixels: np.ndarray) -> None:
        """Fit the per-band standardisation and the PCA on ``(n, B)`` pixels.

        The components are scaled by one common factor (their mean variance to 1), not
        whitened: whitening would blow the noise-only trailing components up to the size of
        the informative ones.
        """
        sample = np.asarray(pixels, dtype=np.float64)
        self.mean = sample.mean(0)
        self.std = sample.std(0) + 1e-6
        z = (sample - self.mean) / self.std
        k = min(self.n_components, sample.shape[1])
        evals, evecs = np.linalg.eigh(np.cov(z, rowvar=False))
        order = np.argsort(evals)[::-1][:k]
        scale = np.sqrt(max(float(evals[order].mean()), 1e-12))
        self.basis = (evecs[:, order] / scale).T.astype(np.float32)

    @staticmethod
    def sample_pixels(n_pixels: int, seed: int, where: np.ndarray | None = None) -> np.ndarray:
        """Flat indices of the pixels (of ``where`` when given) to fit the PCA on: at most 50 k,
        drawn with ``seed``."""
        pool = np.arange(n_pixels) if where is None else np.flatnonzero(np.asarray(where).ravel())
        rng = np.random.default_rng(seed)
        return pool[rng.choice(pool.size, size=min(pool.size, _PCA_SAMPLE), replace=False)]

    def scene_sample(self, bands: np.ndarray, seed: int, where: np.ndarray | None = None) -> np.ndarray:
        """``(n, B)`` pixels of a ``(B, H, W)`` scene to fit the PCA on (:meth:`sample_pixels`)."""
        flat = bands.reshape(bands.shape[0], -1)
        return flat[:, self.sample_pixels(flat.shape[1], seed, where)].T

    def reduce(self, bands: np.ndarray | torch.Tensor) -> torch.Tensor:
        """PCA scores ``(components, h, w)`` (float32) of ``(B, h, w)`` bands, on the bands' device."""
        if self.basis is None or self.mean is None or self.std is None:
            raise NotFittedError("the patch CNN's PCA is not fitted")
        t = torch.as_tensor(bands, dtype=torch.float32)
        b, h, w = t.shape
        mean = torch.as_tensor(self.mean, dtype=torch.float32, device=t.device)[:, None]
        std = torch.as_tensor(self.std, dtype=torch.float32, device=t.device)[:, None]
        basis = torch.as_tensor(self.basis, device=t.device)
        return (basis @ ((t.reshape(b, -1) - mean) / std)).reshape(-1, h, w)

    def pad(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores reflect-padded by the patch radius, so a scene's border pixels get full patches."""
        r = self.radius
        mode = "reflect" if min(scores.shape[-2:]) > r else "replicate"  # reflect needs more pixels than r
        return torch.nn.functional.pad(scores[None], (r, r, r, r), mode=mode)[0]

    def _patches(self, padded: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """``(n, 1, components, patch, patch)`` patches of padded scores, centred on unpadded ``(rows, cols)``."""
        p = self.patch
        windows = padded.unfold(1, p, 1).unfold(2, p, 1)  # (k, h, w, p, p), a view
        return windows[:, rows, cols].permute(1, 0, 2, 3)[:, None].contiguous()

    # -- fit / predict ----------------------------------------------------------- #
    def fit(self, padded: torch.Tensor, rows: np.ndarray, cols: np.ndarray, targets: np.ndarray, n_classes: int,
            *, seed: int) -> PatchCNN:
        """Train the network with cross-entropy on the patches of ``(rows, cols)``.

        Parameters
        ----------
        padded
            The scene's PCA scores, padded by :attr:`radius` (:meth:`reduce`, :meth:`pad`).
        rows, cols
            Training pixels (of the unpadded grid).
        targets
            Class index ``0 .. n_classes - 1`` of each training pixel.
        n_classes
            Number of output classes.
        seed
            Seeds the weights, the mini-batches and the augmentation.
        """
        # patches are cut per mini-batch: all of them at once would take 4.9 kB per training pixel
        rows_t, cols_t = torch.as_tensor(np.asarray(rows)), torch.as_tensor(np.asarray(cols))
        y_all = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        self.n_classes = int(n_classes)
        self.net = _build_net(padded.shape[0], self.patch, self.n_classes, self.hidden, self.dropout)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        self.net.train()
        self.loss_history = []
        n = y_all.shape[0]
        for _ in range(self.steps):
            idx = torch.randint(n, (min(self.batch_size, max(n, 2)),), generator=gen)
            xb, yb = self._patches(padded, rows_t[idx], cols_t[idx]), y_all[idx]
            if self.augment:
                # one rotation/flip per batch: cheap, and patches have no preferred orientation
                k = int(torch.randint(4, (1,), generator=gen))
                xb = torch.rot90(xb, k, dims=(3, 4))
                if int(torch.randint(2, (1,), generator=gen)):
                    xb = torch.flip(xb, dims=(4,))
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(self.net(xb), yb)
            loss.backward()
            opt.step()
            self.loss_history.append(float(loss.detach()))
        self.net.eval()
        return self

    def fit_scene(self, bands: np.ndarray, rows: np.ndarray, cols: np.ndarray, targets: np.ndarray, n_classes: int,
                  *, seed: int, pca_pixels: np.ndarray | None = None, valid: np.ndarray | None = None) -> PatchCNN:
        """Fit the PCA and the network on a whole ``(B, H, W)`` scene's training pixels ``(rows, cols)``.

        The PCA is fitted on ``pca_pixels`` ``(n, B)`` when given, else on up to 50 k pixels of the
        scene (of ``valid`` when given: label-free, as in the original recipe).
        """
        self.fit_reduction(pca_pixels if pca_pixels is not None else self.scene_sample(bands, seed, valid))
        padded = self.pad(self.reduce(torch.from_numpy(np.ascontiguousarray(bands, dtype=np.float32))))
        return self.fit(padded, rows, cols, targets, n_classes, seed=seed)

    def proba_tile(self, bands: np.ndarray | torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
        """Softmax probabilities ``(C, h, w)`` of the centre of ``(B, h + 2r, w + 2r)`` bands.

        Runs on the bands' device (the PCA is per pixel, so the halo's scores are computed too).
        """
        return self._proba_padded(self.reduce(bands), batch_size)

    def proba_scene(self, bands: np.ndarray | torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
        """Probabilities ``(C, H, W)`` of a whole ``(B, H, W)`` scene, reflect-padded at its border."""
        # padding the bands or the scores is the same (the PCA is per pixel); the scores are fewer
        return self._proba_padded(self.pad(self.reduce(bands)), batch_size)

    def _proba_padded(self, padded: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Probabilities of the centre of padded scores ``(components, h + 2r, w + 2r)``.

        The network is trained on one patch per pixel, but run here fully convolutionally: its
        valid convolutions slide over the whole strip once, and the dense head, which reads the
        last ``(32, s, s)`` map of a patch, is the same weights applied as an ``s x s``
        convolution (then a 1 x 1 one).  Batch normalisation in evaluation mode is a per-channel
        affine map and dropout is off, so every pixel gets what ``net(patch)`` gives (to float
        rounding, tested) at about a sixteenth of the arithmetic: neighbouring patches share
        their convolutions instead of recomputing them.  Output rows are computed in strips of
        about ``batch_size`` pixels, so memory is bounded by the strip, not the tile.
        """
        if not self.fitted:
            raise NotFittedError("the patch CNN is used before it was fitted")
        net = self.net
        assert net is not None
        r = self.radius
        h, w = padded.shape[1] - 2 * r, padded.shape[2] - 2 * r
        net = net.to(padded.device)
        dense, _, _, out_layer = net.head[1], net.head[2], net.head[3], net.head[4]
        side = self.patch - 6
        w_dense = dense.weight.view(dense.out_features, -1, side, side)  # Flatten's order: (channel, y, x)
        w_out = out_layer.weight[:, :, None, None]
        rows = max(1, int(batch_size) // max(1, w))
        out = torch.empty((self.n_classes, h, w), dtype=torch.float32, device=padded.device)
        with torch.inference_mode():
            for y0 in range(0, h, rows):
                y1 = min(h, y0 + rows)
                z = net.conv3d(padded[None, None, :, y0 : y1 + 2 * r])
                z = net.conv2d(z.flatten(1, 2))
                z = torch.relu(torch.nn.functional.conv2d(z, w_dense, dense.bias))
                logits = torch.nn.functional.conv2d(z, w_out, out_layer.bias)[0]
                out[:, y0:y1] = torch.softmax(logits, 0)
        return out

    # -- model files ---------------------------------------------------------------- #
    def to_dict(self) -> dict[str, Any]:
        """The settings a model file stores (JSON); the arrays are :meth:`tensors`."""
        return {"n_components": int(self.basis.shape[0]) if self.basis is not None else self.n_components,
                "patch": self.patch, "hidden": self.hidden, "dropout": self.dropout, "n_classes": self.n_classes,
                "n_bands": int(self.basis.shape[1]) if self.basis is not None else None, "steps": self.steps,
                "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
                "label_smoothing": self.label_smoothing}

    def tensors(self, prefix: str = "cnn.") -> dict[str, torch.Tensor]:
        """The PCA (``mean``, ``std``, ``basis``) and the network's state, named under ``prefix``."""
        if not self.fitted:
            raise NotFittedError("the patch CNN is saved before it was fitted")
        assert self.net is not None and self.mean is not None and self.std is not None and self.basis is not None
        out = {f"{prefix}mean": torch.as_tensor(self.mean, dtype=torch.float64),
               f"{prefix}std": torch.as_tensor(self.std, dtype=torch.float64),
               f"{prefix}basis": torch.as_tensor(self.basis, dtype=torch.float32)}
        out.update({f"{prefix}net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()})
        return out

    @staticmethod
    def tensor_shapes(settings: dict[str, Any], prefix: str = "cnn.") -> dict[str, tuple[int, ...]]:
        """The shape of every tensor a model file must hold for ``settings`` (:meth:`to_dict`).

        The network is built from the settings to read its state's shapes; its size is bounded by
        the caller's checks of the settings, so a hostile file cannot make this allocate much.
        """
        k, b = int(settings["n_components"]), int(settings["n_bands"])
        net = _build_net(k, int(settings["patch"]), int(settings["n_classes"]), int(settings["hidden"]),
                         float(settings["dropout"]))
        shapes: dict[str, tuple[int, ...]] = {f"{prefix}mean": (b,), f"{prefix}std": (b,), f"{prefix}basis": (k, b)}
        shapes.update({f"{prefix}net.{name}": tuple(v.shape) for name, v in net.state_dict().items()})
        return shapes

    @classmethod
    def from_parts(cls, settings: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str = "cnn.") -> PatchCNN:
        """A fitted CNN from :meth:`to_dict` settings and :meth:`tensors` (shapes already checked)."""
        cnn = cls(n_components=int(settings["n_components"]), patch=int(settings["patch"]),
                  steps=int(settings.get("steps", 400)), batch_size=int(settings.get("batch_size", 64)),
                  lr=float(settings.get("lr", 1e-3)), weight_decay=float(settings.get("weight_decay", 1e-4)),
                  hidden=int(settings["hidden"]), dropout=float(settings["dropout"]),
                  label_smoothing=float(settings.get("label_smoothing", 0.0)))
        cnn.n_classes = int(settings["n_classes"])
        cnn.mean = tensors[f"{prefix}mean"].double().numpy()
        cnn.std = tensors[f"{prefix}std"].double().numpy()
        cnn.basis = tensors[f"{prefix}basis"].float().numpy()
        net = _build_net(cnn.n_components, cnn.patch, cnn.n_classes, cnn.hidden, cnn.dropout)
        net.load_state_dict({k[len(prefix) + 4:]: v for k, v in tensors.items() if k.startswith(f"{prefix}net.")})
        cnn.net = net.eval()
        return cnn
