"""Radiance detection and the scene-level correction recover reflectance shapes."""

from __future__ import annotations

import numpy as np

from hsigeo.spectra.grid import GRID, brightness_normalize
from hsigeo.spectra.radiometry import estimate_correction, looks_like_radiance


def _materials() -> np.ndarray:
    t = (GRID - 400) / 2050
    veg = 0.05 + 0.4 / (1 + np.exp(-(GRID - 715) / 12)) * np.exp(-((GRID - 1500) / 1500) ** 2)
    soil = 0.1 + 0.25 * t
    npv = 0.15 + 0.2 * np.sin(np.pi * t) + 0.05 * t
    water = 0.03 * np.exp(-(GRID - 400) / 200)
    return np.stack([veg, soil, npv, water])


def test_radiance_is_detected_and_corrected():
    rng = np.random.default_rng(0)
    lib = _materials()
    # a smooth "solar x atmosphere" gain with water-vapour bands, plus path radiance
    gain = 1.5 * np.exp(-(((GRID - 600) / 900) ** 2))
    for c, w in ((940, 25), (1130, 30)):
        gain = gain * (1 - 0.6 * np.exp(-(((GRID - c) / w) ** 2)))
    path = 0.02 * np.exp(-(GRID - 400) / 150)
    frac = rng.dirichlet(np.ones(4) * 0.3, size=3000)
    refl = frac @ lib
    rad = refl * gain + path
    m = np.ones(GRID.size, bool)
    assert looks_like_radiance(rad * 8000, m) and not looks_like_radiance(refl, m)
    off, g = estimate_correction(rad * 8000, m, brightness_normalize(lib, m)[0].mean(0), lib)
    back = np.clip((rad * 8000 - off) / g, 0, None)
    a, _ = brightness_normalize(back, m)
    b, _ = brightness_normalize(refl, m)
    with np.errstate(invalid="ignore"):  # the darkest pixel becomes all zero
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    raw, _ = brightness_normalize(rad, m)
    cos_raw = (raw * b).sum(1) / np.linalg.norm(raw, axis=1) / np.linalg.norm(b, axis=1)
    assert np.nanmedian(cos) > 0.99 and np.nanmedian(cos) > np.nanmedian(cos_raw) + 0.01
