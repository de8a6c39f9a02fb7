"""The base model: a spectral encoder aligned with the frozen text model, for prompt-only mapping.

Pieces:

- :class:`BaseNet`: per-pixel spectral encoder (input: the brightness-normalised spectrum on
  the base grid, its coverage mask and, in models built since issue 21, the albedo channel and
  its flag, see :mod:`hsigeo.spectra.grid`) and a linear text probe into the same 64-d joint
  space, with a learnable temperature.
- :class:`BaseEnsemble`: several :class:`BaseNet` trained alike from different seeds (their own
  simulated corpus and batches), read as one network whose similarities are the members' mean.
  One network's map of a scene it was not tuned on depends on its seed by up to 10-15 points
  (README, "Words alone"); the mean of several does not.
- :func:`hsigeo.model.base_pretrain.pretrain`: the method's contrastive loss (positive + hard + semi-hard negatives,
  :func:`hsigeo.model.loss.hard_negative_loss`) between library/simulated spectra and the
  sentences describing their material concept, with augmentations that make the encoder
  indifferent to brightness, calibration and band coverage.
- :class:`BaseModel`: the trained encoder and its metadata; saved in the usual ``.hsigeo``
  container (``metadata.json`` + ``weights.safetensors``, ``model_type: "spectral-base"``).
- :class:`ZeroShotModel`: a base model bound to one scene's bands and one prompt set.  It
  satisfies the model contract of the inference engines (``radius`` 0, ``normalize``,
  ``predict_tile``, ``embed_tile``, ``check_bands``, ``classes``), so tiled and dask
  inference run it unchanged.  A few labels on top: ``hsigeo train --init base`` feeds the
  base encoder's per-pixel embedding into a trained spectral-spatial model
  (:mod:`hsigeo.model.prior`).

Unknown: a pixel whose highest class probability is below ``threshold`` gets NaN
probabilities, which every engine turns into class value **0** (unclassified / nodata) with
no confidence: prompts need not name every material in a scene.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hsigeo.classes import ClassInfo
from hsigeo.errors import BandMismatchError, ModelFileError
from hsigeo.model.binding import SensorBinding, bind_sensor, float_array, grid_features, json_floats
from hsigeo.model.binding import sample_pixels as _sample_pixels
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth
from hsigeo.spectra.grid import GRID, coverage_text

__all__ = ["BaseNet", "BaseEnsemble", "build_net", "net_members", "BaseModel", "ZeroShotModel", "save_base",
           "load_base", "shipped_base_path", "base_to_file", "zero_shot_to_file", "base_from_file", "zero_shot_from_file", "net_sizes",
           "MODEL_TYPE", "ZERO_SHOT_TYPE"]

#: ``model_type`` of base model files and of bound zero-shot model files (:mod:`hsigeo.model.modelfile`).
MODEL_TYPE = "spectral-base"
ZERO_SHOT_TYPE = "zero-shot"
ADAPTED_TYPE = "scene-adapted"  # a zero-shot model adapted to its scene (hsigeo.model.adapt)
EMBED_DIM = 64
#: Default sizes of files that do not record them: the text model's (all-MiniLM-L6-v2) and the hidden width.
TEXT_DIM, HIDDEN = 384, 256


def shipped_base_path() -> Path:
    """Path of the base model shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "base_model.hsigeo"


class BaseNet(nn.Module):
    """Spectral encoder + text probe + temperature.

    Parameters
    ----------
    n_grid
        Grid bands (input is ``2 * n_grid``: spectrum and mask, plus 2 with ``albedo``).
    text_dim
        Text-embedding dimension of the frozen text model.
    hidden, embed_dim
        Width of the hidden layers and of the joint space.
    albedo
        Whether the input carries the albedo channel and its flag
        (:func:`hsigeo.spectra.grid.albedo_channels`).
    """

    def __init__(self, n_grid: int, text_dim: int, hidden: int = HIDDEN, embed_dim: int = EMBED_DIM,
                 albedo: bool = False) -> None:
        super().__init__()
        self.albedo = bool(albedo)
        self.encoder = nn.Sequential(
            nn.Linear(2 * n_grid + (2 if albedo else 0), hidden), nn.GELU(), nn.LayerNorm(hidden),
            nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden),
            nn.Linear(hidden, embed_dim),
        )
        self.probe = nn.Linear(text_dim, embed_dim)
        # CLIP-style temperature, stored as a log so it stays positive
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def embed(self, feats: torch.Tensor) -> torch.Tensor:
        """Unit-norm joint-space embeddings of ``(N, 2G)`` features."""
        return F.normalize(self.encoder(feats), dim=-1)

    def anchors(self, text: torch.Tensor) -> torch.Tensor:
        """Unit-norm joint-space anchors of ``(C, T)`` text embeddings."""
        return F.normalize(self.probe(text), dim=-1)

    def logits(self, emb: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=100.0) * emb @ anchors.t()

    @property
    def out_dim(self) -> int:
        """Length of :meth:`embed`'s vectors."""
        return int(self.probe.out_features)


