"""Shared base of the hsigeo algorithms: one algorithm = one ``hsigeo`` subcommand.

A subclass declares its parameters in ``initAlgorithm`` and turns parameter
values into CLI arguments in :meth:`HsigeoAlgorithm.build_command`; running the
program, progress, cancelling, errors and clean-up happen here and in
:mod:`..runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProviderRegistry,
)
from qgis.PyQt.QtGui import QIcon

from ..compat import FLAG_ADVANCED, NUMBER_DOUBLE, NUMBER_INTEGER, VECTOR_POLYGON
from ..config import DOCS_URL, ICON_PATH, hsigeo_executable, tr
from ..runner import quiet_failure_log, run_hsigeo
from ..styling import style_on_load

DEVICES = ("auto", "cpu", "cuda")
#: Formats the CLI reads labels from; other vector layers are exported to GeoPackage first.
VECTOR_FORMATS = ["gpkg", "shp", "geojson"]


@dataclass
class Command:
    """What one run needs: the subcommand's arguments and the algorithm's results.

    Attributes
    ----------
    arguments
        Arguments after the subcommand name.
    results
        Output name -> path, returned by the algorithm as is.
    """

    arguments: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    #: the last lines hsigeo printed (filled after the run)
    lines: list[str] = field(default_factory=list)

    def reported(self, label: str) -> Optional[str]:
        """The value of hsigeo's last ``<label>: <value>`` output line (e.g. ``Report``), if any."""
        prefix = label + ":"
        for line in reversed(self.lines):
            if line.startswith(prefix):
                return line[len(prefix):].strip() or None
        return None

    def add(self, flag: str, value: Any) -> None:
        """Append ``flag value`` unless ``value`` is ``None``."""
        if value is not None:
            self.arguments += [flag, str(value)]


