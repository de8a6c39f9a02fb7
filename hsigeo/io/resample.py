"""Spectral resampling: a scene's bands onto another sensor's bands.

:func:`plan_resampling` decides once, from the band centres (and widths, when
known), which scene bands with which weights make each target band, and how
much of the target spectrum the scene really covers.  The resulting
:class:`BandResampler` is then applied to any block of pixels (a whole scene,
one tile of the tiled engine, a dask chunk).

Spectral response
    With the target bands' FWHM (``target_fwhm``, or a sensor preset from
    :func:`sensor_bands`: EMIT, EnMAP, PRISMA, DESIS, AVIRIS-NG), each target
    band is a Gaussian spectral response function applied to the scene
    spectrum, read as piecewise linear between the scene's band centres.  The
    scene's values are already the spectrum seen through the scene's own
    Gaussian responses (``scene_fwhm``), and Gaussians compose by adding
    variances, so the extra smoothing applied is
    ``sigma = sqrt(sigma_target**2 - sigma_scene**2)`` (0 when the scene's bands
    are as wide or wider: then, as without any FWHM, the value is linear
    interpolation at the target centre, and a target band at a scene band's
    centre is that band unchanged).  ``spectral.BandResampler`` (SPy) was
    considered and not used: it weighs the scene bands by the overlap of
    their FWHM intervals with the target Gaussian, so a target band at a scene
    band's centre mixes in the neighbours (maps made with matching bands would
    change), it cuts the Gaussian at the band edges, and target bands without
    overlap become NaN, which a classifier cannot take.

Coverage
    A target band is *covered* when a scene band lies within one target band
    step of it, or when it lies between two scene bands at most
    ``4`` target steps apart.  Uncovered bands are still filled (linear
    interpolation across the gap, the end band repeated beyond the scene's
    range) but they are guesses: partial coverage gives a warning naming
    the uncovered ranges, and coverage below ``min_coverage`` (default one
    half; e.g. an RGB raster against a 400-2500 nm model) is refused with a
    :class:`~hsigeo.errors.BandMismatchError`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsigeo.errors import BandMismatchError

__all__ = ["BandResampler", "plan_resampling", "sensor_bands", "SENSOR_PRESETS", "MIN_COVERAGE", "MAX_GAP_STEPS"]

#: Nominal band sets ``(first centre nm, last centre nm, bands, FWHM nm)``, evenly spaced, per
#: detector; from the sensors' published specifications.  Real products carry their own
#: per-band tables (read by :func:`hsigeo.io.raster.open_hsi`); presets are for resampling
#: *to* a sensor whose files are not at hand.
SENSOR_PRESETS: dict[str, tuple[tuple[float, float, int, float], ...]] = {
    # EMIT L2A: 285 bands 381-2493 nm, ~7.4 nm sampling, ~8.5 nm FWHM (EMIT L2A ATBD)
    "EMIT": ((381.0, 2493.0, 285, 8.5),),
    # EnMAP HSI: VNIR 91 bands 418-993 nm (~6.5 nm), SWIR 133 bands 902-2445 nm (~10 nm)
    "EnMAP": ((418.0, 993.0, 91, 8.0), (902.0, 2445.0, 133, 10.0)),
    # PRISMA L2D after hsigeo's overlap rule: VNIR 63 bands 402-1010 nm, SWIR 1010-2497 nm (~10 nm sampling)
    "PRISMA": ((402.0, 1010.0, 63, 11.0), (1019.0, 2497.0, 153, 10.0)),
    # DESIS: 235 bands 401-999 nm, 2.55 nm sampling, 3.5 nm FWHM
    "DESIS": ((401.0, 999.0, 235, 3.5),),
    # AVIRIS-NG: 425 bands 376-2500 nm, 5 nm sampling, ~5.5 nm FWHM (AVIRIS-NG Distribution Document)
    "AVIRIS-NG": ((376.9, 2501.0, 425, 5.5),),
}
# a Gaussian response is integrated over +-3 sigma with this many nodes
_SRF_NODES = 49
_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def sensor_bands(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Nominal band centres and FWHM (nm) of a sensor preset (see :data:`SENSOR_PRESETS`).

    Raises
    ------
    BandMismatchError
        For an unknown sensor name (the message lists the known ones).
    """
    key = {k.lower(): k for k in SENSOR_PRESETS}.get(name.strip().lower().replace("_", "-"))
    if key is None:
        raise BandMismatchError(f"no band preset for sensor {name!r}; known: {', '.join(SENSOR_PRESETS)}.")
    parts = SENSOR_PRESETS[key]
    centres = np.concatenate([np.linspace(a, b, n) for a, b, n, _ in parts])
    fwhm = np.concatenate([np.full(n, f) for _a, _b, n, f in parts])
    order = np.argsort(centres, kind="stable")
    return centres[order], fwhm[order]

