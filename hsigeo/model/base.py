"""The base model: a spectral encoder aligned with the frozen text model, for prompt-only mapping.

Pieces:

- :class:`BaseNet`: per-pixel spectral encoder (input: the brightness-normalised spectrum on
  the base grid, its coverage mask and, in models built since issue 21, the albedo channel and
  its flag, see :mod:`hsigeo.speclib.grid`) and a linear text probe into the same 64-d joint
  space, with a learnable temperature.
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
import io
import json
import os
import threading
import zipfile
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
from hsigeo.speclib.grid import GRID, coverage_text

__all__ = ["BaseNet", "BaseModel", "ZeroShotModel", "save_base", "load_base", "shipped_base_path",
           "base_bytes", "zero_shot_bytes", "is_base_file", "read_base_metadata",
           "MODEL_TYPE"]

MODEL_TYPE = "spectral-base"
_META, _WEIGHTS = "metadata.json", "weights.safetensors"
EMBED_DIM = 64


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
        (:func:`hsigeo.speclib.grid.albedo_channels`).
    """

    def __init__(self, n_grid: int, text_dim: int, hidden: int = 256, embed_dim: int = EMBED_DIM,
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

    def encode_prompts(self, prompt_set: Any, encoder: Any = None) -> np.ndarray:
        """Text embeddings ``(C, T)`` of a prompt set (mean of each class's prompts)."""
        from hsigeo.text.encoder import TextEncoder, class_embeddings

        if encoder is None:
            encoder = TextEncoder()
        if encoder.dim != self.net.probe.in_features:
            raise ModelFileError(
                f"text model {encoder.model_id} gives {encoder.dim}-d embeddings; the base model's probe takes "
                f"{self.net.probe.in_features}-d ones ({self.meta.get('text_model', {}).get('id')}). "
                "Use the default text model (all-MiniLM-L6-v2) with the base model."
            )
        return class_embeddings(prompt_set, encoder)

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
            scene-level offset and gain, :mod:`hsigeo.speclib.radiometry`) or ``"auto"``
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
            trained models use); ``0`` or no scene pixels: per-pixel maps.  On Indian Pines'
            coarse classes it took prompt-only OA from 73.4 to 74.5 %; the SAM baseline's map
            put through the same filter falls from 69.2 to 67.5 %.
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
        if scene is not None and (radiometry != "reflectance" or smooth_radius or self.net.albedo):
            pix = _sample_pixels(scene, sample_pixels, seed)
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


def _relative(x: np.ndarray) -> np.ndarray:
    """Spectra ``(B, ...)`` divided by each pixel's mean over bands: the filter's guide ignores brightness.

    Reflectance 0-1, x 10000 and shade give the same guide, as they give the same classes.
    """
    m = np.mean(x, axis=0, keepdims=True)
    return (x / np.where(np.abs(m) > 0, m, 1.0)).astype(np.float32)


