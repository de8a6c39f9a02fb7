"""Simulations of what a sensor sees: tree crowns with shade and wood, albedo input, reflectance scale."""

from __future__ import annotations

import numpy as np

from hsigeo.speclib.simulate import mix, tree_crowns
from hsigeo.spectra.grid import ALBEDO_CENTRE, GRID, albedo_channels
from hsigeo.spectra.radiometry import reflectance_scale


def _leafy() -> np.ndarray:
    """A textbook closed green canopy on the grid."""
    return (0.03 + 0.45 / (1 + np.exp(-(GRID - 715) / 10)) * np.exp(-np.clip(GRID - 1300, 0, None) / 900)).astype(
        np.float32)


def _index(x: np.ndarray) -> tuple[float, float]:
    """Mean reflectance and red (670 nm) over mean."""
    return float(x.mean()), float(x[np.argmin(np.abs(GRID - 670))] / x.mean())


def test_tree_crowns_are_darker_and_flatter_than_the_leaf_carpet():
    rng = np.random.default_rng(0)
    canopy = _leafy()
    wood = np.linspace(0.1, 0.35, GRID.size).astype(np.float32)
    trees = np.stack([tree_crowns(rng, canopy, wood) for _ in range(50)])
    m0, r0 = _index(canopy)
    means, reds = zip(*(_index(t) for t in trees), strict=True)
    # crown shadows take 20-70 % of the pixel at 10-30 % of the light: darker by 15-65 %
    assert max(means) < 0.9 * m0 and min(means) > 0.3 * m0
    # bark and branches between the leaves raise the red relative to the mean
    assert min(reds) > r0
    assert trees.dtype == np.float32 and (trees > 0).all()


def test_mix_fractions_sum_to_one():
    rng = np.random.default_rng(1)
    a, b = np.full(GRID.size, 0.2, np.float32), np.full(GRID.size, 0.6, np.float32)
    x = mix(rng, [a, b], [(0.25, 0.25), (0, 0)])
    np.testing.assert_allclose(x, 0.25 * 0.2 + 0.75 * 0.6, rtol=1e-6)


def test_albedo_channels_only_where_the_scale_is_known():
    mean = np.array([1500.0, 300.0, 0.0])
    np.testing.assert_array_equal(albedo_channels(mean, None), np.zeros((3, 2), np.float32))
    a = albedo_channels(mean, 1e-4)
    assert a[:, 1].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(a[:2, 0], [np.log(0.15 / ALBEDO_CENTRE), np.log(0.03 / ALBEDO_CENTRE)], atol=1e-6)
    assert np.isfinite(a).all()  # zero mean is clipped, not -inf


def test_reflectance_scale_recognises_0_1_and_x10000_only():
    rng = np.random.default_rng(2)
    refl = rng.uniform(0.02, 0.5, (200, GRID.size))
    mask = np.ones(GRID.size, bool)
    assert reflectance_scale(refl, mask) == 1.0
    assert reflectance_scale(refl * 10000, mask) == 1e-4
    assert reflectance_scale(refl * 100 + 3, mask) is None  # percent: not guessed
    assert reflectance_scale(refl[:0], mask) is None
