"""Write small test layers with QGIS's own GDAL (run by QGIS's Python, like driver.py).

    python3 make_layers.py scene OUT.tif      # 4x4 byte raster, EPSG:32611
    python3 make_layers.py classes OUT.tif    # 4x4 classification: colour table (256 entries,
                                              # as GDAL stores it), category names, nodata 0, no .qml
    python3 make_layers.py polygons OUT.gpkg  # two squares with a class_name field
    python3 make_layers.py training OUT.gpkg SRC.gpkg
        # training polygons as an analyst keeps them: SRC's polygons with a class field 'crop' (names)
        # and a description field 'note', styled in QGIS (categorized on 'crop', TRAINING_STYLE's
        # legend order, labels and colours) and the style saved as the GeoPackage's default
"""

from __future__ import annotations

import sys

from osgeo import gdal, ogr, osr

CLASS_NAMES = ["unclassified", "Water", "Forest"]
# (field value, legend label, colour, note) in legend order; the tests expect exactly this
TRAINING_STYLE = [
    ("Water", "Open water", "#0050ff", ""),
    ("Healthy vegetation", "Healthy vegetation", "#00aa00", "Green crops with a strong red edge"),
    ("Bare soil", "Bare soil", "#c08040", ""),
    ("Asphalt road", "Asphalt road", "#505050", ""),
]
CLASS_COLOURS = [(0, 0, 0, 0), (31, 119, 180, 255), (44, 160, 44, 255)]


def _srs() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32611)
    return srs


def raster(path: str, *, classes: bool) -> None:
    ds = gdal.GetDriverByName("GTiff").Create(path, 4, 4, 1, gdal.GDT_Byte)
    ds.SetGeoTransform([493000, 2, 0, 3765000, 0, -2])
    ds.SetProjection(_srs().ExportToWkt())
    band = ds.GetRasterBand(1)
    if classes:
        table = gdal.ColorTable()
        for value, colour in enumerate(CLASS_COLOURS):
            table.SetColorEntry(value, colour)
        band.SetRasterColorTable(table)
        band.SetRasterCategoryNames(CLASS_NAMES)
        band.SetNoDataValue(0)
        band.WriteRaster(0, 0, 4, 4, bytes([1, 1, 2, 2] * 4))
    else:
        band.Fill(1)
    ds = None


def polygons(path: str) -> None:
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = ds.CreateLayer("classes", _srs(), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class_name", ogr.OFTString))
    for name, x in (("Water", 493000), ("Forest", 493004)):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class_name", name)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(
            f"POLYGON(({x} 3765000,{x + 4} 3765000,{x + 4} 3764992,{x} 3764992,{x} 3765000))"
        ))
        layer.CreateFeature(feature)
    ds = None


def training(path: str, source: str) -> None:
    src = ogr.Open(source)
    src_layer = src.GetLayer(0)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path, options=["VERSION=1.2"])
    layer = ds.CreateLayer("fields", src_layer.GetSpatialRef(), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("crop", ogr.OFTString))
    layer.CreateField(ogr.FieldDefn("note", ogr.OFTString))
    notes = {value: note for value, _, _, note in TRAINING_STYLE}
    for feature in src_layer:
        out = ogr.Feature(layer.GetLayerDefn())
        name = feature.GetField("class_name")
        out.SetField("crop", name)
        out.SetField("note", notes.get(name, ""))
        out.SetGeometry(feature.GetGeometryRef().Clone())
        layer.CreateFeature(out)
    ds = src = None

    from qgis.core import QgsApplication, QgsCategorizedSymbolRenderer, QgsRendererCategory, QgsSymbol, QgsVectorLayer
    from qgis.PyQt.QtGui import QColor

    app = QgsApplication([], False)
    app.initQgis()
    vector = QgsVectorLayer(f"{path}|layername=fields", "fields", "ogr")
    categories = []
    for value, label, colour, _ in TRAINING_STYLE:
        symbol = QgsSymbol.defaultSymbol(vector.geometryType())
        symbol.setColor(QColor(colour))
        categories.append(QgsRendererCategory(value, symbol, label))
    vector.setRenderer(QgsCategorizedSymbolRenderer("crop", categories))
    error = vector.saveStyleToDatabase("analyst", "crop classes", True, "")
    if error:
        raise SystemExit(f"style not saved: {error}")


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "training":
        training(out, sys.argv[3])
        sys.stdout.flush()
        import os

        os._exit(0)  # QGIS's teardown may crash headless; the file is written
    elif kind == "polygons":
        polygons(out)
    else:
        raster(out, classes=kind == "classes")
