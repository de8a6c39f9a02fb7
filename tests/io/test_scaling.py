"""Declared scale factors: GDAL band scale/offset and the ENVI ``reflectance scale factor``.

The ENVI keys follow the ENVI header format documentation (L3Harris, "ENVI Header
Files": ``reflectance scale factor`` is the value that, divided into the data,
gives 0-1 reflectance; ``data gain values``/``data offset values`` per band);
GDAL maps the latter two to band scale/offset, which GeoTIFF stores in its
band metadata.
"""

from __future__ import annotations

import gzip
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from hsigeo.io.raster import open_hsi, valid_mask

BERLIN = Path(os.environ.get("HSIGEO_DATA_DIR", "../shared/datasets")) / "berlin"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_CACHE_DIR", str(tmp_path / "cache"))


def _tif(path: Path, data: np.ndarray, *, scale=None, offset=None, nodata=None) -> Path:
    b, h, w = data.shape
    with rasterio.open(path, "w", driver="GTiff", count=b, height=h, width=w, dtype=data.dtype.name,
                       crs="EPSG:32633", transform=from_origin(400000, 5800000, 30, 30), nodata=nodata) as dst:
        dst.write(data)
        for i in range(b):
            dst.update_tags(i + 1, wavelength=str(500 + 10 * i), wavelength_units="nm")
        if scale is not None:
            dst.scales = scale
        if offset is not None:
            dst.offsets = offset
    return path


def test_geotiff_scale_offset_applied_lazily_and_recorded(tmp_path):
    rng = np.random.default_rng(0)
    dn = rng.integers(100, 9000, size=(4, 20, 30)).astype(np.int16)
    dn[:, 0, 0] = -32768
    path = _tif(tmp_path / "s.tif", dn, scale=[1e-4] * 4, offset=[0.0, 0.0, 0.01, 0.02], nodata=-32768)
    da = open_hsi(path)
    assert da.dtype == np.float32
    assert "GDAL band scale/offset applied" in da.attrs["scaling"]
    want = dn[2, 5, 7] * 1e-4 + 0.01
    assert float(da.isel(band=2, y=5, x=7)) == pytest.approx(want, rel=1e-6)
    # nodata pixels become NaN (the scaled raster's nodata), so they stay invalid
    assert np.isnan(float(da.isel(band=0, y=0, x=0)))
    assert not bool(valid_mask(da).values[0, 0]) and bool(valid_mask(da).values[1, 1])
    # georeferencing and wavelengths come through the scaled view
    assert da.rio.crs.to_epsg() == 32633 and da.rio.transform().c == 400000
    assert np.allclose(da.coords["wavelength"].values, [500, 510, 520, 530])
    # the engines read the same scaled values from the path in encoding["source"]
    with rasterio.open(da.encoding["source"]) as src:
        assert src.read(3)[5, 7] == pytest.approx(want, rel=1e-6)
    # dask-backed reads are scaled the same way
    assert float(open_hsi(path, chunks={"y": 8, "x": 8}).isel(band=2, y=5, x=7).compute()) == pytest.approx(want)


def test_no_declared_scale_reads_values_as_stored(tmp_path):
    dn = np.full((3, 4, 5), 1234, dtype=np.int16)
    da = open_hsi(_tif(tmp_path / "plain.tif", dn))
    assert da.dtype == np.int16 and int(da[0, 0, 0]) == 1234 and "scaling" not in da.attrs


