"""hsigeo.io.labels: label rasters and vector files onto the scene grid."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from hsigeo.errors import LabelError
from hsigeo.io.labels import LabelReport, label_report, read_labels
from hsigeo.io.writers import write_classification

X0, Y0, RES = 500000.0, 4000000.0, 2.0
PROMPTS = SimpleNamespace(classes=[SimpleNamespace(name="Trees", value=1, colour=(0, 128, 0)),
                                   SimpleNamespace(name="Water", value=2, colour=(0, 0, 255)),
                                   SimpleNamespace(name="Roofs", value=7, colour=(255, 0, 0))])


@pytest.fixture
def scene(make_da):
    return make_da(np.zeros((3, 20, 30), dtype="int16"), nodata=-9999, wavelengths=[500, 600, 700])


def _px_box(r0, r1, c0, c1):
    """Polygon covering pixel rows r0:r1 and cols c0:c1 of the scene grid."""
    return box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


def test_raster_labels_on_the_scene_grid(tmp_path, scene, make_da):
    arr = np.zeros((20, 30), dtype="uint8")
    arr[2:5, 3:9] = 1
    arr[10:12, 10:20] = 2
    path = write_classification(make_da(arr, nodata=0), tmp_path / "lab.tif", classes=[(1, "Trees"), (2, "Water")])
    lab = read_labels(path, scene)
    assert lab.dtype == np.int32 and lab.dims == ("y", "x")
    np.testing.assert_array_equal(lab.values, arr)
    np.testing.assert_array_equal(lab.x.values, scene.x.values)
    assert lab.rio.crs == scene.rio.crs and lab.rio.transform() == scene.rio.transform()
    assert lab.attrs["class_names"] == {1: "Trees", 2: "Water"}
    rep = lab.attrs["label_report"]
    assert isinstance(rep, LabelReport) and rep.counts == {1: 18, 2: 20}


def test_raster_labels_remapped_by_name_and_unknown(tmp_path, scene, make_da):
    arr = np.zeros((20, 30), dtype="uint8")
    arr[0:2, 0:2] = 3  # the file calls 3 "Roofs"; the prompts give Roofs value 7
    arr[5, 5] = 4  # unnamed and not in the prompts
    path = write_classification(make_da(arr, nodata=0), tmp_path / "lab.tif", classes=[(3, "Roofs"), (4, "Cars")])
    with pytest.raises(LabelError, match="Cars"):
        read_labels(path, scene, classes=PROMPTS)
    lab = read_labels(path, scene, classes=PROMPTS, on_unknown="drop")
    assert set(np.unique(lab.values)) == {0, 7}
    rep = lab.attrs["label_report"]
    assert rep.remapped == {3: 7} and rep.unknown == ["4 (Cars)"]
    assert rep.without_samples == ["Trees", "Water"]
    assert "prompt classes without samples: Trees, Water" in rep.summary()


def test_raster_labels_on_another_grid(tmp_path, scene, make_da):
    arr = np.ones((10, 15), dtype="uint8")
    coarse = make_da(arr, res=4.0, nodata=0)  # same extent, twice the pixel size
    path = write_classification(coarse, tmp_path / "coarse.tif", classes=[(1, "Trees")])
    with pytest.raises(LabelError) as err:
        read_labels(path, scene)
    msg = str(err.value)
    assert str(path) in msg and "10 x 15" in msg and "20 x 30" in msg and "pixel size" in msg and "gdalwarp" in msg
    lab = read_labels(path, scene, reproject=True)
    assert lab.shape == (20, 30) and (lab.values == 1).all()


def test_scene_as_label_raster_is_refused(synthetic_scene):
    with pytest.raises(LabelError, match="one band"):
        read_labels(synthetic_scene.scene_path, synthetic_scene.scene_path)


def test_synthetic_labels_roundtrip(synthetic_scene):
    from hsigeo.io.raster import open_hsi

    scene = open_hsi(synthetic_scene.scene_path)
    lab = read_labels(synthetic_scene.labels_path, scene, classes=synthetic_scene.classes)
    with rasterio.open(synthetic_scene.labels_path) as src:
        np.testing.assert_array_equal(lab.values, src.read(1))
    assert set(lab.attrs["class_names"]) == {c.value for c in synthetic_scene.classes}


def test_vector_polygons_with_names_in_scene_crs(tmp_path, scene):
    gdf = gpd.GeoDataFrame({"Class": ["Trees", "water ", "Roofs"]},
                           geometry=[_px_box(1, 4, 2, 6), _px_box(10, 12, 0, 30), _px_box(15, 16, 20, 21)],
                           crs="EPSG:32611")
    path = tmp_path / "labels.gpkg"
    gdf.to_file(path, driver="GPKG")
    lab = read_labels(path, scene, classes=PROMPTS)  # field found by name, names matched case-insensitively
    expected = np.zeros((20, 30), dtype="int32")
    expected[1:4, 2:6] = 1
    expected[10:12, :] = 2
    expected[15, 20] = 7
    np.testing.assert_array_equal(lab.values, expected)
    assert lab.attrs["class_names"] == {1: "Trees", 2: "Water", 7: "Roofs"}


def test_vector_names_without_prompts_are_numbered(tmp_path, scene):
    gdf = gpd.GeoDataFrame({"kind": ["b", "a"]}, geometry=[_px_box(0, 2, 0, 2), _px_box(5, 6, 5, 6)], crs="EPSG:32611")
    gdf.to_file(tmp_path / "l.geojson", driver="GeoJSON")
    lab = read_labels(tmp_path / "l.geojson", scene, field="kind")
    assert lab.attrs["class_names"] == {1: "a", 2: "b"}
    assert lab.values[5, 5] == 1 and lab.values[0, 0] == 2


def test_vector_in_another_crs_is_reprojected(tmp_path, scene):
    poly = _px_box(4, 16, 6, 24)
    gdf = gpd.GeoDataFrame({"value": [2]}, geometry=[poly], crs="EPSG:32611").to_crs("EPSG:4326")
    gdf.to_file(tmp_path / "wgs84.shp")
    lab = read_labels(tmp_path / "wgs84.shp", scene)
    expected = np.zeros((20, 30), dtype=bool)
    expected[4:16, 6:24] = True
    # reprojection moves edges by far less than a pixel
    assert ((lab.values == 2) == expected).mean() > 0.97
    assert lab.attrs["class_names"] == {2: "class 2"}


def test_points_hit_exactly_their_pixel(tmp_path, scene):
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 20, 25)
    cols = rng.integers(0, 30, 25)
    # random positions strictly inside each pixel (not on its edges)
    fx, fy = rng.uniform(0.05, 0.95, 25), rng.uniform(0.05, 0.95, 25)
    pts = [Point(X0 + (c + a) * RES, Y0 - (r + b) * RES) for r, c, a, b in zip(rows, cols, fx, fy)]
    vals = rng.integers(1, 3, 25)
    gpd.GeoDataFrame({"class_id": vals}, geometry=pts, crs="EPSG:32611").to_file(tmp_path / "pts.gpkg")
    lab = read_labels(tmp_path / "pts.gpkg", scene)
    expected = np.zeros((20, 30), dtype="int32")
    for r, c, v in zip(rows, cols, vals):
        expected[r, c] = v  # later points win, as in the file order
    np.testing.assert_array_equal(lab.values, expected)


def test_all_touched(tmp_path, scene):
    # a thin polygon covering no pixel centre
    thin = box(X0 + 2.2, Y0 - 10.0, X0 + 2.8, Y0 - 2.0)
    gpd.GeoDataFrame({"class": [1]}, geometry=[thin], crs="EPSG:32611").to_file(tmp_path / "thin.gpkg")
    with pytest.raises(LabelError, match="no labelled pixel"):
        read_labels(tmp_path / "thin.gpkg", scene)
    lab = read_labels(tmp_path / "thin.gpkg", scene, all_touched=True)
    assert int((lab.values == 1).sum()) == 4


def test_vector_errors(tmp_path, scene):
    gdf = gpd.GeoDataFrame({"kind": [1], "other": ["x"]}, geometry=[_px_box(0, 2, 0, 2)], crs="EPSG:32611")
    gdf.to_file(tmp_path / "f.gpkg")
    with pytest.raises(LabelError, match="no field 'klass'.*'kind', 'other'"):
        read_labels(tmp_path / "f.gpkg", scene, field="klass")
    with pytest.raises(LabelError, match="cannot tell which field"):
        read_labels(tmp_path / "f.gpkg", scene)
    # (a Shapefile without .prj: GeoJSON always means WGS 84)
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"class": [1]}, geometry=[_px_box(0, 2, 0, 2)]).to_file(tmp_path / "nocrs.shp")
    with pytest.raises(LabelError, match="no CRS.*EPSG:32611"):
        read_labels(tmp_path / "nocrs.shp", scene)
    far = gpd.GeoDataFrame({"class": [1]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:32611")
    far.to_file(tmp_path / "far.gpkg")
    with pytest.raises(LabelError, match="no labelled pixel falls on the scene"):
        read_labels(tmp_path / "far.gpkg", scene)
    names = gpd.GeoDataFrame({"class": ["Trees", "Lava"]}, geometry=[_px_box(0, 2, 0, 2), _px_box(3, 4, 3, 4)],
                             crs="EPSG:32611")
    names.to_file(tmp_path / "names.gpkg")
    with pytest.raises(LabelError, match="not in the prompts: 'Lava'"):
        read_labels(tmp_path / "names.gpkg", scene, classes=PROMPTS)
    lab = read_labels(tmp_path / "names.gpkg", scene, classes=PROMPTS, on_unknown="drop")
    assert lab.attrs["label_report"].unknown == ["Lava"] and int((lab.values == 1).sum()) == 4
    with pytest.raises(LabelError, match="not found"):
        read_labels(tmp_path / "missing.gpkg", scene)


def test_label_report_counts():
    arr = np.array([[0, 1, 1], [2, 0, 0]])
    rep = label_report(arr, [(1, "a"), (2, "b"), (3, "c")], source="x")
    assert rep.counts == {1: 2, 2: 1} and rep.without_samples == ["c"] and rep.n_labelled == 3


def test_label_raster_like_a_path(tmp_path, make_da):
    arr = np.zeros((5, 6), dtype="uint8")
    arr[1, 1] = 1
    p = write_classification(make_da(arr, nodata=0), tmp_path / "l.tif", classes=[(1, "a")], qml=False)
    lab = read_labels(p, p)
    assert lab.rio.transform() == from_origin(X0, Y0, RES, RES) and int(lab.values.sum()) == 1


def test_labels_in_memory_are_not_read_but_told_where_to_go():
    from hsigeo.errors import InvalidTypeError

    with pytest.raises(InvalidTypeError, match="straight to HsigeoClassifier.fit"):
        read_labels(np.zeros((3, 3), dtype="int32"), None)
