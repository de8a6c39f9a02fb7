"""Resampling onto the base grid, coverage masks and brightness normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.spectra.grid import GRID, GridResampler, brightness_normalize, coverage_text, features


def test_grid_is_earthlibs_180_bands():
    assert GRID.size == 180 and GRID[0] == 400 and GRID[-1] == 2450
    assert not ((GRID > 1350) & (GRID < 1460)).any() and not ((GRID > 1790) & (GRID < 1960)).any()


def test_identity_on_the_grid_itself():
    rs = GridResampler(GRID)
    x = np.random.default_rng(0).random((5, GRID.size)).astype(np.float32)
    assert rs.mask.all()
    np.testing.assert_allclose(rs(x), x, atol=1e-6)


def test_linear_spectrum_is_reproduced_from_a_coarse_irregular_sensor():
    wl = np.linspace(395, 2460, 150) + np.random.default_rng(1).uniform(-3, 3, 150)
    rs = GridResampler(wl)
    y = rs(0.1 + wl * 1e-4)
    ok = rs.mask
    assert ok.mean() > 0.9
    np.testing.assert_allclose(y[ok], 0.1 + GRID[ok] * 1e-4, rtol=1e-3)


def test_fine_sensor_is_smoothed_with_its_fwhm():
    wl = np.arange(350.0, 2501.0)
    spike = np.zeros(wl.size)
    spike[wl == 1000] = 1.0
    y = GridResampler(wl, fwhm=np.ones(wl.size))(spike)
    # a 1 nm feature spreads over the grid's 10 nm resolution (Gaussian, peak 1/(sigma*sqrt(2*pi)) per nm)
    # instead of vanishing between grid bands or aliasing onto one
    assert 0.07 < y[GRID == 1000][0] < 0.12 and 10 * y.sum() == pytest.approx(1.0, abs=0.1)
    assert 0.003 < y[GRID == 990][0] < 0.01 and y[GRID == 980][0] < 1e-4


def test_partial_coverage_masks_not_extrapolates():
    vnir = np.arange(400.0, 901.0, 5.0)
    rs = GridResampler(vnir)
    assert rs.mask[GRID <= 900].all() and not rs.mask[GRID > 905].any()
    assert "400-900 nm" in coverage_text(rs.mask)
    # AVIRIS-like: a removed block of bands is a gap, not bridged
    wl = np.linspace(400, 2500, 224)
    bad = (wl > 1300) & (wl < 1500)
    rs2 = GridResampler(wl, bad_band=bad)
    assert not rs2.mask[(GRID > 1320) & (GRID < 1480)].any()


def test_brightness_does_not_change_the_input():
    x = np.random.default_rng(2).random((3, GRID.size)).astype(np.float32) + 0.05
    m = np.ones(GRID.size, bool)
    a, ok = brightness_normalize(x, m)
    b, _ = brightness_normalize(x * 10000.0, m)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert ok.all()
    _, ok0 = brightness_normalize(np.zeros((1, GRID.size)), m)
    assert not ok0.any()
    assert features(a, m).shape == (3, 2 * GRID.size)
