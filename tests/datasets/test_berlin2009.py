"""The held-out Berlin 2009 cut (hsigeo/datasets/berlin2009.py): files as EnMAP-Box delivers them."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from hsigeo.datasets.berlin2009 import BERLIN_2009, berlin_2009_labels, load_berlin_2009
from hsigeo.datasets.scenes import find_data_dir
from hsigeo.errors import DatasetError

DATA = find_data_dir()
needs_2009 = pytest.mark.skipif(
    DATA is None or not (DATA / "berlin" / "urban_gradient_2009").is_dir(),
    reason="Berlin urban_gradient_2009/ not found: set HSIGEO_DATA_DIR to the folder holding berlin/",
)


def test_dominant_class_rule():
    f = np.zeros((6, 1, 5), np.float32)
    f[:, 0, 0] = [0.6, 0.4, 0, 0, 0, 0]  # roof dominates
    f[:, 0, 1] = [0.3, 0.3, 0.4, 0, 0, 0]  # nothing reaches half
    f[:, 0, 2] = [0, 0, 0, 0.2, 0.2, 0.6]  # "other" is not scored
    f[:, 0, 3] = -99.0  # nodata
    f[:, 0, 4] = [0, 0, 0, 0, 0.5, 0.5]  # a tie at 50 %: argmax takes the first, soil
    assert berlin_2009_labels(f).tolist() == [[1, 0, 0, 0, 5]]


def test_band_names_without_wavelengths_are_a_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "berlin" / "urban_gradient_2009"
    folder.mkdir(parents=True)
    profile = dict(driver="ENVI", width=2, height=3, count=6, dtype="float32", crs="EPSG:32633",
                   transform=from_origin(383851.349, 5819308.225, 30, 30))
    with rasterio.open(folder / "LandCov_Layer_Level2_Berlin_Urban_Gradient_2009.bsq", "w", **profile) as dst:
        dst.write(np.full((6, 3, 2), 1 / 6, np.float32))
    with rasterio.open(folder / "EnMAP02_Berlin_Urban_Gradient_2009.bsq", "w", **{**profile, "count": 2}) as dst:
        dst.write(np.full((2, 3, 2), 0.1, np.float32))
        dst.set_band_description(1, "band 1 (0.424000 Micrometers)")
        dst.set_band_description(2, "red")
    with pytest.raises(DatasetError, match=r"EnMAP02_Berlin_Urban_Gradient_2009.bsq: band 2 is named 'red'"):
        load_berlin_2009("berlin-2009", tmp_path)


def test_unknown_scene_name_lists_the_known_ones(tmp_path):
    with pytest.raises(DatasetError, match="'berlin-2010' is not a Berlin 2009 scene; choose one of berlin-2009, "
                                          "berlin-2009-hymap"):
        load_berlin_2009("berlin-2010", tmp_path)


def test_missing_folder_names_the_file(tmp_path):
    with pytest.raises(DatasetError, match="HyMap02_Berlin_Urban_Gradient_2009.bsq: file not found"):
        load_berlin_2009("berlin-2009-hymap", tmp_path)


@needs_2009
def test_enmap_cut_as_delivered():
    da, labels = load_berlin_2009("berlin-2009", DATA)
    assert da.shape == (244, 30, 20) and da.dtype == np.float32
    assert da.rio.crs.to_epsg() == 32633 and da.rio.resolution() == (30.0, -30.0)
    assert float(da.wavelength[0]) == pytest.approx(424.0) and float(da.wavelength[-1]) == pytest.approx(2446.0)
    # EnMAP's two spectrometers overlap: the centres step back once, from 994 nm (VNIR) to 905 nm (SWIR)
    w = da.wavelength.values
    assert np.flatnonzero(np.diff(w) <= 0).tolist() == [88] and (w[88], w[89]) == (994.0, 905.0)
    # 78 pixels with a dominant (>= 50 %) roof, pavement, low vegetation or tree; no soil dominates
    assert np.bincount(labels.ravel(), minlength=6).tolist() == [522, 34, 23, 7, 14, 0]
    assert 0.05 < float(np.median(da.values)) < 0.2  # reflectance 0-1


@needs_2009
def test_hymap_cut_takes_the_label_of_its_30m_cell():
    da, labels = load_berlin_2009("berlin-2009-hymap", DATA)
    coarse, coarse_labels = load_berlin_2009("berlin-2009", DATA)
    assert da.shape == (111, 100, 67) and da.rio.resolution() == (9.0, -9.0)
    assert float(da.wavelength[0]) == pytest.approx(455.4)
    for i in (0, 37, 99):
        for j in (0, 33, 66):
            row = int((float(coarse.y[0]) + 15 - float(da.y[i])) // 30)
            col = int((float(da.x[j]) - (float(coarse.x[0]) - 15)) // 30)
            assert labels[i, j] == coarse_labels[row, col]
    assert np.bincount(labels.ravel(), minlength=6).tolist() == [5837, 375, 256, 78, 154, 0]
    assert set(BERLIN_2009) == {"berlin-2009", "berlin-2009-hymap"}
