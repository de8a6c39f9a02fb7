"""Baseline classifiers that users would otherwise pick (SVM, random forest, HybridSN-style CNN).

Each follows :class:`~hsigeo.baselines.base.Method` (``fit`` / ``predict`` /
``n_trainable``), the interface :mod:`hsigeo.benchmark` runs.  scikit-learn and
torch are imported only when a baseline is fitted.
"""

from .base import Method
from .hybridsn import HybridSNBaseline
from .spectral import RandomForestBaseline, SVMBaseline

__all__ = ["Method", "SVMBaseline", "RandomForestBaseline", "HybridSNBaseline"]