#: Share of the target bands a scene must cover to be resampled at all.
MIN_COVERAGE = 0.5
#: Widest gap between two scene bands, in target band steps, that still counts as covering the bands in it.
MAX_GAP_STEPS = 4.0


@dataclass(frozen=True)
class BandResampler:
    """How to make target bands from scene bands (from :func:`plan_resampling`).

    Attributes
    ----------
    lower, upper
        Scene band index (0-based) below and above each target band centre.
    weight
        float32 weight of ``upper`` (``1 - weight`` goes to ``lower``): linear interpolation
        at the centre, what :meth:`apply` does when there are no response ``weights``.
    index, weights
        With target FWHM: the scene bands and Gaussian-response weights of each target band.
    covered
        Whether each target band is covered (see the module notes).
    target
        Target wavelengths (nm).
    source
        The scene, as named in messages.
    """

    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray
    covered: np.ndarray
    target: np.ndarray
    source: str = "the scene"
    index: np.ndarray | None = None  # (targets, k) scene bands of each target band (spectral response)
    weights: np.ndarray | None = None  # (targets, k) float32, rows sum to 1; None = linear (lower/upper/weight)

    @property
    def coverage(self) -> float:
        """Share of the target bands that are covered (0..1)."""
        return float(self.covered.mean()) if self.covered.size else 0.0

    def uncovered_ranges(self) -> str:
        """Uncovered target wavelengths as ``"400-420, 1350-1450 nm"``."""
        spans: list[str] = []
        idx = np.flatnonzero(~self.covered)
        if idx.size == 0:
            return ""
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        for run in runs:
            lo, hi = self.target[run[0]], self.target[run[-1]]
            spans.append(f"{lo:.0f}" if run.size == 1 else f"{lo:.0f}-{hi:.0f}")
        return ", ".join(spans) + " nm"

    def apply(self, block: np.ndarray) -> np.ndarray:
        """Resample a block ``(scene bands, h, w)`` onto the target bands -> float32 ``(target bands, h, w)``."""
        block = np.asarray(block)
        if self.weights is not None and self.index is not None:
            out = np.empty((self.target.size, *block.shape[1:]), dtype=np.float32)
            for t in range(self.target.size):
                used = self.weights[t] > 0
                sub = block[self.index[t, used]].astype(np.float32, copy=False)
                out[t] = np.tensordot(self.weights[t, used], sub, axes=1)
            return out
        w = self.weight[:, None, None]
        a = block[self.lower].astype(np.float32, copy=False)
        b = block[self.upper].astype(np.float32, copy=False)
        return a * (1.0 - w) + b * w


