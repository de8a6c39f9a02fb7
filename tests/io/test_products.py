"""Sensor products as users download them (fixtures: tests/io/_product_fixtures.py, built to each spec)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _product_fixtures import DESIS_STEM, ENMAP_STEM, desis_l2a, enmap_l2a

from hsigeo.errors import RasterReadError
from hsigeo.io.raster import open_hsi, valid_mask


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_CACHE_DIR", str(tmp_path / "cache"))


# --------------------------------------------------------------------------- #
# EnMAP L2A
# --------------------------------------------------------------------------- #
def _check_enmap(da, folder):
    wl = da.coords["wavelength"].values
    assert da.shape == (224, 12, 10) and np.all(np.diff(wl) >= 0)  # ascending across the VNIR/SWIR overlap
    assert wl[0] == pytest.approx(418.42) and wl[-1] == pytest.approx(2445.5)
    assert da.coords["fwhm"].values[0] == pytest.approx(6.5)
    # stored band 91 (VNIR, 993 nm) sits after the SWIR bands below it
    k = int(np.argmin(np.abs(wl - 993.0)))
    with rasterio.open(folder / ENMAP_STEM / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF") as src:
        dn = src.read(91)
    assert float(da[k, 4, 7]) == pytest.approx(dn[4, 7] * 1e-4, rel=1e-6)
    assert 0 < float(da[k, 4, 7]) < 1
    assert np.isnan(float(da[0, 0, 0])) and not bool(valid_mask(da).values[0, 0])
    # pixel (row 2, col 3) centre on the map
    assert float(da.x[3]) == pytest.approx(383000 + 3.5 * 30) and float(da.y[2]) == pytest.approx(5820000 - 2.5 * 30)
    assert da.rio.crs.to_epsg() == 32633
    assert da.attrs["sensor"] == "EnMAP" and da.attrs["product_level"] == "L2A"
    assert da.attrs["acquisition_time"] == "2022-07-24T10:45:26.000Z" and da.attrs["processing_version"] == "1.3.2"
    assert "METADATA.XML" in da.attrs["read_from"] and "GainOfBand" not in da.attrs["scaling"]


@pytest.mark.parametrize("given", ["image", "xml", "folder"])
def test_enmap_l2a_from_image_xml_or_folder(tmp_path, given):
    root = tmp_path / "dl"
    folder = enmap_l2a(root)
    path = {"image": folder / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF", "xml": folder / f"{ENMAP_STEM}-METADATA.XML",
            "folder": folder}[given]
    _check_enmap(open_hsi(path), root)


def test_enmap_l2a_from_zip(tmp_path):
    z = enmap_l2a(tmp_path / "dl", zip_it=True)
    da = open_hsi(z)
    _check_enmap(da, tmp_path / "dl")
    assert f"{z}!" in da.attrs["read_from"]


def test_enmap_image_without_xml_names_the_missing_file(tmp_path):
    folder = enmap_l2a(tmp_path)
    (folder / f"{ENMAP_STEM}-METADATA.XML").unlink()
    with pytest.raises(RasterReadError, match=f"no metadata XML.*{ENMAP_STEM}-METADATA.XML"):
        open_hsi(folder / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF")


def test_enmap_band_count_mismatch(tmp_path):
    folder = enmap_l2a(tmp_path)
    xml = folder / f"{ENMAP_STEM}-METADATA.XML"
    text = xml.read_text()
    xml.write_text(text.replace(text[text.index('<bandID number="224">'):text.index("</bandCharacterisation>")], ""))
    with pytest.raises(RasterReadError, match="has 224 bands but .* describes 223"):
        open_hsi(folder)


# --------------------------------------------------------------------------- #
# DESIS L2A
# --------------------------------------------------------------------------- #
def test_desis_l2a(tmp_path):
    folder = desis_l2a(tmp_path / "desis")
    for path in (folder / f"{DESIS_STEM}-SPECTRAL_IMAGE.tif", folder / f"{DESIS_STEM}-METADATA.xml", folder):
        da = open_hsi(path)
        assert da.shape == (235, 9, 8) and da.attrs["sensor"] == "DESIS" and da.attrs["product_level"] == "L2A"
        assert da.coords["wavelength"].values[[0, -1]] == pytest.approx([401.0, 999.0])
        assert np.allclose(da.coords["fwhm"].values, 3.5)
        with rasterio.open(folder / f"{DESIS_STEM}-SPECTRAL_IMAGE.tif") as src:
            assert float(da[10, 3, 2]) == pytest.approx(src.read(11)[3, 2] * 1e-4, rel=1e-6)
        assert np.isnan(float(da[0, -1, -1]))  # backgroundValue -> nodata
        assert da.attrs["processing_version"] == "02.10" and da.rio.crs.to_epsg() == 32635
        assert float(da.x[0]) == pytest.approx(500025.0)