def test_scale_that_still_is_not_reflectance_warns(tmp_path):
    dn = np.full((3, 60, 60), 5000, dtype=np.uint16)
    path = _tif(tmp_path / "odd.tif", dn, scale=[2.0] * 3)
    with pytest.warns(UserWarning, match="still do not look like 0-1 reflectance"):
        open_hsi(path)
    ok = _tif(tmp_path / "ok.tif", dn, scale=[1e-4] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert float(open_hsi(ok)[0, 30, 30]) == pytest.approx(0.5)


def _envi(path: Path, data: np.ndarray, extra: str) -> Path:
    b, h, w = data.shape
    data.astype("<i2").tofile(path)
    path.with_suffix(".hdr").write_text(
        "ENVI\n"
        f"samples = {w}\nlines = {h}\nbands = {b}\nheader offset = 0\nfile type = ENVI Standard\n"
        "data type = 2\ninterleave = bsq\nbyte order = 0\n"
        "map info = {UTM, 1, 1, 383472.37, 5818302.35, 30, 30, 33, North, WGS-84, units=Meters}\n"
        "wavelength units = Nanometers\nwavelength = {" + ", ".join(str(450 + 20 * i) for i in range(b)) + "}\n"
        "data ignore value = -99\n" + extra)
    return path


def test_envi_reflectance_scale_factor(tmp_path):
    dn = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5) * 100 + 100
    dn[0, 3, 4] = -99
    path = _envi(tmp_path / "r.img", dn, "reflectance scale factor = 10000\n")
    da = open_hsi(path)
    assert "reflectance scale factor = 10000" in da.attrs["scaling"]
    assert float(da[1, 2, 3]) == pytest.approx(dn[1, 2, 3] / 10000.0, rel=1e-6)
    assert np.isnan(float(da[0, 3, 4]))  # the ignore value is nodata, not -0.0099
    assert da.rio.transform().c == pytest.approx(383472.37)


def test_envi_gain_and_reflectance_factor_compose(tmp_path):
    dn = np.full((2, 4, 5), 2000, dtype=np.int16)
    path = _envi(tmp_path / "g.img", dn, "data gain values = {2, 2}\ndata offset values = {0, 100}\n"
                                         "reflectance scale factor = 10000\n")
    da = open_hsi(path)
    assert float(da[0, 0, 0]) == pytest.approx(0.4) and float(da[1, 0, 0]) == pytest.approx(0.41)


@pytest.mark.realdata
def test_berlin_enmap_regression(tmp_path):
    """The EnMAP-Box Berlin scene (int16, reflectance x 10000, no scale factor key) reads as before."""
    hdr = BERLIN / "EnMAP_BerlinUrbanGradient.hdr"
    if not hdr.is_file():
        pytest.skip(f"{hdr} not found; set HSIGEO_DATA_DIR to the shared datasets folder")
    da = open_hsi(BERLIN / "EnMAP_BerlinUrbanGradient.bsq")
    assert da.dtype == np.int16 and da.shape == (177, 80, 60) and "scaling" not in da.attrs
    assert da.coords["wavelength"].values[0] == pytest.approx(460.0) and da.rio.nodata == -99
    raw = da.values
    # the same data with the factor its description states ("scaled between 0 and 10000") declared
    text = hdr.read_text()
    assert "reflectance scale factor" not in text
    shutil.copy(BERLIN / "EnMAP_BerlinUrbanGradient.bsq", tmp_path / "b.bsq")
    (tmp_path / "b.hdr").write_text(text.rstrip() + "\nreflectance scale factor = 10000\n")
    scaled = open_hsi(tmp_path / "b.bsq")
    good = raw != -99
    assert np.allclose(scaled.values[good], raw[good] / 10000.0, rtol=1e-6)
    assert np.isnan(scaled.values[~good]).all() if (~good).any() else True
    assert np.allclose(scaled.coords["fwhm"].values, da.coords["fwhm"].values)
    _ = gzip  # the Berlin .bsq is gzip-compressed ENVI ("file compression = 1"); GDAL reads it as is


def test_sample_spectra_reads_rows_and_matches_striding(tmp_path):
    from hsigeo.io.raster import sample_spectra

    rng = np.random.default_rng(1)
    dn = rng.integers(100, 9000, size=(5, 40, 30)).astype(np.int16)
    da = open_hsi(_tif(tmp_path / "s.tif", dn, scale=[1e-4] * 5))
    got = sample_spectra(da, 100)
    step = int(np.sqrt(40 * 30 / 100))
    want = (dn[:, step // 2::step, step // 2::step] * 1e-4).reshape(5, -1).T
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # a subset of the scene samples the subset's own pixels
    sub = da.isel(y=slice(10, 30), x=slice(5, 25))
    got = sample_spectra(sub, 25)
    s2 = int(np.sqrt(20 * 20 / 25))
    np.testing.assert_allclose(got, (dn[:, 10:30, 5:25][:, s2 // 2::s2, s2 // 2::s2] * 1e-4).reshape(5, -1).T,
                               rtol=1e-6)
