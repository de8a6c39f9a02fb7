"""QGIS layer styles (QML) for hsigeo's outputs, made in one place.

QGIS applies a style automatically when a layer is added by hand: for a
raster the ``<stem>.qml`` beside the file, for a GeoPackage layer the default
row of the GeoPackage's ``layer_styles`` table (see
:func:`hsigeo.io.vectors.write_vector`).  This module writes the QML text of
each kind of output:

* :func:`paletted_raster_qml`: a classification raster, one colour and name
  per class value;
* :func:`pseudocolor_raster_qml`: a continuous raster on a fixed 0..1 colour
  ramp (the confidence, and band 1 of the per-class probabilities, whose
  other bands a user picks in the layer properties by their class names);
* :func:`categorized_vector_qml`: class polygons categorised by ``class_id``,
  labelled with the class names, in class-value order like the raster's legend;
* :func:`sample_points_qml`: reference sample points by map class, with a
  class-name list to label each point's reference class.

The documents hold only the renderer (and the raster pipe around it); QGIS
fills in everything else with its defaults.  Tested against QGIS 3.22.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from hsigeo.classes import normalize_classes

__all__ = [
    "CONFIDENCE_RAMP",
    "categorized_vector_qml",
    "paletted_raster_qml",
    "pseudocolor_raster_qml",
    "sample_points_qml",
]

#: Colour stops (position in 0..1, "#rrggbb") of the ramp for probabilities: viridis,
#: readable by colour-blind users and in greyscale, dark = unsure, yellow = sure.
CONFIDENCE_RAMP: tuple[tuple[float, str], ...] = (
    (0.0, "#440154"),
    (0.25, "#3b528b"),
    (0.5, "#21918c"),
    (0.75, "#5ec962"),
    (1.0, "#fde725"),
)

_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def _document(body: str, *, categories: str = "AllStyleCategories") -> str:
    """A QML document around ``body`` (already indented by two spaces)."""
    return f'{_HEADER}<qgis version="3.22.0" styleCategories="{categories}">\n{body}</qgis>\n'


def _raster_pipe(renderer: str) -> str:
    """The raster pipe of a style: ``renderer`` then QGIS's neutral colour adjustments."""
    return (
        "  <pipe>\n"
        f"{renderer}"
        '    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>\n'
        '    <huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeRed="255" '
        'colorizeGreen="128" colorizeBlue="128" colorizeStrength="100"/>\n'
        '    <rasterresampler maxOversampling="2"/>\n'
        "  </pipe>\n"
        "  <blendMode>0</blendMode>\n"
    )


def paletted_raster_qml(classes: Any) -> str:
    """Style of a classification raster: a paletted renderer with class names and colours.

    Parameters
    ----------
    classes
        Anything :func:`hsigeo.classes.normalize_classes` accepts.
    """
    entries = "\n".join(
        f'        <paletteEntry value="{c.value}" color="{c.colour_hex}" alpha="255" label={quoteattr(c.name)}/>'
        for c in normalize_classes(classes)
    )
    renderer = (
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <colorPalette>\n"
        f"{entries}\n"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
    )
    return _document(_raster_pipe(renderer))


def pseudocolor_raster_qml(*, band: int = 1, minimum: float = 0.0, maximum: float = 1.0,
                           ramp: Sequence[tuple[float, str]] = CONFIDENCE_RAMP) -> str:
    """Style of a continuous raster: band ``band`` on a colour ramp from ``minimum`` to ``maximum``.

    The range is fixed (not stretched to the data), so two probability bands,
    or two runs, look alike for the same values.

    Parameters
    ----------
    band
        Band shown (1-based); the user may pick another in QGIS.
    minimum, maximum
        Values at the ends of the ramp.
    ramp
        ``(position in 0..1, "#rrggbb")`` stops.
    """
    span = maximum - minimum
    items = "\n".join(
        f'          <item value="{minimum + pos * span:g}" color="{colour}" alpha="255" '
        f'label="{minimum + pos * span:.2f}"/>'
        for pos, colour in ramp
    )
    renderer = (
        f'    <rasterrenderer type="singlebandpseudocolor" band="{int(band)}" opacity="1" alphaBand="-1" '
        f'classificationMin="{minimum:g}" classificationMax="{maximum:g}" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <minMaxOrigin>\n"
        "        <limits>None</limits>\n"
        "        <extent>WholeRaster</extent>\n"
        "        <statAccuracy>Estimated</statAccuracy>\n"
        "        <cumulativeCutLower>0.02</cumulativeCutLower>\n"
        "        <cumulativeCutUpper>0.98</cumulativeCutUpper>\n"
        "        <stdDevFactor>2</stdDevFactor>\n"
        "      </minMaxOrigin>\n"
        "      <rastershader>\n"
        f'        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" '
        f'minimumValue="{minimum:g}" maximumValue="{maximum:g}" labelPrecision="2">\n'
        f"{items}\n"
        "        </colorrampshader>\n"
        "      </rastershader>\n"
        "    </rasterrenderer>\n"
    )
    return _document(_raster_pipe(renderer))


