"""Model files (``*.hsigeo``): safetensors weights + JSON metadata in one zip archive, for every model type.

Layout of ``MODEL.hsigeo`` (a plain zip archive; ``unzip -l`` lists it):

``metadata.json``
    ``format`` (``"hsigeo-model"``), ``format_version``, ``model_type`` (see below),
    ``weights_sha256``, and what the type needs.  A trained model (``"trained"``):
    ``hsigeo_version``, ``created``, ``n_bands``, ``wavelengths`` (nm or null),
    ``normalization`` (per-band ``mean``/``std``), ``backbone`` (the
    :class:`~hsigeo.model.backbone.BackboneConfig`), ``text_dim``, ``classes`` (``value``,
    ``name``, ``colour``, ``prompts``), ``text_model`` (id, path, dimension, parameter count,
    prompt-embedding hash; the path is a record, never opened), ``training`` (report summary).
``weights.safetensors``
    ``net.*`` (backbone, text probe, temperature) and ``text_embeddings`` (the frozen class
    text embeddings, cached so inference never needs the text model unless prompts change);
    with ``--init base`` also ``prior.encoder.*``, the frozen base encoder whose embedding
    feeds the network (``metadata.json`` ``prior``: its sizes, sensor binding and source).

Model types
    One registry (:data:`MODEL_TYPES`) keyed by ``model_type``: ``"trained"``
    (:class:`~hsigeo.model.classifier.HsigeoModel`; files written before the key existed
    are this type), ``"spectral-base"`` (:class:`~hsigeo.model.base.BaseModel`) and
    ``"zero-shot"`` (:class:`~hsigeo.model.base.ZeroShotModel`).  Each :class:`ModelType`
    says how its model becomes tensors + metadata and back, which network the metadata
    describes (checked against the weight shapes before anything is allocated) and the
    bounds of its settings.  :func:`save_model`, :func:`model_bytes`, :func:`load_model`,
    :func:`load_model_bytes` and :func:`read_metadata` are the only readers and writers, so
    every type gets the same bounds: ``load_model(save_model(m))`` is ``m`` again for each.

Loading only parses JSON and safetensors: nothing is ever unpickled, and no path found inside
a model file is ever opened.  A folder holding the two members loads as well.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsigeo.classes import ClassInfo
from hsigeo.errors import ModelFileError
from hsigeo.filesafety import atomic_output, json_safe
from hsigeo.model import base as _base
from hsigeo.model.backbone import BackboneConfig
from hsigeo.model.classifier import HsigeoModel, HsigeoNet
from hsigeo.model.prior import BasePrior
from hsigeo.model.spatial import SpatialFilter

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "MODEL_TYPES",
    "ModelType",
    "model_type_of",
    "save_model",
    "load_model",
    "load_model_bytes",
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
# a stored (uncompressed) archive of two full members plus its zip records
_MAX_FILE_BYTES = MAX_METADATA_BYTES + MAX_WEIGHTS_BYTES + (1 << 20)
# Sane bounds of the network described by metadata.json, checked before anything is built.
_CONFIG_BOUNDS = {"n_bands": 20_000, "stem_dim": 4096, "stem_layers": 16, "kernel": 15, "grid": 15,
                  "width": 4096, "depth": 64, "heads": 256, "mlp_ratio": 16, "embed_dim": 4096}
MAX_TEXT_DIM = 8192
#: Most networks a base-model ensemble may hold (each ~1 MB; the shipped one has a few).
MAX_BASE_MEMBERS = 16
MAX_CLASSES = 4096
_MAX_NAME = 200
_MAX_FILTER_RADIUS = 16
# the type of files written before model_type existed: all of them were trained models
_LEGACY_TYPE = "trained"


# --------------------------------------------------------------------------- #
# The registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ModelType:
    """One kind of model file: how its model becomes tensors + metadata and back.

    Attributes
    ----------
    name
        The ``model_type`` in ``metadata.json``.
    python_type
        The class of the models it saves.
    to_file
        ``model -> (tensors, metadata)``: the weights and the type's own metadata (the
        container adds ``format``, ``format_version``, ``model_type``, ``weights_sha256``).
    check
        ``metadata -> None``: raises :class:`ValueError` naming the problem when a setting is
        outside its bounds or a number is not finite; runs before anything is allocated.
    shapes
        ``metadata -> {tensor name: shape}`` of the network the metadata describes (built on
        torch's meta device, so without memory); ``None`` in a shape is any length.  Names
        ending in ``?`` are optional.
    from_file
        ``(metadata, tensors, source) -> model``, after the checks.
    fitted
        Whether the model maps classes as it is (``False``: the base model, which is bound to
        a scene and prompts first with ``for_scene``).
    """

    name: str
    python_type: type
    to_file: Callable[[Any], tuple[dict[str, torch.Tensor], dict[str, Any]]]
    check: Callable[[dict[str, Any]], None]
    shapes: Callable[[dict[str, Any]], dict[str, tuple[int | None, ...]]]
    from_file: Callable[[dict[str, Any], dict[str, torch.Tensor], str], Any]
    fitted: bool = True


MODEL_TYPES: dict[str, ModelType] = {}


def register_model_type(spec: ModelType) -> ModelType:
    """Add a model type to :data:`MODEL_TYPES` (its ``name`` must be new)."""
    if spec.name in MODEL_TYPES:
        raise ValueError(f"model type {spec.name!r} is registered already")
    MODEL_TYPES[spec.name] = spec
    return spec


def model_type_of(model: Any) -> ModelType:
    """The registered type of a model object.

    Raises
    ------
    InvalidTypeError
        When ``model`` is no registered model type.
    """
    for spec in MODEL_TYPES.values():
        # one class may serve several types (CombinedModel: "svm", "ensemble"); its model_type says which
        if type(model) is spec.python_type and getattr(model, "model_type", spec.name) == spec.name:
            return spec
    from hsigeo.errors import InvalidTypeError

    raise InvalidTypeError(f"cannot save a {type(model).__name__}: model files hold "
                           f"{', '.join(s.python_type.__name__ for s in MODEL_TYPES.values())} models.")


def _hsigeo_version() -> str:
    from hsigeo import __version__

    return __version__


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
def _archive(tensors: dict[str, torch.Tensor], meta: dict[str, Any], model_type: str) -> bytes:
    """The ``.hsigeo`` zip: byte-for-byte deterministic (fixed member dates, sorted JSON keys)."""
    from safetensors.torch import save

    # one safetensors metadata key only: safetensors writes its map in hash order, so two keys
    # could swap places between runs and break byte-for-byte rebuilds (model_type is in the JSON)
    weights = save(tensors, metadata={"format": FORMAT})
    meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "model_type": model_type,
            "weights_sha256": hashlib.sha256(weights).hexdigest()}
    meta_bytes = json.dumps(json_safe(meta), indent=1, sort_keys=True, ensure_ascii=False).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((_META, meta_bytes), (_WEIGHTS, weights)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def model_bytes(model: Any) -> bytes:
    """The model file of ``model`` (any registered type) as bytes: what :func:`save_model` writes."""
    spec = model_type_of(model)
    tensors, meta = spec.to_file(model)
    return _archive(tensors, meta, spec.name)


def save_model(model: Any, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a model of any registered type to one ``.hsigeo`` file (atomically).

    Parameters
    ----------
    model
        The model: trained (:class:`~hsigeo.model.classifier.HsigeoModel`), base or zero-shot.
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
    data = model_bytes(model)
    with atomic_output(path, overwrite=overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return path


# --------------------------------------------------------------------------- #
# Reading: members, bounded
# --------------------------------------------------------------------------- #
def _fail(path: Path | str, problem: str) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}. Use a model file written by `hsigeo train` / hsigeo.model.modelfile.save_model "
        "(re-train or re-download it if it got damaged)."
    )


def _resolve(path: str | os.PathLike) -> Path:
    """``"base"`` names the base model shipped with hsigeo; anything else is a path."""
    return _base.shipped_base_path() if str(path) == "base" else Path(path)


def _read_members(path: Path) -> tuple[bytes, bytes]:
    """Raw bytes of metadata.json and weights.safetensors, each never more than its limit."""
    if not path.exists():
        if path == _base.shipped_base_path():
            raise ModelFileError(
                f"{path}: base model file not found. The base model ships inside the hsigeo package "
                "(hsigeo/data/base_model.hsigeo); reinstall hsigeo or rebuild it with scripts/build_base_model.py.")
        raise ModelFileError(f"{path}: model file not found; check the path or train one with `hsigeo train`.")
    try:
        if path.is_dir():
            meta_p, w_p = path / _META, path / _WEIGHTS
            if not meta_p.is_file() or not w_p.is_file():
                raise _fail(path, f"folder lacks {_META} and/or {_WEIGHTS}")
            out = []
            for p in (meta_p, w_p):
                _check_size(path, p.name, p.stat().st_size)
                with p.open("rb") as f:
                    out.append(_bounded_read(f, path, p.name))
            return out[0], out[1]
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise _fail(path, f"the file is {size / 2**20:,.0f} MB, far more than a model needs "
                              f"(at most {_MAX_FILE_BYTES >> 20} MB); it is damaged or not a model")
        with zipfile.ZipFile(path) as zf:
            return _zip_members(zf, path)
    except zipfile.BadZipFile as exc:
        raise _fail(path, f"not an hsigeo model file (not a zip archive: {exc})") from exc
    except (OSError, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise _fail(path, f"could not be read ({exc})") from exc


def _zip_members(zf: zipfile.ZipFile, source: Path | str) -> tuple[bytes, bytes]:
    names = set(zf.namelist())
    if _META not in names or _WEIGHTS not in names:
        raise _fail(source, f"not an hsigeo model file (the archive lacks {_META} and/or {_WEIGHTS})")
    out = []
    for name in (_META, _WEIGHTS):
        _check_size(source, name, zf.getinfo(name).file_size)
        with zf.open(name) as f:
            out.append(_bounded_read(f, source, name))
    return out[0], out[1]


def _check_size(path: Path | str, name: str, size: int) -> None:
    if size > _MAX_MEMBER[name]:
        raise _fail(path, f"{name} is {size / 2**20:,.0f} MB, far more than a model needs "
                          f"(at most {_MAX_MEMBER[name] >> 20} MB); the file is damaged or not a model")


def _bounded_read(f: Any, source: Path | str, name: str) -> bytes:
    """A member's bytes, never more than its limit, whatever its header claims (zip bombs)."""
    limit = _MAX_MEMBER[name]
    data = f.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{source}: {name} is larger than its header says and than a model needs "
                             f"(more than {limit >> 20} MB); the file is damaged or hostile. "
                             "Use a model file written by `hsigeo train`.")
    return data


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: untrusted values never flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- #
# Reading: metadata
# --------------------------------------------------------------------------- #
def _parse_meta(path: Path | str, raw: bytes) -> tuple[dict[str, Any], ModelType]:
    """The metadata dict and its registered type (format, version and type checked)."""
    try:
        meta = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _fail(path, f"{_META} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise _fail(path, f"{_META} is not valid JSON ({exc})") from exc
    except RecursionError as exc:  # JSON nested thousands deep: no model file looks like that
        raise _fail(path, f"{_META} is nested too deeply to be model metadata") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise _fail(path, f"{_META} does not describe an hsigeo model (format {_short(got)})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(path, f"unknown model format version {_short(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} was written by a newer hsigeo "
            f"({_short(meta.get('hsigeo_version'), 30)}); this hsigeo reads up to version {FORMAT_VERSION}. Upgrade hsigeo."
        )
    kind = meta.get("model_type", _LEGACY_TYPE)
    spec = MODEL_TYPES.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise _fail(path, f"{_META}: unknown model_type {_short(kind)} (this hsigeo reads "
                          f"{', '.join(MODEL_TYPES)}); a newer hsigeo may read it")
    try:
        spec.check(meta)
    except (ValueError, TypeError, KeyError) as exc:
        raise _fail(path, f"{_META}: {exc}" if isinstance(exc, ValueError) else
                    f"{_META}: damaged {spec.name} settings ({type(exc).__name__}: {_short(str(exc), 200)})") from exc
    return meta, spec


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a model file of any type, without loading weights or torch modules.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt, hostile or not an hsigeo model.
    """
    path = _resolve(path)
    raw, _ = _read_members(path)
    return _parse_meta(path, raw)[0]


# --------------------------------------------------------------------------- #
# Reading: the model
# --------------------------------------------------------------------------- #
def load_model(path: str | os.PathLike) -> Any:
    """Load a model file of any registered type (written by :func:`save_model`).

    Parameters
    ----------
    path
        The ``.hsigeo`` file (or a folder with its two members); ``"base"``: the base model
        shipped with hsigeo.

    Returns
    -------
    HsigeoModel, BaseModel or ZeroShotModel
        As the file's ``model_type`` says; on the CPU, in evaluation mode.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt, foreign, of a newer format, its settings are out of
        bounds or not finite, or its weights do not match its metadata.
    """
    path = _resolve(path)
    raw_meta, weights = _read_members(path)
    return _build(path, raw_meta, weights)


def load_model_bytes(data: bytes, *, source: str = "model bytes") -> Any:
    """Load a model from the bytes of a model file (:func:`model_bytes`), with the same bounds.

    ``source`` names it in error messages.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            raw_meta, weights = _zip_members(zf, source)
    except zipfile.BadZipFile as exc:
        raise _fail(source, f"not an hsigeo model file (not a zip archive: {exc})") from exc
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise _fail(source, f"could not be read ({exc})") from exc
    return _build(source, raw_meta, weights)


def _build(path: Path | str, raw_meta: bytes, weights: bytes) -> Any:
    from safetensors import SafetensorError
    from safetensors.torch import load

    meta, spec = _parse_meta(path, raw_meta)
    if hashlib.sha256(weights).hexdigest() != meta.get("weights_sha256"):
        raise _fail(path, f"{_WEIGHTS} does not match the checksum in {_META} (the file is damaged)")
    try:
        tensors = load(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"{_WEIGHTS} is not a valid safetensors file ({_short(str(exc), 200)})") from exc
    _check_tensors(path, spec, meta, tensors)
    try:
        model = spec.from_file(meta, tensors, str(path))
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise _fail(path, f"weights and metadata do not fit together ({type(exc).__name__}: "
                          f"{_short(str(exc), 300)})") from exc
    return model


def _check_tensors(path: Path | str, spec: ModelType, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Shapes against the network the metadata describes; every weight finite."""
    try:
        want = spec.shapes(meta)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"{_META}: the network it describes cannot be built ({type(exc).__name__}: "
                          f"{_short(str(exc), 200)})") from exc
    optional = {k[:-1] for k in want if k.endswith("?")}
    want = {k.rstrip("?"): v for k, v in want.items()}
    for key in sorted(set(want) | set(tensors)):
        have = tuple(tensors[key].shape) if key in tensors else None
        shape = want.get(key)
        if have is None and key in optional:
            continue
        fits = shape is not None and have is not None and len(shape) == len(have) \
            and all(s is None or s == h for s, h in zip(shape, have, strict=True))
        if not fits:
            raise _fail(path, f"weights and metadata do not fit together ({key}: the metadata describes "
                              f"{shape if shape is not None else 'no such weight'}, the weights hold "
                              f"{have if have is not None else 'none'})")
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise _fail(path, f"{_WEIGHTS}: weight {key} holds NaN or infinite values, so every map would be "
                              "wrong")


def _meta_shapes(factory: Callable[[], torch.nn.Module], prefix: str) -> dict[str, tuple[int | None, ...]]:
    """``{prefix + name: shape}`` of a module built on the meta device (no memory)."""
    with torch.device("meta"):
        module = factory()
    return {f"{prefix}{k}": tuple(v.shape) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- #
# Shared checks
# --------------------------------------------------------------------------- #
def check_int(value: Any, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``low..high``, else :class:`ValueError` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} = {_short(value)} is outside {low}..{high}")
    return value


def check_numbers(values: Any, what: str, n: int | None = None, *, positive: bool = False,
                  allow_nan: bool = False) -> None:
    """A list of ``n`` finite numbers (``positive``: all > 0), else :class:`ValueError` naming ``what``."""
    if not isinstance(values, list) or (n is not None and len(values) != n):
        raise ValueError(f"{what} must list {n if n is not None else 'some'} numbers")
    for x in values:
        if allow_nan and x is None:
            continue
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) or (allow_nan and x != x)):
            raise ValueError(f"{what} holds {_short(x)}, not a finite number")
        if positive and not x > 0:
            raise ValueError(f"{what} holds {_short(x)}; every value must be above 0 (a zero spread "
                             "would divide by zero)")


def check_classes(meta: dict[str, Any]) -> None:
    """Class records: values 1..65535 and unique, printable unique names, colours of three 0..255 ints."""
    from hsigeo.classes import MAX_VALUE

    classes = meta.get("classes")
    if not isinstance(classes, list) or not 0 < len(classes) <= MAX_CLASSES:
        raise ValueError(f"'classes' must list 1..{MAX_CLASSES} classes")
    values: set[int] = set()
    names: set[str] = set()
    for i, c in enumerate(classes):
        if not isinstance(c, dict):
            raise ValueError(f"class {i} is {_short(c)}, not a record")
        v, name, colour = c.get("value"), c.get("name"), c.get("colour")
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_VALUE:
            raise ValueError(f"class {i} has value {_short(v)}; values are integers 1..{MAX_VALUE} "
                             "(0 is nodata, and classification rasters are at most uint16)")
        if v in values:
            raise ValueError(f"class {i} repeats the value {v}")
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME \
                or not all(ch.isprintable() for ch in name):
            raise ValueError(f"class {i} has the name {_short(name)}; names are 1..{_MAX_NAME} printable "
                             "characters (no control characters)")
        if name.casefold() in names:
            raise ValueError(f"class {i} repeats the name {_short(name)}")
        if not (isinstance(colour, list) and len(colour) == 3
                and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 255 for x in colour)):
            raise ValueError(f"class {i} ({_short(name)}) has the colour {_short(colour)}; "
                             "a colour is three integers 0..255")
        prompts = c.get("prompts") or []
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"class {i} ({_short(name)}) has prompts that are not a list of text")
        values.add(v)
        names.add(name.casefold())


def check_spatial_filter(d: Any, what: str = "spatial_filter") -> None:
    """The edge-aware filter's record: ``None`` or a small radius, a finite positive tau, groups 1..4096."""
    if d is None or d == {}:
        return
    if not isinstance(d, dict):
        raise ValueError(f"{what} is {_short(d)}, not a record")
    check_int(d.get("radius", 0), f"{what} radius", 0, _MAX_FILTER_RADIUS)
    check_numbers([d.get("tau", 0.2)], f"{what} tau", positive=True)
    check_int(d.get("groups", 20), f"{what} groups", 1, 4096)


def check_binding(d: Any, what: str = "binding") -> None:
    """A sensor binding's record (:class:`~hsigeo.model.binding.SensorBinding`): sizes and finite numbers."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} is {_short(d)}, not a record")
    n = check_int(d.get("n_bands"), f"{what} n_bands", 1, _CONFIG_BOUNDS["n_bands"])
    check_numbers(d.get("wavelengths"), f"{what} wavelengths", n, allow_nan=True)
    if d.get("fwhm") is not None:
        check_numbers(d["fwhm"], f"{what} fwhm", n, allow_nan=True)
    if d.get("bad_band") is not None and (not isinstance(d["bad_band"], list) or len(d["bad_band"]) != n):
        raise ValueError(f"{what} bad_band must list {n} flags")
    for key in ("offset", "gain"):
        if d.get(key) is not None:
            check_numbers(d[key], f"{what} {key}", len(_base.GRID))
    if d.get("radiometry", "reflectance") not in ("reflectance", "radiance"):
        raise ValueError(f"{what} radiometry is {_short(d.get('radiometry'))}, not reflectance or radiance")


# --------------------------------------------------------------------------- #
# Type "trained": HsigeoModel
# --------------------------------------------------------------------------- #
def _trained_to_file(model: HsigeoModel) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    tensors["text_embeddings"] = torch.from_numpy(np.ascontiguousarray(model.text_embeddings, dtype=np.float32))
    if model.prior is not None:
        tensors.update(model.prior.tensors())
    meta = {
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


def _trained_check(meta: dict[str, Any]) -> None:
    """Network settings bounded, classes valid, normalisation finite (std > 0), before any allocation."""
    cfg = meta.get("backbone")
    if not isinstance(cfg, dict):
        raise ValueError("no 'backbone' settings")
    for key, bound in _CONFIG_BOUNDS.items():
        if key in cfg:
            v = cfg[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 < v <= bound):
                raise ValueError(f"backbone {key} = {_short(v)} is outside 1..{bound}")
    check_int(meta.get("text_dim"), "text_dim", 1, MAX_TEXT_DIM)
    check_classes(meta)
    n = check_int(meta.get("n_bands"), "n_bands", 1, _CONFIG_BOUNDS["n_bands"])
    if meta.get("wavelengths") is not None:
        check_numbers(meta["wavelengths"], "wavelengths", n, allow_nan=True)
    check_spatial_filter(meta.get("spatial_filter"))
    prior = meta.get("prior")
    if prior is not None:  # its channels are standardised with the bands
        if not isinstance(prior, dict):
            raise ValueError(f"prior is {_short(prior)}, not a record")
        for key in ("n_grid", "hidden", "dim"):
            check_int(prior.get(key), f"prior {key}", 1, 4096)
        check_binding(prior.get("binding"), "prior binding")
        n += prior["dim"]
    norm = meta.get("normalization")
    if not isinstance(norm, dict):
        raise ValueError("no 'normalization'")
    check_numbers(norm.get("mean"), "normalization mean (one per input channel)", n)
    std = norm.get("std")
    check_numbers(std, "normalization std (one per input channel)", n)
    # a constant band of the training scene has spread 0 (normalize leaves it centred); all of them
    # at 0, or any below, describe no scene
    if any(v < 0 for v in std) or not any(v > 0 for v in std):
        raise ValueError("normalization std (one per input channel) must be >= 0 with at least one value above 0 "
                         f"(got {_short(std)}); such a model would map every pixel alike")


def _trained_shapes(meta: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    config = BackboneConfig.from_dict(meta["backbone"])
    text_dim = int(meta["text_dim"])
    want = _meta_shapes(lambda: HsigeoNet(config, text_dim), "net.")
    want["text_embeddings"] = (len(meta["classes"]), text_dim)
    prior = meta.get("prior")
    if prior is not None:
        albedo = bool((prior.get("binding") or {}).get("albedo", False))
        want.update(_meta_shapes(lambda: _base.BaseNet(prior["n_grid"], 1, prior["hidden"], prior["dim"],
                                                       albedo=albedo).encoder, "prior.encoder."))
    return want


def _trained_from_file(meta: dict[str, Any], tensors: dict[str, torch.Tensor], source: str) -> HsigeoModel:
    config = BackboneConfig.from_dict(meta["backbone"])
    net = HsigeoNet(config, int(meta["text_dim"]))
    net.load_state_dict({k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
    norm = meta["normalization"]
    classes = [ClassInfo(int(c["value"]), str(c["name"]), tuple(int(v) for v in c["colour"]),
                         tuple(c.get("prompts") or ())) for c in meta["classes"]]
    wl = meta.get("wavelengths")
    model = HsigeoModel(
        net=net, config=config, mean=np.asarray(norm["mean"], np.float32), std=np.asarray(norm["std"], np.float32),
        classes=classes, text_embeddings=tensors["text_embeddings"].float().numpy(),
        wavelengths=None if wl is None else np.asarray([np.nan if v is None else v for v in wl], np.float64),
        text_model=dict(meta.get("text_model") or {}), report=dict(meta.get("training") or {}),
        spatial=SpatialFilter.from_dict(meta.get("spatial_filter")),
        prior=None if meta.get("prior") is None else BasePrior.from_parts(meta["prior"], tensors, source=source),
    )
    model.source = source  # type: ignore[attr-defined]
    return model


register_model_type(ModelType(_LEGACY_TYPE, HsigeoModel, _trained_to_file, _trained_check, _trained_shapes,
                              _trained_from_file))


# --------------------------------------------------------------------------- #
# Types "spectral-base" and "zero-shot": hsigeo.model.base
# --------------------------------------------------------------------------- #
def _base_check(meta: dict[str, Any]) -> None:
    cfg = meta.get("net") if meta.get("net") is not None else {}
    if not isinstance(cfg, dict):
        raise ValueError(f"net is {_short(cfg)}, not a record")
    n_grid = check_int(cfg.get("n_grid", len(_base.GRID)), "net n_grid", 1, 4096)
    check_int(cfg.get("text_dim", _base.TEXT_DIM), "net text_dim", 1, MAX_TEXT_DIM)
    check_int(cfg.get("hidden", _base.HIDDEN), "net hidden", 1, 4096)
    check_int(cfg.get("embed_dim", _base.EMBED_DIM), "net embed_dim", 1, 4096)
    if not isinstance(cfg.get("albedo", False), bool):
        raise ValueError(f"net albedo is {_short(cfg.get('albedo'))}, not true or false")
    check_int(cfg.get("members", 1), "net members", 1, MAX_BASE_MEMBERS)
    check_numbers(meta.get("reference"), "reference spectrum", n_grid)
    if "threshold" in meta:
        check_numbers([meta["threshold"]], "threshold")
        if not 0 <= meta["threshold"] <= 1:
            raise ValueError(f"threshold = {_short(meta['threshold'])} is outside 0..1")


def _base_shapes(meta: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    want = _meta_shapes(lambda: _base.build_net(meta), "net.")
    want["reference_library?"] = (None, _base.net_sizes(meta)[0])
    return want


def _zero_shot_check(meta: dict[str, Any]) -> None:
    _base_check(meta)
    check_classes(meta)
    b = meta.get("binding")
    check_binding(b)
    check_numbers([b.get("threshold")], "binding threshold")
    if not 0 <= b["threshold"] <= 1:
        raise ValueError(f"binding threshold = {_short(b['threshold'])} is outside 0..1")
    check_spatial_filter(b.get("spatial_filter"), "binding spatial_filter")
    for key, positive in (("band_mean", False), ("band_std", True)):
        if b.get(key) is not None:
            check_numbers(b[key], f"binding {key}", b["n_bands"], positive=positive)


def _zero_shot_shapes(meta: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    want = _base_shapes(meta)
    want["text_embeddings"] = (len(meta["classes"]), _base.net_sizes(meta)[1])
    return want


register_model_type(ModelType(_base.MODEL_TYPE, _base.BaseModel, _base.base_to_file, _base_check, _base_shapes,
                              _base.base_from_file, fitted=False))
register_model_type(ModelType(_base.ZERO_SHOT_TYPE, _base.ZeroShotModel, _base.zero_shot_to_file, _zero_shot_check,
                              _zero_shot_shapes, _base.zero_shot_from_file))


# --------------------------------------------------------------------------- #
# Type "scene-adapted": hsigeo.model.adapt (a zero-shot model with a head trained on its scene)
# --------------------------------------------------------------------------- #
def _adapted_check(meta: dict[str, Any]) -> None:
    _zero_shot_check(meta)
    if not isinstance(meta.get("adaptation"), dict):
        raise ValueError("no 'adaptation' record (what the scene head was trained on)")


def _adapted_shapes(meta: dict[str, Any]) -> dict[str, tuple[int | None, ...]]:
    want = _zero_shot_shapes(meta)
    n_bands, n_classes = int(meta["binding"]["n_bands"]), len(meta["classes"])
    # one column per mode of the head (files written before modes: one per class, no head.classes)
    want["head.weight"] = (n_bands, None)
    want["head.bias"] = (None,)
    want["head.classes?"] = (None,)
    # the typicality reference of the unknown outcome (k principal components of the scene)
    want.update({"typicality.proj?": (n_bands, None), "typicality.offset?": (None,),
                 "typicality.means?": (n_classes, None), "typicality.quantiles?": (n_classes, None)})
    return want


def _adapted_type() -> ModelType:
    from hsigeo.model.adapt import AdaptedModel

    return ModelType(_base.ADAPTED_TYPE, AdaptedModel, _base.zero_shot_to_file, _adapted_check, _adapted_shapes,
                     AdaptedModel.from_file)


register_model_type(_adapted_type())


# --------------------------------------------------------------------------- #
# Types "svm" and "ensemble": hsigeo.model.combined (hsigeo.model.combined_file)
# --------------------------------------------------------------------------- #
def _combined_types() -> list[ModelType]:
    from hsigeo.model import combined_file as cf
    from hsigeo.model.combined import METHODS_COMBINED, CombinedModel

    return [ModelType(name, CombinedModel, cf.combined_to_file, cf.combined_check, cf.combined_shapes,
                      cf.combined_from_file) for name in METHODS_COMBINED]


for _spec in _combined_types():
    register_model_type(_spec)
