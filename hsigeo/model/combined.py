"""Models made of a per-pixel SVM, alone or averaged with the spectral-spatial network.

:class:`CombinedModel` satisfies the engines' contract (:class:`hsigeo.inference.model_contract.InferenceModel`),
so the tiled, dask and cluster engines, the whole-scene reference and ``predict_pixels`` run it
unchanged:

- ``method="svm"``: the RBF SVM (:class:`~hsigeo.model.svm.KernelSVM`) on each pixel's
  standardised spectrum, then the edge-aware probability filter (:mod:`hsigeo.model.spatial`);
- ``method="ensemble"``: the spectral-spatial network's probabilities (an
  :class:`~hsigeo.model.classifier.HsigeoModel` without its own filter) and the SVM's, averaged
  with weight ``svm_weight`` on the SVM (``fusion="mean"``), or with each member's weight at a
  pixel also scaled by its own confidence there, its highest probability
  (``fusion="confidence"``), then the same filter.  An ensemble may hold a third member, a small
  patch CNN on PCA-reduced bands (:class:`~hsigeo.model.patch_cnn.PatchCNN`, weight ``cnn_weight``).

Both read the scene's bands standardised by the training scene's per-band statistics; in an
ensemble those are the network's own (its input may add the base model's channels after the
bands, which the SVM does not read).  The filter's guide is the standardised bands, as for the
network alone.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hsigeo.classes import ClassInfo
from hsigeo.device import torch_device
from hsigeo.errors import BandMismatchError, InvalidInputError
from hsigeo.model.classifier import HsigeoModel, check_scene_bands, resample_scene, standardize_block
from hsigeo.model.patch_cnn import PatchCNN
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth
from hsigeo.model.svm import KernelSVM

__all__ = ["CombinedModel", "METHODS_COMBINED", "FUSIONS", "fuse_members"]

#: The ``model_type`` of the model files this module writes.
METHODS_COMBINED = ("svm", "ensemble")
#: How an ensemble combines its members' probabilities (see :meth:`CombinedModel.fuse`).
FUSIONS = ("mean", "confidence")


def fuse_members(members: list[tuple[float, torch.Tensor]], fusion: str) -> torch.Tensor:
    """Probabilities ``(C, ...)`` from ``(weight, probabilities)`` members (:meth:`CombinedModel.fuse`).

    ``"mean"``: the weighted mean; ``"confidence"``: each weight also multiplied, per pixel, by the
    member's highest probability there.  The weights are normalised (per pixel).
    """
    if fusion == "confidence":
        members = [(w * p.amax(0, keepdim=True), p) for w, p in members]
    total = sum(w * p for w, p in members)
    norm = sum(w for w, _ in members)
    return total / (norm.clamp_min(1e-12) if isinstance(norm, torch.Tensor) else max(norm, 1e-12))


@dataclass
class CombinedModel:
    """An SVM (``method="svm"``) or an SVM + network ensemble (``method="ensemble"``).

    Attributes
    ----------
    svm
        The fitted SVM; its input is the standardised bands.
    classes
        Output classes (probability band order), the same as the network's.
    mean, std
        Per-band standardisation ``(B,)`` of the bands (with a network: the first ``B`` of its
        statistics, so both read the same values).
    net
        The spectral-spatial network (``spatial`` None: the filter is applied once, here), or None.
    svm_weight
        Weight of the SVM's probabilities (the network's is ``1 - svm_weight``); 1 without network.
    wavelengths
        Band centres in nm, or None.
    spatial
        The edge-aware probability filter after the average (None: per-pixel map).
    fusion
        ``"mean"`` or ``"confidence"`` (:data:`FUSIONS`, :meth:`fuse`); files written before it
        existed hold ``"mean"``.
    report
        Training summary (JSON-able), including how the method was chosen.
    cnn
        The patch CNN member (ensembles only), reading the same standardised bands, or None.
    cnn_weight
        The CNN's weight beside the network's ``1 - svm_weight`` and the SVM's ``svm_weight``
        (0.5: the three members count alike with the default ``svm_weight``).
    """

    svm: KernelSVM
    classes: list[ClassInfo]
    mean: np.ndarray
    std: np.ndarray
    net: HsigeoModel | None = None
    svm_weight: float = 1.0
    wavelengths: np.ndarray | None = None
    spatial: SpatialFilter | None = None
    report: dict[str, Any] = field(default_factory=dict)
    fusion: str = "mean"
    cnn: PatchCNN | None = None
    cnn_weight: float = 0.5

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float32).reshape(-1)
        self.classes = [c if isinstance(c, ClassInfo) else ClassInfo(*c) for c in self.classes]
        if self.wavelengths is not None:
            wl = np.asarray(self.wavelengths, dtype=np.float64)
            self.wavelengths = wl if np.isfinite(wl).any() else None
        if self.mean.shape != self.std.shape or self.mean.size != self.svm.n_features:
            raise InvalidInputError(f"the SVM reads {self.svm.n_features} bands, the statistics give "
                                    f"{self.mean.size}/{self.std.size}")
        if self.svm.n_classes != len(self.classes):
            raise InvalidInputError(f"the SVM has {self.svm.n_classes} classes, the model {len(self.classes)}")
        if self.net is not None:
            if self.net.spatial is not None:
                raise InvalidInputError("the ensemble's network must come without its own filter (spatial=None)")
            if self.net.n_bands != self.svm.n_features or self.net.n_classes != len(self.classes):
                raise InvalidInputError("the network and the SVM must read the same bands and give the same classes")
        if not 0.0 <= float(self.svm_weight) <= 1.0 or (self.net is None and self.svm_weight != 1.0):
            raise InvalidInputError(f"svm_weight must be in 0..1 (1 without a network), got {self.svm_weight}")
        self.svm_weight = float(self.svm_weight)
        if self.fusion not in FUSIONS:
            raise InvalidInputError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.cnn is not None:
            if self.net is None:
                raise InvalidInputError("a CNN member needs the network: it belongs to an ensemble")
            if not self.cnn.fitted or self.cnn.n_classes != len(self.classes) or self.cnn.basis.shape[1] != self.n_bands:
                raise InvalidInputError("the CNN member must be fitted on the model's bands and classes")
            if not 0.0 < float(self.cnn_weight) <= 1.0:
                raise InvalidInputError(f"cnn_weight must be in (0, 1], got {self.cnn_weight}")
        self.cnn_weight = float(self.cnn_weight)

    # ------------------------------------------------------------------ #
    # Contract
    # ------------------------------------------------------------------ #
    @property
    def method(self) -> str:
        """``"svm"`` or ``"ensemble"`` (the model file's ``model_type``)."""
        return "svm" if self.net is None else "ensemble"

    @property
    def model_type(self) -> str:
        """The model file's ``model_type`` (:data:`hsigeo.model.modelfile.MODEL_TYPES`): :attr:`method`."""
        return self.method

    @property
    def member_radius(self) -> int:
        """Halo the members need: the widest patch radius of the network and the CNN (0 for an SVM)."""
        return max(self.net.config.radius if self.net is not None else 0, self.cnn.radius if self.cnn else 0)

    @property
    def radius(self) -> int:
        """Halo a tile needs: the members' (:attr:`member_radius`) plus the filter's."""
        return self.member_radius + (self.spatial.radius if self.spatial else 0)

    @property
    def n_bands(self) -> int:
        """Scene bands the model reads."""
        return int(self.svm.n_features)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def class_values(self) -> np.ndarray:
        """Label value of each class, in output order."""
        return np.array([c.value for c in self.classes], dtype=np.int64)

    def n_parameters(self) -> dict[str, int]:
        """Fitted values: the SVM's, plus the network's counts in an ensemble."""
        counts = dict(self.net.n_parameters()) if self.net is not None else {"trainable": 0, "total": 0}
        counts["svm"] = self.svm.n_parameters
        counts["trainable"] = counts.get("trainable", 0) + self.svm.n_parameters
        counts["total"] = counts.get("total", 0) + self.svm.n_parameters
        if self.cnn is not None:
            counts["cnn"] = self.cnn.n_trainable
            counts["trainable"] += self.cnn.n_trainable
            counts["total"] += self.cnn.n_trainable
        return counts

    def normalize(self, block: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """The network's input (bands first) or, without one, the bands standardised per band."""
        if self.net is not None:
            return self.net.normalize(block, valid)
        block = np.asarray(block)
        if block.ndim != 3 or block.shape[0] != self.n_bands:
            raise BandMismatchError(f"block has shape {block.shape}; the model needs ({self.n_bands}, h, w). "
                                    "Use a scene with the model's bands or resample it (model.resample_to_model).")
        return standardize_block(block, self.mean, self.std, valid)

    def _probs(self, t: torch.Tensor, hn: int, wn: int, device: Any, batch_size: int, naive: bool) -> torch.Tensor:
        """Averaged, unfiltered probabilities ``(C, hn, wn)`` of the tile minus the members' halo."""
        rb = self.member_radius
        bands = t[: self.n_bands, rb : rb + hn, rb : rb + wn]
        p_svm = None
        if self.net is None or self.svm_weight > 0:  # an ensemble whose member check left the SVM out skips it
            p_svm = self.svm.proba(bands.reshape(self.n_bands, -1).t(), batch_size=batch_size).t().reshape(-1, hn, wn)
        if self.net is None:
            return p_svm
        o = rb - self.net.config.radius  # each member reads its own halo out of the widest one
        p_net = torch.as_tensor(self.net.predict_tile(t[:, o : o + hn + 2 * self.net.config.radius,
                                                        o : o + wn + 2 * self.net.config.radius], device=device,
                                                      batch_size=batch_size, naive=naive), device=t.device)
        p_cnn = None
        if self.cnn is not None:
            rc = self.cnn.radius
            o = rb - rc
            p_cnn = self.cnn.proba_tile(t[: self.n_bands, o : o + hn + 2 * rc, o : o + wn + 2 * rc],
                                        batch_size=min(batch_size, 4096))
        return self.fuse(p_net, p_svm, p_cnn)

    def fuse(self, p_net: torch.Tensor, p_svm: torch.Tensor | None, p_cnn: torch.Tensor | None = None) -> torch.Tensor:
        """The ensemble's probabilities ``(C, ...)`` from its members'.

        Each member has a weight: ``1 - w`` the network, ``w`` = :attr:`svm_weight` the SVM, and
        :attr:`cnn_weight` the CNN when there is one.  ``"mean"``: the weighted mean.
        ``"confidence"``: each member's weight at a pixel is also multiplied by its highest
        probability there, so where one member is sure and another hesitates the sure one
        decides.  The weights are normalised (per pixel), so the result sums to 1.  ``p_svm`` may be
        None where :attr:`svm_weight` is 0 (the SVM left out).
        """
        members = [(1.0 - self.svm_weight, p_net)]
        if p_svm is not None and self.svm_weight > 0:
            members.append((self.svm_weight, p_svm))
        if p_cnn is not None:
            members.append((self.cnn_weight, p_cnn))
        return fuse_members(members, self.fusion)

    def predict_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = 16384,
                     naive: bool = False) -> np.ndarray:
        """Probabilities ``(C, h, w)`` of the centre of a normalised tile ``(B', h + 2r, w + 2r)``."""
        dev = torch_device(device)
        t = torch.as_tensor(np.asarray(tile, dtype=np.float32) if not isinstance(tile, torch.Tensor) else tile)
        t = t.to(dev, torch.float32)
        r = self.radius
        rf = self.spatial.radius if self.spatial is not None else 0
        h, w = t.shape[1] - 2 * r, t.shape[2] - 2 * r
        if t.ndim != 3 or t.shape[0] < self.n_bands or h < 1 or w < 1:
            raise InvalidInputError(f"tile {tuple(t.shape)} does not fit the model ({self.n_bands}+ bands, "
                                    f"a halo of {r} pixels)")
        hn, wn = h + 2 * rf, w + 2 * rf
        with torch.inference_mode():
            p = self._probs(t, hn, wn, dev, max(1, int(batch_size)), naive)
            if rf:
                rb = r - rf
                p = edge_aware_smooth(p, t[: self.n_bands, rb : rb + hn, rb : rb + wn], rf, self.spatial.tau,
                                      groups=self.spatial.groups)
        return p.float().cpu().numpy()

    def embed_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = 16384,
                   naive: bool = False) -> np.ndarray:
        """Per-pixel embeddings ``(E, h, w)``: the network's (ensemble) or the SVM's unit probability vectors."""
        r = self.radius
        if self.net is not None:
            rf = r - self.net.config.radius  # the filter's halo and any wider member's
            t = tile[:, rf : tile.shape[1] - rf, rf : tile.shape[2] - rf]
            return self.net.embed_tile(t, device=device, batch_size=batch_size, naive=naive)
        t = torch.as_tensor(np.asarray(tile, dtype=np.float32))[:, r : tile.shape[1] - r, r : tile.shape[2] - r]
        with torch.inference_mode():
            p = self.svm.proba(t.reshape(t.shape[0], -1).t(), batch_size=batch_size)
            p = torch.nn.functional.normalize(p, dim=1)
        return p.t().reshape(-1, t.shape[1], t.shape[2]).numpy()

    def check_bands(self, da: Any) -> None:
        """Raise :class:`~hsigeo.errors.BandMismatchError` when a scene's bands differ from the model's."""
        check_scene_bands(da, self.n_bands, self.wavelengths)

    def resample_to_model(self, da: Any) -> Any:
        """The scene's spectra interpolated onto the model's wavelengths (see :func:`resample_scene`)."""
        return resample_scene(da, self.wavelengths)

    def digest(self) -> str:
        """Short sha256 of the SVM, the network, the weight, the statistics, the filter and the classes."""
        h = hashlib.sha256()
        for t in self.svm.tensors().values():
            h.update(t.numpy().tobytes())
        h.update(json.dumps([self.svm.gamma, self.svm_weight, *([self.fusion] if self.fusion != "mean" else []),
                             None if self.spatial is None else self.spatial.to_dict(),
                             [[c.value, c.name, list(c.colour)] for c in self.classes]]).encode())
        h.update(self.mean.tobytes() + self.std.tobytes())
        if self.net is not None:
            h.update(self.net.digest().encode())
        if self.cnn is not None:
            for t in self.cnn.tensors().values():
                h.update(t.numpy().tobytes())
            h.update(json.dumps([self.cnn_weight, self.cnn.to_dict()]).encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ #
    # Sparse pixels
    # ------------------------------------------------------------------ #
    def predict_pixels(self, cube: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, device: Any = None,
                       batch_size: int = 256, nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class values and confidence ``(n,)`` at given pixels of a raw ``(B, H, W)`` scene.

        Each pixel's ``(2r + 1)^2`` window is cut from the reflect-padded scene and the windows are
        laid side by side in strips, so every step sees exactly that pixel's neighbourhood, as in a
        whole-scene run.  ``nodata``: the scene's nodata value, as the engines are given it (a
        pixel beside a nodata one is filtered differently when the value is not known).
        """
        from hsigeo.model.classifier import extract_patches
        from hsigeo.sampling.windows import valid_pixels

        cube = np.asarray(cube)
        r, s = self.radius, 2 * self.radius + 1
        norm = self.normalize(cube, valid_pixels(cube, nodata=nodata))
        padded = np.pad(norm, ((0, 0), (r, r), (r, r)), mode="reflect")
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        probs = []
        for i in range(0, rows.size, max(1, batch_size)):
            win = extract_patches(padded, rows[i:i + batch_size], cols[i:i + batch_size], r)  # (n, B, s, s)
            strip = np.concatenate(list(win), axis=2)  # (B, s, n * s)
            p = self.predict_tile(strip, device=device)  # (C, 1, n * s - 2r)
            probs.append(p[:, 0, ::s].T)
        p = np.concatenate(probs) if probs else np.zeros((0, self.n_classes), np.float32)
        return self.class_values[p.argmax(1)].astype(np.int32), p.max(1)

    def with_prompts(self, prompt_set: Any, encoder: Any = None, *, combine: str | None = None) -> CombinedModel:
        """Refused: the SVM knows only the classes it was trained on (a network model can be re-anchored).

        Raises
        ------
        HsigeoError
            Always, saying what to do instead.
        """
        from hsigeo.errors import HsigeoError

        raise HsigeoError(
            f"this is an {self.method} model: its SVM knows only the {self.n_classes} classes it was trained on, so it "
            "cannot be re-anchored to other prompts. Classify with the model's own classes (leave out --prompts), or "
            "train with `hsigeo train --method net` to re-anchor the network later.")

    def without_filter(self) -> CombinedModel:
        """The same model without the edge-aware filter (a per-pixel map)."""
        new = copy.copy(self)
        new.spatial = None
        return new
