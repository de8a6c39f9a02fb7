"""Model files (``*.hsigeo``): safetensors weights + JSON metadata in one zip archive.

Layout of ``MODEL.hsigeo`` (a plain zip archive; ``unzip -l`` lists it):

``metadata.json``
    ``format`` (``"hsigeo-model"``), ``format_version``, ``hsigeo_version``, ``created``,
    ``n_bands``, ``wavelengths`` (nm or null), ``normalization`` (per-band ``mean``/``std``),
    ``backbone`` (the :class:`~hsigeo.model.backbone.BackboneConfig`), ``text_dim``,
    ``classes`` (``value``, ``name``, ``colour``, ``prompts``), ``text_model`` (id, path,
    dimension, parameter count, prompt-embedding hash), ``training`` (report summary),
    ``weights_sha256``.
``weights.safetensors``
    ``net.*`` (backbone, text probe, temperature) and ``text_embeddings`` (the frozen class
    text embeddings, cached so inference never needs the text model unless prompts change);
    with ``--init base`` also ``prior.encoder.*``, the frozen base encoder whose embedding
    feeds the network (``metadata.json`` ``prior``: its sizes, sensor binding and source).

A folder holding the same two files loads as well (handy for inspection).  Loading only
parses JSON and safetensors: nothing is ever unpickled.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsigeo.classes import ClassInfo
from hsigeo.errors import ModelFileError
from hsigeo.model.backbone import BackboneConfig
from hsigeo.model.classifier import HsigeoModel, HsigeoNet
from hsigeo.model.prior import BasePrior
from hsigeo.model.spatial import SpatialFilter
from hsigeo.outputs import atomic_output, json_safe

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "save_model",
    "load_model",
    "read_metadata",
    "model_bytes",
]

FORMAT = "hsigeo-model"
FORMAT_VERSION = 1
SUFFIX = ".hsigeo"
_META, _WEIGHTS = "metadata.json", "weights.safetensors"
# Member size limits: a real model is ~1 MB (metadata a few kB plus the training report); far
# above that, yet low enough that a hostile file cannot exhaust memory (zip bombs, giant JSON).
MAX_METADATA_BYTES = 8 << 20
MAX_WEIGHTS_BYTES = 256 << 20
_MAX_MEMBER = {_META: MAX_METADATA_BYTES, _WEIGHTS: MAX_WEIGHTS_BYTES}
# Sane bounds of the network described by metadata.json, checked before anything is built.
_CONFIG_BOUNDS = {"n_bands": 20_000, "stem_dim": 4096, "stem_layers": 16, "kernel": 15, "grid": 15,
                  "width": 4096, "depth": 64, "heads": 256, "mlp_ratio": 16, "embed_dim": 4096}
MAX_TEXT_DIM = 8192
MAX_CLASSES = 4096
_MAX_NAME = 200


def _hsigeo_version() -> str:
    from hsigeo import __version__

    return __version__


def _network_parts(model: HsigeoModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The network's tensors and metadata (without the checksum of the serialised weights)."""
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    tensors["text_embeddings"] = torch.from_numpy(np.ascontiguousarray(model.text_embeddings, dtype=np.float32))
    if model.prior is not None:
        tensors.update(model.prior.tensors())
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hsigeo_version": _hsigeo_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "n_bands": model.n_bands,
        "radius": model.radius,
        "wavelengths": None if model.wavelengths is None else [float(w) for w in model.wavelengths],
        "normalization": {"method": "per-band standardisation (training scene)",
                          "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std]},
        "backbone": model.config.to_dict(),
        "spatial_filter": None if model.spatial is None else model.spatial.to_dict(),
        "prior": None if model.prior is None else model.prior.to_dict(),
        "text_dim": int(model.text_embeddings.shape[1]),
        "classes": [{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                    for c in model.classes],
        "text_model": model.text_model,
        "temperature": model.temperature,
        "n_parameters": model.n_parameters(),
        "training": model.report,
    }
    return tensors, meta


def _payload(model: Any) -> tuple[bytes, dict[str, Any]]:
    from safetensors.torch import save

    # --- model types other than the network (hsigeo/model/combined_file.py: "svm", "ensemble")
    from hsigeo.model.combined import CombinedModel

    if isinstance(model, CombinedModel):
        from hsigeo.model.combined_file import combined_parts

        tensors, meta = combined_parts(model)
    else:
        tensors, meta = _network_parts(model)
    weights = save(tensors, metadata={"format": FORMAT})
    meta["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    return weights, json_safe(meta)


def save_model(model: HsigeoModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a model to one ``.hsigeo`` file (atomically).

    Parameters
    ----------
    model
        The model.
    path
        Output file; the ``.hsigeo`` suffix is conventional, not enforced.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    from hsigeo.model.base import BaseModel, ZeroShotModel, save_base

    if isinstance(model, (BaseModel, ZeroShotModel)):
        return save_base(model, path, overwrite=overwrite)
    weights, meta = _payload(model)
    with atomic_output(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_META, json.dumps(meta, indent=1, ensure_ascii=False))
            zf.writestr(_WEIGHTS, weights)
    return path


def _fail(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}. Use a model file written by `hsigeo train` / hsigeo.model.modelfile.save_model "
        "(re-train or re-download it if it got damaged)."
    )


def _read_members(path: Path) -> tuple[bytes, bytes | None]:
    """Raw bytes of metadata.json and (when present) weights.safetensors."""
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found; check the path or train one with `hsigeo train`.")
    if path.is_dir():
        meta_p, w_p = path / _META, path / _WEIGHTS
        if not meta_p.is_file() or not w_p.is_file():
            raise _fail(path, f"folder lacks {_META} and/or {_WEIGHTS}")
        for p in (meta_p, w_p):
            _check_size(path, p.name, p.stat().st_size)
        return meta_p.read_bytes(), w_p.read_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if _META not in names or _WEIGHTS not in names:
                raise _fail(path, f"not an hsigeo model file (the archive lacks {_META} and/or {_WEIGHTS})")
            for name in (_META, _WEIGHTS):
                _check_size(path, name, zf.getinfo(name).file_size)
            return _read_member(zf, _META), _read_member(zf, _WEIGHTS)
    except zipfile.BadZipFile as exc:
        raise _fail(path, f"not an hsigeo model file (not a zip archive: {exc})") from exc
    except (OSError, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise _fail(path, f"could not be read ({exc})") from exc


def _check_size(path: Path, name: str, size: int) -> None:
    if size > _MAX_MEMBER[name]:
        raise _fail(path, f"{name} is {size / 2**20:,.0f} MB, far more than a model needs "
                          f"(at most {_MAX_MEMBER[name] >> 20} MB); the file is damaged or not a model")


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, never more than its limit, whatever its header claims."""
    limit = _MAX_MEMBER[name]
    with zf.open(name) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{zf.filename}: {name} is larger than its header says and than a model needs; "
                             "the file is damaged or hostile. Use a model file written by `hsigeo train`.")
    return data


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: untrusted values never flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_config(path: Path, meta: dict[str, Any]) -> None:
    """Refuse network settings no real model has, before anything is allocated for them."""
    cfg = meta.get("backbone")
    if not isinstance(cfg, dict):
        raise _fail(path, f"{_META} has no 'backbone' settings")
    for key, bound in _CONFIG_BOUNDS.items():
        if key not in cfg:
            continue
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v <= bound):
            raise _fail(path, f"{_META}: backbone {key} = {_short(v)} is outside 1..{bound}")
    text_dim = meta.get("text_dim")
    if isinstance(text_dim, bool) or not isinstance(text_dim, int) or not 0 < text_dim <= MAX_TEXT_DIM:
        raise _fail(path, f"{_META}: text_dim = {_short(text_dim)} is outside 1..{MAX_TEXT_DIM}")


def _check_shapes(path: Path, net_factory: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Compare the weight shapes with the network the metadata describes, built without memory (meta device)."""
    with torch.device("meta"):
        skeleton = net_factory()
    want = {f"net.{k}": tuple(v.shape) for k, v in skeleton.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in tensors.items() if k.startswith("net.")}
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            raise _fail(path, f"weights and metadata do not fit together ({key}: the metadata describes "
                              f"{want.get(key, 'no such weight')}, the weights hold {have.get(key, 'none')})")


def _check_classes(path: Path, meta: dict[str, Any]) -> None:
    """Class records: values 1..65535 and unique, printable unique names, colours of three 0..255 ints."""
    from hsigeo.classes import MAX_VALUE

    classes = meta.get("classes")
    if not isinstance(classes, list) or not 0 < len(classes) <= MAX_CLASSES:
        raise _fail(path, f"{_META}: 'classes' must list 1..{MAX_CLASSES} classes")
    values: set[int] = set()
    names: set[str] = set()
    for i, c in enumerate(classes):
        if not isinstance(c, dict):
            raise _fail(path, f"{_META}: class {i} is {_short(c)}, not a record")
        v, name, colour = c.get("value"), c.get("name"), c.get("colour")
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_VALUE:
            raise _fail(path, f"{_META}: class {i} has value {_short(v)}; values are integers 1..{MAX_VALUE} "
                              "(0 is nodata, and classification rasters are at most uint16)")
        if v in values:
            raise _fail(path, f"{_META}: class {i} repeats the value {v}")
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME \
                or not all(ch.isprintable() for ch in name):
            raise _fail(path, f"{_META}: class {i} has the name {_short(name)}; names are 1..{_MAX_NAME} printable "
                              "characters (no control characters)")
        if name.casefold() in names:
            raise _fail(path, f"{_META}: class {i} repeats the name {_short(name)}")
        if not (isinstance(colour, list) and len(colour) == 3
                and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in colour)):
            raise _fail(path, f"{_META}: class {i} ({_short(name)}) has the colour {_short(colour)}; "
                              "a colour is three integers 0..255")
        prompts = c.get("prompts") or []
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise _fail(path, f"{_META}: class {i} ({_short(name)}) has prompts that are not a list of text")
        values.add(v)
        names.add(name.casefold())


def _check_normalization(path: Path, meta: dict[str, Any]) -> None:
    norm = meta.get("normalization")
    n = meta.get("n_bands")
    if not isinstance(norm, dict) or not isinstance(n, int):
        raise _fail(path, f"{_META} lacks 'normalization' or 'n_bands'")
    prior = meta.get("prior")
    if prior is not None:  # its channels are standardised with the bands
        dim = prior.get("dim") if isinstance(prior, dict) else None
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= 4096:
            raise _fail(path, f"{_META}: prior dim = {_short(dim)} is outside 1..4096")
        n += dim
    for key in ("mean", "std"):
        v = norm.get(key)
        if not isinstance(v, list) or len(v) != n \
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            raise _fail(path, f"{_META}: normalization {key} must list {n} numbers (one per input channel)")


def _parse_meta(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"{_META} is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"{_META} does not describe an hsigeo model (format {_short(meta.get('format') if isinstance(meta, dict) else None)})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(path, f"unknown model format version {_short(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} was written by a newer hsigeo "
            f"({_short(meta.get('hsigeo_version'), 30)}); this hsigeo reads up to version {FORMAT_VERSION}. Upgrade hsigeo."
        )
    return meta


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a model file, without loading weights or torch modules.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt or not an hsigeo model.
    """
    path = Path(path)
    raw, _ = _read_members(path)
    meta = _parse_meta(path, raw)
    _check_classes(path, meta)
    return meta


def load_model(path: str | os.PathLike) -> HsigeoModel:
    """Load a model file written by :func:`save_model`.

    Parameters
    ----------
    path
        The ``.hsigeo`` file (or a folder with its two members).

    Returns
    -------
    HsigeoModel
        The model, on the CPU, in evaluation mode.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt, foreign, of a newer format, or its weights do not
        match its metadata.
    """
    from safetensors import SafetensorError

    # the shipped base model ("base") and base/zero-shot files have their own loader
    if str(path) == "base":
        from hsigeo.model.base import load_base

        return load_base()
    from hsigeo.model.base import is_base_file, load_base

    if Path(path).is_file() and is_base_file(path):
        return load_base(path)
    from safetensors.torch import load

    path = Path(path)
    raw_meta, weights = _read_members(path)
    meta = _parse_meta(path, raw_meta)
    assert weights is not None
    expected = meta.get("weights_sha256")
    if expected and hashlib.sha256(weights).hexdigest() != expected:
        raise _fail(path, f"{_WEIGHTS} does not match the checksum in {_META} (the file is damaged)")
    try:
        tensors = load(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"{_WEIGHTS} is not a valid safetensors file ({exc})") from exc
    # --- model types other than the network (hsigeo/model/combined_file.py: "svm", "ensemble")
    from hsigeo.model.combined import METHODS_COMBINED

    if meta.get("model_type") in METHODS_COMBINED:
        from hsigeo.model.combined_file import combined_from_parts

        model = combined_from_parts(path, meta, tensors)
    else:
        model = _network_from(path, meta, tensors)
    model.source = str(path)  # type: ignore[attr-defined]
    return model


def _network_from(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> HsigeoModel:
    """The network model described by ``meta`` with the weights ``tensors`` (checked before building)."""
    _check_config(path, meta)
    _check_classes(path, meta)
    _check_normalization(path, meta)
    try:
        config = BackboneConfig.from_dict(meta["backbone"])
        text_dim = int(meta["text_dim"])
        _check_shapes(path, lambda: HsigeoNet(config, text_dim), tensors)
        text_emb = tensors.pop("text_embeddings").float().numpy()
        if text_emb.shape != (len(meta["classes"]), text_dim):
            raise ValueError(f"text_embeddings have shape {tuple(text_emb.shape)}, the metadata describes "
                             f"{len(meta['classes'])} classes of {text_dim}-d text")
        net = HsigeoNet(config, text_dim)
        state = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
        net.load_state_dict(state, strict=True)
        norm = meta["normalization"]
        classes = [ClassInfo(int(c["value"]), str(c["name"]), tuple(int(v) for v in c["colour"]),
                             tuple(c.get("prompts") or ())) for c in meta["classes"]]
        wl = meta.get("wavelengths")
        model = HsigeoModel(
            net=net, config=config, mean=np.asarray(norm["mean"], np.float32), std=np.asarray(norm["std"], np.float32),
            classes=classes, text_embeddings=text_emb,
            wavelengths=None if wl is None else np.asarray([np.nan if v is None else v for v in wl], np.float64),
            text_model=dict(meta.get("text_model") or {}), report=dict(meta.get("training") or {}),
            spatial=SpatialFilter.from_dict(meta.get("spatial_filter")),
            prior=None if meta.get("prior") is None else BasePrior.from_parts(meta["prior"], tensors, source=str(path)),
        )
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"weights and metadata do not fit together ({type(exc).__name__}: {_short(str(exc), 300)})") from exc
    return model


def model_bytes(model: HsigeoModel) -> bytes:
    """The model file of ``model`` as bytes (for shipping to workers without touching disk)."""
    from hsigeo.model.base import BaseModel, ZeroShotModel, base_bytes, zero_shot_bytes

    if isinstance(model, ZeroShotModel):
        return zero_shot_bytes(model)
    if isinstance(model, BaseModel):
        return base_bytes(model)
    weights, meta = _payload(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_META, json.dumps(meta, ensure_ascii=False))
        zf.writestr(_WEIGHTS, weights)
    return buf.getvalue()
