"""Train model: ``hsigeo train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputHtml,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..compat import NUMBER_DOUBLE, NUMBER_INTEGER, VECTOR_POLYGON
from ..config import tr
from .base import Command, HsigeoAlgorithm

PROMPTS_FILTER = "YAML (*.yaml *.yml)"
#: ``--loss`` values; index 0 = the CLI's default.
LOSSES = ("hard_negative", "softmax")
#: ``--init`` values; index 0 = the CLI's default.
INITS = ("auto", "scratch", "base")
#: ``--method`` values; index 0 = the CLI's default.
METHODS = ("ensemble", "net", "svm", "auto")
MODEL_FILTER = "hsigeo model (*.hsigeo)"


class TrainAlgorithm(HsigeoAlgorithm):
    """Train a prompt-anchored model on a scene and training labels."""

    command = "train"
    title = "Train model"
    help_anchor = "train-model"
    help_text = (
        "<p>Trains a model that matches pixels of a hyperspectral scene to the text prompts of its classes.</p>"
        "<p>Labels are training polygons with a class field (class names or label values of the prompts "
        "file) or a label raster on the scene's grid (0 = unlabelled).</p>"
        "<p>By default every labelled pixel trains the model and the accuracy report scores those same "
        "pixels, which flatters it. Set <i>Fraction of labelled pixels used for training</i> (e.g. 0.5) or a "
        "number of training pixels per class to hold the other labelled pixels out: the report then scores "
        "only them.</p>"
        "<p>Without a report folder, the report goes beside the model (<code>MODEL_report</code>).</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Hyperspectral scene")))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "LABELS_VECTOR", tr("Training polygons"), [VECTOR_POLYGON], optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                "LABEL_FIELD", tr("Class field of the polygons"), parentLayerParameterName="LABELS_VECTOR", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer("LABELS_RASTER", tr("Label raster (instead of polygons)"), optional=True)
        )
        self.addParameter(QgsProcessingParameterFile("PROMPTS", tr("Class prompts (YAML)"), fileFilter=PROMPTS_FILTER))
        self.addParameter(
            QgsProcessingParameterNumber(
                "EPOCHS", tr("Epochs"), NUMBER_INTEGER, optional=True, minValue=1
            )
        )
        self.add_advanced(
            QgsProcessingParameterNumber(
                "TRAIN_FRACTION",
                tr("Fraction of labelled pixels used for training"),
                NUMBER_DOUBLE,
                optional=True,
                minValue=0.0,
                maxValue=1.0,
            )
        )
        self.add_count_parameter("TRAIN_COUNT", tr("Number of training pixels (instead of a fraction)"))
        self.add_count_parameter("SEED", tr("Random seed"), minimum=0)
        self.add_device_parameter()
        self.add_count_parameter("BATCH_SIZE", tr("Batch size"), help_text=tr("Patches per training step (default 32)."))
        self.add_number("LR", tr("Learning rate"), 1e-3, minimum=1e-7, maximum=1.0,
                        help_text=tr("Peak learning rate of AdamW (warm-up, then cosine decay)."))
        self.add_number("VAL_FRACTION", tr("Validation share"), 0.1, minimum=0.0, maximum=0.9,
                        help_text=tr("Share of each class's training pixels held out to pick the best epoch; "
                                     "classes with fewer than 10 such pixels keep all for training. 0 = none."))
        loss = QgsProcessingParameterEnum("LOSS", tr("Loss"), options=list(LOSSES), defaultValue=0)
        loss.setHelp(tr("hard_negative: the true class against the most similar and some random wrong classes; "
                        "softmax: against all classes."))
        self.add_advanced(loss)
        init = QgsProcessingParameterEnum(
            "INIT", tr("Start from"), defaultValue=0,
            options=[tr("automatic (base model when the scene has wavelengths)"),
                     tr("scratch (the scene's bands only)"), tr("base model (adds its embedding of each pixel)")])
        init.setHelp(tr("base model: the network also sees each pixel's embedding by hsigeo's built-in base model, "
                        "pretrained on spectral libraries; needs band wavelengths. What it changes, "
                        "measured: README, 'Few labels on top'. Automatic uses it when the scene has wavelengths."))
        self.add_advanced(init)
        method = QgsProcessingParameterEnum(
            "METHOD", tr("Method"), defaultValue=0,
            options=[tr("ensemble: network, SVM and patch CNN (default)"), tr("network alone"), tr("SVM alone"),
                     tr("automatic: chosen by cross-validation on the training pixels")])
        method.setHelp(tr("What is trained. The ensemble (default) combines the spectral-spatial network with an "
                          "SVM on each pixel's spectrum and a small patch CNN; only a network model can take other "
                          "prompts at classify time. What each gives, measured: README, 'Few labels on scenes nobody tuned on'."))
        self.add_advanced(method)
        text_model = QgsProcessingParameterFile(
            "TEXT_MODEL", tr("Text model folder"), behavior=QgsProcessingParameterFile.Folder, optional=True
        )
        text_model.setHelp(tr("A local transformers model (e.g. bge-large); default all-MiniLM-L6-v2."))
        self.add_advanced(text_model)
        self.add_threads_parameter()
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT", tr("Model file"), fileFilter=MODEL_FILTER))
        self.addParameter(
            QgsProcessingParameterFolderDestination("REPORT_DIR", tr("Accuracy report folder"), optional=True)
        )
        self.addOutput(QgsProcessingOutputHtml("REPORT_HTML", tr("Accuracy report")))

    def checkParameterValues(  # noqa: N802 - QGIS API
        self, parameters: dict[str, Any], context: QgsProcessingContext
    ) -> tuple[bool, str]:
        ok, message = super().checkParameterValues(parameters, context)
        if ok:
            ok, message = self.require_one(parameters, ("LABELS_VECTOR", "LABELS_RASTER"), at_most_one=True)
        if ok and self.is_set(parameters, "TRAIN_FRACTION") and self.is_set(parameters, "TRAIN_COUNT"):
            ok, message = False, tr("Give a training fraction or a count per class, not both.")
        return ok, message

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        labels = self.vector_path(parameters, "LABELS_VECTOR", context, feedback)
        fields = self.parameterAsFields(parameters, "LABEL_FIELD", context) if labels else []
        if labels is None:
            labels = self.raster_path(parameters, "LABELS_RASTER", context)
        model = self.file_output(parameters, "OUTPUT", context)
        report = self.file_output(parameters, "REPORT_DIR", context)

        command = Command([self.raster_path(parameters, "INPUT", context)], {"OUTPUT": model, "REPORT_DIR": report})
        command.add("--labels", labels)
        command.add("--label-field", fields[0] if fields else None)
        command.add("--prompts", self.file_path(parameters, "PROMPTS", context))
        command.add("-o", model)
        command.add("--train-fraction", self.number(parameters, "TRAIN_FRACTION", context, float))
        command.add("--train-count", self.number(parameters, "TRAIN_COUNT", context))
        command.add("--epochs", self.number(parameters, "EPOCHS", context))
        command.add("--seed", self.number(parameters, "SEED", context))
        command.add("--device", self.device_value(parameters, context))
        command.add("--batch-size", self.number(parameters, "BATCH_SIZE", context))
        command.add("--lr", self.changed_number(parameters, "LR", context))
        command.add("--val-fraction", self.changed_number(parameters, "VAL_FRACTION", context))
        loss = LOSSES[self.parameterAsEnum(parameters, "LOSS", context)]
        command.add("--loss", loss if loss != LOSSES[0] else None)
        init = INITS[self.parameterAsEnum(parameters, "INIT", context)]
        command.add("--init", init if init != INITS[0] else None)
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        command.add("--method", method if method != METHODS[0] else None)
        command.add("--text-model", self.file_path(parameters, "TEXT_MODEL", context))
        command.add("--threads", self.number(parameters, "THREADS", context))
        command.add("--report-dir", report)
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        # the folder hsigeo wrote: the one given, else the one it chose (its "Report:" line)
        report = command.results.get("REPORT_DIR") or command.reported("Report")
        if report:
            command.results["REPORT_DIR"] = report
        html = Path(report, "report.html") if report else None
        if html is not None and html.is_file():
            command.results["REPORT_HTML"] = str(html)