class ZeroShotModel:
    """The base model bound to one scene's bands and one prompt set (the engines' model contract).

    Built by :meth:`BaseModel.for_scene`.  ``normalize`` maps raw band values onto the
    grid, applies the radiometric correction when one was estimated and normalises
    brightness; ``predict_tile`` gives class probabilities, NaN where the best class is
    below the unknown threshold.
    """

    embed_dim = EMBED_DIM

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
        self.report = {"kind": "zero-shot", "base_model": base.meta.get("name", "base"),
                       "radiometry": binding.radiometry, "threshold": self.threshold,
                       "coverage": coverage_text(binding.resampler.mask), "reflectance_scale": binding.scale}
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
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def class_values(self) -> np.ndarray:
        return np.asarray([c.value for c in self.classes], dtype=np.int64)

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps(self.base.meta.get("weights_sha256", "")).encode())
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
        return torch.cat(out) if out else torch.zeros(0, EMBED_DIM)

    def predict_tile(self, tile: np.ndarray | torch.Tensor, *, device: Any = None, batch_size: int = 65536,
                     naive: bool = False) -> np.ndarray:
        """Probabilities ``(C, h, w)`` of the centre of a ``(B, h + 2r, w + 2r)`` tile (``r = radius``).

        NaN at invalid pixels and where the best class is below the threshold (decided after
        the spatial filter).
        """
        t = np.asarray(tile.cpu() if isinstance(tile, torch.Tensor) else tile, dtype=np.float32)
        _, hp, wp = t.shape
        r = self.radius
        feats, ok = self.features(t)
        with torch.inference_mode():
            p = torch.softmax(self._scale * self._embed(feats, batch_size) @ self._anchors.t(), dim=-1).numpy()
        p = np.ascontiguousarray(p.T.reshape(-1, hp, wp))
        ok = ok.reshape(hp, wp)
        if r:
            mean, std = self.stats
            guide = (_relative(t) - mean[:, None, None]) / std[:, None, None]
            guide[:, ~ok] = 0.0  # invalid pixels: no weight
            p[:, ~ok] = 1.0 / p.shape[0]
            with torch.inference_mode():
                p = edge_aware_smooth(torch.from_numpy(p), torch.from_numpy(guide), r, self.spatial.tau,
                                      groups=self.spatial.groups).numpy()
            ok = ok[r:hp - r, r:wp - r]
        p[:, ~ok] = np.nan
        if self.threshold > 0:
            p[:, np.nanmax(np.where(ok, p, 0.0), axis=0) < self.threshold] = np.nan
        return np.ascontiguousarray(p)

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
# Files
# ---------------------------------------------------------------------- #
def _weights_bytes(net: BaseNet, library: np.ndarray | None) -> bytes:
    from safetensors.torch import save

    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if library is not None:
        tensors["reference_library"] = torch.from_numpy(np.ascontiguousarray(library, dtype=np.float32))
    # one metadata key only: safetensors writes its metadata map in hash order, so two keys
    # can swap places between runs and break byte-for-byte rebuilds (model_type is in the JSON)
    return save(tensors, metadata={"format": "hsigeo-model"})