class BaseEnsemble(nn.Module):
    """Several :class:`BaseNet` members read as one network: the mean of their cosine similarities.

    :meth:`embed` and :meth:`anchors` concatenate the members' unit vectors divided by
    ``sqrt(k)``, so the result is a unit vector again and one dot product of an embedding and
    an anchor is the mean of the members' cosines; the temperature is the members' mean.
    Everything that reads a base network (the zero-shot model, the adaptation, the library
    naming) therefore runs an ensemble unchanged.  ``encoder`` and ``probe`` are the first
    member's: the base-model input channels of trained models (:mod:`hsigeo.model.prior`) come
    from that one encoder, so they stay what they were with the single network.

    Parameters
    ----------
    members
        The trained networks (same sizes and inputs).
    """

    def __init__(self, members: list[BaseNet]) -> None:
        super().__init__()
        if len(members) < 2 or len({(m.albedo, m.out_dim, m.probe.in_features) for m in members}) != 1:
            raise ValueError("an ensemble needs at least two members of the same sizes and inputs")
        self.members = nn.ModuleList(members)
        self.albedo = members[0].albedo

    @property
    def encoder(self) -> nn.Module:
        return self.members[0].encoder

    @property
    def probe(self) -> nn.Linear:
        return self.members[0].probe

    @property
    def log_scale(self) -> torch.Tensor:
        return torch.stack([m.log_scale.exp().clamp(max=100.0) for m in self.members]).mean().log()

    @property
    def out_dim(self) -> int:
        return int(sum(m.out_dim for m in self.members))

    def _joined(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(parts, dim=-1) / float(np.sqrt(len(parts)))

    def embed(self, feats: torch.Tensor) -> torch.Tensor:
        """Unit-norm joint embeddings: the members' own, concatenated and scaled by ``1 / sqrt(k)``."""
        return self._joined([m.embed(feats) for m in self.members])

    def anchors(self, text: torch.Tensor) -> torch.Tensor:
        """Unit-norm anchors: the members' own, concatenated and scaled by ``1 / sqrt(k)``."""
        return self._joined([m.anchors(text) for m in self.members])

    def logits(self, emb: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp() * emb @ anchors.t()


def net_members(meta: dict[str, Any]) -> int:
    """Networks in the base/zero-shot file ``meta`` describes (1 before ensembles; absent means 1)."""
    return int((meta.get("net") or {}).get("members", 1))


def build_net(meta: dict[str, Any]) -> BaseNet | BaseEnsemble:
    """An untrained network of the sizes, inputs and member count a base/zero-shot file describes."""
    sizes, albedo, k = net_sizes(meta), net_albedo(meta), net_members(meta)
    if k == 1:
        return BaseNet(*sizes, albedo=albedo)
    return BaseEnsemble([BaseNet(*sizes, albedo=albedo) for _ in range(k)])


# ---------------------------------------------------------------------- #
# The trained base model
# ---------------------------------------------------------------------- #
@dataclass
class BaseModel:
    """A pretrained base spectral encoder with its provenance.

    Attributes
    ----------
    net
        The network.
    meta
        Metadata: ``text_model``, ``sources``, ``concepts``, ``training``, ``reference``
        (radiometric reference spectrum on the grid), ``threshold`` (default unknown
        threshold), ``grid``.
    library
        ``(L, G)`` reflectance spectra (a few per concept) used as pseudo-targets by the
        radiometric correction of radiance scenes.
    """

    net: BaseNet
    meta: dict[str, Any] = field(default_factory=dict)
    library: np.ndarray | None = None

    @property
    def reference(self) -> np.ndarray:
        return np.asarray(self.meta["reference"], dtype=np.float32)

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.0))

    def embed_grid(self, x: np.ndarray, mask: np.ndarray, scale: float | None = 1.0) -> np.ndarray:
        """Joint-space embeddings ``(N, 64)`` of grid spectra ``(N, G)`` (``scale``: to reflectance 0-1, or ``None``)."""
        feats, _ = grid_features(np.asarray(x, dtype=np.float32), mask, albedo=self.net.albedo, scale=scale)
        with torch.inference_mode():
            return self.net.embed(torch.from_numpy(feats)).numpy()

    def text_anchors(self, text_emb: np.ndarray) -> np.ndarray:
        """Joint-space anchors ``(C, 64)`` of text embeddings ``(C, T)``."""
        with torch.inference_mode():
            return self.net.anchors(torch.from_numpy(np.asarray(text_emb, dtype=np.float32))).numpy()

    def encode_prompts(self, prompt_set: Any, encoder: Any = None, *, vocabulary: bool = True) -> np.ndarray:
        """Text embeddings ``(C, T)`` of a prompt set (mean of each class's prompts).

        Negated phrases ("without trees") are cut before embedding, and with ``vocabulary``
        prompts of a word or three ("tree", "roof") are embedded together with the closest of
        this model's concepts (its sentences; :mod:`hsigeo.text.vocabulary`).
        """
        from hsigeo.text.encoder import TextEncoder
        from hsigeo.text.vocabulary import vocabulary_embeddings

        if encoder is None:
            encoder = TextEncoder()
        if encoder.dim != self.net.probe.in_features:
            raise ModelFileError(
                f"text model {encoder.model_id} gives {encoder.dim}-d embeddings; the base model's probe takes "
                f"{self.net.probe.in_features}-d ones ({self.meta.get('text_model', {}).get('id')}). "
                "Use the default text model (all-MiniLM-L6-v2) with the base model."
            )
        vocab = self.vocabulary if vocabulary else None
        return vocabulary_embeddings([list(c.prompts) for c in prompt_set.classes], encoder, vocab)[0]

    @property
    def vocabulary(self) -> dict[str, list[str]]:
        """This model's concepts and their sentences (its metadata's ``concepts``; empty when it has none)."""
        return {k: v["sentences"] for k, v in (self.meta.get("concepts") or {}).items()}

    def concept_anchors(self, encoder: Any = None) -> tuple[list[str], np.ndarray]:
        """This model's vocabulary concepts (its metadata's ``concepts``) and their joint-space anchors ``(K, D)``.

        Each anchor is the probe's image of the mean embedding of the concept's sentences
        (:func:`hsigeo.text.vocabulary.concept_embeddings`); cached per text model.  Empty when the
        model file carries no concepts.
        """
        from hsigeo.text.encoder import TextEncoder
        from hsigeo.text.vocabulary import concept_embeddings

        concepts = self.vocabulary
        if not concepts:
            return [], np.zeros((0, self.net.out_dim), dtype=np.float32)
        if encoder is None:
            encoder = TextEncoder()
        cache = self.__dict__.setdefault("_concept_anchors", {})
        if encoder.model_id not in cache:
            cache[encoder.model_id] = self.text_anchors(concept_embeddings(concepts, encoder))
        return list(concepts), cache[encoder.model_id]

    def for_scene(self, scene: Any, prompts: Any, *, wavelengths: Any = None, fwhm: Any = None,
                  bad_band: Any = None, radiometry: str = "auto", threshold: float | None = None,
                  encoder: Any = None, text_embeddings: np.ndarray | None = None,
                  sample_pixels: int = 20000, seed: int = 0, smooth_radius: int = 2,
                  reflectance_scale: Any = "auto") -> ZeroShotModel:
        """Bind the base model to a scene's bands and a prompt set.

        Parameters
        ----------
        scene
            A ``(band, y, x)`` DataArray (wavelengths, FWHM and bad-band flags are read from
            its coordinates), a ``(B, H, W)`` array, or ``None`` (then ``wavelengths`` is
            needed and radiometry cannot be ``"radiance"``/``"auto"`` estimated).
        prompts
            A :class:`~hsigeo.prompts.PromptSet` or a path to a prompts YAML.
        wavelengths, fwhm, bad_band
            Override / supply the band centres (nm), widths and flags.
        radiometry
            ``"reflectance"`` (use spectra as they are), ``"radiance"`` (estimate a
            scene-level offset and gain, :mod:`hsigeo.spectra.radiometry`) or ``"auto"``
            (radiance when the scene shows deep 940/1130 nm water-vapour bands).
        threshold
            Unknown threshold on the highest class probability (``None``: the model's
            default; ``0``: never unknown).
        encoder, text_embeddings
            Text encoder to embed the prompts, or ready embeddings ``(C, T)``.
        sample_pixels, seed
            Pixels sampled to estimate the radiometric correction and the per-band statistics
            the spatial filter standardises spectra with.
        smooth_radius
            Radius of the edge-aware probability filter (:mod:`hsigeo.model.spatial`, the one
            trained models use); ``0`` or no scene pixels: per-pixel maps.  What it does to
            prompt-only maps, and to the SAM baseline's: README, "Zero-shot benchmark".
        reflectance_scale
            Factor from the scene's units to reflectance 0-1, ``None`` (albedo not read) or
            ``"auto"`` (0-1 or x 10000 recognised from the sampled pixels of a reflectance
            scene; see :func:`hsigeo.model.binding.bind_sensor`).

        Raises
        ------
        HsigeoError
            When the scene has no wavelengths (the message says how to supply them).
        """
        from hsigeo.text.prompts import PromptSet, load_prompts

        ps = prompts if isinstance(prompts, PromptSet) else load_prompts(prompts)
        # one sample serves the radiometric estimate and the filter's statistics (a strided read
        # of a lazy scene touches every chunk)
        pix = None
        if scene is not None:
            pix = _sample_pixels(scene, sample_pixels, seed)
            _warn_about_values(scene, pix)
        binding = self.bind(scene, wavelengths=wavelengths, fwhm=fwhm, bad_band=bad_band, radiometry=radiometry,
                            sample_pixels=sample_pixels, seed=seed, pixels=pix, reflectance_scale=reflectance_scale)
        if text_embeddings is None:
            text_embeddings = self.encode_prompts(ps, encoder)
        spatial, stats = None, None
        if smooth_radius and scene is not None:
            rel = _relative(pix.T).T
            if rel.shape[0] >= 2:
                std = rel.std(0)
                stats = (rel.mean(0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32))
                spatial = SpatialFilter.optional(smooth_radius)
        return ZeroShotModel(self, ps, binding, self.threshold if threshold is None else float(threshold),
                             np.asarray(text_embeddings, dtype=np.float32), spatial=spatial, stats=stats)

    def bind(self, scene: Any, *, wavelengths: Any = None, fwhm: Any = None, bad_band: Any = None,
             radiometry: str = "auto", sample_pixels: int = 20000, seed: int = 0,
             pixels: np.ndarray | None = None, reflectance_scale: Any = "auto") -> SensorBinding:
        """The scene's sensor bound to this model's grid and radiometry (:func:`hsigeo.model.binding.bind_sensor`)."""
        return bind_sensor(scene, reference=self.reference, library=self.library, wavelengths=wavelengths, fwhm=fwhm,
                           bad_band=bad_band, radiometry=radiometry, sample=sample_pixels, seed=seed, pixels=pixels,
                           albedo=self.net.albedo, reflectance_scale=reflectance_scale)


