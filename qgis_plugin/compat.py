"""QGIS 3 / QGIS 4 names of the enum values the plugin uses.

QGIS 3.36 moved the Processing enums to scoped ones on :class:`qgis.core.Qgis`
(``Qgis.ProcessingSourceType.VectorPolygon``); QGIS 4 (Qt 6, PyQt6) keeps only
those, while QGIS 3.22-3.34 has only the old class attributes
(``QgsProcessing.TypeVectorPolygon``).  Each value is looked up once here, the
scoped name first, so the algorithms read the same on every version.
Qt classes come from ``qgis.PyQt`` everywhere in the plugin, which maps to
PyQt5 or PyQt6 as QGIS was built.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    Qgis,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)


def first_name(*candidates: tuple[Any, str]) -> Any:
    """The first of ``(owner, "dotted.name")`` that resolves, e.g. ``(Qgis, "ProcessingSourceType.Raster")``.

    Raises
    ------
    AttributeError
        When none resolves (a QGIS version with neither name).
    """
    for owner, dotted in candidates:
        value = owner
        try:
            for part in dotted.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return value
    raise AttributeError("none of " + ", ".join(f"{getattr(o, '__name__', o)}.{n}" for o, n in candidates))


#: Polygon vector layers (parameter and output types).
VECTOR_POLYGON = first_name((Qgis, "ProcessingSourceType.VectorPolygon"), (QgsProcessing, "TypeVectorPolygon"))
#: Point vector layers (parameter and output types).
VECTOR_POINT = first_name((Qgis, "ProcessingSourceType.VectorPoint"), (QgsProcessing, "TypeVectorPoint"))
#: Number parameter types.
NUMBER_INTEGER = first_name((Qgis, "ProcessingNumberParameterType.Integer"), (QgsProcessingParameterNumber, "Integer"))
NUMBER_DOUBLE = first_name((Qgis, "ProcessingNumberParameterType.Double"), (QgsProcessingParameterNumber, "Double"))
#: Field parameter data type: text fields.
FIELD_STRING = first_name((Qgis, "ProcessingFieldParameterDataType.String"), (QgsProcessingParameterField, "String"))
#: Parameter flag: shown under "Advanced parameters".
FLAG_ADVANCED = first_name((Qgis, "ProcessingParameterFlag.Advanced"),
                           (QgsProcessingParameterDefinition, "FlagAdvanced"))
#: File parameter behaviour: a folder.
FILE_FOLDER = first_name((Qgis, "ProcessingFileParameterBehavior.Folder"), (QgsProcessingParameterFile, "Folder"))
