"""The base model's wavelength grid and the resampling of any sensor onto it.

The grid is earthlib 1.1.0's: 400-2450 nm at 10 nm, without the two strong
water-vapour windows (1360-1450 and 1800-1950 nm), 180 bands.  A sensor's bands are
mapped onto it by a fixed linear operator (:class:`GridResampler`): when the sensor is
finer than 10 nm its spectrum is first smoothed to the grid's 10 nm resolution (using its
FWHM when known), then interpolated linearly between the two neighbouring bands.  Grid
bands the sensor does not cover (outside its range, or inside a gap such as removed
water-absorption bands) are *masked*, not extrapolated: the base model is trained with
random coverage masks and sees the mask as an input.

The spectrum's *shape* is read after dividing it by its own mean over the covered grid bands
(:func:`brightness_normalize`), so reflectance 0-1, reflectance x 10000 and a sunlit or
shaded copy of one material give the same shape.  Its *albedo* (the mean reflectance) is
given separately and only where the scene's scale is known (:func:`albedo_channels`): it is
what tells dark tree crowns and water from bright grass, concrete and roofs, but a radiance
scene or one of unknown scale must not be judged by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GRID", "GRID_FWHM", "GridResampler", "brightness_normalize", "features", "albedo_channels",
           "coverage_text", "ALBEDO_CENTRE"]

#: Base-model band centres (nm): earthlib 1.1.0's 180 bands.
GRID = np.concatenate([np.arange(400.0, 1351.0, 10.0), np.arange(1460.0, 1791.0, 10.0),
                       np.arange(1960.0, 2451.0, 10.0)])
#: Spectral resolution the grid stands for (nm).
GRID_FWHM = 10.0


def _sorted_unique(wl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of finite wavelengths in increasing order, duplicates (spectrometer overlaps) dropped."""
    idx = np.flatnonzero(np.isfinite(wl))
    idx = idx[np.argsort(wl[idx], kind="stable")]
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = np.diff(wl[idx]) > 1e-6
    return idx[keep], wl[idx[keep]]


@dataclass
class GridResampler:
    """Linear map from a sensor's bands to :data:`GRID` plus the grid bands it covers.

    Parameters
    ----------
    wavelengths
        Band centres (nm) of the sensor, any order; NaN marks a band without a centre
        (it is ignored, like a band flagged bad).
    fwhm
        Band widths (nm) when known; ``None`` assumes the band spacing.
    bad_band
        Optional boolean flags; flagged bands are ignored.

    Attributes
    ----------
    weights : numpy.ndarray
        float32 ``(G, B)``: grid value = ``weights @ band values``.
    mask : numpy.ndarray
        bool ``(G,)``, True where the sensor covers the grid band.
    """

    wavelengths: np.ndarray
    fwhm: np.ndarray | None = None
    bad_band: np.ndarray | None = None

    def __post_init__(self) -> None:
        wl = np.asarray(self.wavelengths, dtype=np.float64).copy()
        if self.bad_band is not None:
            wl[np.asarray(self.bad_band, dtype=bool)] = np.nan
        n = wl.size
        idx, w = _sorted_unique(wl)
        g = GRID.size
        self.weights = np.zeros((g, n), dtype=np.float32)
        self.mask = np.zeros(g, dtype=bool)
        if idx.size < 2:
            return
        step = np.diff(w)
        spacing = float(np.median(step))
        if self.fwhm is not None:
            fw = np.asarray(self.fwhm, dtype=np.float64)[idx]
            fw = np.where(np.isfinite(fw) & (fw > 0), fw, spacing)
        else:
            fw = np.full(idx.size, spacing)
        # Smoothing (S, in sorted-band space) brings a sensor finer than 10 nm to the grid's
        # resolution; a band that is already 10 nm or wider is left as it is.
        sigma = np.sqrt(np.clip(GRID_FWHM**2 - fw**2, 0.0, None)) / 2.3548
        smooth = np.eye(idx.size)
        for i in np.flatnonzero(sigma > 0.5 * spacing):
            near = np.abs(w - w[i]) <= 3 * sigma[i]
            k = np.exp(-0.5 * ((w[near] - w[i]) / sigma[i]) ** 2)
            smooth[i] = 0.0
            smooth[i, near] = k / k.sum()
        # A gap wider than this between neighbouring bands (removed water bands) is not bridged.
        max_gap = max(2.5 * spacing, 25.0)
        pos = np.searchsorted(w, GRID)
        interp = np.zeros((g, idx.size))
        for j, lam in enumerate(GRID):
            p = pos[j]
            if p < idx.size and abs(w[p] - lam) < 1e-6:
                interp[j, p] = 1.0
            elif 0 < p < idx.size and w[p] - w[p - 1] <= max_gap:
                t = (lam - w[p - 1]) / (w[p] - w[p - 1])
                interp[j, p - 1], interp[j, p] = 1.0 - t, t
            else:
                # just outside the range or next to a gap: take the nearest band if it is close
                q = int(np.argmin(np.abs(w - lam)))
                if abs(w[q] - lam) <= max(0.5 * spacing, 0.5 * GRID_FWHM):
                    interp[j, q] = 1.0
                else:
                    continue
            self.mask[j] = True
        sorted_w = interp @ smooth
        self.weights[:, idx] = sorted_w.astype(np.float32)

    @property
    def coverage(self) -> float:
        """Share of grid bands the sensor covers."""
        return float(self.mask.mean())

    def __call__(self, values: np.ndarray, axis: int = -1) -> np.ndarray:
        """Resample ``values`` (bands along ``axis``) onto the grid; masked grid bands are 0.

        Returns
        -------
        numpy.ndarray
            float32 with the band axis (at the same position) of length ``len(GRID)``.
        """
        x = np.moveaxis(np.asarray(values, dtype=np.float32), axis, -1)
        out = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) @ self.weights.T
        return np.moveaxis(out, -1, axis)


