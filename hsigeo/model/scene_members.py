"""The ensemble's cheap members fitted on the training scene, and windows of that scene.

Shared by the ensemble's training (:mod:`hsigeo.model.selection`) and its two-fold checks on the
training pixels (:mod:`hsigeo.model.fold_check`): the SVM and the patch CNN read the bands
standardised as the models' ``normalize`` does, and both self-training and the checks map a window
of the training scene (all of it, or a random window of about 2^20 pixels) read with a reflected halo.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hsigeo.model.classifier import standardize_block
from hsigeo.model.patch_cnn import PatchCNN
from hsigeo.model.svm import KernelSVM, fit_svm
from hsigeo.model.train_data import TrainingData

__all__ = ["CNN_LABEL_SMOOTHING", "SELF_TRAIN_MAX_PIXELS", "standardised_pixels", "fit_svm_member", "cnn_member",
           "fit_cnn_member", "scene_window", "reflect_index", "window_bands"]

#: Label smoothing of the ensemble's CNN member.  With plain cross-entropy the CNN is over-confident
#: where it is weakest (Indian Pines, the synthetic scene), and the confidence fusion over-trusts it;
#: 0.1 (the usual value, not tuned) passed round 6's rule where plain cross-entropy did not (README,
#: "Few labels on scenes nobody tuned on", sixth round).
CNN_LABEL_SMOOTHING = 0.1
#: Self-training maps at most this many pixels of the training scene (a window of a larger scene).
SELF_TRAIN_MAX_PIXELS = 1 << 20


def standardised_pixels(data: TrainingData, mean: np.ndarray, std: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(n, B)`` spectra of the pixels of ``mask``, standardised as the models' ``normalize`` does."""
    x = data.arr[:, mask].T.astype(np.float32)
    x = (x - mean[None, :]) / np.where(std > 0, std, 1.0)[None, :]
    x[~np.isfinite(x)] = 0.0
    return x


def fit_svm_member(data: TrainingData, mask: np.ndarray, mean: np.ndarray, std: np.ndarray, seed: int) -> KernelSVM:
    """The ensemble's SVM on the standardised spectra of the pixels of ``mask`` (``C`` and ``gamma`` by its CV)."""
    y = data.class_indices(mask)
    return fit_svm(standardised_pixels(data, mean, std, mask), y, len(data.values), seed=seed)


def cnn_member() -> PatchCNN:
    """The ensemble's patch CNN, unfitted: its settings (and so its patch radius) in one place."""
    return PatchCNN(label_smoothing=CNN_LABEL_SMOOTHING)


def fit_cnn_member(data: TrainingData, mask: np.ndarray, mean: np.ndarray, std: np.ndarray, seed: int
                   ) -> tuple[PatchCNN | None, dict[str, Any]]:
    """The ensemble's patch CNN, fitted on the standardised bands the other members read.

    Its PCA is fitted on up to 50 k valid pixels of the scene (label-free) and the scene is
    reduced in strips of rows, so no second full copy of the scene is made.

    Returns
    -------
    (PatchCNN or None, dict)
        The member (None where the scene has too few bands for its spectral kernels) and the
        record stored in the report (``training.cnn``).
    """
    import torch

    t0 = time.perf_counter()
    cnn = cnn_member()
    n_bands = data.arr.shape[0]
    if n_bands < PatchCNN.MIN_COMPONENTS:
        return None, {"used": False, "why": f"{n_bands} bands; the CNN needs at least {PatchCNN.MIN_COMPONENTS}"}
    sample = np.zeros(data.valid.size, dtype=bool)
    sample[PatchCNN.sample_pixels(data.valid.size, seed, data.valid)] = True
    cnn.fit_reduction(standardised_pixels(data, mean, std, sample.reshape(data.valid.shape)))
    height = data.arr.shape[1]
    strip = max(1, (1 << 22) // max(1, n_bands * data.arr.shape[2]))  # about 16 MB of float32 bands a strip
    scores = torch.cat([cnn.reduce(standardize_block(data.arr[:, r0 : r0 + strip], mean, std,
                                                     data.valid[r0 : r0 + strip]))
                        for r0 in range(0, height, strip)], dim=1)
    rows, cols = np.nonzero(mask)
    targets = data.class_indices(mask)
    cnn.fit(cnn.pad(scores), rows, cols, targets, len(data.values), seed=seed)
    return cnn, {"used": True, "n_components": int(cnn.basis.shape[0]), "patch": cnn.patch,
                 "steps": cnn.steps, "n_trainable": cnn.n_trainable,
                 "seconds": round(time.perf_counter() - t0, 2)}


def scene_window(data: TrainingData, seed: int, max_pixels: int = SELF_TRAIN_MAX_PIXELS) -> tuple[slice, slice]:
    """The part of the training scene that self-training and the filter rule map: all of it, or a
    random window of about ``max_pixels``."""
    height, width = data.labels.shape
    h = min(height, max(1, int(np.sqrt(max_pixels))))
    w = min(width, max(1, max_pixels // h))
    rng = np.random.default_rng(seed + 104729)  # not the split's or the training's own stream
    r0, c0 = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    return slice(r0, r0 + h), slice(c0, c0 + w)


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Indices outside ``0..n-1`` mirrored about the edge pixels, as ``np.pad(mode="reflect")`` pads."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.abs(idx) % period
    return np.where(idx >= n, period - idx, idx)


def window_bands(data: TrainingData, window: tuple[slice, slice], halo: int, normalize: Any) -> np.ndarray:
    """``normalize(bands, valid)`` of a window of the training scene and a ``halo``-pixel ring around it.

    The ring is reflected at the scene's edge as ``np.pad(mode="reflect")`` does; the pixels are read
    by index in one step, so only the window is copied, never the whole scene (the normalisation is
    per pixel, so the result equals the same cut of the normalised, padded scene).
    """
    rows, cols = window
    ri = reflect_index(np.arange(rows.start - halo, rows.stop + halo), data.arr.shape[1])[:, None]
    ci = reflect_index(np.arange(cols.start - halo, cols.stop + halo), data.arr.shape[2])[None, :]
    return normalize(data.arr[:, ri, ci], data.valid[ri, ci])
