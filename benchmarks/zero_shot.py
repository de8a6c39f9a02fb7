"""Zero-shot (prompt-only) benchmark: the base model against label-free baselines.

Scenes: Indian Pines, Salinas-A, Berlin (urban gradient, EnMAP) and the three library mosaics with
coarse, merged class sets (``hsigeo/data/merges/*.yaml``, prompts in ``hsigeo/data/prompts/*_coarse.yaml``).
Methods and protocol: see :mod:`hsigeo.evaluation.zero_shot`.  No label is used by any method;
labels only score the maps.  A thin command line over the one benchmark runner
(:func:`hsigeo.evaluation.runner.run_and_report` with the zero-shot protocol only); the same run is
``hsigeo benchmark --protocol zero-shot``, and ``--protocol labels --protocol zero-shot`` puts it
beside the label protocols in one report.

Usage::

    python benchmarks/zero_shot.py [--data-dir /path/to/datasets] [--model base.hsigeo] [--out DIR]
                                   [--scene NAME ...] [--open-set]

Prints the Markdown report (OA per scene and method, per-class accuracies, the unknown outcome)
and writes ``results.json``, ``results.md`` and one class-map PNG per scene
(``maps/<scene>_zero-shot.png``) into ``--out``.  Needs the ``base`` extra (the baselines read
the spectral libraries).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Run the zero-shot protocol; print the report (2 and an ``Error:`` line for a bad option)."""
    from hsigeo.evaluation.merges import SCENES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="base model file (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "zero_shot")
    ap.add_argument("--scene", action="append", metavar="NAME",
                    help=f"dataset(s) to run (default: those with a merge table, {', '.join(SCENES)}; another "
                         "benchmark dataset keeps its own classes)")
    ap.add_argument("--open-set", action="store_true",
                    help="also remove each class's prompt in turn and measure the unknown outcome on its pixels")
    args = ap.parse_args(argv)
    from hsigeo_cli.benchmark import config_from_options

    from hsigeo.errors import HsigeoError
    from hsigeo.evaluation.runner import run_and_report

    try:
        cfg = config_from_options(protocols=["zero-shot"], datasets=args.scene, data_dir=args.data_dir, out=args.out,
                                  zero_shot_model=args.model, open_set=args.open_set)
        _, paths = run_and_report(cfg)
    except HsigeoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(paths["markdown"].read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
