"""``hsigeo.io.resample``: band interpolation plans and their coverage."""

from __future__ import annotations

import numpy as np
import pytest

from hsigeo.errors import BandMismatchError
from hsigeo.io.resample import plan_resampling


def test_shifted_centres_reproduce_linear_spectra():
    target = np.linspace(400.0, 1000.0, 31)  # 20 nm bands
    scene = target + 7.0  # the same sensor, centres 7 nm off
    plan = plan_resampling(scene, target)
    assert plan.coverage == 1.0 and plan.uncovered_ranges() == ""
    block = (2.0 * scene[:, None, None] + 5.0) * np.ones((1, 3, 4))  # linear in wavelength
    out = plan.apply(block.astype(np.int16))
    assert out.shape == (31, 3, 4) and out.dtype == np.float32
    # inside the scene's range exactly the line; the first band (7 nm before the scene) repeats its end band
    np.testing.assert_allclose(out[1:, 0, 0], 2.0 * target[1:] + 5.0, rtol=1e-6)
    assert out[0, 0, 0] == pytest.approx(2.0 * scene[0] + 5.0)


def test_bad_and_unknown_bands_are_not_used():
    target = np.array([500.0, 600.0, 700.0])
    scene = np.array([500.0, 600.0, np.nan, 700.0])
    plan = plan_resampling(scene, target, bad_band=[False, True, False, False])
    assert set(plan.lower.tolist()) | set(plan.upper.tolist()) == {0, 3}
    block = np.array([1.0, 99.0, 99.0, 3.0])[:, None, None]
    np.testing.assert_allclose(plan.apply(block)[:, 0, 0], [1.0, 2.0, 3.0])


def test_coverage_warning_and_refusal():
    target = np.linspace(400.0, 2500.0, 211)  # 10 nm bands
    with pytest.warns(UserWarning, match=r"covers 67% .* not covered: 1810-2500 nm"):
        plan = plan_resampling(np.linspace(400.0, 1790.0, 140), target, source="swir_cut.tif")
    assert plan.coverage == pytest.approx(141 / 211)  # 400..1800 nm: one band step past the scene still counts
    with pytest.raises(BandMismatchError, match=r"rgb\.tif: its bands cover only 4% .* at least 50%"):
        plan_resampling([480.0, 560.0, 660.0], target, source="rgb.tif")
    with pytest.raises(BandMismatchError, match="wavelength of every band"):
        plan_resampling(None, target)


# --------------------------------------------------------------------------- #
# Gaussian spectral responses
# --------------------------------------------------------------------------- #
def _narrow_line(wl: np.ndarray, at: float = 1000.0) -> np.ndarray:
    return np.exp(-0.5 * ((wl - at) / 2.0) ** 2)


def test_gaussian_response_matches_the_analytic_band_value():
    from hsigeo.io.resample import sensor_bands

    # a fine 1 nm "spectrometer" seeing a Gaussian absorption-free line of sigma 2 nm
    fine = np.arange(350.0, 2600.0, 1.0)
    spectrum = _narrow_line(fine)
    centres, fwhm = sensor_bands("EnMAP")
    plan = plan_resampling(fine, centres, target_fwhm=fwhm, scene_fwhm=np.full(fine.size, 0.0))
    out = plan.apply(spectrum[:, None, None])[:, 0, 0]
    # a Gaussian response of sigma s over a Gaussian line of sigma 2: sum of variances, known peak
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    want = 2.0 / np.sqrt(s ** 2 + 4.0) * np.exp(-0.5 * (centres - 1000.0) ** 2 / (s ** 2 + 4.0))
    np.testing.assert_allclose(out, want, atol=0.01)
    # linear interpolation at the centres (no FWHM) misses the band's true response badly
    lin = plan_resampling(fine, centres).apply(spectrum[:, None, None])[:, 0, 0]
    assert np.abs(lin - want).max() > 0.1


def test_matching_bands_are_unchanged_and_presets_are_sane():
    from hsigeo.io.resample import SENSOR_PRESETS, sensor_bands

    wl, fw = sensor_bands("EMIT")
    block = np.random.default_rng(0).random((wl.size, 3, 2)).astype(np.float32)
    # same centres and widths: the response adds no smoothing, every band passes through unchanged
    plan = plan_resampling(wl, wl, target_fwhm=fw, scene_fwhm=fw)
    np.testing.assert_array_equal(plan.apply(block), block)
    for name in SENSOR_PRESETS:
        c, f = sensor_bands(name)
        assert np.all(np.diff(c) >= 0) and np.all(f > 0) and 350 < c[0] < 450 and 990 < c[-1] < 2600
    assert sensor_bands("emit")[0].size == 285 and sensor_bands("EnMAP")[0].size == 224
    with pytest.raises(BandMismatchError, match="known: EMIT"):
        sensor_bands("Landsat")


def test_resampling_between_sensors_uses_the_wider_response():
    from hsigeo.io.resample import sensor_bands

    desis, desis_fw = sensor_bands("DESIS")  # 2.55 nm bands, 3.5 nm FWHM
    emit, emit_fw = sensor_bands("EMIT")
    spectrum = _narrow_line(desis, 700.0)
    with pytest.warns(UserWarning, match="not covered"):
        plan = plan_resampling(desis, emit, target_fwhm=emit_fw, scene_fwhm=desis_fw, min_coverage=0.2)
    out = plan.apply(spectrum[:, None, None])[:, 0, 0]
    k = int(np.argmin(np.abs(emit - 700.0)))
    # a 2 nm line seen by an 8.5 nm band is lower and wider than at DESIS's resolution
    assert 0.3 < out[k] < 0.7 and out[k - 1] > 0.05
    assert np.allclose(plan.weights.sum(axis=1), 1.0, atol=1e-5)
