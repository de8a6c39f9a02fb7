"""``hsigeo set-wavelengths``: a GeoTIFF without wavelengths gets them from a list, in a new file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from rasterio.transform import from_origin

import hsigeo
from hsigeo.errors import InvalidInputError
from hsigeo.io.wavelengths import read_wavelength_list

BANDS, HEIGHT, WIDTH = 6, 20, 24
CENTRES = [450.0, 550.0, 650.0, 850.0, 1650.0, 2200.0]


@pytest.fixture
def product(tmp_path):
    """A GeoTIFF as another program writes it: int16 reflectance x 10000, nodata, no band metadata."""
    path = tmp_path / "product.tif"
    data = np.random.default_rng(0).integers(0, 10000, size=(BANDS, HEIGHT, WIDTH)).astype("int16")
    data[:, 0, 0] = -9999
    with rasterio.open(path, "w", driver="GTiff", width=WIDTH, height=HEIGHT, count=BANDS, dtype="int16",
                       crs="EPSG:32633", transform=from_origin(400000.0, 5000000.0, 30.0, 30.0),
                       nodata=-9999) as dst:
        dst.write(data)
    return path, data


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_copy_carries_the_wavelengths_and_the_data(product, tmp_path, capsys):
    path, data = product
    assert np.isnan(hsigeo.open_hsi(path).wavelength.values).all()
    before = _digest(path)
    listing = tmp_path / "wl.txt"
    listing.write_text("# centre wavelengths, nm\n450, 550 650\n850\n1650\n2200\n", encoding="utf-8")

    code, out, err = run_in_process(capsys, "--progress", "none", "set-wavelengths", str(path),
                                    "--wavelengths", str(listing), "-o", str(tmp_path / "with_wl.tif"))
    assert code == 0, err
    assert "6 bands, 450.0-2200.0 nm" in out
    assert _digest(path) == before  # the input is never changed

    da = hsigeo.open_hsi(tmp_path / "with_wl.tif")
    np.testing.assert_allclose(da.wavelength.values, CENTRES)
    np.testing.assert_array_equal(da.values, data)
    assert da.dtype == np.int16 and da.rio.nodata == -9999
    with rasterio.open(tmp_path / "with_wl.tif") as src, rasterio.open(path) as ref:
        assert src.crs == ref.crs and src.transform == ref.transform
        tags = src.tags(5)
        assert float(tags["wavelength"]) == 1650.0 and tags["wavelength_units"] == "nm"


def test_wrong_count_and_the_input_as_output_are_refused(product, tmp_path, capsys):
    path, _ = product
    short = tmp_path / "short.txt"
    short.write_text("450 550 650", encoding="utf-8")
    code, _, err = run_in_process(capsys, "set-wavelengths", str(path), "--wavelengths", str(short),
                                  "-o", str(tmp_path / "out.tif"))
    assert code == 2 and err.startswith("Error:") and "3 wavelengths for a scene of 6 bands" in err
    assert not (tmp_path / "out.tif").exists()

    listing = tmp_path / "wl.txt"
    listing.write_text(" ".join(map(str, CENTRES)), encoding="utf-8")
    before = _digest(path)
    code, _, err = run_in_process(capsys, "set-wavelengths", str(path), "--wavelengths", str(listing),
                                  "-o", str(path), "--overwrite")
    assert code == 2 and err.startswith("Error:") and _digest(path) == before


def test_wavelength_lists(tmp_path):
    f = tmp_path / "wl.csv"
    f.write_text("0.45;0.55\n0.65\n", encoding="utf-8")
    np.testing.assert_allclose(read_wavelength_list(f), [450.0, 550.0, 650.0])  # micrometres
    f.write_text("450\n550\nsix hundred\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="value 3 is 'six'"):
        read_wavelength_list(f)
    f.write_text("450\n-1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="positive"):
        read_wavelength_list(f)
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_wavelength_list(tmp_path / "missing.txt")


def test_info_points_a_scene_without_wavelengths_to_set_wavelengths(product, capsys):
    path, _ = product
    code, out, err = run_in_process(capsys, "info", str(path))
    assert code == 0, err
    assert "unknown for all 6 bands" in out and "hsigeo set-wavelengths" in out
