"""Classify from prompts: ``hsigeo classify --prompts`` with the built-in base model (no model, no labels)."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..compat import NUMBER_DOUBLE
from ..config import tr
from .base import Command, HsigeoAlgorithm
from .train import PROMPTS_FILTER

#: ``--radiometry`` choices, ``auto`` (the CLI's default) first.
RADIOMETRIES = ("auto", "reflectance", "radiance")
#: The base model's own ``--threshold`` (the CLI's default); passed only when changed.
BASE_THRESHOLD = 0.5


class ClassifyPromptsAlgorithm(HsigeoAlgorithm):
    """Map a scene from the prompts' words alone, with the base model shipped inside hsigeo."""

    command = "classify"
    title = "Classify from prompts"
    help_anchor = "classify-from-prompts"
    help_text = (
        "<p><b>Label-free.</b> Maps every pixel of a hyperspectral scene to the classes of a prompts file "
        "from their words alone, with the base model shipped inside hsigeo: no trained model and no "
        "training labels. The scene needs band wavelengths (ENVI header or GeoTIFF band metadata).</p>"
        "<p><b>What to expect:</b> coarse land cover, not crop types. How well words alone map scenes, "
        "including the ones where they fail, is measured on several scenes in the README's zero-shot "
        "benchmark table. Pixels whose best class "
        "probability is below the <b>threshold</b> are left unknown (0), so the prompts need not name "
        "every material.</p>"
        "<p><b>Better maps:</b> draw a few training polygons per class, run <i>Train model</i> with the "
        "same prompts file, then <i>Classify raster</i> with the model.</p>"
        "<p><b>Radiometry</b>: reflectance or at-sensor radiance (radiance gets a scene-level correction); "
        "auto looks at the 940/1130 nm water-vapour bands. <b>Extent</b> and <b>mask</b> limit the run; "
        "a sensor product's own quality flags (e.g. <code>cloud,shadow</code>) leave flagged pixels unclassified. "
        "See <i>Words alone: the base model</i> in the hsigeo documentation.</p>"
    )

    def name(self) -> str:
        # same subcommand as Classify raster, so its own id
        return "classify_prompts"

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Hyperspectral scene")))
        self.addParameter(QgsProcessingParameterFile("PROMPTS", tr("Class prompts (YAML)"), fileFilter=PROMPTS_FILTER))
        threshold = QgsProcessingParameterNumber(
            "THRESHOLD", tr("Leave pixels unknown below this class probability"),
            NUMBER_DOUBLE, defaultValue=BASE_THRESHOLD, minValue=0.0, maxValue=1.0,
        )
        threshold.setHelp(tr("Pixels whose best class probability is lower get class 0 (unknown); "
                             "0 classifies every pixel."))
        self.addParameter(threshold)
        self.addParameter(
            QgsProcessingParameterEnum("RADIOMETRY", tr("Scene radiometry"), options=list(RADIOMETRIES), defaultValue=0)
        )
        self.add_area_parameters()
        self.add_device_parameter()
        self.add_threads_parameter()
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", tr("Classification")))
        self.addParameter(
            QgsProcessingParameterRasterDestination("CONFIDENCE", tr("Confidence"), optional=True, createByDefault=False)
        )

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        outputs = {name: self.layer_output(parameters, name, context) for name in ("OUTPUT", "CONFIDENCE")}
        command = Command([self.raster_path(parameters, "INPUT", context)], outputs)
        # --prompts without --model: the CLI runs the base model
        command.add("--prompts", self.file_path(parameters, "PROMPTS", context))
        command.add("-o", outputs["OUTPUT"])
        command.add("--confidence", outputs["CONFIDENCE"])
        command.add("--threshold", self.changed_number(parameters, "THRESHOLD", context))
        radiometry = RADIOMETRIES[self.parameterAsEnum(parameters, "RADIOMETRY", context)]
        command.add("--radiometry", None if radiometry == "auto" else radiometry)
        self.add_area_arguments(command, parameters, context, feedback)
        command.add("--device", self.device_value(parameters, context))
        command.add("--threads", self.number(parameters, "THREADS", context))
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        self.style_classification(command, context)
