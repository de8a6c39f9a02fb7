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
``network``
    For an ensemble, the network's own metadata (as in a network model file; its
    ``spatial_filter`` is null: the filter is applied once, after the average).

``weights.safetensors`` holds ``svm.support_vectors``, ``svm.coef`` (per class pair),
``svm.intercept``, ``svm.prob_a``, ``svm.prob_b`` and, for an ensemble, the network's tensors
(``net.*``, ``text_embeddings``, ``prior.encoder.*``).  Every array's shape is checked against
the metadata before a model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsigeo.errors import ModelFileError
from hsigeo.model.combined import METHODS_COMBINED, CombinedModel
from hsigeo.model.spatial import SpatialFilter
from hsigeo.model.svm import KernelSVM

__all__ = ["combined_parts", "combined_from_parts"]

# bounds of what a real SVM stores (a hostile file must not make us allocate more)
_MAX_SUPPORT = 1_000_000
_MAX_CLASSES = 1024


def combined_parts(model: CombinedModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a combined model (the checksum is added by the caller)."""
    from hsigeo.model.modelfile import FORMAT, FORMAT_VERSION, _hsigeo_version, _network_parts

    tensors = dict(model.svm.tensors())
    network = None
    if model.net is not None:
        net_tensors, network = _network_parts(model.net)
        tensors.update(net_tensors)
        for key in ("format", "format_version", "hsigeo_version", "created"):
            network.pop(key, None)
    import datetime as _dt

    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model_type": model.method,
        "hsigeo_version": _hsigeo_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "n_bands": model.n_bands, "radius": model.radius,
        "wavelengths": None if model.wavelengths is None else [float(w) for w in model.wavelengths],
        "normalization": {"method": "per-band standardisation (training scene)",
                          "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std]},
        "classes": [{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                    for c in model.classes],
        "spatial_filter": None if model.spatial is None else model.spatial.to_dict(),
        "svm": model.svm.to_dict(), "svm_weight": model.svm_weight,
        "network": network, "n_parameters": model.n_parameters(), "training": model.report,
    }
    return tensors, meta


def combined_from_parts(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> CombinedModel:
    """Rebuild a combined model; every shape is checked against the metadata first.

    Raises
    ------
    ModelFileError
        When the metadata and the weights do not fit together.
    """
    from hsigeo.classes import ClassInfo
    from hsigeo.model.modelfile import _check_classes, _fail, _network_from

    if meta.get("model_type") not in METHODS_COMBINED:
        raise _fail(path, f"unknown model_type {meta.get('model_type')!r}")
    _check_classes(path, meta)
    svm_meta, n = meta.get("svm"), meta.get("n_bands")
    if not isinstance(svm_meta, dict) or not isinstance(n, int) or not 0 < n <= 20_000:
        raise _fail(path, "metadata.json lacks the SVM's settings or a band count in 1..20000")
    k = svm_meta.get("n_classes")
    s = svm_meta.get("n_support")
    if not isinstance(k, int) or k != len(meta["classes"]) or not 2 <= k <= _MAX_CLASSES \
            or not isinstance(s, int) or not 0 < s <= _MAX_SUPPORT:
        raise _fail(path, "metadata.json: the SVM's class or support-vector count is missing or out of range")
    pairs = k * (k - 1) // 2
    want = {"svm.support_vectors": (s, n), "svm.coef": (s, pairs), "svm.intercept": (pairs,),
            "svm.prob_a": (pairs,), "svm.prob_b": (pairs,)}
    for key, shape in want.items():
        have = tuple(tensors[key].shape) if key in tensors else None
        if have != shape:
            raise _fail(path, f"weights and metadata do not fit together ({key}: the metadata describes {shape}, "
                              f"the weights hold {have or 'none'})")
    norm = meta.get("normalization") or {}
    try:
        mean = np.asarray(norm["mean"], dtype=np.float32)
        std = np.asarray(norm["std"], dtype=np.float32)
        svm = KernelSVM.from_parts(svm_meta, tensors)
        net = None
        if meta["model_type"] == "ensemble":
            network = meta.get("network")
            if not isinstance(network, dict):
                raise ValueError("an ensemble needs its network's metadata")
            net = _network_from(path, network, {k: v for k, v in tensors.items() if not k.startswith("svm.")})
        wl = meta.get("wavelengths")
        model = CombinedModel(
            svm=svm,
            classes=[ClassInfo(int(c["value"]), str(c["name"]), tuple(int(v) for v in c["colour"]),
                               tuple(c.get("prompts") or ())) for c in meta["classes"]],
            mean=mean, std=std, net=net, svm_weight=float(meta.get("svm_weight", 1.0)),
            wavelengths=None if wl is None else np.asarray([np.nan if v is None else v for v in wl], np.float64),
            spatial=SpatialFilter.from_dict(meta.get("spatial_filter")),
            report=dict(meta.get("training") or {}),
        )
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"weights and metadata do not fit together ({type(exc).__name__}: {str(exc)[:300]})") from exc
    return model
