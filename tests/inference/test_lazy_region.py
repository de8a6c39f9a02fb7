"""``--extent``, ``--mask`` and ``--resample`` on the lazy path (``da.hsi.classify`` / ``classify_dataarray``):
the same pixels, grid and nodata as the tiled engine's outputs."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _inference_models import WAVELENGTHS, random_cube, tiny_model, write_scene

from hsigeo.inference.tiled import classify_raster
from hsigeo.io.raster import open_hsi

H, W = 48, 40
# the scene's grid: UTM 11N, 2 m pixels from (500000, 4000000) (write_scene)
EXTENT = "500011,3999921,500057,3999975"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("lazy-region")
    cube = random_cube(H, W, seed=11)
    cube[:, 30:34, 5:12] = -9999  # a nodata patch
    path = write_scene(d / "scene.tif", cube)
    import geopandas as gpd
    from shapely.geometry import Polygon

    mask = d / "field.gpkg"
    gpd.GeoDataFrame(geometry=[Polygon([(500010, 3999990), (500060, 3999985), (500050, 3999930),
                                        (500015, 3999940)])], crs="EPSG:32611").to_file(mask)
    return path, mask, d


def _tiled(path, model, out, **kw):
    classify_raster(path, model, out, tile_size=16, device="cpu", progress=False, **kw)
    with rasterio.open(out) as src:
        return src.read(1), src.transform


@pytest.mark.parametrize("options", [{"extent": EXTENT}, {"mask": "mask"}, {"extent": EXTENT, "mask": "mask"}])
def test_lazy_extent_and_mask_equal_the_tiled_engine(options, scene, tmp_path):
    path, mask, _ = scene
    kw = {k: (mask if v == "mask" else v) for k, v in options.items()}
    model = tiny_model()
    want, transform = _tiled(path, model, tmp_path / "t.tif", **kw)
    da = open_hsi(path, chunks={"y": 16, "x": 16})
    got = da.hsi.classify(model, device="cpu", **kw)
    assert got.chunks is not None  # still lazy
    got = got.compute()
    assert got.shape == want.shape and got.shape != (H, W)
    np.testing.assert_array_equal(got.values, want)
    assert got.rio.transform() == transform
    if "mask" in kw:
        assert (want == 0).any() and (want > 0).any()


def test_lazy_resample_equals_the_tiled_engine(tmp_path):
    """A 20-band scene of another sensor onto the model's 12 bands, block by block."""
    wl = np.linspace(430.0, 2450.0, 20)
    cube = random_cube(24, 24, bands=20, seed=12)
    path = write_scene(tmp_path / "other.tif", cube)
    with rasterio.open(path, "r+") as dst:
        for b in range(20):
            dst.update_tags(b + 1, wavelength=f"{wl[b]:.3f}", wavelength_units="nm")
    model = tiny_model()
    assert model.wavelengths is not None and np.allclose(model.wavelengths, WAVELENGTHS)
    want, _ = _tiled(path, model, tmp_path / "t.tif", resample=True)
    da = open_hsi(path, chunks={"y": 12, "x": 12})
    from hsigeo.errors import BandMismatchError

    with pytest.raises(BandMismatchError):
        da.hsi.classify(model, device="cpu")
    got = da.hsi.classify(model, device="cpu", resample=True).compute()
    np.testing.assert_array_equal(got.values, want)
