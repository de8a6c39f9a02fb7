"""The per-row check the few-label decision scripts share (``round*/decide*.py``).

A row (dataset, share) holds one OA per seed for the default and for a candidate; a rule allows the
candidate to be lower than the default by at most ``max(0.3, the default's std over the seeds)``, and on
Indian Pines by at most ``ip_limit`` (each round's RULE.md says which).
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

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