def brightness_normalize(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each spectrum by its mean over covered grid bands.

    Parameters
    ----------
    x
        ``(..., G)`` grid spectra.
    mask
        ``(G,)`` or ``(..., G)`` covered bands.

    Returns
    -------
    normalized, ok
        ``(..., G)`` float32 (0 at masked bands) and ``(...)`` bool, False where the mean is
        not positive (nodata, all-zero or negative pixels).
    """
    m = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    cnt = np.maximum(m.sum(axis=-1), 1)
    mean = np.where(m, x, 0.0).sum(axis=-1) / cnt
    ok = np.isfinite(mean) & (mean > 0)
    safe = np.where(ok, mean, 1.0)[..., None]
    out = np.where(m, x / safe, 0.0).astype(np.float32)
    out[~ok] = 0.0
    return out, ok


def features(xn: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Network input: normalised spectrum (0 where masked) and the mask, ``(..., 2G)`` float32."""
    m = np.broadcast_to(np.asarray(mask, dtype=np.float32), xn.shape)
    return np.concatenate([xn * m, m], axis=-1).astype(np.float32)


#: Mean reflectance the albedo channel is centred on (its log is 0 there; one unit = a factor e).
ALBEDO_CENTRE = 0.15


def albedo_channels(mean: np.ndarray, scale: float | None) -> np.ndarray:
    """Albedo input ``(..., 2)``: ``[log(mean * scale / ALBEDO_CENTRE), 1]``, or ``[0, 0]`` when unknown.

    Parameters
    ----------
    mean
        ``(...)`` mean of each spectrum over its covered grid bands, in the scene's units.
    scale
        Factor from the scene's units to reflectance 0-1 (``1e-4`` for reflectance x 10000);
        ``None`` when the scene is radiance or its scale is not known: the channel is then
        zero and its flag says so, and the encoder judges by shape alone.
    """
    mean = np.asarray(mean, dtype=np.float64)
    out = np.zeros(mean.shape + (2,), dtype=np.float32)
    if scale is None:
        return out
    refl = np.clip(mean * float(scale), 1e-4, 10.0)
    out[..., 0] = np.log(refl / ALBEDO_CENTRE)
    out[..., 1] = 1.0
    return out


def coverage_text(mask: np.ndarray) -> str:
    """Human-readable covered ranges, e.g. ``"400-900 nm (51 of 180 grid bands)"``."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return "no grid band"
    parts = []
    start = None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if start is not None and (not m or i == mask.size - 1 or GRID[i + 1] - GRID[i] > 10.5):
            end = i if m else i - 1
            parts.append(f"{GRID[start]:.0f}-{GRID[end]:.0f}")
            start = None
    return f"{', '.join(parts)} nm ({int(mask.sum())} of {mask.size} grid bands)"
