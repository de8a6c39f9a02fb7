"""The trained classifier: backbone + text probe + class anchors + normalisation, behind a numpy API.

:class:`HsigeoModel` is the object the inference engines (:mod:`hsigeo.inference`), the CLI and
the QGIS plugin work with.  It satisfies :class:`hsigeo.inference.model_contract.InferenceModel`
(see ``DESIGN.md``):

- ``radius``, ``n_bands``, ``wavelengths``, ``classes`` (:class:`ClassInfo`);
- ``normalize(block, valid)``: per-band standardisation with the training scene's statistics;
- ``predict_tile(tile)`` / ``embed_tile(tile)`` on a normalised tile with a halo of ``radius``;
- ``check_bands(da)`` / ``resample_to_model(da)``;
- ``digest()``: identity of weights, normalisation and classes;
- ``with_prompts(prompt_set)``: new class anchors from new prompts (zero-shot / open-set).

Class anchors are the frozen text embeddings of each class's prompts (cached in the model file)
mapped by the trainable probe into the joint space; a pixel's class probabilities are the
softmax over ``temperature * cosine(pixel embedding, anchor)``.  Whole in-memory scenes go
through :func:`hsigeo.inference.core.predict_proba_array` / ``classify_array`` (one
implementation for every caller); :meth:`HsigeoModel.predict_pixels` scores sparse pixels.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hsigeo.classes import ClassInfo
from hsigeo.device import torch_device
from hsigeo.errors import BandMismatchError, InvalidInputError
from hsigeo.model.backbone import BackboneConfig, SpectralSpatialBackbone
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth

if TYPE_CHECKING:
    import xarray as xr

    from hsigeo.text.encoder import TextEncoder
    from hsigeo.text.prompts import PromptSet

__all__ = ["TextProbe", "HsigeoNet", "HsigeoModel", "MAX_LOGIT_SCALE", "check_scene_bands", "resample_scene",
           "standardize_block", "safe_std"]

#: CLIP's cap on the learnable temperature (logit scale), avoiding a collapse to one-hot logits.
MAX_LOGIT_SCALE = 100.0
#: Default pixels per forward pass in :meth:`HsigeoModel.predict_tile`.
DEFAULT_BATCH = 16384


class TextProbe(nn.Module):
    """Trainable map from frozen text embeddings to the joint embedding space.

    A LayerNorm (frozen encoders differ in scale and offset) followed by a linear map
    ``text_dim -> embed_dim``; the output is L2-normalised by the caller.
    """

    def __init__(self, text_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(text_dim)
        self.proj = nn.Linear(text_dim, embed_dim)
        nn.init.normal_(self.proj.weight, std=text_dim**-0.5)
        nn.init.zeros_(self.proj.bias)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(text))


class HsigeoNet(nn.Module):
    """The trainable network: vision backbone, text probe and the learnable temperature.

    Parameters
    ----------
    config
        Backbone configuration.
    text_dim
        Dimension of the frozen text embeddings.
    """

    def __init__(self, config: BackboneConfig, text_dim: int) -> None:
        super().__init__()
        self.backbone = SpectralSpatialBackbone(config)
        self.probe = TextProbe(text_dim, config.embed_dim)
        # CLIP initialisation: temperature 1/0.07, learned in log space
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / 0.07)))

    def scale(self) -> torch.Tensor:
        """The temperature, clamped to :data:`MAX_LOGIT_SCALE`."""
        return self.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()

    def anchors(self, text: torch.Tensor) -> torch.Tensor:
        """Class anchors ``(C, E)``: probed and L2-normalised text embeddings ``(C, T)``."""
        return F.normalize(self.probe(text), dim=-1)

    def logits(self, emb: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """Scaled cosine similarities ``(P, C)`` of unit embeddings ``(P, E)`` and anchors ``(C, E)``."""
        return self.scale() * emb @ anchors.t()

    def forward(self, patches: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Logits ``(P, C)`` of patches ``(P, B, S, S)`` against class text embeddings ``(C, T)``."""
        return self.logits(self.backbone.forward_patches(patches), self.anchors(text))


