#!/usr/bin/env python
"""Accuracy benchmark: hsigeo vs SVM, random forest and a HybridSN-style CNN.

A thin command line over :mod:`hsigeo.evaluation.runner` (``hsigeo benchmark`` is the
same with click; both parse options with :func:`hsigeo_cli.benchmark.config_from_options`);
this script also writes the README block (``README_block.md``, ``scripts/readme_block.py``).  Defaults: Salinas-A and the synthetic scene (Indian Pines,
Pavia University and Salinas too when their cubes are in the data folder),
stratified 1 %, 5 %, 10 % and a block split, seeds 0-2, all six methods;
results in ``benchmarks/results/``.

Examples
--------
Everything, default settings::

    python benchmarks/accuracy.py

Indian Pines and Pavia University at 10 % and 5 % per class (cubes needed)::

    python benchmarks/accuracy.py --dataset indian-pines --dataset pavia-university \\
        --data-dir /path/to/gic --fractions 0.10,0.05 --no-block --seeds 3

The README's comparison and its language ablation in one run (two fits at a time)::

    python benchmarks/accuracy.py --dataset salinas-a --dataset indian-pines --dataset synthetic \\
        --seeds 3 --ablation --jobs 2

Smoke test (synthetic scene, one seed, short training)::

    python benchmarks/accuracy.py --quick
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests and docs can inspect it)."""
    from hsigeo.evaluation.benchmark_config import DEFAULT_DATASETS, DEFAULT_METHODS, PROTOCOL_KINDS
    from hsigeo.evaluation.methods import METHODS

    p = argparse.ArgumentParser(
        prog="accuracy.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Indian Pines / Pavia University protocol (10%% and 5%% stratified per class):\n  "
        "python benchmarks/accuracy.py --dataset indian-pines --dataset pavia-university "
        "--data-dir DIR --fractions 0.10,0.05 --no-block --seeds 3",
    )
    p.add_argument("--dataset", action="append", metavar="NAME",
                   help=f"dataset to run (repeatable; default: {', '.join(DEFAULT_DATASETS)})")
    p.add_argument("--data-dir", help="folder with the GIC .mat files (default: $HSIGEO_DATA_DIR or ../shared/datasets)")
    p.add_argument("--seeds", help="number of seeds (3 -> 0,1,2) or a comma list (0,5,7); default 3")
    p.add_argument("--fractions", help="stratified training fractions, comma list (default 0.01,0.05,0.1)")
    p.add_argument("--no-block", dest="block", action="store_false", default=None, help="skip the block split")
    p.add_argument("--methods", help=f"comma list from {', '.join(METHODS)} (default: {','.join(DEFAULT_METHODS)})")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--quick", action="store_true", help="smoke test: synthetic scene, 1 seed, 5%% + block, short training")
    p.add_argument("--hsigeo-epochs", type=int, help="training epochs of the hsigeo variants (default: the trainer's, 60)")
    p.add_argument("--hsigeo-init", choices=["auto", "scratch", "base"],
                   help="--init of the hsigeo variants but hsigeo-base/-scratch (default: the trainer's, auto)")
    p.add_argument("--hybridsn-steps", type=int, help="optimiser steps of the HybridSN baseline (default 400)")
    p.add_argument("--no-maps", dest="maps", action="store_false", default=None, help="write no class-map figures")
    p.add_argument("--threads", type=int, help="CPU threads per method (torch, BLAS); 0 = library default; default 1")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failing method instead of recording it")
    p.add_argument("--jobs", type=int, help="fits run at the same time, each in its own worker process (default 1)")
    p.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=None,
                   help="also run the language ablation (descriptive prompts, names, random anchors, no text; "
                        "1%% and 5%% on Indian Pines and Salinas-A, seeds 0-4) in its own table (default: no)")
    p.add_argument("--protocol", dest="protocols", action="append", choices=PROTOCOL_KINDS,
                   help="protocol kind to run, repeatable (default: labels); zero-shot adds the prompt-only "
                        "protocol on the same datasets to the same report (benchmarks/zero_shot.py runs it alone)")
    return p


def _readme_block() -> ModuleType:
    """``scripts/readme_block.py`` of this checkout (a repository tool, not an installed module)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "readme_block.py"
    spec = importlib.util.spec_from_file_location("hsigeo_readme_block", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print where the report went and the README block."""
    args = build_parser().parse_args(argv)
    from hsigeo_cli.benchmark import config_from_options

    from hsigeo.errors import HsigeoError
    from hsigeo.evaluation.runner import run_and_report

    try:
        cfg = config_from_options(
            datasets=args.dataset, data_dir=args.data_dir, seeds=args.seeds, fractions=args.fractions,
            block=args.block, methods=args.methods, out=args.out, quick=args.quick,
            hsigeo_epochs=args.hsigeo_epochs, hsigeo_init=args.hsigeo_init, hybridsn_steps=args.hybridsn_steps, maps=args.maps, threads=args.threads,
            fail_fast=args.fail_fast, jobs=args.jobs, ablation=args.ablation, protocols=args.protocols,
        )
        t0 = time.perf_counter()
        results, paths = run_and_report(cfg)
        # the README block is the label protocols' comparison; a zero-shot-only run has none
        readme = _readme_block().write_readme_block(results, cfg.out_dir) if cfg.label_protocols else None
    except (HsigeoError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(readme.read_text(encoding="utf-8") if readme else paths["markdown"].read_text(encoding="utf-8"))
    print(f"Report: {paths['markdown']}\nJSON: {paths['json']}\nFigures: {len(paths['maps'])} in "
          f"{paths['markdown'].parent / 'maps'}\nTotal: {(time.perf_counter() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
