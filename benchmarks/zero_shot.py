"""Zero-shot (prompt-only) benchmark: the base model against label-free baselines.

Scenes: Indian Pines, Salinas-A and Berlin (urban gradient, EnMAP) with coarse, merged class sets
(``hsigeo/data/merges/*.yaml``, prompts in ``hsigeo/data/prompts/*_coarse.yaml``).
Methods and protocol: see :mod:`hsigeo.evaluation.zero_shot`.  No label is used by any method;
labels only score the maps.  The same protocol runs as ``hsigeo benchmark --protocol zero-shot``.

Usage::

    python benchmarks/zero_shot.py [--data-dir /path/to/datasets] [--model base.hsigeo] [--out DIR]
                                   [--scene NAME ...] [--open-set]

Prints Markdown tables (OA per scene and method, per-class accuracies) and writes
``results.json``, ``results.md`` and one class-map PNG per scene into ``--out``.
Needs the ``base`` extra (the baselines read the spectral libraries).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsigeo.evaluation.zero_shot import SCENES, run_zero_shot  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="base model file (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "zero_shot")
    ap.add_argument("--scene", action="append", choices=sorted(SCENES), help="scene(s) to run (default: all)")
    ap.add_argument("--open-set", action="store_true",
                    help="also remove each class's prompt in turn and measure the unknown outcome on its pixels")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    _, md = run_zero_shot(args.scene, data_dir=args.data_dir, model=args.model, out=args.out, open_set=args.open_set)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
