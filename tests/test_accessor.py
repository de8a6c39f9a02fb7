"""hsigeo.accessor: the .hsi DataArray accessor."""

from __future__ import annotations

import numpy as np
import pytest

import hsigeo  # noqa: F401 - registers .hsi
from hsigeo.accessor import WATER_ABSORPTION
from hsigeo.errors import BandMismatchError

WL = np.array([400.0, 700.0, 1000.0, 1400.0, 1900.0, 2200.0, 2480.0])


@pytest.fixture
def da(make_da):
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 1, size=(7, 6, 5)).astype("float32")
    data[:, 0, 0] = -1.0  # nodata pixel
    data[2, 1, 1] = np.nan
    data[3, 2, 2] = np.inf
    return make_da(data, nodata=-1.0, wavelengths=WL, bad_band=[0, 0, 0, 1, 0, 0, 0])


def test_wavelengths_and_selection(da):
    np.testing.assert_array_equal(da.hsi.wavelengths, WL)
    assert da.hsi.sel_wavelength(min=700, max=1900).wavelength.values.tolist() == [700, 1000, 1400, 1900]
    assert da.hsi.sel_wavelength(max=699).sizes["band"] == 1
    assert da.hsi.sel_wavelength(nearest=[990, 2100, 1010]).wavelength.values.tolist() == [1000, 2200]
    assert da.hsi.sel_wavelength(nearest=450).wavelength.values.tolist() == [400]
    out = da.hsi.sel_wavelength(min=500)
    assert out is not da and da.sizes["band"] == 7  # new object, input untouched
    with pytest.raises(ValueError):
        da.hsi.sel_wavelength(min=1, nearest=5)


def test_drop_bad_bands(da):
    assert da.hsi.drop_bad_bands().wavelength.values.tolist() == [400, 700, 1000, 1900, 2200, 2480]
    kept = da.hsi.drop_bad_bands(ranges=WATER_ABSORPTION)
    assert kept.wavelength.values.tolist() == [400, 700, 1000, 2200]
    assert da.hsi.drop_bad_bands(ranges=[(900, 1100)], use_flags=False).sizes["band"] == 6
    with pytest.raises(ValueError, match="every band"):
        da.hsi.drop_bad_bands(ranges=[(0, 1e9)])


def test_missing_wavelengths_raise(make_da):
    plain = make_da(np.zeros((3, 2, 2)))
    assert np.isnan(plain.hsi.wavelengths).all()
    with pytest.raises(BandMismatchError, match="wavelength"):
        plain.hsi.sel_wavelength(min=500)


def test_band_stats_ignores_nodata_nan_inf(da):
    stats = da.hsi.band_stats()
    vals = da.values.astype("float64")
    for b in range(7):
        v = vals[b].ravel()
        v = v[np.isfinite(v) & (v != -1.0)]
        assert stats["mean"].values[b] == pytest.approx(v.mean())
        assert stats["std"].values[b] == pytest.approx(v.std())
        assert stats["min"].values[b] == pytest.approx(v.min())
        assert stats["max"].values[b] == pytest.approx(v.max())
        assert stats["count"].values[b] == v.size
    assert stats["wavelength"].values.tolist() == WL.tolist()


def test_band_stats_lazy_and_masked(da):
    import dask.array as dsa

    lazy = da.chunk({"y": 2, "x": 3})
    stats = lazy.hsi.band_stats()
    assert isinstance(stats["mean"].data, dsa.Array)
    eager = da.hsi.band_stats()
    for k in ("mean", "std", "min", "max", "count"):
        np.testing.assert_allclose(stats[k].compute().values, eager[k].values)
    mask = np.zeros((6, 5), dtype=bool)
    mask[3:, :] = True
    masked = lazy.hsi.band_stats(mask=lazy.hsi.valid_mask() & mask).compute()
    assert (masked["count"].values == 15).all()
    np.testing.assert_allclose(masked["mean"].values, da.values[:, 3:, :].mean(axis=(1, 2)), rtol=1e-6)


def test_valid_mask_via_accessor(da):
    m = da.hsi.valid_mask()
    assert m.dims == ("y", "x")
    assert not m.values[0, 0] and not m.values[1, 1] and m.values[2, 2]  # inf sits in a bad band: ignored
    assert not da.hsi.valid_mask(ignore_bad_bands=False).values[2, 2]
