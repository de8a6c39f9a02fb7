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
:func:`reflectance_scale` recognises the two common encodings of a reflectance product (0-1
and x 10000), so the base model may read albedo; any other scale leaves it unread.
"""

from __future__ import annotations

import numpy as np

from hsigeo.spectra.grid import GRID, brightness_normalize

__all__ = ["looks_like_radiance", "estimate_correction", "apply_correction", "water_vapour_depth",
           "reflectance_scale"]


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


def reflectance_scale(grid_spectra: np.ndarray, mask: np.ndarray) -> float | None:
    """Factor from a reflectance scene's units to reflectance 0-1, or ``None`` when not recognised.

    The median over pixels of each pixel's mean over the covered bands is 0.02-0.5 for land
    in reflectance 0-1 and 200-5000 for reflectance x 10000 (int16 products such as EnMAP,
    PRISMA and EMIT L2A deliveries, the hsigeo demo).  Medians within a factor of about 3 of
    those ranges are accepted; anything else (percent, DN, unknown) gives ``None``.
    """
    x = np.asarray(grid_spectra, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if x.size == 0 or not m.any():
        return None
    med = float(np.median(x[:, m].mean(1)))
    if 0.005 <= med <= 1.5:
        return 1.0
    if 50.0 <= med <= 15000.0:
        return 1e-4
    return None


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


def _quac_gain(y: np.ndarray, mask: np.ndarray, reference: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Gain from the mean of k-means material centres over the library's land mean (QUAC's idea)."""
    yn, ok = brightness_normalize(y, mask)
    yn = yn[ok]
    rng = np.random.default_rng(seed)
    lab = _kmeans(yn.astype(np.float64), min(k, max(1, len(yn) // 20)), rng)
    scene_mean = np.stack([yn[lab == j].mean(0) for j in np.unique(lab)]).mean(0)
    ref = np.where(mask, reference, 1.0)
    gain = np.where(mask & (scene_mean > 0), scene_mean / np.maximum(ref, 1e-6), 1.0)
    return np.where(gain > 0, gain, 1.0)


def _correction(grid_spectra: np.ndarray, mask: np.ndarray, reference: np.ndarray,
                        library: np.ndarray | None = None, *, k: int = 12, seed: int = 0, iters: int = 6,
                        max_pixels: int = 4000, dark_start: bool = True,
                        dark_percentile: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Offset and gain turning a scene's grid spectra into relative reflectance.

    Start: QUAC-like gain (mean of the scene's k-means material centres over the library's
    mean land spectrum), no offset.  Then, when a reference ``library`` of reflectance
    spectra is given, a few rounds of an *empirical line with library pseudo-targets*: each
    sampled pixel is matched (spectral angle) to its closest library spectrum, scaled to the
    pixel's brightness, and every band's gain and offset are refitted by least squares of
    the pixel values on the matched reflectances (the worst-matching fifth of the pixels is
    left out).  Materials the library knows then pin the shape of the gain, and the
    regression's intercept removes path radiance and detector offsets (Indian Pines carries
    about 1,000 DN of them).

    Parameters
    ----------
    grid_spectra
        ``(N, G)`` sample of the scene's valid pixels on the grid (any units).
    mask
        ``(G,)`` covered grid bands.
    reference
        ``(G,)`` mean reflectance of diverse land materials (unit mean), stored in the
        base model.
    library
        ``(L, G)`` reflectance spectra to match pixels against (the base model stores a
        few per concept); ``None`` keeps the QUAC-like estimate without offset.
    k, seed, iters, max_pixels
        k-means clusters and seed; refinement rounds; pixels used.
    dark_start, dark_percentile
        Start from dark-object subtraction (each band's ``dark_percentile`` percentile); the
        refined offset stays between 0 and that value.

    Returns
    -------
    offset, gain
        ``(G,)`` each; reflectance ~ ``(x - offset) / gain`` (offset 0 and gain 1 at masked bands).
    """
    x = np.asarray(grid_spectra, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if x.shape[0] > max_pixels:
        x = x[np.sort(rng.choice(x.shape[0], max_pixels, replace=False))]
    # dark-object start: the darkest pixels of a land scene reflect a few per cent at most,
    # so nearly all of their signal is path radiance and detector offset
    offset = np.where(mask, np.percentile(x, dark_percentile, axis=0), 0.0) if dark_start else np.zeros(x.shape[1])
    gain = _quac_gain(np.clip(x - offset, 0, None), mask, reference, k, seed)
    if library is not None and iters > 0:
        lib = np.where(mask, np.asarray(library, dtype=np.float64), 0.0)
        lib_n = lib / np.maximum(np.linalg.norm(lib, axis=1, keepdims=True), 1e-12)
        cols = np.flatnonzero(mask)
        dark = np.percentile(x, dark_percentile, axis=0)
        for _ in range(iters):
            y = np.where(mask, (x - offset) / gain, 0.0)
            yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
            cos = yn @ lib_n.T
            best = np.argmax(cos, axis=1)
            fit = cos[np.arange(len(best)), best]
            keep = fit >= np.quantile(fit, 0.2)
            r = lib[best[keep]]
            # brightness of each pixel in the library's units, from the current estimate
            scale = y[keep][:, cols].sum(1) / np.maximum(r[:, cols].sum(1), 1e-12)
            z = r * scale[:, None]
            xs = x[keep]
            zm, xm = z[:, cols].mean(0), xs[:, cols].mean(0)
            cov = ((z[:, cols] - zm) * (xs[:, cols] - xm)).mean(0)
            var = ((z[:, cols] - zm) ** 2).mean(0)
            g_new = np.where(var > 1e-12, cov / np.maximum(var, 1e-12), gain[cols])
            o_new = xm - g_new * zm
            # path radiance is >= 0 and below the darkest pixel: clamp, then refit the gain
            # through the clamped offset (least squares through that point)
            o_new = np.clip(o_new, 0.0, dark[cols])
            zc = z[:, cols]
            g_new = (zc * (xs[:, cols] - o_new)).sum(0) / np.maximum((zc**2).sum(0), 1e-12)
            ok = g_new > 0
            gain[cols] = np.where(ok, g_new, gain[cols])
            offset[cols] = np.where(ok, o_new, offset[cols])
            gain[cols] /= np.mean(gain[cols])
    gain = np.where(mask & (gain > 0), gain, 1.0)
    offset = np.where(mask, offset, 0.0)
    return offset.astype(np.float32), gain.astype(np.float32)


def library_fit(grid_spectra: np.ndarray, mask: np.ndarray, library: np.ndarray, offset: np.ndarray,
                gain: np.ndarray) -> float:
    """Median cosine between corrected pixels and their best-matching library spectrum."""
    y = np.where(mask, (np.asarray(grid_spectra, dtype=np.float64) - offset) / gain, 0.0)
    lib = np.where(mask, np.asarray(library, dtype=np.float64), 0.0)
    yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    ln = lib / np.maximum(np.linalg.norm(lib, axis=1, keepdims=True), 1e-12)
    return float(np.median((yn @ ln.T).max(1)))


def estimate_correction(grid_spectra: np.ndarray, mask: np.ndarray, reference: np.ndarray,
                        library: np.ndarray | None = None, *, seed: int = 0, max_pixels: int = 4000,
                        **kw: object) -> tuple[np.ndarray, np.ndarray]:
    """Offset and gain turning a scene's grid spectra into relative reflectance.

    With a ``library``, the refinement of :func:`_correction` is run from two starts (no
    offset, and dark-object subtraction) and the result whose corrected pixels the library
    explains better (:func:`library_fit`) is kept: scenes with truly dark objects (forest,
    water) favour the dark start, scenes of bright fields the other.  See
    :func:`_correction` for the parameters.
    """
    x = np.asarray(grid_spectra, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if x.shape[0] > max_pixels:
        x = x[np.sort(rng.choice(x.shape[0], max_pixels, replace=False))]
    if library is None:
        return _correction(x, mask, reference, None, seed=seed, dark_start=False, **kw)  # type: ignore[arg-type]
    fits = []
    for dark in (False, True):
        off, gain = _correction(x, mask, reference, library, seed=seed, dark_start=dark, **kw)  # type: ignore[arg-type]
        fits.append((library_fit(x, mask, library, off, gain), dark, off, gain))
    best = max(fits, key=lambda f: f[0])
    return best[2], best[3]


def apply_correction(x: np.ndarray, offset: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``(x - offset) / gain`` along the last axis, clipped at 0."""
    return np.clip((x - offset) / gain, 0.0, None).astype(np.float32)