def categorized_vector_qml(classes: Any, *, field: str = "class_id") -> str:
    """Style of class polygons: categories by ``field`` (class values), labelled with class names.

    Categories are in class-value order, like the paletted raster's legend;
    polygons are filled without outlines so that neighbouring patches read as
    one map.

    Parameters
    ----------
    classes
        Anything :func:`hsigeo.classes.normalize_classes` accepts.
    field
        The attribute holding the class value.
    """
    entries = normalize_classes(classes)
    categories = _categories(entries)
    symbols = "\n".join(
        f'      <symbol type="fill" name="{i}" alpha="1" clip_to_extent="1" force_rhr="0">\n'
        '        <layer class="SimpleFill" enabled="1" pass="0" locked="0">\n'
        f'          <prop k="color" v="{",".join(map(str, c.colour))},255"/>\n'
        f'          <prop k="outline_color" v="{",".join(map(str, c.colour))},255"/>\n'
        '          <prop k="outline_style" v="no"/>\n'
        '          <prop k="outline_width" v="0.26"/>\n'
        '          <prop k="outline_width_unit" v="MM"/>\n'
        '          <prop k="style" v="solid"/>\n'
        "        </layer>\n"
        "      </symbol>"
        for i, c in enumerate(entries)
    )
    body = (
        f'  <renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" forceraster="0" '
        'enableorderby="0" referencescale="-1">\n'
        "    <categories>\n"
        f"{categories}\n"
        "    </categories>\n"
        "    <symbols>\n"
        f"{symbols}\n"
        "    </symbols>\n"
        "  </renderer-v2>\n"
        "  <blendMode>0</blendMode>\n"
        "  <featureBlendMode>0</featureBlendMode>\n"
        "  <layerOpacity>1</layerOpacity>\n"
    )
    return _document(body)


#: What QGIS's value-map widget stores for "no value" (its fixed NULL marker).
VALUE_MAP_NULL = "{2839923C-8B7D-419E-B84B-CA2FE9B80EC7}"


def sample_points_qml(classes: Any, *, class_field: str = "map_class", reference_field: str = "reference",
                      read_only: Sequence[str] = ()) -> str:
    """Style of a reference sample: points by map class, the reference field edited with a class list.

    The points are categorised by ``class_field`` in the class colours; the
    ``reference_field`` gets QGIS's *Value Map* editor listing the class names
    (it stores the class value, and offers an empty choice), so labelling a
    point in QGIS's attribute form is picking a name.  Fields in ``read_only``
    cannot be edited in the form (the design's own fields).
    """
    entries = normalize_classes(classes)
    categories = _categories(entries)
    symbols = "\n".join(
        f'      <symbol type="marker" name="{i}" alpha="1" clip_to_extent="1" force_rhr="0">\n'
        '        <layer class="SimpleMarker" enabled="1" pass="0" locked="0">\n'
        f'          <prop k="color" v="{",".join(map(str, c.colour))},255"/>\n'
        '          <prop k="name" v="circle"/>\n'
        '          <prop k="outline_color" v="35,35,35,255"/>\n'
        '          <prop k="outline_style" v="solid"/>\n'
        '          <prop k="outline_width" v="0.3"/>\n'
        '          <prop k="outline_width_unit" v="MM"/>\n'
        '          <prop k="size" v="2.6"/>\n'
        '          <prop k="size_unit" v="MM"/>\n'
        "        </layer>\n"
        "      </symbol>"
        for i, c in enumerate(entries)
    )
    options = "\n".join(
        f'              <Option type="Map"><Option type="QString" name={quoteattr(c.name)} value="{c.value}"/></Option>'
        for c in entries
    )
    null_option = f'              <Option type="Map"><Option type="QString" name="(not labelled)" value="{VALUE_MAP_NULL}"/></Option>'
    editable = "\n".join(f'    <field name={quoteattr(f)} editable="0"/>' for f in read_only)
    body = (
        f'  <renderer-v2 type="categorizedSymbol" attr={quoteattr(class_field)} symbollevels="0" forceraster="0" '
        'enableorderby="0" referencescale="-1">\n'
        "    <categories>\n"
        f"{categories}\n"
        "    </categories>\n"
        "    <symbols>\n"
        f"{symbols}\n"
        "    </symbols>\n"
        "  </renderer-v2>\n"
        "  <fieldConfiguration>\n"
        f'    <field name={quoteattr(reference_field)} configurationFlags="None">\n'
        '      <editWidget type="ValueMap">\n'
        "        <config>\n"
        '          <Option type="Map">\n'
        '            <Option type="List" name="map">\n'
        f"{null_option}\n{options}\n"
        "            </Option>\n"
        "          </Option>\n"
        "        </config>\n"
        "      </editWidget>\n"
        "    </field>\n"
        "  </fieldConfiguration>\n"
        + (f"  <editable>\n{editable}\n  </editable>\n" if read_only else "")
        + "  <blendMode>0</blendMode>\n"
        "  <featureBlendMode>0</featureBlendMode>\n"
        "  <layerOpacity>1</layerOpacity>\n"
    )
    return _document(body)


def _categories(entries: Any) -> str:
    """The ``<category>`` lines of a categorized renderer: one per class, symbol ``i`` for the ``i``-th."""
    return "\n".join(
        f'      <category value="{c.value}" label={quoteattr(c.name)} symbol="{i}" render="true"/>'
        for i, c in enumerate(entries)
    )
