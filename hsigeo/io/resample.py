"""Spectral resampling: a scene's bands interpolated onto another sensor's wavelengths.

:func:`plan_resampling` decides once, from the wavelengths alone, which two
scene bands and which weight make each target band (linear interpolation
between the bracketing bands), and how much of the target spectrum the scene
really covers.  The resulting :class:`BandResampler` is then applied to any
block of pixels (a whole scene, one tile of the tiled engine, a dask chunk).

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

__all__ = ["BandResampler", "plan_resampling", "MIN_COVERAGE", "MAX_GAP_STEPS"]

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
        Scene band index (0-based) below and above each target band.
    weight
        float32 weight of ``upper`` (``1 - weight`` goes to ``lower``).
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
        """Interpolate a block ``(scene bands, h, w)`` onto the target bands -> float32 ``(target bands, h, w)``."""
        block = np.asarray(block)
        w = self.weight[:, None, None]
        a = block[self.lower].astype(np.float32, copy=False)
        b = block[self.upper].astype(np.float32, copy=False)
        return a * (1.0 - w) + b * w


def plan_resampling(scene_wavelengths: Any, target_wavelengths: Any, *, bad_band: Any = None,
                    source: str = "the scene", min_coverage: float = MIN_COVERAGE) -> BandResampler:
    """Plan the linear interpolation of a scene's bands onto ``target_wavelengths``.

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

    plan = BandResampler(lower=order[lo], upper=order[hi], weight=frac.astype(np.float32), covered=covered,
                         target=target, source=source)
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
