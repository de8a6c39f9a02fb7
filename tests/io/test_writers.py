"""hsigeo.io.writers: classification / float GeoTIFFs, sidecars, block writers, atomicity."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from hsigeo.classes import ClassInfo, normalize_classes
from hsigeo.errors import OutputExistsError
from hsigeo.io.classmaps import read_class_table, read_classification
from hsigeo.io.writers import (
    CLASS_TABLE_TAG,
    open_classification_writer,
    open_float_writer,
    write_classification,
    write_float_raster,
    write_qml,
)

CLASSES = [(1, "Healthy vegetation", "#2ca02c"), (2, "Water & <shade>", "#1f77b4"), (5, "Bare soil", (140, 86, 75))]


@pytest.fixture
def class_map(make_da):
    arr = np.zeros((40, 50), dtype="uint8")
    arr[5:20, 5:25] = 1
    arr[22:35, 10:40] = 2
    arr[0:4, 45:50] = 5
    return make_da(arr, nodata=0)


def test_classification_geotiff_contents(tmp_path, class_map):
    path = write_classification(class_map, tmp_path / "classes.tif", classes=CLASSES)
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint8"
        assert src.crs.to_epsg() == 32611
        assert src.transform == from_origin(500000.0, 4000000.0, 2.0, 2.0)
        assert src.nodata == 0
        assert src.block_shapes[0] == (256, 256)  # tiled
        assert src.compression.name.lower() == "deflate"
        cmap = src.colormap(1)
        assert cmap[1] == (44, 160, 44, 255) and cmap[2] == (31, 119, 180, 255) and cmap[5] == (140, 86, 75, 255)
        assert cmap[0][3] == 0  # nodata transparent
        np.testing.assert_array_equal(src.read(1), class_map.values)
        table = json.loads(src.tags()[CLASS_TABLE_TAG])
    assert [d["name"] for d in table] == ["Healthy vegetation", "Water & <shade>", "Bare soil"]
    # category names for GDAL/QGIS live in the PAM sidecar (GTiff cannot store them internally)
    aux = ET.parse(tmp_path / "classes.tif.aux.xml").getroot()
    cats = [c.text or "" for c in aux.findall("./PAMRasterBand[@band='1']/CategoryNames/Category")]
    assert cats == ["Unclassified", "Healthy vegetation", "Water & <shade>", "", "", "Bare soil"]
    qml = ET.parse(tmp_path / "classes.qml").getroot()
    entries = qml.findall(".//paletteEntry")
    assert [(e.get("value"), e.get("label"), e.get("color")) for e in entries] == [
        ("1", "Healthy vegetation", "#2ca02c"), ("2", "Water & <shade>", "#1f77b4"), ("5", "Bare soil", "#8c564b")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.qml", "classes.tif", "classes.tif.aux.xml"]


def test_gdalinfo_lists_categories_and_colours(tmp_path, class_map, gdalinfo):
    path = write_classification(class_map, tmp_path / "classes.tif", classes=CLASSES)
    out = subprocess.run([gdalinfo, str(path)], capture_output=True, text=True, check=True).stdout
    assert "Categories:" in out
    assert "1: Healthy vegetation" in out and "5: Bare soil" in out
    assert "Color Table" in out and "ColorInterp=Palette" in out


def test_read_back_class_table_and_classification(tmp_path, class_map):
    path = write_classification(class_map, tmp_path / "c.tif", classes=CLASSES, qml=False)
    assert read_class_table(path) == normalize_classes(CLASSES)
    da = read_classification(path)
    assert da.dims == ("y", "x")
    assert da.attrs["class_names"] == {1: "Healthy vegetation", 2: "Water & <shade>", 5: "Bare soil"}
    assert da.attrs["class_colours"][1] == "#2ca02c"
    # without the internal tag, names still come from the .aux.xml
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(**{CLASS_TABLE_TAG: ""})
    assert [e.name for e in read_class_table(path)] == ["Healthy vegetation", "Water & <shade>", "Bare soil"]


def test_class_names_from_attrs_and_uint16(tmp_path, class_map):
    vals = class_map.values.astype("uint16")
    big = class_map.copy(data=np.where(vals == 5, 300, vals).astype("uint16"))
    big.attrs["class_names"] = {1: "a", 2: "b", 300: "c"}
    path = write_classification(big, tmp_path / "big.tif")
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint16"
        assert int(src.read(1).max()) == 300
    assert [e.value for e in read_class_table(path)] == [1, 2, 300]


def test_cog_output(tmp_path, class_map):
    path = write_classification(class_map, tmp_path / "cog.tif", classes=CLASSES, cog=True)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.colormap(1)[1] == (44, 160, 44, 255)
        np.testing.assert_array_equal(src.read(1), class_map.values)
    assert not [p for p in tmp_path.iterdir() if "part" in p.name or "work" in p.name]


def test_exists_error_and_overwrite(tmp_path, class_map):
    path = write_classification(class_map, tmp_path / "c.tif", classes=CLASSES)
    with pytest.raises(OutputExistsError, match="c.tif"):
        write_classification(class_map, path, classes=CLASSES)
    write_classification(class_map * 0 + 1, path, classes=CLASSES, overwrite=True)
    with rasterio.open(path) as src:
        assert int(src.read(1).min()) == 1


def test_block_writer_streams_windows(tmp_path, class_map):
    with open_classification_writer(tmp_path / "s.tif", classes=CLASSES, like=class_map) as out:
        assert out.width == 50 and out.height == 40 and out.dtype == np.uint8
        assert not (tmp_path / "s.tif").exists()  # nothing at the final name until done
        for r in range(0, 40, 16):
            for c in range(0, 50, 16):
                win = Window(c, r, min(16, 50 - c), min(16, 40 - r))
                out.write_window(win, class_map.values[r:r + win.height, c:c + win.width])
    with rasterio.open(tmp_path / "s.tif") as src:
        np.testing.assert_array_equal(src.read(1), class_map.values)
    assert (tmp_path / "s.tif.aux.xml").exists()


def test_block_writer_failure_leaves_nothing(tmp_path, class_map):
    with pytest.raises(RuntimeError, match="model crashed"):
        with open_classification_writer(tmp_path / "s.tif", classes=CLASSES, like=class_map, cog=True) as out:
            out.write_window((slice(0, 10), slice(0, 10)), np.ones((10, 10)))
            raise RuntimeError("model crashed (simulated)")
    assert list(tmp_path.iterdir()) == []


def test_block_writer_rejects_bad_blocks(tmp_path):
    with pytest.raises(ValueError, match="does not fit"):
        with open_classification_writer(tmp_path / "x.tif", classes=CLASSES, width=8, height=8,
                                        crs="EPSG:32611", transform=from_origin(0, 80, 10, 10)) as out:
            out.write_window((0, 0, 4, 4), np.ones((3, 3)))
    with pytest.raises(ValueError, match="outside"):
        with open_classification_writer(tmp_path / "x.tif", classes=CLASSES, width=8, height=8) as out:
            out.write_window((6, 6, 4, 4), np.ones((4, 4)))
    assert list(tmp_path.iterdir()) == []


def test_float_raster_and_float_writer(tmp_path, make_da):
    probs = np.random.default_rng(0).random((3, 20, 30)).astype("float32")
    probs[:, 0, 0] = np.nan
    da = make_da(probs).rename(band="class").assign_coords({"class": ["veg", "water", "soil"]})
    path = write_float_raster(da, tmp_path / "p.tif")
    with rasterio.open(path) as src:
        assert src.count == 3 and src.dtypes[0] == "float32"
        assert src.descriptions == ("veg", "water", "soil")
        assert np.isnan(src.nodata)
        assert src.crs.to_epsg() == 32611
        np.testing.assert_array_equal(src.read(), probs)
    conf = make_da(probs[0]).rename("confidence")
    with rasterio.open(write_float_raster(conf, tmp_path / "conf.tif", cog=True)) as src:
        assert src.count == 1 and src.descriptions == ("confidence",)
    with open_float_writer(tmp_path / "w.tif", count=2, band_names=["a", "b"], like=tmp_path / "p.tif") as out:
        out.write_window((0, 0, 20, 30), probs[:2])
    with rasterio.open(tmp_path / "w.tif") as src:
        np.testing.assert_array_equal(src.read(), probs[:2])


def test_float_writer_style_sidecar(tmp_path):
    """A pseudocolor style lands beside the raster only when the raster is complete."""
    from hsigeo.io.qml import CONFIDENCE_RAMP, pseudocolor_raster_qml

    grid = dict(width=8, height=8, crs="EPSG:32611", transform=from_origin(0, 80, 10, 10))
    with open_float_writer(tmp_path / "conf.tif", style=pseudocolor_raster_qml(band=2), count=2, **grid) as out:
        out.write(np.zeros((2, 8, 8)))
    renderer = ET.parse(tmp_path / "conf.qml").getroot().find(".//rasterrenderer")
    assert (renderer.get("type"), renderer.get("band")) == ("singlebandpseudocolor", "2")
    items = renderer.findall(".//colorrampshader/item")
    assert [(float(i.get("value")), i.get("color")) for i in items] == [(p, c) for p, c in CONFIDENCE_RAMP]
    with pytest.raises(RuntimeError):
        with open_float_writer(tmp_path / "x.tif", style=pseudocolor_raster_qml(), **grid):
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf.qml", "conf.tif"]


def test_write_qml_standalone(tmp_path):
    p = write_qml(tmp_path / "style.qml", {3: "Roads", 1: "Trees"})
    entries = ET.parse(p).getroot().findall(".//paletteEntry")
    assert [e.get("label") for e in entries] == ["Trees", "Roads"]


def test_normalize_classes_accepts_many_shapes():
    promptset = SimpleNamespace(classes=[SimpleNamespace(name="A", value=2, colour=(1, 2, 3)),
                                         SimpleNamespace(name="B", value=1, colour="#ffffff")])
    assert normalize_classes(promptset) == [ClassInfo(1, "B", (255, 255, 255)), ClassInfo(2, "A", (1, 2, 3))]
    assert [e.name for e in normalize_classes({2: "x", 1: "y"})] == ["y", "x"]
    assert normalize_classes([(1, "a")])[0].colour == (31, 119, 180)
    with pytest.raises(ValueError, match="twice"):
        normalize_classes([(1, "a"), (1, "b")])
    with pytest.raises(ValueError, match="0 is nodata"):
        normalize_classes([(0, "a")])