class HsigeoAlgorithm(QgsProcessingAlgorithm):
    """Base of the algorithms; subclasses set the class attributes and two methods.

    Attributes
    ----------
    command
        The ``hsigeo`` subcommand, also the algorithm's id (``hsigeo:<command>``).
    title
        Display name.
    help_text
        Short help (HTML allowed) shown beside the dialog.
    help_anchor
        Anchor of the algorithm's section in the README (the Help button opens it).
    """

    command = ""
    title = ""
    help_text = ""
    help_anchor = "qgis-plugin"

    # -- identity --------------------------------------------------------------------------

    def name(self) -> str:
        return self.command

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return tr(self.title)

    def group(self) -> str:
        return tr("Hyperspectral classification")

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return "classification"

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        return tr(self.help_text) + tr(
            "<p>Runs <code>hsigeo {0}</code> in its own environment; the program is set in "
            "Settings &gt; Options &gt; Processing &gt; Providers &gt; hsigeo.</p>"
        ).format(self.command)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        return f"{DOCS_URL}#{self.help_anchor}" if DOCS_URL else ""

    def tags(self) -> list[str]:
        return [self.command, "hsigeo", "hyperspectral", "classification", "vision-language", "deep learning"]

    def icon(self) -> QIcon:
        return QIcon(ICON_PATH)

    def createInstance(self) -> "HsigeoAlgorithm":  # noqa: N802 - QGIS API
        return type(self)()

    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS API
        """Whether the ``hsigeo`` program can be found (the dialog shows the reason if not)."""
        try:
            hsigeo_executable()
        except QgsProcessingException as exc:
            return False, str(exc)
        return True, ""

    # -- to implement ----------------------------------------------------------------------

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        """Turn parameter values into CLI arguments and the results to return."""
        raise NotImplementedError

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        """Hook after a successful run (styling, optional outputs); does nothing by default."""

    # -- running ---------------------------------------------------------------------------

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        command = self.build_command(parameters, context, feedback)
        try:
            # --overwrite: QGIS's file widgets already asked; hsigeo still never replaces inputs,
            # folders it did not write, or anything but the named outputs
            run = run_hsigeo(
                [self.command, *command.arguments, "--overwrite"],
                feedback,
                executable=hsigeo_executable(),
                outputs=[v for v in command.results.values() if isinstance(v, str)],
            )
        except QgsProcessingException:
            quiet_failure_log()
            raise
        command.lines = list(run.lines)
        self.after_run(command, parameters, context, feedback)
        return command.results

    # -- parameter helpers -----------------------------------------------------------------

    @staticmethod
    def is_set(parameters: dict[str, Any], name: str) -> bool:
        """Whether an optional parameter has a value."""
        value = parameters.get(name)
        return value is not None and value != "" and not (hasattr(value, "isNull") and value.isNull())

    def raster_path(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[str]:
        """File path of a raster layer parameter (``None`` when optional and unset)."""
        if not self.is_set(parameters, name):
            return None
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                tr("{0}: hsigeo reads raster files only; save the layer as GeoTIFF first.").format(layer.name())
            )
        # drop GDAL open options and the like: the CLI wants a plain path
        return QgsProviderRegistry.instance().decodeUri("gdal", layer.source()).get("path") or layer.source()

    def vector_path(
        self, parameters: dict[str, Any], name: str, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Optional[str]:
        """File the CLI can read for a vector parameter (``None`` when unset).

        Layers in other formats, with a filter or a selection, are exported to a
        temporary GeoPackage by QGIS.
        """
        if not self.is_set(parameters, name):
            return None
        path = self.parameterAsCompatibleSourceLayerPath(parameters, name, context, VECTOR_FORMATS, "gpkg", feedback)
        if not path:
            raise QgsProcessingException(self.invalidSourceError(parameters, name))
        return path

    def file_path(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[str]:
        """Value of a file parameter (``None`` when unset)."""
        return self.parameterAsFile(parameters, name, context) or None

    def layer_output(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[str]:
        """Path of a raster/vector destination (``None`` when an optional output is skipped)."""
        if name in parameters and parameters[name] is None:
            return None
        return self.parameterAsOutputLayer(parameters, name, context) or None

    def file_output(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[str]:
        """Path of a file/folder destination (``None`` when an optional output is skipped)."""
        if name in parameters and parameters[name] is None:
            return None
        return self.parameterAsFileOutput(parameters, name, context) or None

    def number(
        self, parameters: dict[str, Any], name: str, context: QgsProcessingContext, kind: type = int
    ) -> Optional[float]:
        """Value of an optional number parameter, ``None`` when unset."""
        if not self.is_set(parameters, name):
            return None
        if kind is int:
            return self.parameterAsInt(parameters, name, context)
        return self.parameterAsDouble(parameters, name, context)

    def require_one(
        self, parameters: dict[str, Any], names: tuple[str, ...], *, at_most_one: bool = False
    ) -> tuple[bool, str]:
        """Check that one of ``names`` is set (and, with ``at_most_one``, not several)."""
        given = [n for n in names if self.is_set(parameters, n)]
        labels = " / ".join(self.parameterDefinition(n).description() for n in names)
        if not given:
            return False, tr("Give one of: {0}.").format(labels)
        if at_most_one and len(given) > 1:
            return False, tr("Give only one of: {0}.").format(labels)
        return True, ""

    # -- shared parameters -----------------------------------------------------------------

    def add_advanced(self, parameter: QgsProcessingParameterDefinition) -> None:
        """Add ``parameter`` in the dialog's "Advanced parameters" section."""
        parameter.setFlags(parameter.flags() | FLAG_ADVANCED)
        self.addParameter(parameter)

    def add_device_parameter(self) -> None:
        """``DEVICE``: where the model runs."""
        self.add_advanced(
            QgsProcessingParameterEnum("DEVICE", tr("Device"), options=list(DEVICES), defaultValue=0)
        )

    def device_value(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """The ``--device`` value chosen."""
        return DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)]

    def add_count_parameter(self, name: str, description: str, *, minimum: int = 1, help_text: str = "") -> None:
        """An optional advanced integer (unset = the CLI's default)."""
        parameter = QgsProcessingParameterNumber(
            name, description, NUMBER_INTEGER, optional=True, minValue=minimum
        )
        parameter.setHelp(help_text)
        self.add_advanced(parameter)

    def add_number(self, name: str, description: str, default: float, *, minimum: float, maximum: float,
                   help_text: str = "") -> None:
        """An advanced decimal with its default shown (passed to the CLI only when changed)."""
        parameter = QgsProcessingParameterNumber(
            name, description, NUMBER_DOUBLE, defaultValue=default, optional=True,
            minValue=minimum, maxValue=maximum,
        )
        parameter.setHelp(help_text)
        self.add_advanced(parameter)

    def changed_number(self, parameters: dict[str, Any], name: str, context: QgsProcessingContext) -> Optional[float]:
        """Value of a decimal from :meth:`add_number`; ``None`` when unset or at its default (the CLI's own)."""
        value = self.number(parameters, name, context, float)
        default = self.parameterDefinition(name).defaultValue()
        if value is None or (default is not None and abs(float(value) - float(default)) <= 1e-12):
            return None
        return value

    def add_threads_parameter(self) -> None:
        """``THREADS``: CPU threads of the model (unset = the CLI's default)."""
        self.add_count_parameter(
            "THREADS", tr("CPU threads"),
            help_text=tr("Threads for the model on the CPU (default: all cores but one). "
                         "On a machine busy with other work, 1 is often faster."),
        )

    # -- classification runs (Classify raster, Classify from prompts) -----------------------

    def add_area_parameters(self) -> None:
        """``EXTENT``, ``MASK`` and ``PRODUCT_MASK``: a rectangle, polygons, a sensor product's quality flags."""
        self.addParameter(QgsProcessingParameterExtent("EXTENT", tr("Classify only this extent"), optional=True))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "MASK", tr("Classify only inside these polygons (mask)"), [VECTOR_POLYGON],
                optional=True,
            )
        )
        flags = QgsProcessingParameterString(
            "PRODUCT_MASK", tr("Leave out the pixels the product's quality files flag (e.g. cloud,shadow)"),
            optional=True,
        )
        flags.setHelp(tr("Sensor products as downloaded (EMIT with its L2A MASK file, EnMAP, DESIS): the flags to "
                         "mask, separated by commas, from cloud, cirrus, dilated-cloud, shadow, haze, snow, water, "
                         "spacecraft, aggregate, defective. Flagged pixels are left unclassified (0)."))
        self.addParameter(flags)

    def add_area_arguments(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> None:
        """Append ``--extent``, ``--mask`` and ``--product-mask`` when :meth:`add_area_parameters`' are set."""
        command.add("--extent", self.extent_value(parameters, context))
        command.add("--mask", self.vector_path(parameters, "MASK", context, feedback))
        if self.is_set(parameters, "PRODUCT_MASK"):
            flags = self.parameterAsString(parameters, "PRODUCT_MASK", context).strip()
            command.add("--product-mask", flags or None)

    def extent_value(self, parameters: dict[str, Any], context: QgsProcessingContext) -> Optional[str]:
        """``--extent`` text: the extent in the scene's CRS (QGIS reprojects it), ``xmin,ymin,xmax,ymax,CRS``."""
        if not self.is_set(parameters, "EXTENT"):
            return None
        scene = self.parameterAsRasterLayer(parameters, "INPUT", context)
        crs = scene.crs() if scene is not None else self.parameterAsExtentCrs(parameters, "EXTENT", context)
        rect = self.parameterAsExtent(parameters, "EXTENT", context, crs)
        if rect.isNull() or rect.isEmpty():
            return None
        values = [f"{v:.10g}" for v in (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())]
        return ",".join(values + ([crs.authid()] if crs.isValid() and crs.authid() else []))

    @staticmethod
    def style_classification(command: Command, context: QgsProcessingContext) -> None:
        """Style the outputs of ``hsigeo classify`` that Processing loads.

        ``OUTPUT`` (classes) is paletted, ``VECTOR`` polygons take its colours;
        ``CONFIDENCE``, ``PROBABILITIES`` and ``MARGIN`` use the colour-ramp style hsigeo
        writes beside each.  Outputs an algorithm lacks or skipped are ignored.
        """
        classes = command.results["OUTPUT"]
        style_on_load(context, classes)
        style_on_load(context, command.results.get("VECTOR"), palette_raster=classes)
        style_on_load(context, command.results.get("CONFIDENCE"))
        style_on_load(context, command.results.get("PROBABILITIES"))
        style_on_load(context, command.results.get("MARGIN"))


def collect_report_files(command: Command, files: dict[str, str]) -> None:
    """Fill the algorithm's file outputs (``{output name: file name}``) that exist in the report folder ``OUTPUT``."""
    for output, name in files.items():
        path = Path(command.results["OUTPUT"], name)
        if path.is_file():
            command.results[output] = str(path)
