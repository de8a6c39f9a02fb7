"""hsigeo.io.vectors: polygons from class maps and GPKG 1.2 / Shapefile / GeoJSON output."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pytest

from hsigeo.errors import OutputExistsError
from hsigeo.io.vectors import vectorize_classes, write_vector
from hsigeo.io.writers import normalize_classes, write_classification

CLASSES = [(1, "Trees"), (2, "Water"), (3, "Roofs")]


@pytest.fixture
def rectangles(make_da):
    # 2 m pixels: areas are 4 m² per pixel
    arr = np.zeros((30, 40), dtype="uint8")
    arr[2:12, 3:13] = 1  # 10 x 10 px -> 400 m²
    arr[15:20, 5:35] = 2  # 5 x 30 px -> 600 m²
    arr[20:22, 30:31] = 3  # 2 x 1 px -> 8 m², touching the water
    arr[2:4, 30:32] = 1  # 2 x 2 px -> 16 m²
    return make_da(arr, nodata=0)


def test_polygons_classes_and_exact_areas(rectangles):
    gdf = vectorize_classes(rectangles, CLASSES)
    assert list(gdf.columns) == ["class_id", "class_name", "area", "geometry"]
    assert gdf.crs.to_epsg() == 32611
    assert gdf[["class_id", "class_name", "area"]].values.tolist() == [
        [1, "Trees", 400.0], [1, "Trees", 16.0], [2, "Water", 600.0], [3, "Roofs", 8.0]]
    # geometry sits on the georeferenced grid: x0 = 500000 + 3 px * 2 m, y0 = 4000000 - 2 px * 2 m
    assert gdf.geometry.iloc[0].bounds == (500006.0, 3999976.0, 500026.0, 3999996.0)


def test_min_area_sieve_and_connectivity(rectangles, make_da):
    assert vectorize_classes(rectangles, CLASSES, min_area=10.0)["area"].min() == 16.0
    sieved = vectorize_classes(rectangles, CLASSES, sieve=3)
    assert 3 not in set(sieved["class_id"])  # the 2-pixel region joined its neighbour
    assert sieved.loc[sieved["class_id"] == 2, "area"].tolist() == [608.0]
    assert sieved.loc[sieved["class_id"] == 1, "area"].tolist() == [400.0, 16.0]  # 4 px >= 3: kept
    diag = np.zeros((4, 4), dtype="uint8")
    diag[0, 0] = diag[1, 1] = 1
    assert len(vectorize_classes(make_da(diag), CLASSES, connectivity=4)) == 2
    assert len(vectorize_classes(make_da(diag), CLASSES, connectivity=8)) == 1


def test_names_from_attrs_or_file(tmp_path, rectangles):
    da = rectangles.copy()
    da.attrs["class_names"] = {1: "T", 2: "W"}
    assert set(vectorize_classes(da)["class_name"]) == {"T", "W", "class 3"}
    path = write_classification(rectangles, tmp_path / "c.tif", classes=CLASSES)
    gdf = vectorize_classes(path)
    assert set(gdf["class_name"]) == {"Trees", "Water", "Roofs"}
    assert gdf["area"].sum() == pytest.approx(1024.0)


def test_write_geopackage_1_2(tmp_path, rectangles):
    gdf = vectorize_classes(rectangles, CLASSES)
    path = write_vector(gdf, tmp_path / "classes.gpkg", layer="classes")
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200  # GeoPackage 1.2
    back = gpd.read_file(path, layer="classes")
    assert back.crs.to_epsg() == 32611
    assert back["class_name"].tolist() == gdf["class_name"].tolist()
    np.testing.assert_allclose(back.geometry.area, gdf["area"])
    with pytest.raises(OutputExistsError):
        write_vector(gdf, path)
    write_vector(gdf.iloc[:1], path, overwrite=True)
    assert len(gpd.read_file(path, layer="classes")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.gpkg"]


def test_geopackage_carries_its_categorized_style(tmp_path, rectangles):
    """The default style in layer_styles (QGIS's schema): categories by class_id, in value order, with colours."""
    import re

    from hsigeo.io.vectors import feature_layer

    gdf = vectorize_classes(rectangles, CLASSES)
    path = write_vector(gdf, tmp_path / "classes.gpkg")
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                           "useAsDefault, styleQML FROM layer_styles").fetchall()
        contents = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchall()
    assert [r[:6] for r in rows] == [("", "", "classes", "geom", "hsigeo", 1)] and contents == [("attributes",)]
    qml = rows[0][6]
    assert 'type="categorizedSymbol" attr="class_id"' in qml
    categories = re.findall(r'<category value="(\d+)" label="([^"]+)"', qml)
    expected = sorted((e.value, e.name, e.colour) for e in normalize_classes(CLASSES))
    assert [(int(v), n) for v, n in categories] == [(v, n) for v, n, _ in expected]
    colours = re.findall(r'<prop k="color" v="(\d+),(\d+),(\d+),255"/>', qml)
    assert [tuple(map(int, c)) for c in colours] == [c for _, _, c in expected]
    assert feature_layer(path) == "classes"  # readers pick the polygons, not the style table


def test_write_shapefile_and_geojson(tmp_path, rectangles):
    gdf = vectorize_classes(rectangles, CLASSES)
    shp = write_vector(gdf, tmp_path / "out.shp")
    assert {p.suffix for p in tmp_path.iterdir()} >= {".shp", ".shx", ".dbf", ".prj"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    back = gpd.read_file(shp)
    assert back.crs.to_epsg() == 32611 and len(back) == 4
    with pytest.raises(OutputExistsError):
        write_vector(gdf, shp)
    gj = write_vector(gdf, tmp_path / "out.geojson")
    assert len(gpd.read_file(gj)) == 4


@pytest.mark.parametrize("name", ["x.gpkg", "x.shp", "x.geojson"])
def test_failed_vector_write_leaves_nothing(tmp_path, rectangles, monkeypatch, name):
    gdf = vectorize_classes(rectangles, CLASSES)
    real = gpd.GeoDataFrame.to_file

    def write_then_fail(self, *args, **kwargs):  # the disk fills up after OGR wrote part of the file
        real(self, *args, **kwargs)
        raise OSError("no space left on device (simulated)")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", write_then_fail)
    with pytest.raises(OSError, match="simulated"):
        write_vector(gdf, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
