"""The hsigeo Processing algorithms, in the order of the workflow."""

from __future__ import annotations

from qgis.core import QgsProcessingAlgorithm

from .area_report import AreaReportAlgorithm
from .base import HsigeoAlgorithm
from .classify import ClassifyAlgorithm
from .classify_prompts import ClassifyPromptsAlgorithm
from .evaluate import EvaluateAlgorithm
from .prompts import PromptsAlgorithm
from .sample import SampleAlgorithm
from .setup import SetupAlgorithm
from .train import TrainAlgorithm
from .vectorize import VectorizeAlgorithm

# Classify from prompts needs only the prompts file, so it follows Create class prompts;
# Set up hsigeo installs the program the others run
ALGORITHMS: list[type[QgsProcessingAlgorithm]] = [
    PromptsAlgorithm, ClassifyPromptsAlgorithm, TrainAlgorithm, ClassifyAlgorithm, VectorizeAlgorithm, EvaluateAlgorithm,
    SampleAlgorithm, AreaReportAlgorithm, SetupAlgorithm,
]

__all__ = ["ALGORITHMS", "HsigeoAlgorithm", "SetupAlgorithm"]
