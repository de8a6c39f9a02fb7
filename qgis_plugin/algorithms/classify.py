"""Classify raster: ``hsigeo classify``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..config import tr
from ..styling import style_on_load
from .base import Command, HsigeoAlgorithm
from .train import MODEL_FILTER, PROMPTS_FILTER


class ClassifyAlgorithm(HsigeoAlgorithm):
    """Classify a scene with a trained model (or the prompts alone) into a GeoTIFF."""

    command = "classify"
    title = "Classify raster"
    help_text = (
        "<p>Classifies every pixel of a hyperspectral scene, tile by tile, into a GeoTIFF with one value "
        "per class, a colour table and the class names (0 = unclassified).</p>"
        "<p>Give a model file from <i>Train model</i>. A prompts file whose classes differ from the "
        "model's re-anchors the model to them (zero-shot classes); a prompts file alone uses the model "
        "its <code>model:</code> key names; with neither, hsigeo uses the model it trained last.</p>"
        "<p>Optional outputs: the confidence of each pixel's class, the class probabilities (one band per "
        "class) and the classes as polygons.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Hyperspectral scene")))
        self.addParameter(QgsProcessingParameterFile("MODEL", tr("Model file"), optional=True, fileFilter=MODEL_FILTER))
        self.addParameter(
            QgsProcessingParameterFile("PROMPTS", tr("Class prompts (YAML)"), optional=True, fileFilter=PROMPTS_FILTER)
        )
        self.add_device_parameter()
        self.add_count_parameter("BATCH_SIZE", tr("Batch size"))
        self.add_count_parameter("TILE_SIZE", tr("Tile size (pixels)"), minimum=16)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", tr("Classification")))
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "CONFIDENCE", tr("Confidence"), optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(
                "PROBABILITIES", tr("Class probabilities"), optional=True, createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "VECTOR", tr("Class polygons"), QgsProcessing.TypeVectorPolygon, optional=True, createByDefault=False
            )
        )

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        outputs = {
            name: self.layer_output(parameters, name, context)
            for name in ("OUTPUT", "CONFIDENCE", "PROBABILITIES", "VECTOR")
        }
        command = Command([self.raster_path(parameters, "INPUT", context)], outputs)
        command.add("--model", self.file_path(parameters, "MODEL", context))
        command.add("--prompts", self.file_path(parameters, "PROMPTS", context))
        command.add("-o", outputs["OUTPUT"])
        command.add("--vector", outputs["VECTOR"])
        command.add("--confidence", outputs["CONFIDENCE"])
        command.add("--probabilities", outputs["PROBABILITIES"])
        command.add("--device", self.device_value(parameters, context))
        command.add("--batch-size", self.number(parameters, "BATCH_SIZE", context))
        command.add("--tile-size", self.number(parameters, "TILE_SIZE", context))
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        classes = command.results["OUTPUT"]
        style_on_load(context, classes)
        style_on_load(context, command.results["VECTOR"], palette_raster=classes)
