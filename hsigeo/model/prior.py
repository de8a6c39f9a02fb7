"""The base model's material embedding as extra input channels of a trained model (``--init base``).

A trained model sees each pixel's bands, standardised per band over the scene.  With
``init="base"`` (``hsigeo train --init base``) it also sees, per pixel, the 64-d embedding the
shipped base model (:mod:`hsigeo.model.base`) gives the pixel's spectrum: what the spectral
libraries taught it about materials (vegetation vigour, soil, residue, water, built surfaces),
read through the scene's own sensor binding (band resampling and radiometric correction,
:mod:`hsigeo.model.binding`).  The base encoder is frozen; the spectral-spatial backbone learns
from the scene's labels how to use both inputs.

Why input channels rather than fine-tuning the per-pixel base encoder: with few labels the
fine-tuned per-pixel encoder scored below the spectral-spatial model from scratch, and the
same model with the base embedding as 64 more input channels scored above both (measured
figures and the command that printed them: README, "Few labels on top").

The prior is per pixel (radius 0), so tiles need no more halo, and every engine runs a
model with a prior unchanged: :meth:`HsigeoModel.normalize <hsigeo.model.classifier.HsigeoModel.normalize>`
appends its channels to each raw block before standardising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hsigeo.errors import ModelFileError
from hsigeo.model.binding import SensorBinding

__all__ = ["BasePrior", "base_prior"]


@dataclass(frozen=True)
class BasePrior:
    """A frozen base spectral encoder bound to one sensor: raw ``(B, h, w)`` -> ``(E, h, w)``.

    Attributes
    ----------
    encoder
        The base model's spectral encoder (``BaseNet.encoder``), in evaluation mode.
    binding
        The sensor binding (grid resampling, radiometric correction).
    source
        Provenance: base model name and weight checksum.
    """

    encoder: nn.Module
    binding: SensorBinding
    source: dict[str, Any]

    @property
    def dim(self) -> int:
        """Channels it adds (the base model's joint-space size)."""
        return int(self.encoder[-1].out_features)

    @property
    def n_bands(self) -> int:
        """Raw bands it reads (those of the scene it was bound to)."""
        return self.binding.n_bands

    def __call__(self, block: np.ndarray, *, max_pixels: int = 65536) -> np.ndarray:
        """Unit-norm embeddings ``(E, h, w)`` of a raw ``(B, h, w)`` block; 0 at unusable pixels.

        Unusable: nodata (all-zero or non-finite) and spectra without positive brightness.  Works
        through strips of at most ``max_pixels`` pixels, so the grid features of a large scene
        never exist all at once.  NumPy in and out, on the CPU; :meth:`channels` is the same on
        any device.
        """
        b, h, w = block.shape
        flat = torch.from_numpy(np.ascontiguousarray(np.asarray(block, dtype=np.float32).reshape(b, -1).T))
        return self.channels(flat, max_pixels=max_pixels).t().reshape(self.dim, h, w).numpy()

    def channels(self, flat: torch.Tensor, *, max_pixels: int = 65536) -> torch.Tensor:
        """Unit-norm embeddings ``(N, E)`` of raw pixels ``(N, B)``, on their device; 0 at unusable pixels.

        Runs where the tensor is (the model step, batched with the network, issue 22): the grid
        resampling, radiometric correction, brightness normalisation and the frozen encoder.
        """
        out = torch.zeros((flat.shape[0], self.dim), dtype=torch.float32, device=flat.device)
        encoder = self._encoder_on(flat.device)
        with torch.inference_mode():
            for i in range(0, flat.shape[0], max(1, int(max_pixels))):
                feats, ok = self.binding.features_tensor(flat[i:i + max_pixels])
                if bool(ok.any()):
                    out[i:i + max_pixels][ok] = torch.nn.functional.normalize(encoder(feats[ok]), dim=-1)
        return out

    def _encoder_on(self, device: torch.device) -> nn.Module:
        """The frozen encoder on ``device`` (one copy per device, made once; the CPU one is ``encoder``)."""
        if device.type == "cpu":
            return self.encoder
        cache = self.__dict__.setdefault("_device_encoders", {})  # frozen dataclass: a private cache
        if str(device) not in cache:
            import copy

            cache[str(device)] = copy.deepcopy(self.encoder).to(device).eval()
        return cache[str(device)]

    def __getstate__(self) -> dict[str, Any]:
        # the per-device copies are a cache: never pickled (a dask worker may have no GPU)
        return {k: v for k, v in self.__dict__.items() if k != "_device_encoders"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def n_parameters(self) -> int:
        """Parameters of the frozen encoder."""
        return int(sum(p.numel() for p in self.encoder.parameters()))

    # -- model files ------------------------------------------------------ #
    def tensors(self) -> dict[str, torch.Tensor]:
        """Weights for the model file's safetensors (keys ``prior.encoder.*``)."""
        return {f"prior.encoder.{k}": v.detach().cpu().contiguous() for k, v in self.encoder.state_dict().items()}

    def to_dict(self) -> dict[str, Any]:
        """Metadata for the model file's JSON: layer sizes, binding, provenance."""
        lin = [m for m in self.encoder if isinstance(m, nn.Linear)]
        # an albedo-reading encoder has 2 inputs beyond spectrum and mask (the binding says so)
        n_grid = (lin[0].in_features - (2 if self.binding.albedo else 0)) // 2
        return {"kind": "base-embedding", "n_grid": n_grid, "hidden": lin[0].out_features,
                "dim": self.dim, "binding": self.binding.to_dict(), "source": dict(self.source)}

    @classmethod
    def from_parts(cls, meta: dict[str, Any], tensors: dict[str, torch.Tensor], *, source: str) -> BasePrior:
        """Rebuild from :meth:`to_dict` and :meth:`tensors` (a model file's two members).

        Raises
        ------
        ModelFileError
            When the record or the weights do not fit together.
        """
        from hsigeo.model.base import BaseNet

        try:
            n_grid, hidden, dim = int(meta["n_grid"]), int(meta["hidden"]), int(meta["dim"])
            if not (0 < n_grid <= 4096 and 0 < hidden <= 4096 and 0 < dim <= 4096):
                raise ValueError("layer sizes out of range")
            binding = SensorBinding.from_dict(meta.get("binding") or {}, source=source)
            encoder = BaseNet(n_grid, 1, hidden, dim, albedo=binding.albedo).encoder
            state = {k[len("prior.encoder."):]: v for k, v in tensors.items() if k.startswith("prior.encoder.")}
            encoder.load_state_dict(state, strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{source}: its base-model input channels (prior) are damaged ({exc}).") from exc
        return cls(encoder.eval(), binding, dict(meta.get("source") or {}))


def base_prior(scene: Any, *, base: Any = None, wavelengths: Any = None, radiometry: str = "auto",
               seed: int = 0) -> BasePrior:
    """Bind the shipped base model's encoder (or ``base``, a :class:`~hsigeo.model.base.BaseModel`
    or a base model file) to a scene's sensor.

    Parameters
    ----------
    scene
        ``(band, y, x)`` DataArray with wavelengths (FWHM and bad-band flags when known).
    base
        Base model or file (``None``: the one shipped with hsigeo).
    wavelengths
        Band centres (nm) when ``scene`` has none, or is ``None`` (then nothing is estimated
        from pixels: the spectra are taken as reflectance unless ``radiometry`` says otherwise).
    radiometry
        See :func:`hsigeo.model.binding.bind_sensor`.
    seed
        Seeds the radiometric estimate.

    Raises
    ------
    HsigeoError
        When the scene has no wavelengths (the message says how to supply them).
    """
    import copy

    from hsigeo.model.base import BaseModel, load_base

    model = base if isinstance(base, BaseModel) else load_base(base)
    if not isinstance(model, BaseModel):
        raise ModelFileError(f"{base}: a bound zero-shot model file, not a base model; pass the base model file.")
    binding = model.bind(scene, wavelengths=wavelengths, radiometry=radiometry, seed=seed)
    encoder = copy.deepcopy(model.net.encoder).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    source = {"name": model.meta.get("name", "base"), "weights_sha256": model.meta.get("weights_sha256")}
    return BasePrior(encoder, binding, source)