#: Band means beyond this are no reflectance (0-1 or x 10000) and no radiance the base model reads.
_MAX_PLAUSIBLE = 1e7


def _warn_about_values(scene: Any, pixels: np.ndarray) -> None:
    """Warn when the sampled spectra cannot be reflectance or radiance (the map would be silently empty or wrong)."""
    import warnings

    source = getattr(scene, "attrs", {}).get("source", "the scene")
    if pixels.shape[0] == 0:
        return  # no valid pixel at all: the engines say so
    means = pixels.astype(np.float64).mean(axis=1)
    if float(np.mean(means > 0)) < 0.5:
        warnings.warn(
            f"{source}: {100 * float(np.mean(means <= 0)):.0f} % of the sampled pixels have a negative or zero mean "
            "value; the base model reads reflectance or radiance (positive), so those pixels will be left unknown "
            "(class 0). Check the scene's scale and offset (e.g. a missing +offset, or a difference image).",
            stacklevel=3)
    elif float(np.median(np.abs(means))) > _MAX_PLAUSIBLE:
        warnings.warn(
            f"{source}: the pixels' typical value is {float(np.median(np.abs(means))):.3g}, far beyond reflectance "
            "(0-1 or 0-10000) or radiance; the map will probably be meaningless. Check the scene's scale factor "
            "and data type.", stacklevel=3)


