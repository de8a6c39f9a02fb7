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


# --------------------------------------------------------------------------- #
# EMIT L2A RFL
# --------------------------------------------------------------------------- #
def test_emit_l2a_orthorectified_through_the_glt(tmp_path):
    from _product_fixtures import emit_glt, emit_l2a, emit_wavelengths

    nc = emit_l2a(tmp_path)
    for given in (nc, f'NETCDF:"{nc}":reflectance'):
        da = open_hsi(given)
        wl, fwhm, good = emit_wavelengths()
        ny = nx = int(np.ceil(np.hypot(20, 16))) + 2
        assert da.shape == (285, ny, nx) and da.attrs["sensor"] == "EMIT" and da.attrs["product_level"] == "L2A"
        assert np.allclose(da.coords["wavelength"].values, wl, atol=1e-3)
        assert np.allclose(da.coords["fwhm"].values, fwhm)
        assert np.array_equal(da.coords["bad_band"].values, good == 0)
        gx, gy = emit_glt(ny, nx, 20, 16)
        vals = da.isel(band=0).values
        # every north-up pixel holds the swath pixel its GLT entry names; none where the GLT is 0
        r, c = np.nonzero((gx > 0) & ~((gx == 1) & (gy == 1)))
        want = 0.1 + 0.001 * (gy[r, c] - 1) + 0.0001 * (gx[r, c] - 1)
        assert np.allclose(vals[r, c], want, atol=1e-6)
        assert np.isnan(vals[gx == 0]).all() and (gx == 0).any()
        # the swath's fill pixel stays nodata where the GLT places it
        assert np.isnan(vals[(gx == 1) & (gy == 1)]).all()
        assert not bool(valid_mask(da).values[0, 0])
        # geotransform: pixel (row 3, col 5) centre
        assert float(da.x[5]) == pytest.approx(30.0 + 5.5 * 0.000542232520256)
        assert float(da.y[3]) == pytest.approx(12.0 - 3.5 * 0.000542232520256)
        assert da.rio.crs.to_epsg() == 4326
        assert da.attrs["acquisition_time"].startswith("2023-04-01T08:15:19")
        assert da.attrs["processing_version"] == "V001"


def test_emit_without_glt_names_what_is_missing(tmp_path):
    from _product_fixtures import emit_l2a

    nc = emit_l2a(tmp_path, glt=False)
    with pytest.raises(RasterReadError, match="location/glt_x and location/glt_y"):
        open_hsi(nc)


def test_netcdf_container_lists_its_subdatasets(tmp_path):
    import h5py

    p = tmp_path / "two.nc"
    with h5py.File(p, "w") as f:
        for name, size in (("y", 6), ("x", 5), ("b", 3)):
            f.create_dataset(name, data=np.arange(size, dtype=np.float32)).make_scale(name)
        for var in ("alpha", "beta"):
            d = f.create_dataset(var, data=np.ones((3, 6, 5), np.float32))
            for i, dim in enumerate(("b", "y", "x")):
                d.dims[i].attach_scale(f[dim])
    with pytest.raises(RasterReadError, match=r'(?i)2 subdatasets.*NETCDF:"?.*two.nc"?:alpha \(3 bands.*pass the image'):
        open_hsi(p)
    assert open_hsi(f'NETCDF:"{p}":beta').shape == (3, 6, 5)


# --------------------------------------------------------------------------- #
# PRISMA L2D
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("zipped", [False, True])
def test_prisma_l2d_one_ascending_cube(tmp_path, zipped):
    from _product_fixtures import PRISMA_NAME, prisma_bands, prisma_l2d

    path = prisma_l2d(tmp_path, zip_it=zipped)
    da = open_hsi(path)
    b = prisma_bands()
    wl = da.coords["wavelength"].values
    assert np.all(np.diff(wl) > 0)  # one strictly ascending axis
    v = np.sort(b["vnir"][b["vnir"] > 0])
    s = np.sort(b["swir"][b["swir"] > 0])
    s = s[s > v.max()]  # the overlap goes to VNIR
    assert da.shape == (v.size + s.size, 14, 12) and np.allclose(wl, np.concatenate([v, s]), atol=1e-3)
    assert np.allclose(da.coords["fwhm"].values[: v.size], 11.0) and np.allclose(da.coords["fwhm"].values[v.size:], 9.5)
    # band 0 = 402 nm = the last stored VNIR slot (k = 65): DN 1000*65 + 10*r + c, scale 0..1
    assert float(da[0, 3, 5]) == pytest.approx((65000 + 35) / 65535.0, rel=1e-6)
    # the first SWIR band kept: the stored SWIR slot whose centre it is; scale 0..0.5
    k = int(np.flatnonzero(np.isclose(b["swir"], s[0]))[0])
    assert float(da[v.size, 3, 5]) == pytest.approx((20000 + 100 * k + 35) * 0.5 / 65535.0, rel=1e-6)
    assert np.isnan(da[:, 0, 0].values).all() and not bool(valid_mask(da).values[0, 0])
    # corners are pixel centres: pixel (2, 4) centre
    assert float(da.x[4]) == pytest.approx(500015.0 + 4 * 30) and float(da.y[2]) == pytest.approx(5000015.0 - 2 * 30)
    assert da.rio.crs.to_epsg() == 32632 and da.rio.resolution() == pytest.approx((30.0, -30.0))
    assert da.attrs["sensor"] == "PRISMA" and da.attrs["product_level"] == "L2D"
    assert da.attrs["acquisition_time"] == "2020-02-09T10:24:59.000" and da.attrs["processing_version"] == "3.9-3"
    assert "overlap" in da.attrs["band_order"] and "pixel centres" in da.attrs["grid"]
    if not zipped:
        sub = f'HDF5:"{tmp_path / PRISMA_NAME}"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube'
        assert open_hsi(sub).shape == da.shape


