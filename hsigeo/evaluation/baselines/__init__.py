"""Baseline classifiers that users would otherwise pick (SVM, random forest, HybridSN-style CNN).

Each follows :class:`~hsigeo.evaluation.baselines.interface.Method` (``fit`` / ``predict`` /
``n_trainable``), the interface :mod:`hsigeo.evaluation.runner` runs.  scikit-learn and
torch are imported only when a baseline is fitted.  The label-free baselines of the
zero-shot protocol (spectral angle mapper and nearest mean against library records named like
the classes) are in :mod:`hsigeo.evaluation.baselines.library`.
"""

from hsigeo.evaluation.baselines.hybridsn import HybridSNBaseline
from hsigeo.evaluation.baselines.interface import Method
from hsigeo.evaluation.baselines.spectral import RandomForestBaseline, SVMBaseline

__all__ = ["Method", "SVMBaseline", "RandomForestBaseline", "HybridSNBaseline"]
