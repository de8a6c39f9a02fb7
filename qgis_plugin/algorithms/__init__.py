"""The hsigeo Processing algorithms, in the order of the workflow."""

from __future__ import annotations

from .base import HsigeoAlgorithm
from .classify import ClassifyAlgorithm
from .evaluate import EvaluateAlgorithm
from .prompts import PromptsAlgorithm
from .train import TrainAlgorithm
from .vectorize import VectorizeAlgorithm

# "Classify from prompts" (a base model, no training labels) goes after PromptsAlgorithm once it exists
ALGORITHMS: list[type[HsigeoAlgorithm]] = [PromptsAlgorithm, TrainAlgorithm, ClassifyAlgorithm, VectorizeAlgorithm, EvaluateAlgorithm]

__all__ = ["ALGORITHMS", "HsigeoAlgorithm"]
