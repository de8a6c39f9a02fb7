"""Scene-level radiometric normalisation: at-sensor radiance to relative reflectance.

The base model learned reflectance spectra.  Many scenes (the AVIRIS benchmark cubes among
them) are at-sensor radiance: the solar spectrum, atmospheric absorptions (water vapour at
940 and 1130 nm) and path radiance shape every pixel far more than the material does.
:func:`estimate_correction` removes both in the spirit of QUAC (Bernstein et al.): the
*darkest* value of each band estimates the additive path radiance, and the mean of a
scene's diverse materials (k-means centres of the brightness-normalised spectra) divided by
the mean of the library's ordinary land materials estimates the multiplicative gain (solar
irradiance x transmittance).  The result is relative reflectance, good up to a smooth
error where the scene's materials are not diverse.

:func:`looks_like_radiance` decides when the correction is applied by default: radiance
has deep water-vapour bands at 940 and 1130 nm that reflectance products do not.
"""

from __future__ import annotations

import numpy as np

from .grid import GRID, brightness_normalize

__all__ = ["looks_like_radiance", "estimate_correction", "apply_correction", "water_vapour_depth"]


def _g(nm: float) -> int:
    return int(np.argmin(np.abs(GRID - nm)))


def water_vapour_depth(grid_spectra: np.ndarray, mask: np.ndarray) -> float | None:
    """Relative depth of the 940 and 1130 nm water-vapour bands in the median spectrum.

    ``None`` when the scene does not cover them.  Reflectance: about 0 (vegetation's
    liquid-water bands give up to ~0.1); radiance: 0.3-0.6.
    """
    med = np.median(grid_spectra, axis=0)
    depths = []
    for lo, c, hi in ((870, 940, 1040), (1060, 1130, 1250)):
        i, j, k = _g(lo), _g(c), _g(hi)
        if mask[i] and mask[j] and mask[k]:
            cont = med[i] + (med[k] - med[i]) * (GRID[j] - GRID[i]) / (GRID[k] - GRID[i])
            if cont > 0:
                depths.append(1.0 - med[j] / cont)
    return float(np.mean(depths)) if depths else None


def looks_like_radiance(grid_spectra: np.ndarray, mask: np.ndarray, *, threshold: float = 0.12) -> bool:
    """Whether a sample of grid spectra looks like uncorrected at-sensor radiance."""
    d = water_vapour_depth(grid_spectra, mask)
    return d is not None and d > threshold


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    """Plain Lloyd's k-means with k-means++ seeding; returns the labels."""
    n = x.shape[0]
    centres = [x[int(rng.integers(n))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[int(rng.choice(n, p=p))])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.stack(centres)
    for _ in range(iters):
        lab = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            if (lab == j).any():
                c[j] = x[lab == j].mean(0)
    return lab


def estimate_correction(grid_spectra: np.ndarray, mask: np.ndarray, reference: np.ndarray, *, k: int = 12,
                        seed: int = 0, dark_percentile: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Offset and gain turning a scene's grid spectra into relative reflectance.

    Parameters
    ----------
    grid_spectra
        ``(N, G)`` sample of the scene's valid pixels on the grid (any units).
    mask
        ``(G,)`` covered grid bands.
    reference
        ``(G,)`` mean reflectance of diverse land materials (unit mean), stored in the
        base model.
    k
        Number of material clusters.
    seed, dark_percentile
        k-means seed; percentile of each band taken as the path-radiance offset.

    Returns
    -------
    offset, gain
        ``(G,)`` each; reflectance ~ ``(x - offset) / gain`` (gain 1 at masked bands).
    """
    x = np.asarray(grid_spectra, dtype=np.float64)
    offset = np.where(mask, np.percentile(x, dark_percentile, axis=0), 0.0)
    y = np.clip(x - offset, 0.0, None)
    yn, ok = brightness_normalize(y, mask)
    yn, y = yn[ok], y[ok]
    rng = np.random.default_rng(seed)
    lab = _kmeans(yn.astype(np.float64), min(k, max(1, len(yn) // 20)), rng)
    centres = np.stack([yn[lab == j].mean(0) for j in np.unique(lab)])
    scene_mean = centres.mean(0)
    ref = np.where(mask, reference, 1.0)
    gain = np.where(mask & (scene_mean > 0), scene_mean / np.maximum(ref, 1e-6), 1.0)
    gain = np.where(gain > 0, gain, 1.0)
    return offset.astype(np.float32), gain.astype(np.float32)


def apply_correction(x: np.ndarray, offset: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``(x - offset) / gain`` along the last axis, clipped at 0."""
    return np.clip((x - offset) / gain, 0.0, None).astype(np.float32)
