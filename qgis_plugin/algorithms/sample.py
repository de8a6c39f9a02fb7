"""Create sample design: ``hsigeo sample``."""

from __future__ import annotations

from typing import Any, Optional

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ..compat import NUMBER_DOUBLE, NUMBER_INTEGER, VECTOR_POINT, VECTOR_POLYGON
from ..config import tr
from ..styling import style_on_load
from .base import Command, HsigeoAlgorithm

ALLOCATIONS = ("proportional", "equal", "neyman")
DESIGNS = ("stratified", "simple", "systematic")


class SampleAlgorithm(HsigeoAlgorithm):
    """A reference sample of a classification, as points to label."""

    command = "sample"
    title = "Create sample design"
    help_anchor = "create-sample-design"
    help_text = (
        "<p>Draws a probability sample of a classification raster for an accuracy and area assessment "
        "(Olofsson et al. 2014): stratified random by map class (or by a strata raster), simple random or "
        "systematic. The sample size follows from the standard error wanted for the overall accuracy, or is "
        "given; each class gets at least the minimum number of points.</p>"
        "<p>The points carry their map class and an empty <code>reference</code> field: toggle editing and "
        "pick each point's class from the list. Then run <i>Accuracy and area report</i>.</p>"
    )

    def initAlgorithm(self, config: Optional[dict[str, Any]] = None) -> None:  # noqa: N802 - QGIS API
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", tr("Classification raster")))
        self.addParameter(QgsProcessingParameterNumber(
            "N", tr("Number of points (empty: from the target standard error)"), NUMBER_INTEGER,
            optional=True, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            "TARGET_SE", tr("Target standard error of the overall accuracy"), NUMBER_DOUBLE,
            defaultValue=0.01, minValue=0.0001, maxValue=0.49))
        self.addParameter(QgsProcessingParameterNumber(
            "MIN_PER_CLASS", tr("Minimum points per class (stratum)"), NUMBER_INTEGER,
            defaultValue=50, minValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "ALLOCATION", tr("Allocation"), options=list(ALLOCATIONS), defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("DESIGN", tr("Design"), options=list(DESIGNS), defaultValue=0))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "MASK", tr("Sample only inside these polygons (mask)"), [VECTOR_POLYGON], optional=True))
        self.add_advanced(QgsProcessingParameterRasterLayer(
            "STRATA", tr("Strata raster (default: the map's classes)"), optional=True))
        self.add_advanced(QgsProcessingParameterString(
            "EXPECTED_ACCURACY", tr("Expected user's accuracy (one value, or one per class)"), defaultValue="0.85",
            optional=True))
        self.add_advanced(QgsProcessingParameterNumber(
            "SEED", tr("Random seed"), NUMBER_INTEGER, defaultValue=0))
        self.addParameter(QgsProcessingParameterVectorDestination(
            "OUTPUT", tr("Sample points"), VECTOR_POINT))

    def build_command(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> Command:
        output = self.layer_output(parameters, "OUTPUT", context)
        command = Command([self.raster_path(parameters, "INPUT", context), "-o", output], {"OUTPUT": output})
        n_points = self.number(parameters, "N", context)
        command.add("--n", n_points)
        if n_points is None:
            command.add("--target-se", self.number(parameters, "TARGET_SE", context, float))
        command.add("--min-per-class", self.number(parameters, "MIN_PER_CLASS", context))
        command.add("--allocation", ALLOCATIONS[self.parameterAsEnum(parameters, "ALLOCATION", context)])
        command.add("--design", DESIGNS[self.parameterAsEnum(parameters, "DESIGN", context)])
        command.add("--mask", self.vector_path(parameters, "MASK", context, feedback))
        command.add("--strata", self.raster_path(parameters, "STRATA", context))
        expected = self.parameterAsString(parameters, "EXPECTED_ACCURACY", context).strip()
        command.add("--expected-accuracy", expected or None)
        command.add("--seed", self.number(parameters, "SEED", context))
        return command

    def after_run(
        self, command: Command, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        # the GeoPackage's default style: points by map class, the reference field as a list of class names
        style_on_load(context, command.results["OUTPUT"])
