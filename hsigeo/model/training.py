"""Training a classifier on one scene and its labels: :func:`train`, the one entry point.

The estimator (:class:`~hsigeo.estimator.HsigeoClassifier`), the ``hsigeo train`` command and
the accuracy benchmark all train through :func:`train`.  It sorts its flat keyword options
into a :class:`~hsigeo.model.train_options.TrainConfig` (one group per concern), sets up the
data once (:func:`~hsigeo.model.train_data.prepare_training`) and hands both to the method
asked for: the spectral-spatial network's :class:`~hsigeo.model.trainer.NetworkTrainer`
(``method="net"``), or :func:`~hsigeo.model.selection.train_selected` (the SVM, the ensemble,
the automatic choice), which runs the same trainer for its networks.

The names below stay importable from here (options, report, data setup); their code lives in
:mod:`hsigeo.model.train_options`, :mod:`hsigeo.model.train_data` and :mod:`hsigeo.model.trainer`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from hsigeo.model.selection import train_selected
from hsigeo.model.train_data import TrainingData, prepare_training, scene_statistics
from hsigeo.model.train_options import (
    DEFAULT_METHOD,
    DEFAULTS,
    INITS,
    TRAIN_METHODS,
    FilterOptions,
    LossOptions,
    OptimOptions,
    PatchOptions,
    TrainConfig,
    ValidationOptions,
)
from hsigeo.model.trainer import NetworkTrainer, RunSettings, TrainReport

if TYPE_CHECKING:
    import xarray as xr

    from hsigeo.model.classifier import HsigeoModel
    from hsigeo.text.encoder import TextEncoder
    from hsigeo.text.prompts import PromptSet

__all__ = ["TrainConfig", "TrainReport", "TrainingData", "train", "train_network", "prepare_training",
           "scene_statistics", "DEFAULTS", "TRAIN_METHODS", "DEFAULT_METHOD", "INITS", "NetworkTrainer",
           "RunSettings", "OptimOptions", "LossOptions", "PatchOptions", "ValidationOptions", "FilterOptions"]


def train(
    cube: xr.DataArray | np.ndarray,
    labels: xr.DataArray | np.ndarray,
    prompts: PromptSet | str | os.PathLike,
    *,
    train_mask: np.ndarray | None = None,
    fraction: float | None = None,
    count: int | None = None,
    text_model: TextEncoder | str | os.PathLike | None = None,
    text_embeddings: np.ndarray | None = None,
    device: str = "auto",
    progress: bool = True,
    **options: Any,
) -> tuple[Any, TrainReport]:
    """Train a prompt-anchored classifier on a scene.

    Parameters
    ----------
    cube
        The scene: DataArray ``(band, y, x)`` (wavelengths and nodata are taken from it) or
        an array ``(B, H, W)``.
    labels
        Label values ``(y, x)``, ``0`` = unlabelled, matching the prompts' ``value`` s.
    prompts
        The classes: a :class:`~hsigeo.text.prompts.PromptSet` or the path of a prompts YAML file.
        Its class order is the model's output order.
    train_mask
        Pixels that may be used for training (default: all labelled pixels, or a stratified
        draw when ``fraction``/``count`` is given).
    fraction, count
        Draw a stratified training set of this share / this many pixels per class (at least
        one per class) from ``train_mask`` (or all labelled pixels).
    text_model
        A :class:`~hsigeo.text.encoder.TextEncoder` or a local transformers folder (default: the
        packaged all-MiniLM-L6-v2).
    text_embeddings
        Precomputed class text embeddings ``(C, T)`` instead of running a text model.
    device
        ``"auto"`` (CUDA with mixed precision when available, else CPU), ``"cpu"``, ``"cuda"``.
    progress
        Report progress per epoch (:class:`hsigeo.progress.Progress`).
    **options
        Any field of the option groups of :class:`TrainConfig`, flat: ``epochs``, ``batch_size``,
        ``lr``, ``weight_decay``, ``k_hard``, ``m_semi``, ``loss`` (``"hard_negative"`` or
        ``"softmax"``), ``augment``, ``val_fraction``, ``patience``, ``method``, ``init``,
        ``seed``, and the backbone's ``grid``, ``kernel``, ``width``, ``depth``, ``heads``,
        ``mixer``... (see :meth:`TrainConfig.from_options`).

    Returns
    -------
    model : HsigeoModel or CombinedModel
        The trained model: an :class:`~hsigeo.model.classifier.HsigeoModel` for ``method="net"``
        (weights of the best validation epoch when validating, else the last), a
        :class:`~hsigeo.model.combined.CombinedModel` for the SVM and the ensemble.
    report : TrainReport
        Curves, timings and counts.

    Raises
    ------
    LabelError
        When labels hold values that no prompt class has, or no training pixel is left.
    InvalidInputError
        On an option out of range.
    """
    cfg = TrainConfig.from_options(**options).validate()
    settings = RunSettings(text_model=text_model, text_embeddings=text_embeddings, device=device, progress=progress)
    data = prepare_training(cube, labels, prompts, train_mask=train_mask, fraction=fraction, count=count,
                            seed=cfg.seed)
    if cfg.method == "net":
        return NetworkTrainer(cfg, settings).fit(data)
    return train_selected(data, cfg, settings)  # the SVM, the ensemble and the automatic choice


def train_network(
    cube: xr.DataArray | np.ndarray,
    labels: xr.DataArray | np.ndarray,
    prompts: PromptSet | str | os.PathLike,
    cfg: TrainConfig,
    *,
    train_mask: np.ndarray | None = None,
    fraction: float | None = None,
    count: int | None = None,
    text_model: TextEncoder | str | os.PathLike | None = None,
    text_embeddings: np.ndarray | None = None,
    device: str = "auto",
    progress: bool = True,
) -> tuple[HsigeoModel, TrainReport]:
    """Train the spectral-spatial network (``method="net"``; arguments as :func:`train`).

    The data setup of :func:`prepare_training` then :meth:`NetworkTrainer.fit`; code that has a
    :class:`TrainingData` already calls the trainer directly.
    """
    trainer = NetworkTrainer(cfg, RunSettings(text_model=text_model, text_embeddings=text_embeddings,
                                              device=device, progress=progress))
    data = prepare_training(cube, labels, prompts, train_mask=train_mask, fraction=fraction, count=count,
                            seed=cfg.seed)
    return trainer.fit(data)
