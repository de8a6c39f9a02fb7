"""The command line the offline scoring scripts share (``round9/cvfilter.py``, ``round10/cvmembers.py``).

Each scores every kept split (``fewlabels_members.py --ablate ... --keep KEEP``) with its network cache
(``--cache CACHE``) and appends one JSON line per split to ``--out``; splits already in ``--out`` are skipped,
so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


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
