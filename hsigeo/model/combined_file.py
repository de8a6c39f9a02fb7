"""Model files of :class:`~hsigeo.model.combined.CombinedModel` (``model_type`` ``"svm"`` / ``"ensemble"``).

The usual ``.hsigeo`` zip (:mod:`hsigeo.model.modelfile`: ``metadata.json`` + ``weights.safetensors``,
nothing pickled).  ``metadata.json`` adds to the common keys (``format``, ``n_bands``, ``radius``,
``wavelengths``, ``normalization`` of the bands, ``classes``, ``spatial_filter``, ``training``):

``model_type``
    ``"svm"`` or ``"ensemble"``.
``svm``
    The kernel width, class count, support-vector count and the fitting record (``C``,
    ``gamma``, cross-validated accuracy).
``svm_weight``
    The SVM's share of the averaged probabilities (1 for ``"svm"``).
``fusion``
    How an ensemble combines its members (``"mean"`` or ``"confidence"``; absent in older
    files: ``"mean"``).
``network``
    For an ensemble, the network's own metadata (as in a network model file; its
    ``spatial_filter`` is null: the filter is applied once, after the average).
``cnn``, ``cnn_weight``
    For an ensemble with a patch CNN member: its settings (PCA components, patch, hidden width,
    dropout, classes, bands, training settings) and its weight; absent (null) otherwise.

``weights.safetensors`` holds ``svm.support_vectors``, ``svm.coef`` (per class pair),
``svm.intercept``, ``svm.prob_a``, ``svm.prob_b`` and, for an ensemble, the network's tensors
(``net.*``, ``text_embeddings``, ``prior.encoder.*``) and the CNN's (``cnn.mean``, ``cnn.std``,
``cnn.basis``, ``cnn.net.*``).  Every array's shape is checked against
the metadata before a model is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hsigeo.model.combined import FUSIONS, CombinedModel
from hsigeo.model.patch_cnn import PatchCNN
from hsigeo.model.spatial import SpatialFilter
from hsigeo.model.svm import KernelSVM

__all__ = ["combined_to_file", "combined_check", "combined_shapes", "combined_from_file"]

# bounds of what a real SVM stores (a hostile file must not make us allocate more)
_MAX_SUPPORT = 1_000_000
_MAX_CLASSES = 1024
_SVM_KEYS = ("support_vectors", "coef", "intercept", "prob_a", "prob_b")
# bounds of a patch CNN member's settings (the defaults are 15 components, 9 x 9, 64 hidden units)
_CNN_MAX = {"n_components": 256, "patch": 31, "hidden": 4096}


def combined_to_file(model: CombinedModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a combined model (the container adds format, type and checksum)."""
    from hsigeo.model.modelfile import _hsigeo_version, _trained_to_file

    tensors = dict(model.svm.tensors())
    if model.cnn is not None:
        tensors.update(model.cnn.tensors())
    network = None
    if model.net is not None:
        net_tensors, network = _trained_to_file(model.net)
        tensors.update(net_tensors)
        for key in ("hsigeo_version", "created"):
            network.pop(key, None)
    import datetime as _dt

    meta = {
        "hsigeo_version": _hsigeo_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "n_bands": model.n_bands, "radius": model.radius,
        "wavelengths": None if model.wavelengths is None else [float(w) for w in model.wavelengths],
        "normalization": {"method": "per-band standardisation (training scene)",
                          "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std]},
        "classes": [{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                    for c in model.classes],
        "spatial_filter": None if model.spatial is None else model.spatial.to_dict(),
        "svm": model.svm.to_dict(), "svm_weight": model.svm_weight, "fusion": model.fusion,
        "network": network, "n_parameters": model.n_parameters(), "training": model.report,
        "cnn": None if model.cnn is None else model.cnn.to_dict(),
        "cnn_weight": None if model.cnn is None else model.cnn_weight,
    }
    return tensors, meta


def combined_check(meta: dict[str, Any]) -> None:
    """Settings bounded, classes valid, numbers finite, before any allocation (raises ValueError)."""
    from hsigeo.model.modelfile import (
        _trained_check,
        check_classes,
        check_int,
        check_numbers,
        check_spatial_filter,
    )

    check_classes(meta)
    n = check_int(meta.get("n_bands"), "n_bands", 1, 20_000)
    if meta.get("wavelengths") is not None:
        check_numbers(meta["wavelengths"], "wavelengths", n, allow_nan=True)
    check_spatial_filter(meta.get("spatial_filter"))
    svm = meta.get("svm")
    if not isinstance(svm, dict):
        raise ValueError("no 'svm' settings")
    k = check_int(svm.get("n_classes"), "svm n_classes", 2, _MAX_CLASSES)
    if k != len(meta["classes"]):
        raise ValueError(f"svm n_classes = {k}, but {len(meta['classes'])} classes are listed")
    check_int(svm.get("n_support"), "svm n_support", 1, _MAX_SUPPORT)
    check_numbers([svm.get("gamma")], "svm gamma", positive=True)
    check_numbers([meta.get("svm_weight", 1.0)], "svm_weight")
    if not 0 <= meta.get("svm_weight", 1.0) <= 1:
        raise ValueError("svm_weight is outside 0..1")
    if meta.get("fusion", "mean") not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}")
    norm = meta.get("normalization")
    if not isinstance(norm, dict):
        raise ValueError("no 'normalization'")
    check_numbers(norm.get("mean"), "normalization mean (one per band)", n)
    check_numbers(norm.get("std"), "normalization std (one per band)", n)
    if any(v < 0 for v in norm["std"]) or not any(v > 0 for v in norm["std"]):
        raise ValueError("normalization std must be >= 0 with at least one value above 0")
    network = meta.get("network")
    if network is not None:
        if not isinstance(network, dict):
            raise ValueError("network is not a record")
        _trained_check(network)
    cnn = meta.get("cnn")
    if cnn is not None:
        if network is None or not isinstance(cnn, dict):
            raise ValueError("cnn must be a record, in an ensemble")
        check_int(cnn.get("n_components"), "cnn n_components", 11, min(n, _CNN_MAX["n_components"]))
        patch = check_int(cnn.get("patch"), "cnn patch", 7, _CNN_MAX["patch"])
        if patch % 2 != 1:
            raise ValueError("cnn patch must be odd")
        check_int(cnn.get("hidden"), "cnn hidden", 1, _CNN_MAX["hidden"])
        if check_int(cnn.get("n_classes"), "cnn n_classes", 2, _MAX_CLASSES) != k:
            raise ValueError("the CNN's class count differs from the model's")
        if check_int(cnn.get("n_bands"), "cnn n_bands", 1, 20_000) != n:
            raise ValueError("the CNN's band count differs from the model's")
        check_numbers([cnn.get("dropout")], "cnn dropout")
        # training settings, kept for the record: bounded numbers too, so a file cannot smuggle anything else in
        for key, low, high in (("steps", 1, 10**7), ("batch_size", 1, 10**6)):
            if key in cnn:
                check_int(cnn[key], f"cnn {key}", low, high)
        for key in ("lr", "weight_decay", "label_smoothing"):
            if key in cnn:
                check_numbers([cnn[key]], f"cnn {key}")
        check_numbers([meta.get("cnn_weight")], "cnn_weight", positive=True)
        if not (0 <= cnn["dropout"] < 1 and meta["cnn_weight"] <= 1):
            raise ValueError("cnn dropout must be in [0, 1) and cnn_weight in (0, 1]")


def combined_shapes(meta: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    """Weight shapes the metadata describes (the SVM's arrays, and the network's for an ensemble)."""
    from hsigeo.model.modelfile import _trained_shapes

    n, svm = int(meta["n_bands"]), meta["svm"]
    s, k = int(svm["n_support"]), int(svm["n_classes"])
    pairs = k * (k - 1) // 2
    want: dict[str, tuple[int | None, ...]] = {
        "svm.support_vectors": (s, n), "svm.coef": (s, pairs), "svm.intercept": (pairs,),
        "svm.prob_a": (pairs,), "svm.prob_b": (pairs,)}
    if meta.get("network") is not None:
        want.update(_trained_shapes(meta["network"]))
    if meta.get("cnn") is not None:
        want.update(PatchCNN.tensor_shapes(meta["cnn"]))
    return want


def combined_from_file(meta: dict[str, Any], tensors: dict[str, torch.Tensor], source: str) -> CombinedModel:
    """A combined model from its file's checked metadata and weights."""
    from hsigeo.classes import ClassInfo
    from hsigeo.model.modelfile import _trained_from_file

    net = None
    if meta.get("network") is not None:
        net = _trained_from_file(meta["network"], {k: v for k, v in tensors.items()
                                                   if not k.startswith(("svm.", "cnn."))}, source)
    wl = meta.get("wavelengths")
    norm = meta["normalization"]
    model = CombinedModel(
        svm=KernelSVM.from_parts(meta["svm"], tensors),
        classes=[ClassInfo(int(c["value"]), str(c["name"]), tuple(int(v) for v in c["colour"]),
                           tuple(c.get("prompts") or ())) for c in meta["classes"]],
        mean=np.asarray(norm["mean"], dtype=np.float32), std=np.asarray(norm["std"], dtype=np.float32), net=net,
        svm_weight=float(meta.get("svm_weight", 1.0)),
        wavelengths=None if wl is None else np.asarray([np.nan if v is None else v for v in wl], np.float64),
        spatial=SpatialFilter.from_dict(meta.get("spatial_filter")),
        report=dict(meta.get("training") or {}), fusion=str(meta.get("fusion", "mean")),
        cnn=None if meta.get("cnn") is None else PatchCNN.from_parts(meta["cnn"], tensors),
        cnn_weight=float(meta.get("cnn_weight") or 0.5),
    )
    model.source = source  # type: ignore[attr-defined]
    return model
