"""Edge-aware smoothing of class probabilities, guided by the spectra (part of inference).

A patch classifier labels every pixel from its own patch, so neighbouring pixels of one field
can disagree where the patches differ a little (isolated wrong pixels inside fields).  The
filter replaces each pixel's class probabilities by a weighted mean over its
``(2 r + 1)^2`` neighbourhood, where a neighbour's weight falls with the spectral angle
between its spectrum and the centre's:

.. math::  w_{ij} = \\exp\\big((\\cos\\angle(x_i, x_j) - 1) / \\tau\\big)

(``x`` the standardised spectra).  Inside a field (near-identical spectra) it averages; across
a field border, a road or a building edge the weights vanish, so narrow features survive,
unlike a majority or mean filter.  This is the classic edge-preserving spectral-spatial
post-filter of hyperspectral classification, made a fixed part of the model so that every
engine (tiled, dask, cluster, whole scene) gives the same map: the model's ``radius`` (the tile
halo) includes the filter's.

What the filter does to accuracy (the same trained network with and without it, on the
benchmark scenes) and what it costs in pixels per second are measured figures, kept with the
commands that produce them in the README ("The model", edge-aware probability filter) rather
than here, where they would go stale.  Two design choices rest on them: the filter weighs
neighbours by spectral agreement rather than taking a plain mean of the probabilities (a plain
mean lost small objects on the synthetic scene), and it compares 20 band-group means rather
than every band (same maps, a fraction of the cost).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from hsigeo.errors import InvalidInputError

__all__ = ["SpatialFilter", "edge_aware_smooth"]


@dataclass(frozen=True)
class SpatialFilter:
    """Settings of :func:`edge_aware_smooth`.

    Attributes
    ----------
    radius
        Neighbourhood half-side ``r`` in pixels (``0``: no filtering).
    tau
        Angular scale: a neighbour whose spectrum has cosine ``1 - tau`` to the centre's gets
        weight ``1/e``.
    groups
        The angle is taken between spectra averaged over this many runs of adjacent bands
        (hyperspectral neighbours are strongly correlated, so the shape survives, and the cost
        falls tenfold for 200 bands).
    """

    radius: int = 2
    tau: float = 0.2
    groups: int = 20

    def __post_init__(self) -> None:
        if not 0 <= int(self.radius) <= 16:
            raise InvalidInputError(f"spatial filter radius must be 0..16, got {self.radius}")
        if not self.tau > 0:
            raise InvalidInputError(f"spatial filter tau must be > 0, got {self.tau}")
        if not 1 <= int(self.groups) <= 4096:
            raise InvalidInputError(f"spatial filter groups must be 1..4096, got {self.groups}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def optional(cls, radius: int, tau: float = 0.2) -> SpatialFilter | None:
        """The filter of a training option or CLI flag: radius ``0`` means none (a per-pixel map)."""
        return cls(int(radius), float(tau)) if int(radius) > 0 else None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SpatialFilter | None:
        """Build from a dict; ``None`` (a model file written before the filter existed) stays ``None``."""
        if not data:
            return None
        return cls(radius=int(data.get("radius", 0)), tau=float(data.get("tau", 0.2)),
                   groups=int(data.get("groups", 20)))


def _unit(guide: torch.Tensor, groups: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit (band-group mean) spectra and a validity mask (all-zero spectra: the engines' invalid pixels)."""
    guide = guide.float()
    n = guide.shape[-3]
    if groups is not None and groups < n:
        edges = [round(i * n / groups) for i in range(groups + 1)]
        guide = torch.stack([guide[..., a:b, :, :].mean(dim=-3) for a, b in zip(edges[:-1], edges[1:], strict=True)],
                            dim=-3)
    norm = guide.norm(dim=-3, keepdim=True)
    return guide / norm.clamp_min(1e-12), (norm[..., 0, :, :] > 0).float()


def edge_aware_smooth(probs: torch.Tensor, guide: torch.Tensor, radius: int, tau: float,
                      *, groups: int | None = None, max_elements: int = 8_000_000) -> torch.Tensor:
    """Smooth ``probs`` over each pixel's neighbourhood with spectral-angle weights.

    Parameters
    ----------
    probs
        ``(..., C, h + 2r, w + 2r)`` class probabilities of a tile and an ``r``-pixel ring
        around it (leading dimensions: a batch of tiles).
    guide
        ``(..., B, h + 2r, w + 2r)`` standardised spectra of the same pixels; invalid pixels are
        all zero (as :meth:`~hsigeo.model.classifier.HsigeoModel.normalize` leaves them) and get
        no weight.
    radius, tau, groups
        As in :class:`SpatialFilter` (``groups=None``: every band on its own).
    max_elements
        Rows are processed in strips of at most this many guide values, bounding memory.

    Returns
    -------
    torch.Tensor
        ``(..., C, h, w)`` probabilities, still summing to 1 over classes.  A pixel with no
        valid neighbour (itself invalid) keeps its own probabilities.
    """
    r = int(radius)
    if r == 0:
        return probs
    h, w = probs.shape[-2] - 2 * r, probs.shape[-1] - 2 * r
    if h < 1 or w < 1 or guide.shape[-2:] != probs.shape[-2:] or guide.shape[:-3] != probs.shape[:-3]:
        raise InvalidInputError(f"probabilities {tuple(probs.shape)} and guide {tuple(guide.shape)} do not fit "
                                f"a radius-{r} filter")
    unit, valid = _unit(guide, groups)
    lead = probs.shape[:-2]  # (..., C)
    out = torch.empty((*lead, h, w), dtype=torch.float32, device=probs.device)
    per_row = max(1, unit[..., 0, 0].numel() * (w + 2 * r))
    rows = max(1, max_elements // per_row)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        centre = unit[..., r + y0 : r + y1, r : r + w]
        acc = torch.zeros((*lead, y1 - y0, w), dtype=torch.float32, device=probs.device)
        wsum = torch.zeros((*lead[:-1], 1, y1 - y0, w), dtype=torch.float32, device=probs.device)
        for dy in range(2 * r + 1):
            for dx in range(2 * r + 1):
                ys, xs = slice(y0 + dy, y1 + dy), slice(dx, dx + w)
                cos = torch.einsum("...bhw,...bhw->...hw", unit[..., ys, xs], centre)
                wgt = (torch.exp((cos - 1.0) / tau) * valid[..., ys, xs]).unsqueeze(-3)
                acc += wgt * probs[..., ys, xs].float()
                wsum += wgt
        own = probs[..., r + y0 : r + y1, r : r + w].float()
        out[..., y0:y1, :] = torch.where(wsum > 0, acc / wsum.clamp_min(1e-30), own)
    return out