def _archive(meta: dict[str, Any], weights: bytes) -> bytes:
    """The ``.hsigeo`` zip, byte-for-byte deterministic (fixed member dates, sorted JSON keys)."""
    buf = io.BytesIO()
    meta_bytes = json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False).encode()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((_META, meta_bytes), (_WEIGHTS, weights)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def base_bytes(model: BaseModel) -> bytes:
    """A base model as ``.hsigeo`` file bytes (see :func:`save_base`)."""
    weights = _weights_bytes(model.net, model.library)
    meta = {k: v for k, v in model.meta.items() if k != "path"}
    meta.update(format="hsigeo-model", format_version=1, model_type=MODEL_TYPE,
                weights_sha256=hashlib.sha256(weights).hexdigest())
    model.meta.update(weights_sha256=meta["weights_sha256"])
    return _archive(meta, weights)


def zero_shot_bytes(zs: ZeroShotModel) -> bytes:
    """A bound zero-shot model as ``.hsigeo`` file bytes (``model_type: "zero-shot"``).

    It holds the base weights, the scene binding (band centres, widths, flags, radiometric
    offset/gain, threshold) and the class text embeddings, so a dask worker or a later
    session rebuilds exactly the same predictor without the text model.
    """
    from safetensors.torch import save

    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in zs.base.net.state_dict().items()}
    tensors["text_embeddings"] = torch.from_numpy(np.ascontiguousarray(zs.text_embeddings))
    weights = save(tensors, metadata={"format": "hsigeo-model"})  # one key: see _weights_bytes
    meta = {k: v for k, v in zs.base.meta.items() if k not in ("path", "concepts", "corpus_counts", "held_out")}
    meta.update(format="hsigeo-model", format_version=1, model_type="zero-shot",
                weights_sha256=hashlib.sha256(weights).hexdigest(),
                binding={**zs.binding.to_dict(), "threshold": zs.threshold,
                         "spatial_filter": None if zs.spatial is None else zs.spatial.to_dict(),
                         "band_mean": None if zs.stats is None else json_floats(zs.stats[0]),
                         "band_std": None if zs.stats is None else json_floats(zs.stats[1])},
                classes=[{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                         for c in zs.classes])
    return _archive(meta, weights)


def save_base(model: BaseModel | ZeroShotModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a base model (or a bound zero-shot model) as one ``.hsigeo`` file, atomically.

    The file is a zip of ``metadata.json`` + ``weights.safetensors`` like every hsigeo
    model file, written deterministically so a rebuild with the same inputs gives the same
    bytes.
    """
    from hsigeo.outputs import atomic_output

    data = zero_shot_bytes(model) if isinstance(model, ZeroShotModel) else base_bytes(model)
    path = Path(path)
    with atomic_output(path, overwrite=overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return path


def read_base_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a base model file (no weights loaded)."""
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(_META))


def is_base_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a base or zero-shot model file (not a trained scene model)."""
    try:
        return read_base_metadata(path).get("model_type") in (MODEL_TYPE, "zero-shot")
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError):
        return False


def load_base(path: str | os.PathLike | None = None) -> Any:
    """Load a base model file (``None``: the one shipped with hsigeo), or a bound zero-shot model file.

    Returns
    -------
    BaseModel or ZeroShotModel
        Depending on the file's ``model_type``.

    Raises
    ------
    ModelFileError
        When the file is missing, damaged, or neither kind.
    """
    from safetensors.torch import load

    path = Path(path) if path is not None else shipped_base_path()
    if not path.is_file():
        raise ModelFileError(
            f"{path}: base model file not found. The base model ships inside the hsigeo package "
            "(hsigeo/data/base_model.hsigeo); reinstall hsigeo or rebuild it with scripts/build_base_model.py."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(_META))
            weights = zf.read(_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable hsigeo model file ({exc}).") from exc
    kind = meta.get("model_type")
    if kind not in (MODEL_TYPE, "zero-shot"):
        raise ModelFileError(f"{path}: model_type is {kind!r}, not {MODEL_TYPE!r} or 'zero-shot'.")
    if hashlib.sha256(weights).hexdigest() != meta.get("weights_sha256"):
        raise ModelFileError(f"{path}: weights do not match their recorded sha256 (damaged file).")
    tensors = load(weights)
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    cfg = meta.get("net", {})
    net = BaseNet(int(cfg.get("n_grid", GRID.size)), int(cfg.get("text_dim", 384)), int(cfg.get("hidden", 256)),
                  int(cfg.get("embed_dim", EMBED_DIM)), albedo=bool(cfg.get("albedo", False)))
    net.load_state_dict(state)
    net.eval()
    meta["path"] = str(path)
    lib = tensors.get("reference_library")
    base = BaseModel(net, meta, None if lib is None else lib.numpy())
    if kind == MODEL_TYPE:
        return base
    from hsigeo.text.prompts import PromptSet

    b = meta["binding"]
    ps = PromptSet.from_dict({"classes": [{"name": c["name"], "value": c["value"],
                                           "colour": "#%02x%02x%02x" % tuple(c["colour"]), "prompts": c["prompts"]}
                                          for c in meta["classes"]]})
    binding = SensorBinding.from_dict(b, source=str(path))
    spatial = SpatialFilter.from_dict(b.get("spatial_filter"))
    stats = None
    if spatial is not None and b.get("band_mean") is not None and b.get("band_std") is not None:
        stats = (float_array(b["band_mean"]), float_array(b["band_std"]))
        if stats[0].shape != (int(b["n_bands"]),) or stats[1].shape != stats[0].shape:
            raise ModelFileError(f"{path}: band statistics do not match the model's {b['n_bands']} bands.")
    return ZeroShotModel(base, ps, binding, float(b["threshold"]), tensors["text_embeddings"].numpy(),
                         spatial=spatial, stats=stats)
