"""Vectorize classification: ``hsigeo vectorize``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..compat import NUMBER_DOUBLE, VECTOR_POLYGON
from ..config import tr
from ..styling import style_on_load
from .base import Command, HsigeoAlgorithm


class VectorizeAlgorithm(HsigeoAlgorithm):
    """Turn a classification GeoTIFF into GeoPackage polygons."""

    command = "vectorize"
    title = "Vectorize classification"
    help_anchor = "vectorize-classification"
    help_text = (
        "<p>Turns a classification raster of hsigeo into polygons, one per connected patch of a class, "
        "named in the field <code>class_name</code> (0 = unclassified is left out).</p>"
        "<p>Patches smaller than the minimum area (square metres) are dropped.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Classification raster")))
        self.addParameter(
            QgsProcessingParameterNumber(
                "MIN_AREA", tr("Minimum polygon area (m²)"), NUMBER_DOUBLE, 0.0, minValue=0.0
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination("OUTPUT", tr("Class polygons"), VECTOR_POLYGON)
        )

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        output = self.layer_output(parameters, "OUTPUT", context)
        command = Command([self.raster_path(parameters, "INPUT", context), "-o", output], {"OUTPUT": output})
        min_area = self.number(parameters, "MIN_AREA", context, float)
        command.add("--min-area", min_area if min_area else None)  # 0 = keep all: the CLI's default
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        style_on_load(context, command.results["OUTPUT"], palette_raster=command.arguments[0])
