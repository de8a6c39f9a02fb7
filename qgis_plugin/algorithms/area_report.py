"""Accuracy and area report: ``hsigeo evaluate`` on a labelled sample."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
)

from ..compat import VECTOR_POINT, VECTOR_POLYGON
from ..config import tr
from .base import Command, HsigeoAlgorithm, collect_report_files

#: "as drawn" lets the CLI take the design stored in the sample by Create sample design
DESIGNS = ("as drawn", "stratified", "simple", "systematic")
# files the CLI writes into the report folder -> algorithm outputs
REPORT_FILES = {"REPORT_HTML": "report.html", "REPORT_JSON": "report.json", "AREA_PLOT": "area.png",
                "ERROR_MATRIX": "error_matrix.png"}


class AreaReportAlgorithm(HsigeoAlgorithm):
    """Area-adjusted accuracy and class areas with confidence intervals from a labelled sample."""

    command = "evaluate"
    title = "Accuracy and area report"
    help_anchor = "accuracy-and-area-report"
    help_text = (
        "<p>Estimates, from labelled sample points (made with <i>Create sample design</i>), the error matrix in "
        "area proportions, the overall, user's and producer's accuracies and each class's area in hectares, "
        "each with a 95 % confidence interval, beside the mapped (pixel-counting) area "
        "(Olofsson et al. 2014).</p>"
        "<p>Give the same mask (and strata raster) the sample was drawn with. Unlabelled points are left out "
        "and counted in the report.</p>"
    )

    def name(self) -> str:
        return "area_report"

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Classification raster")))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "REFERENCE", tr("Labelled sample points"), [VECTOR_POINT]))
        self.addParameter(QgsProcessingParameterField(
            "LABEL_FIELD", tr("Reference class field"), defaultValue="reference", parentLayerParameterName="REFERENCE",
            optional=True))
        self.addParameter(QgsProcessingParameterEnum("DESIGN", tr("Sample design"), options=list(DESIGNS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "MASK", tr("Mask the sample was drawn within"), [VECTOR_POLYGON], optional=True))
        self.add_advanced(QgsProcessingParameterRasterLayer(
            "STRATA", tr("Strata raster the sample was drawn with"), optional=True))
        self.add_advanced(QgsProcessingParameterBoolean(
            "FPC", tr("Finite-population correction"), defaultValue=False))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", tr("Report folder")))
        self.addOutput(QgsProcessingOutputHtml("REPORT_HTML", tr("Accuracy and area report")))
        self.addOutput(QgsProcessingOutputFile("REPORT_JSON", tr("Report (JSON)")))
        self.addOutput(QgsProcessingOutputFile("AREA_PLOT", tr("Mapped and estimated areas (PNG)")))
        self.addOutput(QgsProcessingOutputFile("ERROR_MATRIX", tr("Error matrix in area proportions (PNG)")))

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        report = self.file_output(parameters, "OUTPUT", context)
        command = Command([self.raster_path(parameters, "INPUT", context)], {"OUTPUT": report})
        command.add("--reference", self.vector_path(parameters, "REFERENCE", context, feedback))
        fields = self.parameterAsFields(parameters, "LABEL_FIELD", context)
        command.add("--label-field", fields[0] if fields else None)
        design = DESIGNS[self.parameterAsEnum(parameters, "DESIGN", context)]
        # "as drawn": a sample from Create sample design knows its design; anything else is stratified by the map
        command.add("--design", None if design == "as drawn" else design)
        command.add("--mask", self.vector_path(parameters, "MASK", context, feedback))
        command.add("--strata", self.raster_path(parameters, "STRATA", context))
        if self.parameterAsBoolean(parameters, "FPC", context):
            command.arguments.append("--fpc")
        command.add("-o", report)
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        collect_report_files(command, REPORT_FILES)
