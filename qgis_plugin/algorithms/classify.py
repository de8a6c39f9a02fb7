"""Classify raster: ``hsigeo classify``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..compat import VECTOR_POLYGON
from ..config import tr
from .base import Command, HsigeoAlgorithm
from .train import MODEL_FILTER, PROMPTS_FILTER


class ClassifyAlgorithm(HsigeoAlgorithm):
    """Classify a scene with a trained model (or the prompts alone) into a GeoTIFF."""

    command = "classify"
    title = "Classify raster"
    help_anchor = "classify-raster"
    help_text = (
        "<p>Classifies every pixel of a hyperspectral scene, tile by tile, into a GeoTIFF with one value "
        "per class, a colour table and the class names (0 = unclassified).</p>"
        "<p>Give a model file from <i>Train model</i>. A prompts file whose classes differ from the "
        "model's re-anchors the model to them (zero-shot classes); a prompts file alone uses the model "
        "its <code>model:</code> key names; with neither, hsigeo uses the model it trained last.</p>"
        "<p>Optional outputs: the confidence of each pixel's class (colour ramp), the class probabilities "
        "(one band per class, named after it: pick the class under Symbology &gt; Band), the margin between "
        "the best and the second-best class (low where two classes compete: where to look first) and the "
        "classes as polygons.</p>"
        "<p><b>Extent</b> and <b>mask</b> limit the run: only that part is read and classified, pixels outside "
        "the mask polygons are nodata. For a sensor product (EMIT, EnMAP, DESIS; give its image or file), "
        "<b>the product's quality flags</b> (e.g. <code>cloud,shadow</code>) leave the pixels its own quality "
        "files flag unclassified. <b>Resample</b> interpolates a scene from another sensor onto the "
        "model's bands when both know their wavelengths.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Hyperspectral scene")))
        self.addParameter(QgsProcessingParameterFile("MODEL", tr("Model file"), optional=True, fileFilter=MODEL_FILTER))
        self.addParameter(
            QgsProcessingParameterFile("PROMPTS", tr("Class prompts (YAML)"), optional=True, fileFilter=PROMPTS_FILTER)
        )
        self.add_area_parameters()
        resample = QgsProcessingParameterBoolean(
            "RESAMPLE", tr("Resample the scene onto the model's bands (other sensor)"), defaultValue=False
        )
        resample.setHelp(tr("Linear interpolation between the scene's bands, tile by tile; needs wavelengths on "
                            "both sides. Warns when the scene covers the model's spectrum only partly."))
        self.addParameter(resample)
        self.add_device_parameter()
        self.add_count_parameter("BATCH_SIZE", tr("Batch size"),
                                 help_text=tr("Pixels per forward pass (default 2048 on CPU, 65536 on CUDA)."))
        self.add_count_parameter("TILE_SIZE", tr("Tile size (pixels)"), minimum=16,
                                 help_text=tr("Window size (default 256 on CPU, 1024 on CUDA); the result "
                                              "does not change, smaller uses less memory."))
        self.add_threads_parameter()
        resume = QgsProcessingParameterBoolean(
            "RESUME", tr("Reuse outputs of an identical earlier run"), defaultValue=False
        )
        resume.setHelp(tr("Skip the work when the outputs exist and were made by this model from this scene "
                          "(and extent/mask); only missing outputs are made."))
        self.add_advanced(resume)
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
            QgsProcessingParameterRasterDestination(
                "MARGIN", tr("Class margin (best minus second-best probability)"), optional=True,
                createByDefault=False
            )
        )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "VECTOR", tr("Class polygons"), VECTOR_POLYGON, optional=True, createByDefault=False
            )
        )

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        outputs = {
            name: self.layer_output(parameters, name, context)
            for name in ("OUTPUT", "CONFIDENCE", "PROBABILITIES", "MARGIN", "VECTOR")
        }
        command = Command([self.raster_path(parameters, "INPUT", context)], outputs)
        command.add("--model", self.file_path(parameters, "MODEL", context))
        command.add("--prompts", self.file_path(parameters, "PROMPTS", context))
        command.add("-o", outputs["OUTPUT"])
        command.add("--vector", outputs["VECTOR"])
        command.add("--confidence", outputs["CONFIDENCE"])
        command.add("--probabilities", outputs["PROBABILITIES"])
        command.add("--margin", outputs["MARGIN"])
        command.add("--device", self.device_value(parameters, context))
        command.add("--batch-size", self.number(parameters, "BATCH_SIZE", context))
        command.add("--tile-size", self.number(parameters, "TILE_SIZE", context))
        command.add("--threads", self.number(parameters, "THREADS", context))
        self.add_area_arguments(command, parameters, context, feedback)
        if self.parameterAsBoolean(parameters, "RESAMPLE", context):
            command.arguments.append("--resample")
        if self.parameterAsBoolean(parameters, "RESUME", context):
            command.arguments.append("--resume")
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        self.style_classification(command, context)
