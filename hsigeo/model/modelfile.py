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
    text embeddings, cached so inference never needs the text model unless prompts change).

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
from hsigeo.outputs import atomic_output

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "save_model",
    "load_model",
    "read_metadata",
    "remember_model",
    "last_model_path",
    "state_dir",
]

FORMAT = "hsigeo-model"
FORMAT_VERSION = 1
SUFFIX = ".hsigeo"
_META, _WEIGHTS = "metadata.json", "weights.safetensors"
# far above any real model (~1 MB), low enough to refuse zip bombs
_MAX_MEMBER = 2 << 30


def _hsigeo_version() -> str:
    from hsigeo import __version__

    return __version__


def _jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays, tuples and NaN into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def _payload(model: HsigeoModel) -> tuple[bytes, dict[str, Any]]:
    from safetensors.torch import save

    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    tensors["text_embeddings"] = torch.from_numpy(np.ascontiguousarray(model.text_embeddings, dtype=np.float32))
    weights = save(tensors, metadata={"format": FORMAT})
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
        "text_dim": int(model.text_embeddings.shape[1]),
        "classes": [{"value": c.value, "name": c.name, "colour": list(c.colour), "prompts": list(c.prompts)}
                    for c in model.classes],
        "text_model": model.text_model,
        "temperature": model.temperature,
        "n_parameters": model.n_parameters(),
        "training": model.report,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    return weights, _jsonable(meta)


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
        return meta_p.read_bytes(), w_p.read_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if _META not in names or _WEIGHTS not in names:
                raise _fail(path, f"not an hsigeo model file (the archive lacks {_META} and/or {_WEIGHTS})")
            for name in (_META, _WEIGHTS):
                if zf.getinfo(name).file_size > _MAX_MEMBER:
                    raise _fail(path, f"{name} is implausibly large")
            return zf.read(_META), zf.read(_WEIGHTS)
    except zipfile.BadZipFile as exc:
        raise _fail(path, f"not an hsigeo model file (not a zip archive: {exc})") from exc
    except (OSError, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise _fail(path, f"could not be read ({exc})") from exc


def _parse_meta(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"{_META} is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, f"{_META} does not describe an hsigeo model (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(path, f"unknown model format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} was written by a newer hsigeo "
            f"({meta.get('hsigeo_version')}); this hsigeo reads up to version {FORMAT_VERSION}. Upgrade hsigeo."
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
    return _parse_meta(path, raw)


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
    try:
        config = BackboneConfig.from_dict(meta["backbone"])
        text_emb = tensors.pop("text_embeddings").float().numpy()
        net = HsigeoNet(config, int(meta["text_dim"]))
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
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _fail(path, f"weights and metadata do not fit together ({type(exc).__name__}: {exc})") from exc
    model.source = str(path)  # type: ignore[attr-defined]
    return model


# --------------------------------------------------------------------------- #
# The most recent model
# --------------------------------------------------------------------------- #
def state_dir() -> Path:
    """Where hsigeo keeps small state: ``$HSIGEO_HOME``, else ``~/.cache/hsigeo``."""
    env = os.environ.get("HSIGEO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hsigeo"


def remember_model(path: str | os.PathLike) -> None:
    """Record ``path`` as the most recently trained model (used by ``hsigeo classify`` without ``--model``)."""
    d = state_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with atomic_output(d / "last_model", overwrite=True) as tmp:
            tmp.write_text(str(Path(path).resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # a read-only home must not make training fail; classify then asks for --model


def last_model_path() -> Path | None:
    """The most recently trained model file, or None when none is recorded or it is gone."""
    f = state_dir() / "last_model"
    try:
        text = f.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    p = Path(text) if text else None
    return p if p is not None and p.exists() else None


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
