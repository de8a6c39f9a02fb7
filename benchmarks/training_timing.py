"""Shared set-up of the training-time A/B scripts (``benchmarks/results/fewlabels/round*/timing.py``).

One torch thread, quiet progress, the scenes loaded once, and one short fit first that is not timed
(the text model, the base model and torch's kernels load once per process), so every timed fit of a
run starts alike.
"""
from __future__ import annotations

import argparse
import os
import warnings
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: Scenes timed when none is named: small, medium and the slowest development scene.
DEFAULT_SCENES = ["salinas-a", "landscape-jasper-like", "indian-pines"]


def prepare(description: str, extra: Any = None) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Parse ``--data-dir`` / ``--dataset`` (and ``extra(parser)``'s options), set one thread, load and warm up.

    Returns
    -------
    (Namespace, dict)
        The arguments and ``{name: scene}`` in the order named.
    """
    import torch

    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.runner import load_scene
    from hsigeo.model.training import train
    from hsigeo.progress import set_mode

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dataset", action="append", default=None)
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    torch.set_num_threads(1)
    set_mode("none")
    warnings.simplefilter("ignore")
    names = args.dataset or DEFAULT_SCENES
    scenes = {name: load_scene(name, BenchmarkConfig(data_dir=args.data_dir)) for name in names}
    first = scenes[names[0]]
    train(first.cube, first.labels, first.prompts, train_mask=Protocol("stratified", 0.01).split(first.labels, 0)[0],
          method="ensemble", seed=0, progress=False, device="cpu", epochs=1)
    return args, scenes


def timed_fits(scene: Any, share: float, configs: dict[str, dict[str, Any]]) -> dict[str, tuple[float, Any]]:
    """Fit each of ``configs`` (label -> ``train`` options) in order on the scene's stratified ``share`` split
    (seed 0, CPU, quiet): ``{label: (seconds, model)}``."""
    import time

    from hsigeo.evaluation.benchmark_config import Protocol
    from hsigeo.model.training import train

    tr, _ = Protocol("stratified", share).split(scene.labels, 0)
    out = {}
    for label, kw in configs.items():
        t0 = time.perf_counter()
        model, _ = train(scene.cube, scene.labels, scene.prompts, train_mask=tr, seed=0, progress=False,
                         device="cpu", **kw)
        out[label] = (time.perf_counter() - t0, model)
    return out

