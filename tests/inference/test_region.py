"""``hsigeo.inference.region``: extent and mask of a run, and the windows the tiled engine reads for them."""

from __future__ import annotations

import geopandas as gpd
import pytest
import rasterio
from _inference_models import random_cube, tiny_model, write_scene
from rasterio.transform import from_origin
from shapely.geometry import box

from hsigeo.errors import InvalidInputError
from hsigeo.inference import scene as scene_module
from hsigeo.inference import tiled
from hsigeo.inference.region import Extent, parse_extent, plan_region
from hsigeo.io.vectors import write_vector

# 52 x 40 px of 2 m from (500000, 4000000), as write_scene makes them
GRID = dict(width=52, height=40, transform=from_origin(500000.0, 4000000.0, 2.0, 2.0), crs="EPSG:32611")


def _mask(path, *geoms, crs="EPSG:32611"):
    return write_vector(gpd.GeoDataFrame({"id": range(len(geoms))}, geometry=list(geoms), crs=crs), path)


def test_parse_extent():
    assert parse_extent("1,2,3,4") == Extent(1.0, 2.0, 3.0, 4.0, None)
    assert parse_extent(" 1, 2, 3, 4, EPSG:4326") == Extent(1.0, 2.0, 3.0, 4.0, "EPSG:4326")
    with pytest.raises(InvalidInputError, match="xmin,ymin,xmax,ymax"):
        parse_extent("1,2,3")
    with pytest.raises(InvalidInputError, match="xmax must exceed xmin"):
        parse_extent("3,2,1,4")


def test_extent_snaps_outward_to_whole_pixels():
    region = plan_region(**GRID, extent="500003,3999951,500009,3999959")
    # x 3..9 m -> columns 1..4, y 41..49 m below the top -> rows 20..24
    assert (region.col_off, region.row_off, region.width, region.height) == (1, 20, 4, 5)
    assert (region.transform.c, region.transform.f) == (500002.0, 3999960.0)
    whole = plan_region(**GRID)
    assert whole.whole_scene and (whole.width, whole.height) == (52, 40) and whole.window_mask(0, 0, 4, 4) is None
    # an extent reaching past the scene is cut to it
    cut = plan_region(**GRID, extent="499000,3999000,500010,4001000")
    assert (cut.col_off, cut.row_off, cut.width, cut.height) == (0, 0, 5, 40)


def test_mask_problems_are_clear(tmp_path):
    far = _mask(tmp_path / "far.gpkg", box(0, 0, 10, 10))
    with pytest.raises(InvalidInputError, match="do not overlap"):
        plan_region(**GRID, mask=far)
    points = write_vector(gpd.GeoDataFrame({"id": [1]}, geometry=gpd.points_from_xy([500001], [3999999]),
                                           crs="EPSG:32611"), tmp_path / "points.gpkg")
    with pytest.raises(InvalidInputError, match="no polygons"):
        plan_region(**GRID, mask=points)
    with pytest.raises(InvalidInputError, match="not found"):
        plan_region(**GRID, mask=tmp_path / "missing.gpkg")
    # a mask in another CRS is reprojected (a box around the scene's top-left pixel, in lon/lat)
    from pyproj import Transformer

    to_ll = Transformer.from_crs("EPSG:32611", "EPSG:4326", always_xy=True)
    (x0, x1), (y0, y1) = to_ll.transform([500000.5, 500001.5], [3999998.5, 3999999.5])
    region = plan_region(**GRID, mask=_mask(tmp_path / "ll.gpkg", box(x0, y0, x1, y1), crs="EPSG:4326"))
    assert (region.col_off, region.row_off, region.width, region.height) == (0, 0, 1, 1)


def test_only_windows_the_mask_touches_are_read(tmp_path, monkeypatch):
    scene = write_scene(tmp_path / "scene.tif", random_cube(40, 52, seed=3))
    # two small squares: top-left and bottom-right corners of the scene
    mask = _mask(tmp_path / "m.gpkg", box(500000, 3999984, 500016, 4000000), box(500088, 3999920, 500104, 3999936))
    reads = []
    real = scene_module.read_tile
    monkeypatch.setattr(scene_module, "read_tile", lambda src, scene, window, *a: reads.append(window) or real(
        src, scene, window, *a))
    result = tiled.classify_raster(scene, tiny_model(), tmp_path / "c.tif", mask=mask, tile_size=16, progress=False)
    # the region is the whole scene (the squares' box), 4 x 3 windows of 16 px; the squares touch 3 of them
    # (the second spans columns 44..51: the windows at columns 32 and 48 of the last row)
    assert (result.width, result.height, result.n_windows) == (52, 40, 12)
    assert sorted(reads) == [(0, 0, 16, 16), (32, 32, 8, 16), (32, 48, 8, 4)]
    with rasterio.open(tmp_path / "c.tif") as c:
        classes = c.read(1)
    assert (classes[:8, :8] > 0).all() and (classes[32:, 44:] > 0).all()
    assert (classes > 0).sum() == 2 * 64 == result.n_valid
