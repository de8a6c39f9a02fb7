"""Write small test layers with QGIS's own GDAL (run by QGIS's Python, like driver.py).

    python3 make_layers.py scene OUT.tif      # 4x4 byte raster, EPSG:32611
    python3 make_layers.py classes OUT.tif    # 4x4 classification: colour table (256 entries,
                                              # as GDAL stores it), category names, nodata 0, no .qml
    python3 make_layers.py polygons OUT.gpkg  # two squares with a class_name field
"""

from __future__ import annotations

import sys

from osgeo import gdal, ogr, osr

CLASS_NAMES = ["unclassified", "Water", "Forest"]
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


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "polygons":
        polygons(out)
    else:
        raster(out, classes=kind == "classes")
