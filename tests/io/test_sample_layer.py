"""Sample-point GeoPackages: written for labelling, read back with values or class names."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from hsigeo.errors import InvalidInputError
from hsigeo.io.sample_layer import read_design_record, read_sample_layer, write_sample_layer

CLASSES = [(1, "water", (0, 0, 255)), (2, "forest", (0, 128, 0))]


def test_write_and_read_back(tmp_path):
    out = tmp_path / "pts.gpkg"
    record = {"hsigeo_sample": 1, "design": "stratified", "seed": 3}
    write_sample_layer(out, np.array([10.5, 20.5, 30.5]), np.array([5.5, 5.5, 5.5]), stratum=np.array([1, 2, 2]),
                       map_class=np.array([1, 2, 2]), classes=CLASSES, crs="EPSG:32633", record=record,
                       reference=np.array([1, 0, 2]))
    gdf, ref = read_sample_layer(out, classes=CLASSES)
    assert ref.tolist() == [1, 0, 2]  # 0 = not labelled
    assert gdf["map_name"].tolist() == ["water", "forest", "forest"] and str(gdf.crs) == "EPSG:32633"
    assert read_design_record(out) == record
    assert read_design_record(tmp_path / "missing.gpkg") is None


def test_labels_by_name_and_clear_errors(tmp_path):
    path = tmp_path / "named.gpkg"
    gdf = gpd.GeoDataFrame({"truth": ["Water", " forest ", None, ""]},
                           geometry=[Point(0, 0), Point(1, 1), Point(2, 2), Point(3, 3)], crs="EPSG:32633")
    gdf.to_file(path)
    _, ref = read_sample_layer(path, reference_field="truth", classes=CLASSES)
    assert ref.tolist() == [1, 2, 0, 0]
    with pytest.raises(InvalidInputError, match="no field 'reference'.*truth"):
        read_sample_layer(path, classes=CLASSES)
    gdf.loc[0, "truth"] = "meadow"
    gdf.to_file(path)
    with pytest.raises(InvalidInputError, match="'meadow'.*1 water, 2 forest"):
        read_sample_layer(path, reference_field="truth", classes=CLASSES)
    polygons = tmp_path / "polygons.gpkg"
    gpd.GeoDataFrame({"reference": [1]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:32633").to_file(polygons)
    with pytest.raises(InvalidInputError, match="needs sample points.*without --design"):
        read_sample_layer(polygons, classes=CLASSES)
