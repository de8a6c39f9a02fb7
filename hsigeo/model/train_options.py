"""Training options, grouped by concern.

A :class:`TrainConfig` holds one frozen record per concern (optimisation, loss, patches,
validation and selection, the spatial filter, the backbone's shape) plus the few choices that
say what is trained (``method``, ``init``, ``stem_init``, ``svm_weight``) and the ``seed``.
Callers keep passing flat keywords (``train(..., epochs=3, width=32)``,
``HsigeoClassifier(lr=...)``, the CLI's options): :meth:`TrainConfig.from_options` sorts them
into their groups and :meth:`TrainConfig.options` flattens them back, so a training report and
a model file keep the flat record they always had.  Every flat name belongs to exactly one
group, which is what makes the two directions inverses.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from hsigeo.errors import InvalidInputError, InvalidTypeError
from hsigeo.model.backbone import BackboneConfig
from hsigeo.model.combined import FUSIONS
from hsigeo.model.loss import LOSSES

__all__ = ["TrainConfig", "OptimOptions", "LossOptions", "PatchOptions", "ValidationOptions", "FilterOptions",
           "DEFAULTS", "INITS", "STEM_INITS", "TRAIN_METHODS", "DEFAULT_METHOD", "FILTER_RULES"]

#: What the network sees: ``"auto"`` (the default: ``"base"`` when the scene has band
#: wavelengths the base model's grid covers, else ``"scratch"``), ``"scratch"`` (the scene's
#: bands only) or ``"base"`` (also the base model's embedding channels; wavelengths needed).
INITS = ("auto", "scratch", "base")
#: How the first stem layer starts: ``"pca"`` (a whitening PCA of the scene's spectra) or ``"random"``.
STEM_INITS = ("pca", "random")
#: What is trained (:func:`hsigeo.model.training.train`): ``"net"`` (the spectral-spatial network),
#: ``"svm"`` (an RBF SVM on each pixel's spectrum, :mod:`hsigeo.model.svm`), ``"ensemble"`` (both,
#: probabilities averaged) or ``"auto"`` (chosen on the training pixels, :mod:`hsigeo.model.selection`).
TRAIN_METHODS = ("auto", "net", "svm", "ensemble")
#: How an ensemble chooses its filter radius (:class:`FilterOptions`).
FILTER_RULES = ("separable", "training", "dense")
#: The method ``hsigeo train`` (and QGIS's Train model, and the benchmark's ``hsigeo``) uses by
#: default.  :func:`~hsigeo.model.training.train` and :class:`~hsigeo.estimator.HsigeoClassifier`
#: keep ``"net"``, so Python code keeps getting an :class:`~hsigeo.model.classifier.HsigeoModel`
#: (re-anchoring to new prompts included) unless it asks for another method.
DEFAULT_METHOD = "ensemble"


@dataclass(frozen=True)
class OptimOptions:
    """Optimisation: how long and how fast the network trains.

    Attributes
    ----------
    epochs
        Passes over the training pixels (at least ``min_steps_per_epoch`` steps each, so a
        few-shot set still gets enough optimisation steps).
    min_steps_per_epoch
        The fewest optimiser steps an epoch takes.
    batch_size, lr, weight_decay, warmup_fraction
        AdamW with linear warm-up then cosine decay to 0; weight decay on matrices only.
    """

    epochs: int = 60
    min_steps_per_epoch: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05


@dataclass(frozen=True)
class LossOptions:
    """The contrastive loss (:mod:`hsigeo.model.loss`).

    Attributes
    ----------
    loss
        ``"hard_negative"`` (positive vs the ``k_hard`` most similar wrong classes and
        ``m_semi`` random other ones) or ``"softmax"`` (all classes).
    k_hard, m_semi
        Hard and semi-hard negatives per sample.
    label_smoothing
        Label smoothing of the cross-entropy.
    """

    loss: str = "hard_negative"
    k_hard: int = 4
    m_semi: int = 4
    label_smoothing: float = 0.0


@dataclass(frozen=True)
class PatchOptions:
    """The data side of a batch: which pixels it draws and how their patches are augmented.

    Attributes
    ----------
    augment
        Apply the augmentations below (and the 8 flips/rotations of the patch).
    spectral_jitter
        A per-patch brightness factor ``1 +- spectral_jitter``.
    noise
        Gaussian noise, in standardised units.
    border_mix
        The probability of replacing the far side of a patch with another scene patch
        (a simulated field border).
    class_balance
        Draw batches with equal weight per class instead of per pixel.
    """

    augment: bool = True
    spectral_jitter: float = 0.05
    noise: float = 0.0
    border_mix: float = 0.0
    class_balance: bool = False


@dataclass(frozen=True)
class ValidationOptions:
    """Validation and the choice of the kept epoch.

    Attributes
    ----------
    val_fraction
        Share of each class's training pixels held out for validation.  None at all when a
        class would give fewer than ``min_val_per_class``: few-shot sets then keep every pixel
        for training and run the full schedule (why: README, "The model", Training).
    min_val_per_class
        The fewest validation pixels a class must give for any validation to happen.
    patience
        Early-stopping patience in epochs (``None``: run all epochs; the best validation epoch
        is kept either way).
    """

    val_fraction: float = 0.1
    min_val_per_class: int = 10
    patience: int | None = None


@dataclass(frozen=True)
class FilterOptions:
    """The edge-aware probability filter the trained model applies at inference.

    Not part of training: the network is trained per pixel, and the filter
    (:class:`~hsigeo.model.spatial.SpatialFilter`) combines neighbours whose spectra agree.
    What it does to accuracy: README, "The model".

    Attributes
    ----------
    smooth_radius
        The filter's radius in pixels (0 turns it off).
    smooth_tau
        The filter's spectral-angle temperature.
    separable_cv
        The ensemble (``method="ensemble"``) narrows its filter to ``separable_radius`` when its
        SVM's cross-validated accuracy on the training pixels reaches this: the spectra alone
        then separate the classes, the network brings its own neighbourhood, and what a wide
        filter still changes is mostly mixed pixels at class borders, which it moves to the
        wrong side (measured: README, "Few labels on scenes nobody tuned on").  ``None``: always
        ``smooth_radius``.  Without a cross-validated accuracy (a class with one training pixel)
        the filter stays as it is.
    separable_radius
        The ensemble's filter radius where the spectra alone separate the classes (0: none).
    filter_rule
        How an ensemble chooses its filter radius (:data:`FILTER_RULES`).  ``"separable"``: the
        ``separable_cv`` rule above (no filter where the labels are also dense,
        ``dense_per_class``).  ``"dense"``: no filter wherever the labels are dense, else the
        ``"separable"`` rule.  ``"training"``: the ensemble maps its training scene
        unfiltered, and takes the widest radius up to ``smooth_radius`` whose filtered map
        keeps the accuracy on the training pixels within ``filter_tolerance`` points of the
        unfiltered map's (the members fit their own pixels, so a filter that relabels them
        erases structures the labels show); with fewer than 20 training pixels in the mapped
        window, the ``"separable"`` rule.
    filter_tolerance
        Percentage points of training-pixel accuracy the ``"training"`` rule lets a filter cost.
    dense_per_class
        The labels are *dense* when the median class has at least this many training pixels and
        each class at least two (classes without training pixels aside).  With dense labels the
        members agree inside regions, and what a filter still changes is mostly mixed pixels at
        region borders, which it moves to the wrong side.  Under the ``"separable"`` rule (the
        default) the ensemble leaves its map unfiltered where the labels are dense **and** the
        spectra separate the classes (``separable_cv``); under ``"dense"``, wherever the labels are
        dense.  Measured (README, "Few labels on scenes nobody tuned on", rounds 7 and 8): the
        first is the default; the second gains more on the city-like scenes but lost 0.77 on
        Indian Pines at 15 %.  ``None``: never.
    fold_test
        Where those rules keep a filter, an ensemble with a CNN member checks it on its own
        training pixels: its SVM and CNN are fitted on one half of them and map the scene, the
        other half is scored with and without the filter, the halves swap, and the filter goes
        when the unfiltered maps are better with an exact one-sided McNemar test at this level
        (``p`` below it).  The test and its outcome are printed and stored
        (``training.spatial_filter.fold_test``).  ``None``: no check.  Measured: README, "Few
        labels on scenes nobody tuned on", ninth round.
    """

    smooth_radius: int = 2
    smooth_tau: float = 0.2
    separable_cv: float | None = 0.9
    separable_radius: int = 1
    filter_rule: str = "separable"
    filter_tolerance: float = 1.0
    dense_per_class: int | None = 50
    fold_test: float | None = 0.05


#: The option groups of a :class:`TrainConfig`: attribute -> record type.
_GROUPS: dict[str, type] = {"optim": OptimOptions, "objective": LossOptions, "patches": PatchOptions,
                            "validation": ValidationOptions, "spatial": FilterOptions}


@dataclass(frozen=True)
class TrainConfig:
    """Every training option, one group per concern (the defaults are those ``train`` uses).

    Build it from flat keywords with :meth:`from_options`; :meth:`options` gives them back.

    Attributes
    ----------
    optim
        Optimisation (:class:`OptimOptions`): epochs, batch size, learning rate and its schedule.
    objective
        The contrastive loss (:class:`LossOptions`).
    patches
        Batches and augmentation (:class:`PatchOptions`).
    validation
        Validation pixels, the kept epoch and early stopping (:class:`ValidationOptions`).
    spatial
        The trained model's edge-aware filter (:class:`FilterOptions`).
    backbone
        Backbone shape (:class:`~hsigeo.model.backbone.BackboneConfig`); its ``n_bands`` is
        taken from the training scene.  Training uses the backbone's default ``kernel=5``:
        3 x 3 sub-patches of 5 x 5 pixels, a 15 x 15 patch (why, and what it costs: README,
        "The model" and "Inference speed and memory").
    init
        ``"scratch"``: the network sees the scene's bands only.  ``"base"``: it also sees each
        pixel's embedding by the shipped base model (64 more input channels, frozen, through the
        scene's own sensor binding; :mod:`hsigeo.model.prior`); needs band wavelengths.
        ``"auto"`` (default): ``"base"`` when the scene has wavelengths that the base model's
        grid covers (at least 10 of its bands), else ``"scratch"``; the report's ``init_used``
        says which.  Measured effect: README, "Few labels on top: init base".
    stem_init
        ``"pca"``: first stem layer starts as a whitening PCA of the scene's spectra
        (unsupervised); ``"random"``.
    method
        What is trained (:data:`TRAIN_METHODS`): ``"net"`` (the spectral-spatial network alone),
        ``"svm"`` (an RBF SVM on each pixel's standardised spectrum, ``C``/``gamma`` by
        cross-validation on the training pixels, ``self_train``, then the edge-aware filter),
        ``"ensemble"`` (the default of ``hsigeo train``, :data:`DEFAULT_METHOD`: network and SVM
        probabilities combined as ``fusion`` says, then the filter) or ``"auto"`` (whichever of
        the three scores best in a two-fold cross-validation on the training pixels; printed and
        stored in the report).
        See :mod:`hsigeo.model.selection` and the README section "Few labels on scenes nobody
        tuned on" for the evidence.
    svm_weight
        The SVM's share of an ensemble's averaged probabilities (0.5: equal weight, not tuned).
    fusion
        How an ensemble combines its members' probabilities (:meth:`hsigeo.model.combined.CombinedModel.fuse`):
        ``"mean"`` (weighted average) or ``"confidence"`` (each member's weight at a pixel also
        scaled by its highest probability there).
    self_train
        Self-training of the SVM in ``"svm"`` and ``"ensemble"`` models (:mod:`hsigeo.model.selection`):
        the model maps the training scene, and the SVM is refitted once with, per class, at most
        ``self_train`` times its training pixels of the most confidently mapped unlabelled
        pixels as labels (0: off).  Chosen on the development scenes (README, "Few labels on
        scenes nobody tuned on").
    cnn_member
        An ``"ensemble"`` also holds a small patch CNN (:class:`hsigeo.model.patch_cnn.PatchCNN`:
        9 x 9 patches of 15 PCA components of the standardised bands, cross-entropy with label
        smoothing 0.1), fused with the other two members by the same rule (the default since
        round 6 of issue 26: README, "Few labels on scenes nobody tuned on").  Needs at least 11
        bands; fewer: left out, and the report says so.
    member_test
        Off (``None``) by default.  At a level (0.05 was measured), an ensemble with a CNN member
        checks its two cheap members on its own training pixels: the SVM and the CNN are fitted
        on one half of them and map the scene, the other half is scored, the halves swap, and
        where one member alone beats the two fused with an exact one-sided McNemar test at this
        level, the other is left out (the network stays; the two that stay count alike).  The
        same fold maps make the filter's check (``fold_test``).  The test and its outcome are
        printed and stored (``training.members``).  Measured: README, "Few labels on scenes
        nobody tuned on", tenth round (its gain fell short of its rule, so it is not the default).
    seed
        Seeds weights, batches, augmentation and negative sampling.
    """

    optim: OptimOptions = field(default_factory=OptimOptions)
    objective: LossOptions = field(default_factory=LossOptions)
    patches: PatchOptions = field(default_factory=PatchOptions)
    validation: ValidationOptions = field(default_factory=ValidationOptions)
    spatial: FilterOptions = field(default_factory=FilterOptions)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    init: str = "auto"
    stem_init: str = "pca"
    method: str = "net"
    svm_weight: float = 0.5
    fusion: str = "confidence"
    self_train: float = 3.0
    cnn_member: bool = True
    member_test: float | None = None
    seed: int = 0

    @classmethod
    def from_options(cls, **options: Any) -> TrainConfig:
        """Build from flat keyword options: every group's fields and the backbone's (``width=...``) by name.

        ``backbone=`` (a :class:`BackboneConfig` or its dict) may give the whole backbone; flat
        backbone fields override it.

        Raises
        ------
        InvalidTypeError
            (a :class:`TypeError`) On an option that is neither a training nor a backbone field.
        """
        unknown = set(options) - set(DEFAULTS) - {"backbone"}
        if unknown:
            raise InvalidTypeError(f"unknown training option(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        backbone = options.pop("backbone", None) or BackboneConfig()
        if isinstance(backbone, dict):
            backbone = BackboneConfig.from_dict(backbone)
        shape = {k: options.pop(k) for k in list(options) if k in _BACKBONE_OPTIONS}
        groups = {name: kind(**{f.name: options.pop(f.name) for f in fields(kind) if f.name in options})
                  for name, kind in _GROUPS.items()}
        return cls(**groups, **options, backbone=replace(backbone, **shape))

    def with_options(self, **changes: Any) -> TrainConfig:
        """A copy with some flat options changed (``cfg.with_options(epochs=20)``)."""
        return TrainConfig.from_options(**{**self.options(), **changes}, backbone=self.backbone)

    def validate(self, *, who: str = "training option") -> TrainConfig:
        """Check every option's type and range (scikit-learn checks its parameters at ``fit``); returns ``self``.

        Parameters
        ----------
        who
            How the options are named in the message (``"HsigeoClassifier parameter"``...).

        Raises
        ------
        InvalidInputError
            (a :class:`ValueError`) Naming the first option out of range, its value and what it must be.
        """
        for name, value in self.options().items():
            rule = _OPTION_RULES.get(name)
            if rule is None:
                continue
            kind, low, high, text = rule
            ok = (value is None and kind.endswith("?")) or _fits(value, kind, low, high)
            if not ok:
                raise InvalidInputError(f"{who} {name} = {value!r}: must be {text}.")
        if self.objective.loss not in LOSSES:
            raise InvalidInputError(f"{who}: loss must be one of {LOSSES}, got {self.objective.loss!r}.")
        if self.init not in INITS:
            raise InvalidInputError(f"{who}: init must be one of {INITS}, got {self.init!r}.")
        if self.stem_init not in STEM_INITS:
            raise InvalidInputError(f"{who}: stem_init must be one of {STEM_INITS}, got {self.stem_init!r}.")
        if self.method not in TRAIN_METHODS:
            raise InvalidInputError(f"{who}: method must be one of {TRAIN_METHODS}, got {self.method!r}.")
        if self.fusion not in FUSIONS:
            raise InvalidInputError(f"{who}: fusion must be one of {FUSIONS}, got {self.fusion!r}.")
        if self.spatial.filter_rule not in FILTER_RULES:
            raise InvalidInputError(f"{who}: filter_rule must be one of {FILTER_RULES}, got {self.spatial.filter_rule!r}.")
        if not 0.0 <= float(self.svm_weight) <= 1.0:
            raise InvalidInputError(f"{who}: svm_weight must be in [0, 1], got {self.svm_weight!r}.")
        return self

    def options(self) -> dict[str, Any]:
        """Flat JSON-able dict of every option (group fields and backbone fields inline, without ``n_bands``)."""
        flat: dict[str, Any] = {}
        for name in _GROUPS:
            flat.update(asdict(getattr(self, name)))
        flat.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in _GROUPS
                     and f.name != "backbone"})
        flat.update({k: v for k, v in self.backbone.to_dict().items() if k in _BACKBONE_OPTIONS})
        return flat


#: Backbone fields a training configuration sets (``n_bands`` comes from the scene).
_BACKBONE_OPTIONS: frozenset[str] = frozenset(f.name for f in fields(BackboneConfig)) - {"n_bands"}

#: The default hyper-parameters, as a flat dict.
DEFAULTS: dict[str, Any] = TrainConfig().options()

_INF = math.inf
#: option -> (kind, low, high, what it must be); "[low, high)" bounds for floats, inclusive for ints.
_OPTION_RULES: dict[str, tuple[str, float, float, str]] = {
    "epochs": ("int", 1, _INF, "an integer >= 1"),
    "min_steps_per_epoch": ("int", 1, _INF, "an integer >= 1"),
    "batch_size": ("int", 1, _INF, "an integer >= 1"),
    "k_hard": ("int", 0, _INF, "an integer >= 0"),
    "m_semi": ("int", 0, _INF, "an integer >= 0"),
    "min_val_per_class": ("int", 0, _INF, "an integer >= 0"),
    "patience": ("int?", 1, _INF, "None or an integer >= 1"),
    "smooth_radius": ("int", 0, 16, "an integer 0..16"),
    "seed": ("int", 0, 2**32 - 1, "an integer 0..2**32-1"),
    "lr": ("pos", 0, _INF, "a finite number > 0"),
    "weight_decay": ("float", 0, _INF, "a number >= 0"),
    "warmup_fraction": ("float", 0, 1, "a number in [0, 1)"),
    "label_smoothing": ("float", 0, 1, "a number in [0, 1)"),
    "spectral_jitter": ("float", 0, _INF, "a number >= 0"),
    "border_mix": ("float", 0, 1, "a number in [0, 1)"),
    "noise": ("float", 0, _INF, "a number >= 0"),
    "val_fraction": ("float", 0, 1, "a number in [0, 1)"),
    "smooth_tau": ("pos", 0, _INF, "a finite number > 0"),
    "separable_cv": ("float?", 0, 1, "None or a number in [0, 1]"),
    "separable_radius": ("int", 0, 16, "an integer 0..16"),
    "filter_tolerance": ("float", 0, 100, "a number in [0, 100)"),
    "dense_per_class": ("int?", 1, _INF, "None or an integer >= 1"),
    "fold_test": ("float?", 0, 1, "None or a number in [0, 1]"),
    "member_test": ("float?", 0, 1, "None or a number in [0, 1]"),
    "self_train": ("float", 0, 1000, "a number in [0, 1000)"),
    "augment": ("bool", 0, 1, "True or False"),
    "cnn_member": ("bool", 0, 1, "True or False"),
    "class_balance": ("bool", 0, 1, "True or False"),
    "stem_dim": ("int", 1, 4096, "an integer 1..4096"),
    "stem_layers": ("int", 1, 16, "an integer 1..16"),
    "kernel": ("int", 1, 15, "an integer 1..15"),
    "grid": ("int", 1, 15, "an integer 1..15"),
    "width": ("int", 1, 4096, "an integer 1..4096"),
    "depth": ("int", 1, 64, "an integer 1..64"),
    "heads": ("int", 1, 256, "an integer 1..256"),
    "mlp_ratio": ("pos", 0, 16, "a number in (0, 16]"),
    "embed_dim": ("int", 1, 4096, "an integer 1..4096"),
    "center_drop": ("float", 0, 1, "a number in [0, 1)"),
    "dropout": ("float", 0, 1, "a number in [0, 1)"),
}


def _fits(value: Any, kind: str, low: float, high: float) -> bool:
    """Whether ``value`` is of ``kind`` and in range (see :data:`_OPTION_RULES`)."""
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if isinstance(value, (bool, np.bool_)):
        return False
    if kind in ("int", "int?"):
        return isinstance(value, (int, np.integer)) and low <= value <= high
    if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(float(value)):
        return False
    if kind == "pos":  # (low, high]
        return low < value <= high
    if kind == "float?":  # [low, high]
        return low <= value <= high
    return low <= value < high  # [low, high)