@dataclass
class HsigeoModel:
    """A trained prompt-anchored classifier (see the module docstring for the contract).

    Attributes
    ----------
    net
        The torch network (backbone, probe, temperature).
    config
        Backbone configuration.
    mean, std
        Per-band standardisation statistics ``(B,)`` from the training scene.
    classes
        The classes in output (probability band) order.
    text_embeddings
        Frozen text embeddings ``(C, T)`` of the classes' prompts (combined per class).
    wavelengths
        Band centres in nm, or None when unknown.
    text_model
        The text encoder that made ``text_embeddings``: ``{"id", "path", "dim",
        "n_parameters", "combine"}``.
    report
        Training summary (JSON-able).
    spatial
        The edge-aware probability filter applied after the network
        (:mod:`hsigeo.model.spatial`; ``None``: none, as in model files written before it existed).
    prior
        Frozen base-model input channels appended to each pixel's bands by :meth:`normalize`
        (:class:`~hsigeo.model.prior.BasePrior`, ``hsigeo train --init base``; ``None``: the
        network sees the bands only).  ``mean``/``std`` and the backbone's ``n_bands`` then
        cover the bands plus these channels.
    """

    net: HsigeoNet
    config: BackboneConfig
    mean: np.ndarray
    std: np.ndarray
    classes: list[ClassInfo]
    text_embeddings: np.ndarray
    wavelengths: np.ndarray | None = None
    text_model: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    spatial: SpatialFilter | None = None
    prior: Any = None
    _anchor_cache: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False, compare=False)
    _net_cache: dict[str, nn.Module] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32)
        self.std = np.asarray(self.std, dtype=np.float32)
        self.text_embeddings = np.asarray(self.text_embeddings, dtype=np.float32)
        if self.wavelengths is not None:
            wl = np.asarray(self.wavelengths, dtype=np.float64)
            self.wavelengths = wl if np.isfinite(wl).any() else None
        self.classes = [c if isinstance(c, ClassInfo)
                        else ClassInfo(int(c[0]), str(c[1]), tuple(int(v) for v in c[2]), tuple(c[3]) if len(c) > 3 else ())
                        for c in self.classes]
        if self.mean.shape != (self.config.n_bands,) or self.std.shape != (self.config.n_bands,):
            raise InvalidInputError("mean/std must have one value per network input channel")
        if self.prior is not None and self.prior.n_bands != self.n_bands:
            raise InvalidInputError(f"the base-model prior reads {self.prior.n_bands} bands, the network "
                                    f"{self.n_bands} (+ {self.prior.dim} prior channels)")
        if self.text_embeddings.shape[0] != len(self.classes):
            raise InvalidInputError("one text embedding per class is needed")
        self.net.eval()

    # ------------------------------------------------------------------ #
    # Properties
    # ------------------------------------------------------------------ #
    @property
    def radius(self) -> int:
        """Halo a tile needs on each side: the patch radius plus the spatial filter's."""
        return self.config.radius + (self.spatial.radius if self.spatial is not None else 0)

    @property
    def n_bands(self) -> int:
        """Number of scene bands the model reads (the network's input channels without the prior's)."""
        return self.config.n_bands - (self.prior.dim if self.prior is not None else 0)

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def class_values(self) -> np.ndarray:
        """Label value of each class, in output order."""
        return np.array([c.value for c in self.classes], dtype=np.int64)

    @property
    def temperature(self) -> float:
        """The learned logit scale (inverse temperature)."""
        return float(self.net.scale().detach())

    @property
    def prompts(self) -> PromptSet:
        """The classes as a :class:`~hsigeo.text.prompts.PromptSet` (names, values, colours, prompts)."""
        from hsigeo.text.prompts import PromptSet

        return PromptSet(tuple(dataclasses.replace(c, prompts=c.prompts or (c.name,)) for c in self.classes))

    def n_parameters(self) -> dict[str, int]:
        """Parameter counts: ``trainable`` (backbone + probe + temperature), the frozen ``text_model``
        and ``prior`` (base encoder, 0 without one), ``total``."""
        trainable = int(sum(p.numel() for p in self.net.parameters()))
        text = int(self.text_model.get("n_parameters") or 0)
        prior = self.prior.n_parameters() if self.prior is not None else 0
        return {
            "trainable": trainable,
            "backbone": int(sum(p.numel() for p in self.net.backbone.parameters())),
            "probe": int(sum(p.numel() for p in self.net.probe.parameters())),
            "text_model": text,
            "prior": prior,
            "total": trainable + text + prior,
        }

    def digest(self) -> str:
        """Short sha256 identifying weights, normalisation, classes and anchors (for resume checks)."""
        h = hashlib.sha256()
        modules = [("", self.net)] + ([("prior.encoder.", self.prior.encoder)] if self.prior is not None else [])
        for prefix, module in modules:
            for name, t in sorted(module.state_dict().items()):
                h.update((prefix + name).encode())
                h.update(t.detach().cpu().contiguous().numpy().tobytes())
        for arr in (self.mean, self.std, self.text_embeddings):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(json.dumps([[c.value, c.name, list(c.colour)] for c in self.classes]).encode())
        h.update(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        if self.spatial is not None:
            h.update(json.dumps(self.spatial.to_dict(), sort_keys=True).encode())
        for part in self.prior.binding.digest_parts() if self.prior is not None else ():
            h.update(part)
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ #
    # Normalisation
    # ------------------------------------------------------------------ #
    def normalize(self, block: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Network input of a raw block: the bands standardised per band.

        Invalid pixels and non-finite values become 0.  The base model's channels of a model with a
        prior are *not* computed here: they are per pixel and learned, so the model step computes
        them on its own device from these bands (:meth:`predict_tile`), and the engines' reading
        side only reads, scales and masks (issue 22).

        Parameters
        ----------
        block
            Raw values ``(B, h, w)``.
        valid
            Boolean ``(h, w)``, False at nodata pixels; ``None`` = all valid.

        Returns
        -------
        numpy.ndarray
            float32 ``(B, h, w)``.
        """
        block = np.asarray(block)
        if block.ndim != 3 or block.shape[0] != self.n_bands:
            raise BandMismatchError(
                f"block has shape {block.shape}; the model needs ({self.n_bands}, h, w). "
                "Use a scene with the model's bands or resample it (model.resample_to_model)."
            )
        b = self.n_bands
        return standardize_block(block, self.mean[:b], self.std[:b], valid)

    def _with_prior(self, t: torch.Tensor) -> torch.Tensor:
        """A normalised bands-only tile ``(B, H, W)`` plus the prior's standardised channels, on its device.

        The raw bands are recovered from the standardised ones (the prior reads raw values); a
        pixel whose bands are all 0 is nodata and gets 0 in every channel, as in training.
        """
        b, hh, ww = t.shape
        std = torch.as_tensor(safe_std(self.std), device=t.device)
        mean = torch.as_tensor(np.asarray(self.mean, dtype=np.float32), device=t.device)
        flat = t.reshape(b, -1).t()
        valid = (flat != 0).any(1)
        extra = torch.zeros((flat.shape[0], self.prior.dim), dtype=torch.float32, device=t.device)
        if bool(valid.any()):
            raw = flat[valid] * std[:b] + mean[:b]
            extra[valid] = (self.prior.channels(raw) - mean[b:]) / std[b:]
        return torch.cat([t, extra.t().reshape(self.prior.dim, hh, ww)])

    # ------------------------------------------------------------------ #
    # Tile inference
    # ------------------------------------------------------------------ #
    def _net_on(self, device: torch.device) -> nn.Module:
        """The network on ``device`` (one copy per device, made once; the CPU copy is ``self.net``)."""
        key = str(device)
        if device.type == "cpu":
            return self.net
        with self._lock:
            if key not in self._net_cache:
                self._net_cache[key] = copy.deepcopy(self.net).to(device).eval()
            return self._net_cache[key]

    def _anchors_on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        with self._lock:
            if key not in self._anchor_cache:
                net = self.net
                with torch.no_grad():
                    a = net.anchors(torch.from_numpy(self.text_embeddings)) * net.scale()
                self._anchor_cache[key] = a.to(device)  # scale folded in: logits = emb @ a.T
            return self._anchor_cache[key]

    def _run(self, tile: np.ndarray | torch.Tensor, *, device: Any, batch_size: int, naive: bool,
             probs: bool) -> np.ndarray:
        dev = torch_device(device)
        net = self._net_on(dev)
        r, rb = self.radius, self.config.radius
        t = torch.as_tensor(np.asarray(tile, dtype=np.float32) if not isinstance(tile, torch.Tensor) else tile)
        # a tile from normalize() holds the bands; one with the prior's channels already (training
        # patches, older callers) is taken as it is
        if t.ndim != 3 or t.shape[0] not in (self.n_bands, self.config.n_bands):
            raise BandMismatchError(
                f"tile has shape {tuple(t.shape)}; the model needs ({self.n_bands}, h + {2 * r}, w + {2 * r}) "
                "(a tile from model.normalize)."
            )
        h, w = t.shape[1] - 2 * r, t.shape[2] - 2 * r
        if h < 1 or w < 1:
            raise InvalidInputError(f"tile {tuple(t.shape[1:])} is smaller than one patch (needs > {2 * r} per side)")
        t = t.to(dev, torch.float32)
        if self.prior is not None and t.shape[0] == self.n_bands:
            with torch.inference_mode():
                t = self._with_prior(t)
        # the network labels the tile plus the spatial filter's ring (rf pixels); the filter then
        # brings it down to the centre h x w
        rf = r - rb
        hn, wn = h + 2 * rf, w + 2 * rf
        anchors = self._anchors_on(dev) if probs else None
        n_out = self.n_classes if probs else self.config.embed_dim
        out = torch.empty((n_out, hn, wn), dtype=torch.float32, device=dev)
        batch_size = max(1, int(batch_size))
        with torch.inference_mode():
            if naive:
                s = 2 * rb + 1
                for y0 in range(0, hn, max(1, batch_size // wn)):
                    y1 = min(hn, y0 + max(1, batch_size // wn))
                    # (B, rows, w, S, S) windows -> (rows*w, B, S, S) patches, one per pixel
                    win = t[:, y0 : y1 + 2 * rb].unfold(1, s, 1).unfold(2, s, 1)
                    patches = win.permute(1, 2, 0, 3, 4).reshape(-1, self.config.n_bands, s, s)
                    emb = net.backbone.forward_patches(patches)
                    res = F.softmax(emb.float() @ anchors.t(), dim=-1) if probs else emb
                    out[:, y0:y1] = res.float().t().reshape(n_out, y1 - y0, wn)
            else:
                # strips of rows bound memory of the stem/token maps; each strip carries its halo
                rows = max(1, batch_size // wn)
                for y0 in range(0, hn, rows):
                    y1 = min(hn, y0 + rows)
                    emb = net.backbone.forward_dense(t[None, :, y0 : y1 + 2 * rb], max_pixels=batch_size)[0]
                    if probs:
                        logits = torch.einsum("ehw,ce->chw", emb.float(), anchors)
                        emb = F.softmax(logits, dim=0)
                    out[:, y0:y1] = emb.float()
            if rf:
                if probs:
                    # the guide is the scene's own bands: the filter was designed and measured on them
                    out = edge_aware_smooth(out, t[: self.n_bands, rb : rb + hn, rb : rb + wn], rf, self.spatial.tau,
                                            groups=self.spatial.groups)
                else:  # embeddings are the network's own, unfiltered
                    out = out[:, rf : rf + h, rf : rf + w]
        return out.cpu().numpy()

    def predict_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = DEFAULT_BATCH,
                     naive: bool = False) -> np.ndarray:
        """Class probabilities of the centre of a normalised tile.

        Parameters
        ----------
        tile
            float32 ``(B, h + 2r, w + 2r)``, already normalised (:meth:`normalize`), with a halo
            of ``r = radius`` pixels on each side.
        device
            ``None``/``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        batch_size
            Pixels per forward pass (bounds memory).
        naive
            One independent patch per pixel instead of the shared-work dense path (same
            result to float tolerance; for testing and timing).

        Returns
        -------
        numpy.ndarray
            float32 ``(C, h, w)``, summing to 1 over classes.
        """
        return self._run(tile, device=device, batch_size=batch_size, naive=naive, probs=True)

    def embed_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = DEFAULT_BATCH,
                   naive: bool = False) -> np.ndarray:
        """Unit pixel embeddings ``(E, h, w)`` of a normalised tile (arguments as :meth:`predict_tile`)."""
        return self._run(tile, device=device, batch_size=batch_size, naive=naive, probs=False)

    # ------------------------------------------------------------------ #
    # Whole scenes in memory
    # ------------------------------------------------------------------ #
    def _prepare(self, cube: np.ndarray, valid: np.ndarray | None, nodata: float | None) -> tuple[np.ndarray, np.ndarray]:
        cube = np.asarray(cube)
        if cube.ndim != 3:
            raise InvalidInputError(f"cube must be (band, y, x), got shape {cube.shape}")
        if valid is None:
            from hsigeo.sampling.windows import valid_pixels  # the rule every inference engine uses

            valid = valid_pixels(cube, nodata=nodata)
        valid = np.asarray(valid, dtype=bool)
        norm = self.normalize(cube, valid)
        r = self.radius
        return np.pad(norm, ((0, 0), (r, r), (r, r)), mode="reflect"), valid

    def predict_pixels(self, cube: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, device: Any = None,
                       batch_size: int = 4096, nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Classify selected pixels of a raw scene, one patch each (cheap for sparse pixels).

        Parameters
        ----------
        cube
            Raw scene ``(B, H, W)``.
        rows, cols
            Pixel coordinates (equal length).
        device, batch_size
            As in :meth:`predict_tile` (``batch_size`` = patches per pass).
        nodata
            The scene's nodata value, as the engines are given it (a patch reaching a nodata
            pixel is read differently when the value is not known).

        Returns
        -------
        values, confidence : numpy.ndarray
            ``(n,)`` class values and maximum probabilities.
        """
        tile, _ = self._prepare(cube, None, nodata)
        probs = self.predict_patches(extract_patches(tile, rows, cols, self.radius), device=device,
                                     batch_size=batch_size)
        best = probs.argmax(axis=1)
        return self.class_values[best].astype(np.int32), probs.max(axis=1)

    def predict_patches(self, patches: np.ndarray, *, device: Any = None, batch_size: int = 4096) -> np.ndarray:
        """Probabilities ``(P, C)`` of the centres of normalised windows ``(P, B, 2 radius + 1, 2 radius + 1)``.

        With a spatial filter, each window holds the centre's neighbourhood too: the network
        labels its central ``(2 rf + 1)^2`` pixels and the filter combines them, exactly as the
        dense tile path does.
        """
        dev = torch_device(device)
        net, anchors = self._net_on(dev), self._anchors_on(dev)
        rb, rf = self.config.radius, self.radius - self.config.radius
        patches = np.asarray(patches)
        if (patches.ndim != 4 or patches.shape[-1] != 2 * self.radius + 1 or patches.shape[-2] != 2 * self.radius + 1
                or patches.shape[1] not in (self.n_bands, self.config.n_bands)):
            raise InvalidInputError(f"patches must be (P, {self.n_bands}, {2 * self.radius + 1}, "
                                    f"{2 * self.radius + 1}), got {patches.shape}")
        step = max(1, batch_size // (2 * rf + 1) ** 2)
        out = []
        with torch.inference_mode():
            for i in range(0, len(patches), step):
                x = torch.as_tensor(np.asarray(patches[i : i + step], dtype=np.float32), device=dev)
                if self.prior is not None and x.shape[1] == self.n_bands:
                    # windows side by side as one (B, P*s, s) tile, so the prior runs once per batch
                    n, b, sy, sx = x.shape
                    x = self._with_prior(x.permute(1, 0, 2, 3).reshape(b, n * sy, sx))
                    x = x.reshape(-1, n, sy, sx).permute(1, 0, 2, 3).contiguous()
                if not rf:
                    out.append(F.softmax(net.backbone.forward_patches(x) @ anchors.t(), dim=-1).cpu().numpy())
                    continue
                emb = net.backbone.forward_dense(x)  # (P, E, 2rf+1, 2rf+1)
                p = F.softmax(torch.einsum("pehw,ce->pchw", emb.float(), anchors), dim=1)
                guide = x[:, : self.n_bands, rb : rb + 2 * rf + 1, rb : rb + 2 * rf + 1]
                out.append(edge_aware_smooth(p, guide, rf, self.spatial.tau, groups=self.spatial.groups)[:, :, 0, 0]
                           .cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), np.float32)

    # ------------------------------------------------------------------ #
    # Bands
    # ------------------------------------------------------------------ #
    def check_bands(self, da: Any) -> None:
        """Raise :class:`~hsigeo.errors.BandMismatchError` when a scene's bands differ from the model's.

        Parameters
        ----------
        da
            A ``(band, y, x)`` DataArray (a ``wavelength`` coordinate is compared when both
            sides have wavelengths) or an array.
        """
        check_scene_bands(da, self.n_bands, self.wavelengths)

    def resample_to_model(self, da: xr.DataArray) -> xr.DataArray:
        """Linearly interpolate a scene's spectra onto the model's wavelengths (:func:`resample_scene`)."""
        return resample_scene(da, self.wavelengths)

    # ------------------------------------------------------------------ #
    # Prompts
    # ------------------------------------------------------------------ #
    def with_prompts(self, prompt_set: PromptSet, encoder: TextEncoder | None = None, *,
                     combine: str | None = None) -> HsigeoModel:
        """A copy of the model anchored to other prompts (renamed, reworded, new or fewer classes).

        The backbone, probe and temperature are shared; only the class anchors change, so
        inference needs the text model just this once.

        Parameters
        ----------
        prompt_set
            The new classes and prompts.
        encoder
            Text encoder; ``None``: the packaged default (all-MiniLM-L6-v2).  The folder a model
            file records in ``text_model.path`` is never opened: a file must not decide which
            local code and weights are loaded; pass ``TextEncoder(folder)`` for another model.
        combine
            How a class's prompts are combined (default: as in training).

        Raises
        ------
        ModelFileError
            When the encoder's dimension differs from the one the probe was trained on.
        """
        from hsigeo.errors import ModelFileError
        from hsigeo.text.encoder import TextEncoder, class_embeddings

        if encoder is None:
            encoder = TextEncoder()
        if encoder.dim != self.text_embeddings.shape[1]:
            raise ModelFileError(
                f"text model {encoder.model_id} gives {encoder.dim}-d embeddings, but the model's probe was trained "
                f"on {self.text_embeddings.shape[1]}-d ones ({self.text_model.get('id')}); use that text model "
                "(with_prompts(prompts, TextEncoder(folder)); the folder a model file names is never opened)."
            )
        if self.text_model.get("id") and encoder.model_id != self.text_model["id"]:
            warnings.warn(
                f"re-anchoring with text model {encoder.model_id}, but the probe was trained with "
                f"{self.text_model['id']}; expect lower accuracy.",
                stacklevel=2,
            )
        emb = class_embeddings(prompt_set, encoder, combine=combine or self.text_model.get("combine", "mean"))
        new = copy.copy(self)
        new.classes = list(prompt_set.classes)
        new.text_embeddings = np.asarray(emb, dtype=np.float32)
        from hsigeo.text.prompts import prompt_hash

        new.text_model = {**self.text_model, "id": encoder.model_id, "path": str(encoder.model_path),
                          "prompt_hash": prompt_hash(prompt_set, encoder.model_id)}
        new._anchor_cache = {}
        new._lock = threading.Lock()
        return new


def safe_std(std: np.ndarray) -> np.ndarray:
    """Per-channel std for standardising: a channel constant in the training scene (std 0 or not finite) gets 1.

    Such a channel carries no information, so it is centred but not scaled (dividing by 0 would
    make every value inf and one class win).
    """
    std = np.asarray(std)
    return np.where(np.isfinite(std) & (std > 0), std, 1.0).astype(np.float32)


def standardize_block(block: np.ndarray, mean: np.ndarray, std: np.ndarray,
                      valid: np.ndarray | None = None) -> np.ndarray:
    """float32 ``(block - mean) / std`` per band of a ``(B, h, w)`` block (:func:`safe_std`).

    Non-finite results and the pixels ``valid`` marks False become 0.
    """
    out = (np.asarray(block).astype(np.float32) - np.asarray(mean)[:, None, None]) / safe_std(std)[:, None, None]
    out[~np.isfinite(out)] = 0.0
    if valid is not None:
        out[:, ~np.asarray(valid, dtype=bool)] = 0.0
    return out


def check_scene_bands(da: Any, n_bands: int, wavelengths: np.ndarray | None) -> None:
    """Raise :class:`~hsigeo.errors.BandMismatchError` when a scene's bands differ from a model's.

    Parameters
    ----------
    da
        A ``(band, y, x)`` DataArray (a ``wavelength`` coordinate is compared when both
        sides have wavelengths) or an array.
    n_bands, wavelengths
        The model's band count and band centres (nm, or None).
    """
    n = int(da.sizes["band"]) if hasattr(da, "sizes") and "band" in da.sizes else int(np.shape(da)[0])
    source = getattr(da, "attrs", {}).get("source", "the scene") if hasattr(da, "attrs") else "the scene"
    theirs = _wavelengths_of(da)
    ours = wavelengths
    both = theirs is not None and ours is not None
    offer = (
        " Both have wavelengths, so the scene can be resampled onto the model's bands (linear "
        "interpolation): add --resample to `hsigeo classify` (the 'Resample' box in QGIS; "
        "resample=True in Python)."
        if both else " Use a scene from the sensor the model was trained on, or train a model on this sensor."
    )
    if n != n_bands:
        raise BandMismatchError(
            f"{source}: {n} bands{_wl_range(theirs)}, but the model was trained on {n_bands} bands"
            f"{_wl_range(ours)}.{offer}"
        )
    if both and theirs.shape == ours.shape:
        ok = np.isfinite(theirs) & np.isfinite(ours)
        tol = max(1.0, 0.25 * float(np.median(np.abs(np.diff(ours))))) if ours.size > 1 else 1.0
        if ok.any() and float(np.max(np.abs(theirs[ok] - ours[ok]))) > tol:
            worst = float(np.max(np.abs(theirs[ok] - ours[ok])))
            raise BandMismatchError(
                f"{source}: band wavelengths differ from the model's by up to {worst:.1f} nm"
                f"{_wl_range(theirs)} vs{_wl_range(ours)}.{offer}"
            )


def resample_scene(da: xr.DataArray, wavelengths: np.ndarray | None) -> xr.DataArray:
    """Linearly interpolate a scene's spectra onto the model's wavelengths.

    Bands flagged ``bad_band`` or without a wavelength are ignored.  Works lazily on
    dask-backed arrays.  Model wavelengths outside the scene's range take the nearest
    end band.  The plan, and its coverage rules (a warning when partial, an error when
    under half), are :func:`hsigeo.io.resample.plan_resampling`'s.

    Returns
    -------
    xarray.DataArray
        float32 ``(band, y, x)`` with the model's band count and ``wavelength`` coordinate.

    Raises
    ------
    BandMismatchError
        When the model or the scene has no wavelengths, or the scene covers too little
        of the model's spectrum.
    """
    import xarray as xr

    from hsigeo.io.resample import plan_resampling

    source = da.attrs.get("source", "the scene")
    bad = da.coords["bad_band"].values if "bad_band" in da.coords else None
    plan = plan_resampling(_wavelengths_of(da), wavelengths, bad_band=bad, source=source)
    target = plan.target
    band_coords = [c for c in da.coords if "band" in da[c].dims]
    base = da.drop_vars(band_coords).astype(np.float32)
    new = xr.DataArray(np.arange(target.size), dims="band")
    a = base.isel(band=xr.DataArray(plan.lower, dims="band"))
    b = base.isel(band=xr.DataArray(plan.upper, dims="band"))
    wt = xr.DataArray(plan.weight, dims="band")
    out = (a * (1 - wt) + b * wt).transpose("band", ...)
    out = out.assign_coords(band=new.values + 1, wavelength=("band", target))
    out.attrs = dict(da.attrs)
    out.attrs["resampled_from"] = f"{da.sizes['band']} bands onto the model's {target.size} wavelengths"
    out.name = da.name
    return out


def extract_patches(tile: np.ndarray, rows: Sequence[int] | np.ndarray, cols: Sequence[int] | np.ndarray,
                    radius: int) -> np.ndarray:
    """Patches ``(n, B, 2r+1, 2r+1)`` centred on ``(rows, cols)`` of a scene padded by ``radius``.

    ``tile`` is the padded scene, so pixel ``(i, j)`` of the scene is at ``(i + r, j + r)`` and its
    patch is ``tile[:, i : i + 2r + 1, j : j + 2r + 1]``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    s = 2 * radius + 1
    off = np.arange(s)
    # fancy indexing (n, S, S) per band keeps this a single vectorised gather
    yy = rows[:, None, None] + off[None, :, None]
    xx = cols[:, None, None] + off[None, None, :]
    return np.ascontiguousarray(tile[:, yy, xx].transpose(1, 0, 2, 3))


def _wavelengths_of(da: Any) -> np.ndarray | None:
    coords = getattr(da, "coords", None)
    if coords is None or "wavelength" not in coords:
        return None
    wl = np.asarray(coords["wavelength"].values, dtype=np.float64)
    return wl if np.isfinite(wl).any() else None


def _wl_range(wl: np.ndarray | None) -> str:
    if wl is None:
        return " (wavelengths unknown)"
    return f" ({np.nanmin(wl):.0f}-{np.nanmax(wl):.0f} nm)"
