"""The per-row check the few-label decision scripts share (``round*/decide*.py``).

A row (dataset, share) holds one OA per seed for the default and for a candidate; a rule allows the
candidate to be lower than the default by at most ``max(0.3, the default's std over the seeds)``, and on
Indian Pines by at most ``ip_limit`` (each round's RULE.md says which).
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator

import numpy as np


def records(paths: list[str]) -> Iterator[tuple[tuple[str, float], dict]]:
    """``((dataset, share), record)`` of every JSON line of ``paths`` (gzip-compressed when named ``*.gz``), in file order."""
    for path in paths:
        for line in (gzip.open if str(path).endswith(".gz") else open)(path, "rt", encoding="utf-8"):
            rec = json.loads(line)
            yield (rec["dataset"], rec["fraction"]), rec


def mean_std(values: np.ndarray) -> str:
    """``mean ± std`` over the seeds (std 0 for a single seed)."""
    return f"{values.mean():.2f} ± {values.std(ddof=1) if values.size > 1 else 0:.2f}"


def compare(key: tuple[str, float], default: list[float], candidate: list[float], *, ip_limit: float,
            tolerance: float = 1e-9) -> tuple[float, float, tuple | None]:
    """``(difference of the means, the default's std, the failure or None)`` of one row.

    ``tolerance``: float slack below the allowed loss (round 7's rule had none).
    """
    d, c = np.asarray(default), np.asarray(candidate)
    sd = d.std(ddof=1) if d.size > 1 else 0.0
    diff = c.mean() - d.mean()
    limit = ip_limit if key[0] == "indian-pines" else max(0.3, sd)
    fail = (key, round(diff, 2), round(limit, 2)) if diff < -limit - tolerance else None
    return diff, sd, fail


def row_table(rows: dict, default: str, candidate: str, cells: Callable[[tuple, np.ndarray, np.ndarray, float], list[str]],
              *, ip_limit: float, tolerance: float = 1e-9) -> tuple[list[float], list[tuple]]:
    """Print a markdown line per row (sorted): dataset, share, then ``cells(key, default, candidate, difference)``.

    ``rows[key][default]`` and ``rows[key][candidate]`` hold one OA per seed; each row is checked by
    :func:`compare`.  Returns the differences and the failures, in row order.
    """
    diffs, fails = [], []
    for key in sorted(rows):
        d, c = np.array(rows[key][default]), np.array(rows[key][candidate])
        diff, _, fail = compare(key, d, c, ip_limit=ip_limit, tolerance=tolerance)
        diffs.append(diff)
        if fail:
            fails.append(fail)
        print(f"| {key[0]} | {key[1] * 100:g}% | " + " | ".join(cells(key, d, c, diff)) + " |")
    return diffs, fails


def rule_radius(rec: dict) -> int:
    """The ensemble's filter radius by the rules of rounds 3 and 8 (before any fold check) from a record's SVM
    cross-validated accuracy (``cv``) and class counts (``n_train``): 0 where the spectra separate the classes
    (``cv`` >= 0.9) and the labels are dense (median class >= 50 training pixels, each class >= 2), 1 where they
    only separate, else 2."""
    cv = rec["cv"]
    sep = cv is not None and cv >= 0.9
    n = np.array(rec["n_train"])
    n = n[n > 0]
    if sep and np.median(n) >= 50 and n.min() >= 2:
        return 0
    return 1 if sep else 2

