"""The hsigeo Processing algorithms, in the order of the workflow."""

from __future__ import annotations

from .base import HsigeoAlgorithm
from .classify import ClassifyAlgorithm
from .evaluate import EvaluateAlgorithm
from .train import TrainAlgorithm
from .vectorize import VectorizeAlgorithm

ALGORITHMS: list[type[HsigeoAlgorithm]] = [TrainAlgorithm, ClassifyAlgorithm, VectorizeAlgorithm, EvaluateAlgorithm]

__all__ = ["ALGORITHMS", "HsigeoAlgorithm"]
