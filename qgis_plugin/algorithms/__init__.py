"""The hsigeo Processing algorithms, in the order of the workflow."""

from __future__ import annotations

from .area_report import AreaReportAlgorithm
from .base import HsigeoAlgorithm
from .classify import ClassifyAlgorithm
from .classify_prompts import ClassifyPromptsAlgorithm
from .evaluate import EvaluateAlgorithm
from .prompts import PromptsAlgorithm
from .sample import SampleAlgorithm
from .train import TrainAlgorithm
from .vectorize import VectorizeAlgorithm

# Classify from prompts needs only the prompts file, so it follows Create class prompts
ALGORITHMS: list[type[HsigeoAlgorithm]] = [
    PromptsAlgorithm, ClassifyPromptsAlgorithm, TrainAlgorithm, ClassifyAlgorithm, VectorizeAlgorithm, EvaluateAlgorithm,
    SampleAlgorithm, AreaReportAlgorithm,
]

__all__ = ["ALGORITHMS", "HsigeoAlgorithm"]