def test_prisma_other_levels_are_refused_clearly(tmp_path):
    import h5py

    p = tmp_path / "PRS_L2C_STD_20200209102459_20200209102503_0001.he5"
    with h5py.File(p, "w") as f:
        f.create_group("HDFEOS/SWATHS/PRS_L2C_HCO/Data Fields")
    with pytest.raises(RasterReadError, match="only L2D"):
        open_hsi(p)


# --------------------------------------------------------------------------- #
# AVIRIS-NG (ENVI, as in the AVIRIS-NG Distribution Document)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name,level", [("ang20170228t170016_rfl_v2p5_img", "L2 reflectance"),
                                        ("ang20170228t170016_rdn_v2p5_img", "L1B radiance")])
def test_aviris_ng_envi_named_and_read_as_stored(tmp_path, name, level):
    wl = np.linspace(376.86, 2500.0, 425)
    data = np.full((425, 3, 4), 0.25, dtype="<f4")
    data[:, 0, 0] = -9999.0
    data.tofile(tmp_path / name)
    (tmp_path / f"{name}.hdr").write_text(
        "ENVI\ndescription = {AVIRIS-NG reflectance}\nsamples = 4\nlines = 3\nbands = 425\nheader offset = 0\n"
        "file type = ENVI Standard\ndata type = 4\ninterleave = bil\nbyte order = 0\n"
        "map info = {UTM, 1, 1, 724522.0, 4074620.0, 5.0, 5.0, 11, North, WGS-84, units=Meters}\n"
        "wavelength units = Nanometers\ndata ignore value = -9999\n"
        "wavelength = {" + ", ".join(f"{w:.2f}" for w in wl) + "}\n"
        "fwhm = {" + ", ".join("5.5" for _ in wl) + "}\n")
    da = open_hsi(tmp_path / name)
    assert da.attrs["sensor"] == "AVIRIS-NG" and da.attrs["product_level"] == level
    assert da.attrs["acquisition_time"] == "2017-02-28T17:00:16Z" and da.attrs["processing_version"] == "v2p5"
    assert "scaling" not in da.attrs and float(da[5, 1, 1]) == pytest.approx(0.25)  # float reflectance, no factor
    assert da.coords["wavelength"].values[0] == pytest.approx(376.86) and np.allclose(da.coords["fwhm"].values, 5.5)
    assert not bool(valid_mask(da).values[0, 0])
    assert ("values_note" in da.attrs) == (level == "L1B radiance")


def test_glt_gather_scattered_entries_read_row_by_row():
    from hsigeo.io.products.emit import glt_gather

    swath = np.arange(200 * 100 * 3, dtype=np.float32).reshape(200, 100, 3)
    gx = np.array([[1, 100], [0, 50]], dtype=np.int32)  # opposite corners of the swath: a huge bounding box
    gy = np.array([[1, 200], [0, -120]], dtype=np.int32)  # negative = filled from a neighbour, |value| used
    out = glt_gather(swath, gx, gy)
    assert out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out[:, 0, 0], swath[0, 0])
    np.testing.assert_array_equal(out[:, 0, 1], swath[199, 99])
    np.testing.assert_array_equal(out[:, 1, 1], swath[119, 49])
    assert np.isnan(out[:, 1, 0]).all()
    with pytest.raises(RasterReadError, match="outside the swath"):
        glt_gather(swath, np.array([[101]]), np.array([[1]]))