def plan_resampling(scene_wavelengths: Any, target_wavelengths: Any, *, bad_band: Any = None,
                    source: str = "the scene", min_coverage: float = MIN_COVERAGE, target_fwhm: Any = None,
                    scene_fwhm: Any = None) -> BandResampler:
    """Plan the resampling of a scene's bands onto ``target_wavelengths``.

    Without ``target_fwhm``: linear interpolation between the two scene bands
    around each target centre.  With it: Gaussian spectral responses (module notes).

    Parameters
    ----------
    scene_wavelengths
        Centre wavelength (nm) of each scene band; NaN = unknown (the band is not used).
    target_wavelengths
        Centre wavelengths (nm) of the bands wanted (a model's bands).
    bad_band
        Boolean per scene band, True = do not use (water absorption, flagged).
    source
        Names the scene in messages.
    min_coverage
        Refuse when fewer than this share of the target bands are covered.
    target_fwhm
        FWHM (nm) of each target band (or one value for all): use Gaussian responses.
    scene_fwhm
        FWHM (nm) of each scene band, when known; the response applied is narrowed by it.

    Returns
    -------
    BandResampler
        Warns (``UserWarning``) when coverage is partial.

    Raises
    ------
    BandMismatchError
        When either side has no wavelengths, fewer than two scene bands are
        usable, or the coverage is below ``min_coverage``.
    """
    theirs = None if scene_wavelengths is None else np.asarray(scene_wavelengths, dtype=np.float64).reshape(-1)
    target = None if target_wavelengths is None else np.asarray(target_wavelengths, dtype=np.float64).reshape(-1)
    if theirs is None or target is None or not np.isfinite(theirs).any() or not np.isfinite(target).all():
        raise BandMismatchError(
            f"{source}: resampling needs the wavelength of every band on both sides "
            f"(scene: {'yes' if theirs is not None and np.isfinite(theirs).any() else 'no'}, "
            f"model: {'yes' if target is not None and np.isfinite(target).all() else 'no'}). "
            "Write the wavelengths into the scene (ENVI header 'wavelength' and 'wavelength units', or the "
            "per-band GDAL metadata items 'wavelength' and 'wavelength_units'; `hsigeo set-wavelengths SCENE "
            "--wavelengths LIST.txt -o OUT.tif` writes a copy that has them) or use a scene from the model's sensor."
        )
    keep = np.isfinite(theirs)
    if bad_band is not None:
        keep &= ~np.asarray(bad_band, dtype=bool).reshape(-1)
    idx = np.flatnonzero(keep)
    if idx.size < 2:
        raise BandMismatchError(f"{source}: fewer than two usable bands with wavelengths; cannot resample.")
    order = idx[np.argsort(theirs[idx], kind="stable")]
    src = theirs[order]

    pos = np.clip(np.searchsorted(src, target), 1, src.size - 1)
    lo, hi = pos - 1, pos
    frac = np.clip((target - src[lo]) / np.maximum(src[hi] - src[lo], 1e-9), 0.0, 1.0)

    step = float(np.median(np.abs(np.diff(np.sort(target))))) if target.size > 1 else float(np.median(np.diff(src)))
    step = max(step, 1e-6)
    nearest = np.minimum(np.abs(target - src[lo]), np.abs(target - src[hi]))
    inside = (target >= src[0]) & (target <= src[-1])
    bracketed = inside & (src[hi] - src[lo] <= MAX_GAP_STEPS * step)
    covered = (nearest <= step) | bracketed

    index = weights = None
    if target_fwhm is not None:
        index, weights = _response_weights(src, order, target, target_fwhm,
                                           None if scene_fwhm is None else np.asarray(scene_fwhm, np.float64)
                                           .reshape(-1)[order])
    plan = BandResampler(lower=order[lo], upper=order[hi], weight=frac.astype(np.float32), covered=covered,
                         target=target, source=source, index=index, weights=weights)
    described = (f"{plan.coverage:.0%} of the model's {target.size} bands "
                 f"({target.min():.0f}-{target.max():.0f} nm) from {idx.size} scene bands "
                 f"({src[0]:.0f}-{src[-1]:.0f} nm)")
    if plan.coverage < min_coverage:
        raise BandMismatchError(
            f"{source}: its bands cover only {described}; at least {min_coverage:.0%} is needed to resample. "
            "Use a scene from a sensor with the model's spectral range, or train a model on this sensor."
        )
    if plan.coverage < 1.0:
        warnings.warn(
            f"{source}: resampling covers {described}; not covered: {plan.uncovered_ranges()} "
            "(filled from the nearest bands, so expect lower accuracy).",
            UserWarning,
            stacklevel=2,
        )
    return plan


def _response_weights(src: np.ndarray, order: np.ndarray, target: np.ndarray, target_fwhm: Any,
                      scene_fwhm: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Scene-band weights of each target band's Gaussian response over the piecewise-linear scene spectrum.

    ``src`` are the usable scene centres, ascending; ``order`` their scene band indices.
    """
    tf = np.broadcast_to(np.asarray(target_fwhm, dtype=np.float64).reshape(-1), target.shape)
    sig_t = np.where(np.isfinite(tf) & (tf > 0), tf, 0.0) * _FWHM_TO_SIGMA
    if scene_fwhm is not None and np.isfinite(scene_fwhm).any():
        ok = np.isfinite(scene_fwhm)
        sig_s = np.interp(target, src[ok], scene_fwhm[ok]) * _FWHM_TO_SIGMA
    else:
        sig_s = np.zeros_like(target)
    sigma = np.sqrt(np.maximum(sig_t ** 2 - sig_s ** 2, 0.0))
    z = np.linspace(-3.0, 3.0, _SRF_NODES)
    g = np.exp(-0.5 * z ** 2)
    rows: list[dict[int, float]] = []
    for t in range(target.size):
        nodes = np.clip(target[t] + sigma[t] * z, src[0], src[-1]) if sigma[t] > 0 else np.array([target[t]])
        gw = g / g.sum() if sigma[t] > 0 else np.ones(1)
        pos = np.clip(np.searchsorted(src, nodes), 1, src.size - 1)
        lo, hi = pos - 1, pos
        frac = np.clip((nodes - src[lo]) / np.maximum(src[hi] - src[lo], 1e-9), 0.0, 1.0)
        row: dict[int, float] = {}
        for i, f, w in zip(lo, frac, gw, strict=True):
            row[int(i)] = row.get(int(i), 0.0) + float(w * (1.0 - f))
            row[int(i) + 1] = row.get(int(i) + 1, 0.0) + float(w * f)
        rows.append({k: v for k, v in row.items() if v > 1e-7})
    k = max(len(r) for r in rows)
    index = np.zeros((target.size, k), dtype=np.int64)
    weights = np.zeros((target.size, k), dtype=np.float32)
    for t, row in enumerate(rows):
        keys = sorted(row)
        total = sum(row.values())
        index[t, : len(keys)] = order[keys]
        weights[t, : len(keys)] = [row[j] / total for j in keys]
    return index, weights
