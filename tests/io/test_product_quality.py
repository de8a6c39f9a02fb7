"""A product's own quality layers as a mask (``--product-mask``): EnMAP, DESIS and EMIT, built to their layouts.

Fixtures: ``tests/_product_fixtures.py`` (EnMAP L2A ``-QL_QUALITY_*.TIF``/``-QL_PIXELMASK.TIF``, DESIS L2A
``-QL_QUALITY-2.tif``, EMIT L2A MASK granule), each naming its specification.
"""

from __future__ import annotations

import numpy as np
import pytest
from _product_fixtures import (
    DESIS_CLOUD_LAND,
    DESIS_CLOUD_WATER,
    DESIS_SHADOW,
    EMIT_CLOUD_ROWS,
    EMIT_NAME,
    EMIT_WATER_COLS,
    ENMAP_CLOUD,
    ENMAP_DEFECTIVE,
    ENMAP_SHADOW,
    desis_l2a,
    emit_glt,
    emit_l2a,
    emit_mask,
    enmap_l2a,
    prisma_l2d,
)

from hsigeo.errors import InvalidInputError, RasterReadError
from hsigeo.io.products.quality import quality_mask
from hsigeo.io.raster import open_hsi


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_CACHE_DIR", str(tmp_path / "cache"))


def _expected(h, w, *where):
    out = np.zeros((h, w), dtype=bool)
    for idx in where:
        out[idx] = True
    return out


@pytest.mark.parametrize("zipped", [False, True])
def test_enmap_quality_layers(tmp_path, zipped):
    given = enmap_l2a(tmp_path / "dl", zip_it=zipped)
    da = open_hsi(given)
    # the fixture ships cloud, cloud shadow and the pixel mask, not snow/haze/cirrus
    assert da.attrs["quality_layers"] == "cloud, shadow, defective"
    qm = quality_mask(given, "cloud,shadow", width=10, height=12)
    assert qm.names == ("cloud", "shadow")
    np.testing.assert_array_equal(qm.flagged(0, 0, 12, 10), _expected(12, 10, ENMAP_CLOUD, ENMAP_SHADOW))
    # a window reads its own pixels: rows 2-4, columns 6-8 are the cloud block
    assert qm.flagged(2, 6, 3, 3).all() and not qm.flagged(0, 0, 2, 6).any()
    # QL_PIXELMASK: a pixel defective in any one spectral band is flagged
    np.testing.assert_array_equal(quality_mask(given, ["defective"]).flagged(0, 0, 12, 10),
                                  _expected(12, 10, ENMAP_DEFECTIVE))


def test_missing_quality_layer_is_named(tmp_path):
    folder = enmap_l2a(tmp_path / "dl")
    with pytest.raises(InvalidInputError, match=r"no snow quality layer \(snow: ENMAP01-.*-QL_QUALITY_SNOW\.TIF\)"
                                                r".*Its quality layers: cloud, shadow, defective"):
        quality_mask(folder, "cloud,snow")


def test_quality_layer_of_another_size_is_refused(tmp_path):
    folder = enmap_l2a(tmp_path / "dl")
    with pytest.raises(InvalidInputError, match=r"QL_QUALITY_CLOUD\.TIF: is 10 x 12 pixels but the scene is 20 x 24"):
        quality_mask(folder, "cloud", width=20, height=24)


def test_desis_quality_layer(tmp_path):
    folder = desis_l2a(tmp_path / "dl")
    # cloud is either of DESIS's cloud-over-land and cloud-over-water bands; "land" and the AOT/water-vapour
    # value bands (nonzero everywhere) never mask
    np.testing.assert_array_equal(quality_mask(folder, "cloud").flagged(0, 0, 9, 8),
                                  _expected(9, 8, DESIS_CLOUD_LAND, DESIS_CLOUD_WATER))
    np.testing.assert_array_equal(quality_mask(folder, "shadow").flagged(0, 0, 9, 8), _expected(9, 8, DESIS_SHADOW))
    assert not quality_mask(folder, "snow,haze,water").flagged(0, 0, 9, 8).any()


def test_emit_mask_granule_on_the_orthorectified_grid(tmp_path):
    nc = emit_l2a(tmp_path / "dl", mask=True)
    da = open_hsi(nc)
    assert da.attrs["quality_layers"] == "cloud, cirrus, water, spacecraft, dilated-cloud, aggregate"
    assert "EMIT_L2A_MASK_001_20230401T081519_2309106_004.nc" in da.attrs["read_from"]
    n = int(np.ceil(np.hypot(20, 16))) + 2
    gx, gy = emit_glt(n, n, 20, 16)
    filled = gx > 0
    cloud = filled & np.isin(gy - 1, list(EMIT_CLOUD_ROWS))
    # the MASK's fill at swath pixel (0, 0) is not a flag
    water = filled & np.isin(gx - 1, list(EMIT_WATER_COLS)) & ~((gx == 1) & (gy == 1))
    qm = quality_mask(nc, "cloud", width=n, height=n)
    np.testing.assert_array_equal(qm.flagged(0, 0, n, n), cloud)
    np.testing.assert_array_equal(quality_mask(nc, "water").flagged(0, 0, n, n), water)
    np.testing.assert_array_equal(quality_mask(nc, "aggregate").flagged(0, 0, n, n), cloud | water)
    assert not quality_mask(nc, "cirrus,spacecraft").flagged(0, 0, n, n).any()
    # read from the north-up copy in the cache, shown as the MASK file
    assert qm.layers[0].path != str(nc)
    assert qm.layers[0].shown.endswith("EMIT_L2A_MASK_001_20230401T081519_2309106_004.nc")


def test_emit_without_its_mask_granule_says_which_file(tmp_path):
    nc = emit_l2a(tmp_path / "dl")
    assert "quality_layers" not in open_hsi(nc).attrs
    with pytest.raises(InvalidInputError, match=r"EMIT_L2A_MASK_001_20230401T081519_2309106_004\.nc beside"):
        quality_mask(nc, "cloud")


def test_emit_mask_of_another_granule_is_refused(tmp_path):
    nc = emit_l2a(tmp_path / "dl")
    emit_mask(tmp_path / "dl", 21, 16, name=EMIT_NAME.replace("_RFL_", "_MASK_"))
    with pytest.raises(RasterReadError, match=r"EMIT_L2A_MASK_.*21 x 16 x 8 .*from another granule"):
        open_hsi(nc)


def test_plain_rasters_and_prisma_have_no_product_mask(tmp_path):
    he5 = prisma_l2d(tmp_path / "dl")
    with pytest.raises(InvalidInputError, match=r"PRISMA L2D product .*has no cloud quality layer.*Its quality "
                                                r"layers: none"):
        quality_mask(he5, "cloud")
    with pytest.raises(InvalidInputError, match="not a quality flag; use one or more of cloud, cirrus"):
        quality_mask(he5, "clouds")
