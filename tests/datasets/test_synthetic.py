"""hsigeo.datasets.synthetic: in-memory cubes, the on-disk demo scene and the windowed large-scene writer."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import yaml

from hsigeo.datasets.synthetic import (
    CLASS_LIBRARY,
    NODATA,
    SCALE,
    class_spectrum,
    make_synthetic_scene,
    synthetic_cube,
    synthetic_wavelengths,
    write_large_synthetic,
)
from hsigeo.errors import OutputExistsError
from hsigeo.io.classmaps import read_class_table
from hsigeo.io.raster import open_hsi


def test_synthetic_cube_shapes_and_determinism():
    a = synthetic_cube(height=30, width=40, bands=25, n_classes=4, seed=3)
    assert a.cube.shape == (25, 30, 40) and a.cube.dtype == np.float32
    assert a.labels.shape == (30, 40) and a.labels.dtype == np.int32
    assert set(np.unique(a.labels)) == {1, 2, 3, 4}  # every class shows up, even in a small scene
    assert 0.0 <= a.cube.min() and a.cube.max() <= 1.0
    np.testing.assert_allclose(a.wavelengths[[0, -1]], [400.0, 2500.0])
    assert a.class_names == [c[0] for c in CLASS_LIBRARY[:4]]
    b = synthetic_cube(height=30, width=40, bands=25, n_classes=4, seed=3)
    np.testing.assert_array_equal(a.cube, b.cube)
    c = synthetic_cube(height=30, width=40, bands=25, n_classes=4, seed=4)
    assert not np.array_equal(a.labels, c.labels)


def test_spectra_are_physically_plausible():
    wl = synthetic_wavelengths(211)  # 10 nm steps
    at = lambda s, nm: float(s[np.argmin(np.abs(wl - nm))])  # noqa: E731
    veg = class_spectrum(0, wl)
    assert at(veg, 860) > 4 * at(veg, 670)  # red edge
    assert at(veg, 550) > at(veg, 480) and at(veg, 550) > at(veg, 670)  # green peak
    assert at(veg, 1450) < 0.8 * at(veg, 1650) and at(veg, 1940) < 0.8 * at(veg, 2200)  # leaf water
    water = class_spectrum(2, wl)
    assert at(water, 900) < 0.02 and at(water, 500) > at(water, 800)
    soil = class_spectrum(1, wl)
    assert at(soil, 1650) > at(soil, 500)  # soils brighten into the SWIR


def test_make_synthetic_scene_files(synthetic_scene, synthetic_scene_kw):
    s = synthetic_scene
    da = open_hsi(s.scene_path)
    assert da.dtype == np.int16 and da.sizes == {"band": 40, "y": 48, "x": 56}
    assert da.rio.crs.to_epsg() == 32611
    assert da.rio.transform().a == 2.0 and da.rio.transform().e == -2.0
    assert da.rio.nodata == NODATA
    np.testing.assert_allclose(da.wavelength.values, np.linspace(400, 2500, 40))
    assert da.bad_band.values.any() and not da.bad_band.values.all()
    vals = da.values
    b = synthetic_scene_kw["nodata_border"]
    assert (vals[:, :b, :] == NODATA).all() and (vals[:, :, -b:] == NODATA).all()
    inner = vals[:, b:-b, b:-b]
    assert inner.min() >= 0 and inner.max() <= SCALE

    with rasterio.open(s.labels_path) as src:
        lab = src.read(1)
        assert src.dtypes[0] == "uint8" and src.crs.to_epsg() == 32611
        assert src.transform == da.rio.transform()
    assert (lab == 0).any() and (lab > 0).mean() > 0.15
    assert set(np.unique(lab)) - {0} <= {1, 2, 3, 4, 5}
    assert (lab[:b] == 0).all()
    assert [e.name for e in read_class_table(s.labels_path)] == [c.name for c in s.classes]

    doc = yaml.safe_load(s.prompts_path.read_text())
    assert [c["name"] for c in doc["classes"]] == [c.name for c in s.classes]
    for c, entry in zip(doc["classes"], s.classes):
        assert set(c) == {"name", "value", "colour", "prompts"}
        assert c["value"] == entry.value and c["colour"] == entry.colour_hex
        assert len(c["prompts"]) >= 2 and all(isinstance(p, str) and p for p in c["prompts"])


def test_labelled_pixels_have_their_class_spectrum(synthetic_scene):
    # labels must describe the scene: mean vegetation NIR/red ratio is high, water's low
    da = open_hsi(synthetic_scene.scene_path)
    with rasterio.open(synthetic_scene.labels_path) as src:
        lab = src.read(1)
    red = da.sel(band=int(np.argmin(np.abs(da.wavelength.values - 670))) + 1).values.astype(float)
    nir = da.sel(band=int(np.argmin(np.abs(da.wavelength.values - 860))) + 1).values.astype(float)
    ratio = lambda v: float(np.mean(nir[lab == v]) / np.mean(red[lab == v]))  # noqa: E731
    if (lab == 1).any() and (lab == 3).any():
        assert ratio(1) > 3.0 > ratio(3)


def test_make_synthetic_scene_refuses_to_overwrite(synthetic_scene, synthetic_scene_kw, tmp_path):
    out = synthetic_scene.scene_path.parent
    with pytest.raises(OutputExistsError):
        make_synthetic_scene(out, **synthetic_scene_kw)
    s = make_synthetic_scene(tmp_path, height=20, width=24, bands=8, n_classes=2, seed=1)
    s2 = make_synthetic_scene(tmp_path, height=20, width=24, bands=8, n_classes=2, seed=1, overwrite=True)
    assert s2.scene_path == s.scene_path


def test_write_large_synthetic_windowed(tmp_path):
    kw = dict(height=150, width=170, bands=12, n_classes=4, seed=2, progress=False)
    p1 = write_large_synthetic(tmp_path / "a.tif", block=64, band_chunk=5, labels_path=tmp_path / "a_lab.tif", **kw)
    write_large_synthetic(tmp_path / "b.tif", block=128, labels_path=tmp_path / "b_lab.tif", **kw)
    da = open_hsi(p1)
    assert da.sizes == {"band": 12, "y": 150, "x": 170}
    assert da.rio.crs.to_epsg() == 32611
    np.testing.assert_allclose(da.wavelength.values, np.linspace(400, 2500, 12))
    with rasterio.open(tmp_path / "a_lab.tif") as a, rasterio.open(tmp_path / "b_lab.tif") as b:
        la, lb = a.read(1), b.read(1)
    np.testing.assert_array_equal(la, lb)  # region layout does not depend on the window size
    assert set(np.unique(la)) == {1, 2, 3, 4}
    vals = da.values
    assert vals.min() >= 0 and vals.max() <= SCALE
    with pytest.raises(OutputExistsError):
        write_large_synthetic(p1, **kw)
