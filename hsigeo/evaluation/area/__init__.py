"""Accuracy and area from a reference sample (Olofsson et al. 2014; Stehman 2014).

``estimators`` holds the formulas, ``report`` the report (JSON, Markdown, HTML, PNG), ``assess``
reads a labelled sample of a class map and runs both.
"""

from hsigeo.evaluation.area.estimators import EmptyStratumError, Estimate, SampleEstimates, estimate

__all__ = ["EmptyStratumError", "Estimate", "SampleEstimates", "estimate"]
