"""hsigeo.io.raster: open_hsi (GeoTIFF, COG, ENVI), write_hsi, valid_mask."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from hsigeo.errors import OutputExistsError, RasterReadError
from hsigeo.io.raster import open_hsi, read_envi_header, valid_mask, write_hsi

WL = np.array([450.0, 550.5, 650.25, 860.0, 1650.0, 2200.0])


@pytest.fixture
def cube_da(make_da):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 5000, size=(6, 9, 11)).astype("int16")
    return make_da(data, nodata=-9999, wavelengths=WL, fwhm=np.full(6, 10.5), bad_band=[0, 0, 0, 0, 1, 0])


def test_geotiff_roundtrip(tmp_path, cube_da):
    path = write_hsi(cube_da, tmp_path / "scene.tif")
    da = open_hsi(path)
    assert da.dims == ("band", "y", "x")
    np.testing.assert_array_equal(da.values, cube_da.values)
    assert da.rio.crs.to_epsg() == 32611
    assert da.rio.transform() == from_origin(500000.0, 4000000.0, 2.0, 2.0)
    assert da.rio.nodata == -9999
    np.testing.assert_allclose(da.wavelength.values, WL)
    np.testing.assert_allclose(da.fwhm.values, 10.5)
    assert da.bad_band.values.tolist() == [False, False, False, False, True, False]
    assert da.attrs["source"] == str(path)
    assert "crs_note" not in da.attrs
    with rasterio.open(path) as src:  # GDAL sees the tiling, compression and metadata too
        assert src.block_shapes[0] == (256, 256) or src.height < 256
        assert src.compression.name.lower() == "deflate"
        assert src.tags(2)["wavelength"] == "550.5"
        assert src.tags(2, ns="IMAGERY")["CENTRAL_WAVELENGTH_UM"] == "0.5505"
        assert src.descriptions[1] == "Band 2 (550.5 nm)"


def test_chunks_gives_lazy_dask_with_same_values(tmp_path, cube_da):
    import dask.array as dsa

    path = write_hsi(cube_da, tmp_path / "scene.tif")
    lazy = open_hsi(path, chunks={"band": -1, "y": 4, "x": 4})
    assert isinstance(lazy.data, dsa.Array)
    np.testing.assert_allclose(lazy.wavelength.values, WL)
    mask = valid_mask(lazy)
    assert isinstance(mask.data, dsa.Array)
    np.testing.assert_array_equal(lazy.values, cube_da.values)
    np.testing.assert_array_equal(mask.values, valid_mask(open_hsi(path)).values)


def test_masked_replaces_nodata_with_nan(tmp_path, cube_da):
    data = cube_da.values.copy()
    data[:, 0, 0] = -9999
    path = write_hsi(cube_da.copy(data=data), tmp_path / "scene.tif")
    da = open_hsi(path, masked=True)
    assert np.isnan(da.values[:, 0, 0]).all()
    assert da.rio.encoded_nodata == -9999
    assert not bool(valid_mask(da).values[0, 0])


def test_write_hsi_refuses_to_overwrite(tmp_path, cube_da):
    path = write_hsi(cube_da, tmp_path / "scene.tif")
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_hsi(cube_da, path)
    write_hsi(cube_da * 0 + 7, path, overwrite=True)
    assert int(open_hsi(path).values.max()) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]


def test_write_hsi_leaves_nothing_on_failure(tmp_path, cube_da):
    import dask.array as dsa

    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][1] > 0:  # the second row strip fails
            raise RuntimeError("sensor read error (simulated)")
        return block

    lazy = cube_da.copy(data=dsa.from_array(cube_da.values, chunks=(6, 3, 11)).map_blocks(boom, dtype="int16"))
    with pytest.raises(RuntimeError, match="simulated"):
        write_hsi(lazy, tmp_path / "scene.tif", rows_per_write=3)
    assert list(tmp_path.iterdir()) == []


def _write_envi(tmp_path, *, header_extra: str, suffix: str = ".img", bands: int = 4, h: int = 5, w: int = 6):
    data = (np.arange(bands * h * w, dtype="int16").reshape(bands, h, w) + 100)
    data[:, 0, 0] = -1
    img = tmp_path / f"cube{suffix}"
    data.tofile(img)  # ENVI BSQ int16, little endian
    hdr = tmp_path / "cube.hdr"
    hdr.write_text(
        "ENVI\n"
        "description = {hand-written test cube}\n"
        f"samples = {w}\nlines = {h}\nbands = {bands}\n"
        "header offset = 0\nfile type = ENVI Standard\ndata type = 2\ninterleave = bsq\nbyte order = 0\n"
        "map info = {UTM, 1, 1, 500000, 4000000, 2, 2, 11, North, WGS-84, units=Meters}\n"
        + header_extra
    )
    return img, hdr, data


def test_envi_micrometres_fwhm_bbl_and_ignore_value(tmp_path):
    img, hdr, data = _write_envi(
        tmp_path,
        header_extra=(
            "wavelength units = Micrometers\n"
            "wavelength = {\n 0.45, 0.55,\n 0.65, 1.40 }\n"
            "fwhm = { 0.010, 0.010, 0.012, 0.015 }\n"
            "bbl = { 1, 1, 1, 0 }\n"
            "data ignore value = -1\n"
        ),
    )
    for p in (img, hdr):  # either half of the pair opens the scene
        da = open_hsi(p)
        np.testing.assert_allclose(da.wavelength.values, [450.0, 550.0, 650.0, 1400.0])
        np.testing.assert_allclose(da.fwhm.values, [10.0, 10.0, 12.0, 15.0])
        assert da.bad_band.values.tolist() == [False, False, False, True]
        assert da.rio.nodata == -1
        np.testing.assert_array_equal(da.values, data)
        assert da.rio.crs.to_epsg() == 32611
        assert da.rio.transform().c == 500000.0 and da.rio.transform().a == 2.0
    assert not bool(valid_mask(da).values[0, 0]) and bool(valid_mask(da).values[1, 1])


def test_envi_nanometres_and_dat_suffix(tmp_path):
    img, hdr, _ = _write_envi(tmp_path, suffix=".dat",
                              header_extra="wavelength units = Nanometers\nwavelength = {400, 500, 600, 700}\n")
    da = open_hsi(img)
    np.testing.assert_allclose(da.wavelength.values, [400, 500, 600, 700])
    assert "bad_band" not in da.coords and "fwhm" not in da.coords


def test_envi_unitless_micrometres_are_guessed(tmp_path):
    _, hdr, _ = _write_envi(tmp_path, header_extra="wavelength = {0.4, 0.5, 0.6, 0.7}\n")
    np.testing.assert_allclose(open_hsi(hdr).wavelength.values, [400, 500, 600, 700])


def test_read_envi_header_multiline_lists(tmp_path):
    p = tmp_path / "x.hdr"
    p.write_text("ENVI\nsamples = 3\nband names = {\n a = 1, b,\n c}\nwavelength = {1,\n2,3}\n")
    hdr = read_envi_header(p)
    assert hdr["samples"] == "3"
    assert hdr["band names"] == ["a = 1", "b", "c"]
    assert hdr["wavelength"] == ["1", "2", "3"]


def _plain_tif(path, count=3, *, crs="EPSG:32611", descriptions=None, tags=None, imagery=None):
    profile = dict(driver="GTiff", width=4, height=3, count=count, dtype="float32",
                   transform=from_origin(0, 30, 10, 10))
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((count, 3, 4), dtype="float32"))
        for i in range(count):
            if descriptions:
                dst.set_band_description(i + 1, descriptions[i])
            if tags:
                dst.update_tags(i + 1, **tags[i])
            if imagery:
                dst.update_tags(i + 1, ns="IMAGERY", **imagery[i])
    return path


def test_geotiff_imagery_domain_micrometres(tmp_path):
    p = _plain_tif(tmp_path / "a.tif", imagery=[{"CENTRAL_WAVELENGTH_UM": "0.49", "FWHM_UM": "0.02"},
                                                {"CENTRAL_WAVELENGTH_UM": "0.56", "FWHM_UM": "0.02"},
                                                {"CENTRAL_WAVELENGTH_UM": "0.665", "FWHM_UM": "0.03"}])
    da = open_hsi(p)
    np.testing.assert_allclose(da.wavelength.values, [490, 560, 665])
    np.testing.assert_allclose(da.fwhm.values, [20, 20, 30])


def test_geotiff_band_descriptions_and_unit_items(tmp_path):
    p = _plain_tif(tmp_path / "d.tif", descriptions=["Band 1 (550.0 nm)", "0.65 um", "NIR"])
    np.testing.assert_allclose(open_hsi(p).wavelength.values, [550.0, 650.0, np.nan])
    p = _plain_tif(tmp_path / "t.tif", tags=[{"WAVELENGTH": "0.5", "WAVELENGTH_UNITS": "Micrometers"},
                                             {"wavelength": "600"}, {}])
    np.testing.assert_allclose(open_hsi(p).wavelength.values, [500.0, 600.0, np.nan])


def test_no_wavelengths_gives_nan_and_no_crs_gives_note(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = _plain_tif(tmp_path / "n.tif", crs=None)
    da = open_hsi(p)
    assert np.isnan(da.wavelength.values).all()
    assert da.rio.crs is None
    assert "no coordinate reference system" in da.attrs["crs_note"]


@pytest.mark.parametrize("content", [b"", b"this is not a tiff\n"])
def test_empty_or_text_file_raises(tmp_path, content):
    p = tmp_path / "broken.tif"
    p.write_bytes(content)
    with pytest.raises(RasterReadError) as err:
        open_hsi(p)
    assert str(p) in str(err.value)
    assert "empty" in str(err.value) or "not a raster" in str(err.value)


def test_missing_file_and_folder_raise(tmp_path):
    with pytest.raises(RasterReadError, match="not found"):
        open_hsi(tmp_path / "nope.tif")
    with pytest.raises(RasterReadError, match="folder"):
        open_hsi(tmp_path)


def test_single_band_raster_is_rejected(tmp_path):
    p = _plain_tif(tmp_path / "one.tif", count=1)
    with pytest.raises(RasterReadError, match="1 band"):
        open_hsi(p)
    assert open_hsi(p, min_bands=1).sizes["band"] == 1


def test_envi_header_without_data_file(tmp_path):
    p = tmp_path / "lonely.hdr"
    p.write_text("ENVI\nsamples = 2\nlines = 2\nbands = 2\n")
    with pytest.raises(RasterReadError, match="without a data file"):
        open_hsi(p)


def test_valid_mask_nan_inf_nodata_and_bad_bands(make_da):
    data = np.ones((3, 2, 3), dtype="float32")
    data[0, 0, 0] = np.nan
    data[1, 0, 1] = np.inf
    data[2, 0, 2] = -1.0  # nodata in a band flagged bad: ignored
    data[:, 1, 0] = -1.0  # nodata everywhere
    da = make_da(data, nodata=-1.0, bad_band=[False, False, True])
    m = valid_mask(da)
    assert m.dims == ("y", "x")
    assert m.values.tolist() == [[False, False, True], [False, True, True]]
    assert valid_mask(da, ignore_bad_bands=False).values[0, 2] == np.False_
    assert valid_mask(da, how="all").values.tolist() == [[True, True, True], [False, True, True]]


def test_cog_input_keeps_wavelengths(tmp_path, cube_da):
    import rasterio.shutil

    tif = write_hsi(cube_da, tmp_path / "scene.tif")
    cog = tmp_path / "scene_cog.tif"
    rasterio.shutil.copy(tif, cog, driver="COG", compress="DEFLATE")
    da = open_hsi(cog)
    np.testing.assert_allclose(da.wavelength.values, WL)
    np.testing.assert_array_equal(da.values, cube_da.values)


def test_unitless_band_metadata_in_micrometres_scales_fwhm(tmp_path):
    p = _plain_tif(tmp_path / "u.tif", tags=[{"wavelength": "0.5", "fwhm": "0.01"}, {"wavelength": "0.6"},
                                             {"wavelength": "0.7"}])
    da = open_hsi(p)
    np.testing.assert_allclose(da.wavelength.values, [500, 600, 700])
    np.testing.assert_allclose(da.fwhm.values, [10, np.nan, np.nan])