def _relative(x: np.ndarray) -> np.ndarray:
    """Spectra ``(B, ...)`` divided by each pixel's mean over bands: the filter's guide ignores brightness.

    Reflectance 0-1, x 10000 and shade give the same guide, as they give the same classes.
    """
    m = np.mean(x, axis=0, keepdims=True)
    return (x / np.where(np.abs(m) > 0, m, 1.0)).astype(np.float32, copy=False)


class ZeroShotModel:
    """The base model bound to one scene's bands and one prompt set (the engines' model contract).

    Built by :meth:`BaseModel.for_scene`.  ``normalize`` maps raw band values onto the
    grid, applies the radiometric correction when one was estimated and normalises
    brightness; ``predict_tile`` gives class probabilities, NaN where the best class is
    below the unknown threshold.
    """

    #: ``model_type`` of its file (the scene-adapted subclass, :mod:`hsigeo.model.adapt`, has its own)
    model_type = ZERO_SHOT_TYPE

    def __init__(self, base: BaseModel, prompts: Any, binding: SensorBinding, threshold: float,
                 text_embeddings: np.ndarray, *, spatial: SpatialFilter | None = None,
                 stats: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.base = base
        self.prompts = prompts
        self.binding = binding
        self.threshold = float(threshold)
        self.text_embeddings = text_embeddings
        # the edge-aware filter needs the scene's per-band statistics to standardise its guide
        self.spatial = spatial if stats is not None else None
        self.stats = stats if spatial is not None else None
        self.classes = [ClassInfo(c.value, c.name, tuple(c.colour), tuple(c.prompts)) for c in prompts.classes]
        self.net = base.net
        with torch.inference_mode():
            self._anchors = base.net.anchors(torch.from_numpy(text_embeddings))
            self._scale = float(base.net.log_scale.exp().clamp(max=100.0))
        # the summary a trained model keeps as its training report (HsigeoClassifier.report_ reads both)
        self.report = {"kind": "zero-shot", "base_model": base.meta.get("name", "base"),
                       "radiometry": binding.radiometry, "threshold": self.threshold,
                       "coverage": coverage_text(binding.resampler.mask), "reflectance_scale": binding.scale,
                       "config": {"kind": "prompt-only (base model, no labels)", "radiometry": binding.radiometry},
                       "n_parameters": self.n_parameters()}
        self._lock = threading.Lock()

    # -- the binding, as attributes ------------------------------------ #
    @property
    def resampler(self) -> Any:
        return self.binding.resampler

    @property
    def n_bands(self) -> int:
        return self.binding.n_bands

    @property
    def wavelengths(self) -> np.ndarray:
        return self.binding.wavelengths

    @property
    def offset(self) -> np.ndarray | None:
        return self.binding.offset

    @property
    def gain(self) -> np.ndarray | None:
        return self.binding.gain

    @property
    def radiometry(self) -> str:
        return self.binding.radiometry

    # -- contract ------------------------------------------------------ #
    @property
    def radius(self) -> int:
        """Halo a tile needs: the spatial filter's radius (the encoder itself is per pixel)."""
        return self.spatial.radius if self.spatial is not None else 0

    @property
    def embed_dim(self) -> int:
        """Length of :meth:`embed_tile`'s vectors (64 per member of the base network)."""
        return self.net.out_dim

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def class_values(self) -> np.ndarray:
        return np.asarray([c.value for c in self.classes], dtype=np.int64)

    def digest(self) -> str:
        h = hashlib.sha256()
        # the base network's own weights (the file checksum differs between a base and a zero-shot file)
        for name, t in sorted(self.base.net.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(self.text_embeddings.tobytes())
        for part in self.binding.digest_parts():
            h.update(part)
        h.update(f"{self.threshold}".encode())
        if self.spatial is not None:  # it always comes with its statistics (see __init__)
            h.update(json.dumps(self.spatial.to_dict(), sort_keys=True).encode())
            h.update(np.ascontiguousarray(self.stats[0]).tobytes() + np.ascontiguousarray(self.stats[1]).tobytes())
        return h.hexdigest()[:16]

    def check_bands(self, da: Any) -> None:
        n = int(da.sizes["band"]) if hasattr(da, "sizes") and "band" in da.sizes else int(np.shape(da)[0])
        if n != self.n_bands:
            source = getattr(da, "attrs", {}).get("source", "the scene")
            raise BandMismatchError(f"{source}: {n} bands, but this zero-shot model was bound to a scene with "
                                    f"{self.n_bands} bands; bind it again with BaseModel.for_scene(scene, prompts).")

    def normalize(self, block: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Raw ``(B, h, w)`` -> float32 ``(B, h, w)``: non-finite values and invalid pixels set to 0.

        The engines size their tiles by the scene's band count, so the grid resampling,
        radiometric correction and brightness normalisation (all per pixel) happen in
        :meth:`predict_tile`; a pixel left all zero here is reported invalid there.
        """
        block = np.asarray(block)
        if block.ndim != 3 or block.shape[0] != self.n_bands:
            raise BandMismatchError(f"block has shape {block.shape}; this model needs ({self.n_bands}, h, w)")
        out = block.astype(np.float32, copy=True)
        out[~np.isfinite(out)] = 0.0
        if valid is not None:
            out[:, ~np.asarray(valid, dtype=bool)] = 0.0
        return out

    def features(self, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network input ``(h*w, 2G)`` and validity ``(h*w,)`` of a normalised ``(B, h, w)`` tile."""
        return self.binding.features(tile)

    def _embed(self, feats: np.ndarray, batch_size: int) -> torch.Tensor:
        flat = torch.from_numpy(feats)
        with torch.inference_mode():
            out = [self.net.embed(flat[i:i + batch_size]) for i in range(0, flat.shape[0], batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.net.out_dim)

    def pixel_probabilities(self, t: np.ndarray, batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel class probabilities ``(C, h, w)`` and validity ``(h, w)`` of a normalised tile (no filter)."""
        _, hp, wp = t.shape
        feats, ok = self.features(t)
        with torch.inference_mode():
            p = torch.softmax(self._scale * self._embed(feats, batch_size) @ self._anchors.t(), dim=-1).numpy()
        return np.ascontiguousarray(p.T.reshape(-1, hp, wp)), ok.reshape(hp, wp)

    @property
    def class_anchors(self) -> np.ndarray:
        """The classes' unit-norm joint-space anchors ``(C, D)`` (their prompts through the base model's probe)."""
        return self._anchors.numpy()

    def spectra_logits(self, spectra: np.ndarray, anchors: np.ndarray | None = None) -> np.ndarray:
        """Logits ``(N, K)`` (temperature x cosine) of normalised spectra ``(N, B)`` (as :meth:`normalize` leaves
        them) against joint-space ``anchors (K, D)`` (``None``: the classes' own)."""
        x = np.asarray(spectra, dtype=np.float32)
        feats, _ = self.features(np.ascontiguousarray(x.T).reshape(x.shape[1], x.shape[0], 1))
        a = self._anchors if anchors is None else torch.from_numpy(np.asarray(anchors, dtype=np.float32))
        with torch.inference_mode():
            return (self._scale * self._embed(feats, 65536) @ a.t()).numpy()

    def predict_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = 65536,
                     naive: bool = False) -> np.ndarray:
        """Probabilities ``(C, h, w)`` of the centre of a ``(B, h + 2r, w + 2r)`` tile (``r = radius``).

        NaN at invalid pixels and where the best class is below the threshold (decided after
        the spatial filter).
        """
        t = np.asarray(tile.cpu() if isinstance(tile, torch.Tensor) else tile, dtype=np.float32)
        _, hp, wp = t.shape
        r = self.radius
        p, ok = self.pixel_probabilities(t, batch_size)
        if r:
            mean, std = self.stats
            # in place: the guide is as large as the tile (285 x 260 x 260 float32 = 73 MB for an EMIT window),
            # and each temporary of an expression would be another one
            guide = _relative(t)
            guide -= mean[:, None, None]
            guide /= std[:, None, None]
            guide[:, ~ok] = 0.0  # invalid pixels: no weight
            p[:, ~ok] = 1.0 / p.shape[0]
            with torch.inference_mode():
                p = edge_aware_smooth(torch.from_numpy(p), torch.from_numpy(guide), r, self.spatial.tau,
                                      groups=self.spatial.groups).numpy()
            del guide  # tile-sized; the typicality test below makes its own temporaries
            ok = ok[r:hp - r, r:wp - r]
        p[:, ~ok] = np.nan
        if self.threshold > 0:
            p[:, self.unknown_mask(p, t[:, r:hp - r, r:wp - r], ok)] = np.nan
        return np.ascontiguousarray(p)

    def unknown_mask(self, p: np.ndarray, centre: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Pixels ``(h, w)`` left unknown: the best class probability is below the threshold."""
        return np.nanmax(np.where(ok, p, 0.0), axis=0) < self.threshold

    def embed_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = 65536,
                   naive: bool = False) -> np.ndarray:
        """Joint-space embeddings ``(64, h, w)`` of a tile's centre (NaN at invalid pixels; never filtered)."""
        t = np.asarray(tile.cpu() if isinstance(tile, torch.Tensor) else tile, dtype=np.float32)
        r = self.radius
        t = t[:, r:t.shape[1] - r, r:t.shape[2] - r]
        _, h, w = t.shape
        feats, ok = self.features(t)
        e = self._embed(feats, batch_size).numpy()
        e[~ok] = np.nan
        return np.ascontiguousarray(e.T.reshape(-1, h, w))

    def _values(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class values (0 = unknown / nodata) and confidence of probabilities ``(C, ...)``."""
        known = np.isfinite(p).all(0)
        best = np.where(known, np.nan_to_num(p, nan=-1.0).argmax(0), 0)
        conf = np.where(known, np.nan_to_num(p, nan=-1.0).max(0), np.nan)
        return np.where(known, self.class_values[best], 0).astype(np.int32), conf.astype(np.float32)

    def predict_array(self, cube: np.ndarray, *, threshold: float | None = None,
                      nodata: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class values ``(H, W)`` (0 = unknown / nodata) and confidence of an in-memory ``(B, H, W)`` cube."""
        model = self if threshold is None else self.with_threshold(threshold)
        cube = np.asarray(cube)
        valid = None if nodata is None else ~(cube == nodata).all(0)
        r = self.radius
        tile = np.pad(model.normalize(cube, valid), ((0, 0), (r, r), (r, r)), mode="reflect")
        return self._values(model.predict_tile(tile))

    def predict_pixels(self, cube: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class values and confidence ``(n,)`` at given pixels of a ``(B, H, W)`` cube.

        Each pixel's ``(2r + 1)^2`` window is cut from the reflect-padded scene and the windows
        are laid side by side in one strip, so the filter sees exactly each pixel's own
        neighbourhood, as in a whole-scene run.
        """
        from hsigeo.model.classifier import extract_patches

        r, s = self.radius, 2 * self.radius + 1
        padded = np.pad(self.normalize(np.asarray(cube)), ((0, 0), (r, r), (r, r)), mode="reflect")
        win = extract_patches(padded, rows, cols, r)  # (n, B, s, s)
        strip = win.transpose(1, 2, 0, 3).reshape(padded.shape[0], s, -1)  # (B, s, n*s)
        p = self.predict_tile(strip)[:, 0, ::s]  # each window's centre
        return self._values(p)

    def n_parameters(self) -> dict[str, int]:
        """Parameters of the spectral encoder + probe (trainable) and with the frozen MiniLM text model."""
        own = int(sum(p.numel() for p in self.net.parameters()))
        return {"trainable": own, "total": own + 22_713_216}

    def with_threshold(self, threshold: float) -> ZeroShotModel:
        """A copy with another unknown threshold."""
        new = copy.copy(self)
        new.threshold = float(threshold)
        return new


# ---------------------------------------------------------------------- #
# Files: the "spectral-base" and "zero-shot" types of hsigeo.model.modelfile
# ---------------------------------------------------------------------- #
def net_albedo(meta: dict[str, Any]) -> bool:
    """Whether the network a base/zero-shot file describes reads the albedo channels (models since issue 21)."""
    return bool((meta.get("net") or {}).get("albedo", False))


def net_sizes(meta: dict[str, Any]) -> tuple[int, int, int, int]:
    """``(n_grid, text_dim, hidden, embed_dim)`` of the network a base/zero-shot file describes."""
    cfg = meta.get("net") or {}
    return (int(cfg.get("n_grid", GRID.size)), int(cfg.get("text_dim", TEXT_DIM)), int(cfg.get("hidden", HIDDEN)),
            int(cfg.get("embed_dim", EMBED_DIM)))


def _net_tensors(net: BaseNet) -> dict[str, torch.Tensor]:
    return {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def base_to_file(model: BaseModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and metadata of a base model file (``model_type: "spectral-base"``)."""
    tensors = _net_tensors(model.net)
    if model.library is not None:
        tensors["reference_library"] = torch.from_numpy(np.ascontiguousarray(model.library, dtype=np.float32))
    # the container's keys are written afresh; "path" is where this copy was read from
    meta = {k: v for k, v in model.meta.items() if k not in ("path", "weights_sha256", "format", "format_version",
                                                             "model_type")}
    return tensors, meta


def zero_shot_to_file(zs: ZeroShotModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and metadata of a bound zero-shot model file (``model_type: "zero-shot"``).

    It holds the base weights, the scene binding (band centres, widths, flags, radiometric
    offset/gain, threshold) and the class text embeddings, so a dask worker or a later
    session rebuilds exactly the same predictor without the text model.
    """
    tensors = _net_tensors(zs.base.net)
    tensors["text_embeddings"] = torch.from_numpy(np.ascontiguousarray(zs.text_embeddings))
    extra = getattr(zs, "file_parts", None)  # a scene-adapted model adds its head (hsigeo.model.adapt)
    extra_tensors, extra_meta = extra() if extra is not None else ({}, {})
    tensors.update({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in extra_tensors.items()})
    meta = {k: v for k, v in zs.base.meta.items()
            if k not in ("path", "concepts", "corpus_counts", "held_out", "weights_sha256", "format",
                         "format_version", "model_type", "binding", "classes", "adaptation")}
    meta.update(extra_meta)
    meta.update(binding={**zs.binding.to_dict(), "threshold": zs.threshold,
                         "spatial_filter": None if zs.spatial is None else zs.spatial.to_dict(),
                         "band_mean": None if zs.stats is None else json_floats(zs.stats[0]),
                         "band_std": None if zs.stats is None else json_floats(zs.stats[1])},
                classes=[{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                         for c in zs.classes])
    return tensors, meta


def base_from_file(meta: dict[str, Any], tensors: dict[str, torch.Tensor], source: str) -> BaseModel:
    """A base model from its file's checked metadata and weights."""
    net = build_net(meta)
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    net.eval()
    lib = tensors.get("reference_library")
    return BaseModel(net, {**meta, "path": source}, None if lib is None else lib.numpy())


def zero_shot_from_file(meta: dict[str, Any], tensors: dict[str, torch.Tensor], source: str) -> ZeroShotModel:
    """A bound zero-shot model from its file's checked metadata and weights."""
    from hsigeo.text.prompts import PromptSet

    base = base_from_file(meta, tensors, source)
    b = meta["binding"]
    ps = PromptSet.from_dict({"classes": [{"name": c["name"], "value": c["value"],
                                           "colour": "#%02x%02x%02x" % tuple(c["colour"]), "prompts": c["prompts"]}
                                          for c in meta["classes"]]})
    binding = SensorBinding.from_dict(b, source=source)
    spatial = SpatialFilter.from_dict(b.get("spatial_filter"))
    stats = None
    if spatial is not None and b.get("band_mean") is not None and b.get("band_std") is not None:
        stats = (float_array(b["band_mean"]), float_array(b["band_std"]))
    return ZeroShotModel(base, ps, binding, float(b["threshold"]), tensors["text_embeddings"].numpy(),
                         spatial=spatial, stats=stats)


def save_base(model: BaseModel | ZeroShotModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a base model (or a bound zero-shot model): :func:`hsigeo.model.modelfile.save_model`.

    The file is a zip of ``metadata.json`` + ``weights.safetensors`` like every hsigeo
    model file, written deterministically so a rebuild with the same inputs gives the same
    bytes.
    """
    from hsigeo.model.modelfile import save_model

    return save_model(model, path, overwrite=overwrite)


def load_base(path: str | os.PathLike | None = None) -> Any:
    """Load a base model file (``None``: the one shipped with hsigeo), or a bound zero-shot model file.

    The bounded loader of every model type, :func:`hsigeo.model.modelfile.load_model`.

    Returns
    -------
    BaseModel or ZeroShotModel
        Depending on the file's ``model_type``.

    Raises
    ------
    ModelFileError
        When the file is missing, damaged, or neither kind.
    """
    from hsigeo.model.modelfile import MODEL_TYPES, load_model, read_metadata

    path = shipped_base_path() if path is None else path
    kind = read_metadata(path).get("model_type")
    kinds = (MODEL_TYPE, ZERO_SHOT_TYPE, ADAPTED_TYPE)
    if kind not in kinds:
        raise ModelFileError(f"{path}: a {kind or 'trained'} model file, not a base or zero-shot model "
                             f"({', '.join(k for k in MODEL_TYPES if k in kinds)}); "
                             "pass the base model file, or load it with hsigeo.load_model.")
    return load_model(path)
