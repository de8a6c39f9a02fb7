"""The benchmark's methods: hsigeo's variants and the baselines, by name.

Each method is a small object following :class:`hsigeo.evaluation.baselines.interface.Method`
(``fit(cube, labels, train_mask, *, seed, prompts)``, ``predict(cube)``, ``n_trainable``);
the registry :data:`METHODS` maps names to factories, so new methods plug in without
touching the runner (:func:`register_method`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from hsigeo.errors import HsigeoError, InvalidInputError, NotFittedError
from hsigeo.evaluation.baselines.interface import Method
from hsigeo.evaluation.benchmark_config import BenchmarkConfig

__all__ = ["HsigeoMethod", "MethodFactory", "METHODS", "BUILTIN_METHODS", "METHOD_NOTES", "register_method"]


class HsigeoMethod:
    """hsigeo's prompt-anchored model as a benchmark method.

    Parameters
    ----------
    name
        Label in the tables.
    loss
        ``"hard_negative"`` (hard + semi-hard negatives) or ``"softmax"``
        (full-softmax contrastive loss).
    names_only
        Replace the descriptive prompts by the bare class names (ablation).
    anchors
        What anchors the classes (ablation of the language side): ``"text"`` (the frozen text
        model's embeddings of the prompts), ``"random"`` (seeded random unit vectors of the same
        dimension: the frozen space without its meaning) or ``"none"`` (one-hot vectors, so the
        linear probe learns a free vector per class: no text at all).
    epochs
        Training epochs (``None``: the trainer's default).
    options
        Further keyword arguments for :func:`hsigeo.model.training.train`.
    """

    parameter_note = "trainable parameters reported by the trainer (the frozen text encoder is not counted)"

    def __init__(
        self, name: str, *, loss: str = "hard_negative", names_only: bool = False, epochs: int | None = None,
        options: Mapping[str, Any] | None = None, anchors: str = "text",
    ) -> None:
        if anchors not in ("text", "random", "none"):
            raise InvalidInputError(f"anchors must be 'text', 'random' or 'none', not {anchors!r}")
        self.name = name
        self.anchors = anchors
        self.loss = loss
        self.names_only = names_only
        self.epochs = epochs
        self.options = dict(options or {})
        self.model: Any = None
        self.report: Any = None

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "HsigeoMethod":
        """Train with :func:`hsigeo.model.training.train` on the pixels of ``train_mask``."""
        from hsigeo.model.training import train

        if prompts is None:
            raise HsigeoError(f"{self.name}: this dataset has no prompts file; hsigeo needs one prompt set per scene.")
        if self.names_only:
            prompts = prompts.names_only()
        kwargs = dict(self.options)
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        if self.anchors != "text":
            kwargs["text_embeddings"] = self._anchor_vectors(len(prompts), seed)
        self.model, self.report = train(cube, labels, prompts, train_mask=train_mask, loss=self.loss, seed=seed,
                                        progress=False, **kwargs)
        return self

    def _anchor_vectors(self, n_classes: int, seed: int) -> np.ndarray:
        """The ablation's class anchors in place of the prompts' text embeddings."""
        if self.anchors == "none":
            return np.eye(n_classes, dtype=np.float32)
        from hsigeo.text.encoder import TextEncoder

        dim = TextEncoder().dim  # the frozen space's dimension, without its meaning
        v = np.random.default_rng(seed).standard_normal((n_classes, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def predict(self, cube: Any) -> np.ndarray:
        """Class values of every pixel (the whole-scene class map of :func:`hsigeo.inference.core.classify_array`)."""
        from hsigeo.inference.core import classify_array

        if self.model is None:
            raise NotFittedError(f"{self.name}: predict called before fit")
        classes, _confidence = classify_array(np.asarray(getattr(cube, "values", cube)), self.model, device="auto")
        return np.asarray(classes, dtype=np.int32)

    @property
    def n_trainable(self) -> int:
        """Trainable parameters (backbone, text probe, temperature) from the train report."""
        if self.report is None:
            return 0
        return int(self.report.n_parameters.get("trainable", 0))

    @property
    def extras(self) -> dict[str, Any]:
        """Training facts worth keeping per run (frozen text parameters, kept epoch, validation accuracy)."""
        if self.report is None:
            return {}
        r = self.report
        out = {"text_model_parameters": int(r.n_parameters.get("text_model", 0)), "best_epoch": r.best_epoch,
               "epochs_run": len(r.history.get("epoch", [])), "val_accuracy": r.val_accuracy,
               "n_fit_pixels": r.n_train, "n_val_pixels": r.n_val,
               "method_used": (getattr(r, "config", None) or {}).get("method_used", "net")}
        summary = getattr(self.model, "report", None) or {}
        for key in ("selection", "svm"):  # the automatic choice and the SVM's CV-chosen C / gamma
            if key in summary:
                out[key] = summary[key]
        return out


MethodFactory = Callable[[BenchmarkConfig], Method]


def _svm(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.spectral import SVMBaseline

    return SVMBaseline(C_grid=cfg.svm_C, gamma_factors=cfg.svm_gamma_factors)


def _rf(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.spectral import RandomForestBaseline

    return RandomForestBaseline(n_estimators=cfg.rf_trees)


def _hybridsn(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.hybridsn import HybridSNBaseline

    return HybridSNBaseline(steps=cfg.hybridsn_steps)


def _default(cfg: BenchmarkConfig, **extra: Any) -> dict[str, Any]:
    """Training options of the hsigeo variants: ``hsigeo train``'s default method unless the run says otherwise."""
    from hsigeo.model.training import DEFAULT_METHOD

    return {"method": DEFAULT_METHOD, **cfg.hsigeo_options, **extra}


#: name -> factory building a fresh (unfitted) method from the run's configuration.
METHODS: dict[str, MethodFactory] = {
    "hsigeo": lambda cfg: HsigeoMethod("hsigeo", loss="hard_negative", epochs=cfg.hsigeo_epochs,
                                       options=_default(cfg)),
    "hsigeo-softmax": lambda cfg: HsigeoMethod("hsigeo-softmax", loss="softmax", epochs=cfg.hsigeo_epochs,
                                               options=_default(cfg)),
    "hsigeo-names": lambda cfg: HsigeoMethod("hsigeo-names", loss="hard_negative", names_only=True,
                                             epochs=cfg.hsigeo_epochs, options=_default(cfg)),
    "hsigeo-random": lambda cfg: HsigeoMethod("hsigeo-random", anchors="random", epochs=cfg.hsigeo_epochs,
                                              options=_default(cfg)),
    "hsigeo-notext": lambda cfg: HsigeoMethod("hsigeo-notext", anchors="none", epochs=cfg.hsigeo_epochs,
                                              options=_default(cfg)),
    "hsigeo-base": lambda cfg: HsigeoMethod("hsigeo-base", epochs=cfg.hsigeo_epochs,
                                            options=_default(cfg, init="base")),
    "hsigeo-scratch": lambda cfg: HsigeoMethod("hsigeo-scratch", epochs=cfg.hsigeo_epochs,
                                               options=_default(cfg, init="scratch")),
    # what is trained (hsigeo train --method): the network, the SVM, both averaged, the CV choice
    "hsigeo-net": lambda cfg: HsigeoMethod("hsigeo-net", epochs=cfg.hsigeo_epochs,
                                           options={**cfg.hsigeo_options, "method": "net"}),
    "hsigeo-svm": lambda cfg: HsigeoMethod("hsigeo-svm", epochs=cfg.hsigeo_epochs,
                                           options={**cfg.hsigeo_options, "method": "svm"}),
    "hsigeo-ensemble": lambda cfg: HsigeoMethod("hsigeo-ensemble", epochs=cfg.hsigeo_epochs,
                                                options={**cfg.hsigeo_options, "method": "ensemble"}),
    "hsigeo-auto": lambda cfg: HsigeoMethod("hsigeo-auto", epochs=cfg.hsigeo_epochs,
                                            options={**cfg.hsigeo_options, "method": "auto"}),
    "svm": _svm,
    "rf": _rf,
    "hybridsn": _hybridsn,
}

#: The factories shipped with hsigeo, as every freshly started process has them (a benchmark
#: worker process looks these up by name; anything else must be sent to it).
BUILTIN_METHODS: Mapping[str, MethodFactory] = MappingProxyType(dict(METHODS))

#: One line per method for the report's legend.
METHOD_NOTES: dict[str, str] = {
    "hsigeo": "hsigeo's default (hsigeo train): the network (contrastive loss over the positive + hard and semi-hard negative classes, descriptive prompts) and the SVM (self-trained once on the scene's most confidently mapped pixels), probabilities averaged with each member weighted by its confidence at the pixel, then the edge-aware filter (3 x 3 where the spectra alone separate the training classes: the SVM's cross-validated accuracy >= 0.9; else 5 x 5)",
    "hsigeo-softmax": "hsigeo, full-softmax contrastive loss over all classes, descriptive prompts",
    "hsigeo-names": "hsigeo (hard + semi-hard negatives) with class names as the only prompts",
    "hsigeo-random": "hsigeo with random unit vectors of the text space as class anchors (language ablation)",
    "hsigeo-notext": "hsigeo with one-hot anchors, so the probe learns free class vectors: no text (language ablation)",
    "hsigeo-base": "hsigeo with --init base: the base model's per-pixel embedding (pretrained on spectral libraries) as 64 more input channels",
    "hsigeo-scratch": "hsigeo with --init scratch: the scene's bands only",
    "hsigeo-net": "hsigeo train --method net: the spectral-spatial network (with the edge-aware filter)",
    "hsigeo-svm": "hsigeo train --method svm: RBF SVM (C, gamma by 3-fold CV on the training pixels), Platt probabilities, self-trained once on its most confidently mapped pixels, then the edge-aware filter",
    "hsigeo-ensemble": "hsigeo train --method ensemble: network and self-trained SVM, confidence-weighted average, then the edge-aware filter (3 x 3 where the SVM's cross-validated accuracy is >= 0.9, else 5 x 5)",
    "hsigeo-auto": "hsigeo train --method auto: network, SVM or ensemble, chosen by 2-fold CV on the training pixels",
    "svm": "RBF SVM on standardized spectra; C and gamma by stratified 3-fold CV on the training pixels",
    "rf": "random forest on standardized spectra",
    "hybridsn": "HybridSN-style 3-D/2-D CNN on 9x9 patches of 15 PCA components, cross-entropy",
}


def register_method(name: str, factory: MethodFactory, note: str = "") -> None:
    """Add (or replace) a method in :data:`METHODS`."""
    METHODS[name] = factory
    if note:
        METHOD_NOTES[name] = note
