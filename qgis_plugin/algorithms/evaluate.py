"""Accuracy report: ``hsigeo evaluate``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
)

from ..compat import VECTOR_POLYGON
from ..config import tr
from .base import Command, HsigeoAlgorithm, collect_report_files
from .train import MODEL_FILTER, PROMPTS_FILTER

# files the CLI writes into the report folder -> algorithm outputs
REPORT_FILES = {"REPORT_HTML": "report.html", "REPORT_JSON": "report.json", "CONFUSION_MATRIX": "confusion.png"}


class EvaluateAlgorithm(HsigeoAlgorithm):
    """Accuracy of a classification against reference labels."""

    command = "evaluate"
    title = "Accuracy report"
    help_anchor = "accuracy-report"
    help_text = (
        "<p>Compares a classification raster with reference labels (polygons with a class field, or a "
        "label raster) and writes a report folder: overall accuracy, average accuracy, kappa, per-class "
        "accuracy and the confusion matrix, as HTML, JSON, Markdown and PNG.</p>"
        "<p>The prompts file or the model gives the class names used to match polygon classes.</p>"
        "<p>This report counts every labelled pixel (pixel-level, for benchmark splits). For class areas and "
        "accuracies with confidence intervals, label a sample from <i>Create sample design</i> and run "
        "<i>Accuracy and area report</i>.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Classification raster")))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "REFERENCE_VECTOR", tr("Reference polygons"), [VECTOR_POLYGON], optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                "LABEL_FIELD",
                tr("Class field of the polygons"),
                parentLayerParameterName="REFERENCE_VECTOR",
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                "REFERENCE_RASTER", tr("Reference label raster (instead of polygons)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile("PROMPTS", tr("Class prompts (YAML)"), optional=True, fileFilter=PROMPTS_FILTER)
        )
        self.addParameter(QgsProcessingParameterFile("MODEL", tr("Model file"), optional=True, fileFilter=MODEL_FILTER))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", tr("Report folder")))
        self.addOutput(QgsProcessingOutputHtml("REPORT_HTML", tr("Accuracy report")))
        self.addOutput(QgsProcessingOutputFile("REPORT_JSON", tr("Report (JSON)")))
        self.addOutput(QgsProcessingOutputFile("CONFUSION_MATRIX", tr("Confusion matrix (PNG)")))

    def checkParameterValues(  # noqa: N802 - QGIS API
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[bool, str]:
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            ok, message = self.require_one(parameters, ("REFERENCE_VECTOR", "REFERENCE_RASTER"), at_most_one=True)
        if ok and self.is_set(parameters, "PROMPTS") and self.is_set(parameters, "MODEL"):
            ok, message = False, tr("Give a prompts file or a model file, not both.")
        return ok, message

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        reference = self.vector_path(parameters, "REFERENCE_VECTOR", context, feedback)
        fields = self.parameterAsFields(parameters, "LABEL_FIELD", context) if reference else []
        if reference is None:
            reference = self.raster_path(parameters, "REFERENCE_RASTER", context)
        report = self.file_output(parameters, "OUTPUT", context)

        command = Command([self.raster_path(parameters, "INPUT", context)], {"OUTPUT": report})
        command.add("--reference", reference)
        command.add("--label-field", fields[0] if fields else None)
        command.add("--prompts", self.file_path(parameters, "PROMPTS", context))
        command.add("--model", self.file_path(parameters, "MODEL", context))
        command.add("-o", report)
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        collect_report_files(command, REPORT_FILES)
