"""Class names and colours for outputs loaded into the project.

A classification GeoTIFF written by hsigeo carries a colour table and category
names, which QGIS turns into a paletted renderer; but GDAL pads a byte colour
table to 256 entries, so the legend would list 255 unnamed classes.  Outputs
therefore get a post-processor when Processing loads them:

1. polygons apply the default style stored in their GeoPackage (``layer_styles``,
   written by hsigeo), as QGIS does when a layer is added by hand;
2. else a sidecar style (``out.qml`` or ``out.tif.qml``) for that kind of layer wins
   (hsigeo writes one beside each raster: classes, confidence, probabilities);
3. else a classification raster keeps only its named classes;
4. else polygons of classes are coloured by ``class_name`` like their raster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSymbol,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtXml import QDomDocument

#: Field of hsigeo's class polygons holding the class name.
CLASS_NAME_FIELD = "class_name"

# Processing keeps only a C++ pointer to a post-processor; the Python object must
# outlive the algorithm, so it is held here (one per output path, replaced on re-run).
_ALIVE: dict[str, "OutputStyler"] = {}


# a raster style holds a <rasterrenderer>, a vector style a <renderer-v2>
_STYLE_MARKERS = {QgsRasterLayer: "<rasterrenderer", QgsVectorLayer: "<renderer-v2"}


def sidecar_style(layer: QgsMapLayer) -> Optional[str]:
    """The ``.qml`` style beside ``layer``'s file (``a.qml`` or ``a.tif.qml``) made for its kind of layer.

    ``classes.tif`` and ``classes.gpkg`` share the stem ``classes``, so
    ``classes.qml`` (the raster's style, written by hsigeo) must not be
    applied to the polygons.
    """
    target = Path(layer.source().split("|")[0])
    marker = next((m for kind, m in _STYLE_MARKERS.items() if isinstance(layer, kind)), None)
    for candidate in (target.with_suffix(".qml"), target.with_name(target.name + ".qml")):
        try:
            if candidate.is_file() and (marker is None or marker in candidate.read_text(encoding="utf-8")):
                return str(candidate)
        except (OSError, UnicodeDecodeError):
            continue
    return None


def database_style(layer: QgsMapLayer) -> Optional[str]:
    """The default style kept with ``layer``'s data (a GeoPackage's ``layer_styles``), or ``None``."""
    if not isinstance(layer, QgsVectorLayer) or layer.dataProvider() is None:
        return None
    if not layer.dataProvider().isSaveAndLoadStyleToDatabaseSupported():
        return None
    qml = QgsProviderRegistry.instance().loadStyle(layer.providerType(), layer.source(), "")
    return qml or None


def named_classes(layer: QgsRasterLayer) -> list[QgsPalettedRasterRenderer.Class]:
    """The paletted classes of ``layer`` that have a category name and are not nodata."""
    renderer = layer.renderer()
    if not isinstance(renderer, QgsPalettedRasterRenderer):
        return []
    provider = layer.dataProvider()
    nodata = provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None
    # QGIS labels a colour-table entry without a category name with its value ("17")
    return [
        c
        for c in renderer.classes()
        if c.label and c.label != f"{c.value:g}" and (nodata is None or c.value != nodata)
    ]


def trim_palette(layer: QgsRasterLayer) -> bool:
    """Reduce the paletted renderer of ``layer`` to its named classes; ``True`` if changed."""
    renderer = layer.renderer()
    keep = named_classes(layer)
    if not keep or not isinstance(renderer, QgsPalettedRasterRenderer) or len(keep) == len(renderer.classes()):
        return False
    trimmed = QgsPalettedRasterRenderer(layer.dataProvider(), renderer.band(), keep)
    trimmed.setOpacity(renderer.opacity())
    layer.setRenderer(trimmed)
    return True


def categorize_by_class(layer: QgsVectorLayer, palette_raster: str) -> bool:
    """Colour ``layer``'s polygons by ``class_name`` with the colours of ``palette_raster``.

    Returns ``True`` when a renderer was set (the field exists and has values).
    """
    if layer.fields().indexOf(CLASS_NAME_FIELD) < 0:
        return False
    raster = QgsRasterLayer(palette_raster, "palette", "gdal")
    colours = {c.label: c.color for c in named_classes(raster)} if raster.isValid() else {}
    names = sorted(str(v) for v in layer.uniqueValues(layer.fields().indexOf(CLASS_NAME_FIELD)) if v is not None)
    if not names:
        return False
    categories = []
    for name in names:
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        symbol.setColor(colours.get(name, QColor(128, 128, 128)))
        categories.append(QgsRendererCategory(name, symbol, name))
    layer.setRenderer(QgsCategorizedSymbolRenderer(CLASS_NAME_FIELD, categories))
    return True


class OutputStyler(QgsProcessingLayerPostProcessorInterface):
    """Styles one output layer after Processing has loaded it.

    Parameters
    ----------
    palette_raster
        For polygon outputs: the classification raster whose colours the
        classes take (``None``: QGIS's default symbol).
    """

    def __init__(self, palette_raster: Optional[str] = None) -> None:
        super().__init__()
        self.palette_raster = palette_raster

    def postProcessLayer(  # noqa: N802 - QGIS API
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        stored = database_style(layer)
        style = sidecar_style(layer) if stored is None else None
        if stored is not None:
            document = QDomDocument()
            document.setContent(stored)
            ok, message = layer.importNamedStyle(document)
            if not ok:
                feedback.pushWarning(f"{layer.source()}: stored style not applied ({message}).")
        elif style is not None:
            message, ok = layer.loadNamedStyle(style)
            if not ok:
                feedback.pushWarning(f"{style}: style not applied ({message}).")
        elif isinstance(layer, QgsRasterLayer):
            trim_palette(layer)
        elif isinstance(layer, QgsVectorLayer) and self.palette_raster:
            categorize_by_class(layer, self.palette_raster)
        layer.triggerRepaint()


def style_on_load(context: QgsProcessingContext, path: Optional[str], palette_raster: Optional[str] = None) -> None:
    """Attach an :class:`OutputStyler` to output ``path`` if Processing will load it."""
    if not path or not context.willLoadLayerOnCompletion(path):
        return
    styler = OutputStyler(palette_raster)
    _ALIVE[path] = styler
    context.layerToLoadOnCompletionDetails(path).setPostProcessor(styler)
