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
