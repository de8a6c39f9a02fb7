"""Create class prompts from layer: ``hsigeo prompts``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
)
from qgis.PyQt.QtXml import QDomDocument

from ..compat import FIELD_STRING, VECTOR_POLYGON
from ..config import tr
from .base import Command, HsigeoAlgorithm
from .train import PROMPTS_FILTER


class PromptsAlgorithm(HsigeoAlgorithm):
    """Write a prompts YAML from training polygons, their class field and their categorized style."""

    command = "prompts"
    title = "Create class prompts from layer"
    help_anchor = "create-class-prompts-from-layer"
    help_text = (
        "<p>Makes the class prompts file that <i>Train model</i> and <i>Classify raster</i> take, from a layer "
        "of training polygons: one class per value of the class field (class names or label values).</p>"
        "<p>Names and colours come from the layer's categorized style as it is in the project (category "
        "labels and fill colours, in legend order); the prompts from the description field when given, "
        "else the readable class names. Open the YAML afterwards and describe what each class looks like: "
        "the model anchors the classes to these words.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(
            QgsProcessingParameterVectorLayer("INPUT", tr("Training polygons"), [VECTOR_POLYGON])
        )
        self.addParameter(QgsProcessingParameterField("FIELD", tr("Class field"), parentLayerParameterName="INPUT"))
        self.addParameter(
            QgsProcessingParameterField(
                "DESCRIPTION_FIELD", tr("Description field (optional)"), parentLayerParameterName="INPUT",
                type=FIELD_STRING, optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination("OUTPUT", tr("Class prompts (YAML)"), fileFilter=PROMPTS_FILTER)
        )

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
        if layer is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, "INPUT"))
        source = self.vector_path(parameters, "INPUT", context, feedback)
        (field,) = self.parameterAsFields(parameters, "FIELD", context)
        descriptions = self.parameterAsFields(parameters, "DESCRIPTION_FIELD", context)
        output = self.file_output(parameters, "OUTPUT", context)

        command = Command([source], {"OUTPUT": output})
        command.add("--field", field)
        command.add("--description-field", descriptions[0] if descriptions else None)
        command.add("--style", self.export_style(layer, feedback))
        command.add("-o", output)
        return command

    @staticmethod
    def export_style(layer: Any, feedback: QgsProcessingFeedback) -> Optional[str]:
        """The layer's categorized symbology as a temporary ``.qml`` (what the user sees, saved or not).

        ``None`` when the layer is not categorized (e.g. opened from a path by a model or
        ``qgis_process``): then hsigeo reads the style stored with the file itself.
        """
        if not isinstance(layer.renderer(), QgsCategorizedSymbolRenderer):
            return None
        document = QDomDocument()
        error = layer.exportNamedStyle(document)
        if error:
            feedback.pushWarning(tr("{0}: style not read ({1}); default colours are used.").format(layer.name(), error))
            return None
        path = QgsProcessingUtils.generateTempFilename("layer_style.qml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(document.toString())
        return path
