"""What the offline scoring scripts share (``round9/cvfilter.py``, ``round10/cvmembers.py``).

Each scores every kept split (``fewlabels_members.py --ablate ... --keep KEEP``) with its network cache
(``--cache CACHE``) and appends one JSON line per split to ``--out``; splits already in ``--out`` are skipped,
so an interrupted run resumes (:func:`run`).  Both refit the cheap members on the halves of the shipped fold
check (:func:`fold_member_maps`).
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np


def run(score: Callable[..., dict], description: str, show: Callable[[dict], str],
        flags: dict[str, str] | None = None) -> int:
    """Parse ``--cache --keep --out [--data-dir] [--jobs]`` and the boolean ``flags`` (name -> help), then call
    ``score(keep_path, cache_dir, data_dir, *flag_values)`` for every split not yet in ``--out``, ``--jobs`` at a
    time, printing ``key`` and ``show(record)`` as each line is written."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--keep", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    for name, text in (flags or {}).items():
        ap.add_argument(f"--{name}", action="store_true", help=text)
    a = ap.parse_args()
    done = set()
    if Path(a.out).exists():
        done = {json.loads(x)["key"] for x in open(a.out, encoding="utf-8")}
    todo = [str(p) for p in sorted(Path(a.keep).glob("*.npz")) if p.stem not in done]
    extra = [[getattr(a, name.replace("-", "_"))] * len(todo) for name in (flags or {})]
    with ProcessPoolExecutor(a.jobs) as ex, open(a.out, "a", encoding="utf-8") as fh:
        for path, rec in zip(todo, ex.map(score, todo, [a.cache] * len(todo), [a.data_dir] * len(todo), *extra)):
            rec["key"] = Path(path).stem
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(rec["key"], show(rec), flush=True)
    return 0


def load(keep_path: str, cache_dir: str, data_dir: str | None) -> tuple[dict[str, Any], Any]:
    """One split (``fewlabels_members._load_split``: labels, masks, standardised bands, ...) and its kept maps."""
    from fewlabels_members import _init, _load_split

    _init()
    return _load_split(Path(cache_dir) / Path(keep_path).name, data_dir), np.load(keep_path)


def fold_member_maps(d: dict[str, Any]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per half of the shipped check (:func:`hsigeo.model.fold_check.fold_assignment`): ``(scored, p_svm, p_cnn)``,
    the training pixels scored (the other half, raster order as ``d["y"]``) and the whole-scene maps of the SVM
    (the ``C`` and ``gamma`` it chose on all pixels) and of the CNN member (label smoothing 0.1) fitted on the rest."""
    from fewlabels_members import _svm_map

    from hsigeo.model.fold_check import fold_assignment
    from hsigeo.model.patch_cnn import PatchCNN

    guide, pool, y, seed, valid = (d[n] for n in ("guide", "pool", "y", "seed", "valid"))
    n_cls = len(d["values"])
    _, info = _svm_map(guide, pool, y, n_cls, seed)  # C and gamma as the ensemble's SVM chooses them
    rows, cols = np.nonzero(pool)  # raster order, as d["y"]
    fold = fold_assignment(y, seed)
    for f in (0, 1):
        tr = fold != f
        mask = np.zeros_like(pool)
        mask[rows[tr], cols[tr]] = True
        p_s, _ = _svm_map(guide, mask, y[tr], n_cls, seed, fixed=info)
        cnn = PatchCNN(label_smoothing=0.1).fit_scene(guide, rows[tr], cols[tr], y[tr], n_cls, seed=seed, valid=valid)
        yield fold == f, p_s, cnn.proba_scene(guide).numpy()

