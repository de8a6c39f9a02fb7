#!/usr/bin/env python
"""Research driver: hsigeo (and optionally the RBF SVM) on one scene, one config, given splits.

The splits are the benchmark's (:class:`hsigeo.evaluation.benchmark_config.Protocol`, i.e.
:func:`hsigeo.sampling.splits.stratified_split` / :func:`hsigeo.sampling.splits.block_split`), and the scenes
are loaded as the benchmark loads them (:func:`hsigeo.evaluation.runner.load_scene`: the synthetic scene
with the benchmark's parameters), so numbers compare with ``hsigeo benchmark`` runs.
Prints one Markdown row per run (config, fraction, seed, OA, AA, kappa, train wall-clock seconds and
train CPU seconds of this process: on a shared machine the CPU time is the steadier cost measure).

Example::

    OMP_NUM_THREADS=1 python benchmarks/ip_research.py --dataset indian-pines --fractions 0.1 --seeds 0
    python benchmarks/ip_research.py --dataset synthetic --fractions 0.01 --svm --option epochs=40
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="indian-pines", help="indian-pines, salinas-a or synthetic")
    p.add_argument("--fractions", default="0.1", help="comma-separated training fractions (stratified per class)")
    p.add_argument("--block", action="store_true", help="use the benchmark's block split (10 %% in training blocks)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--data-dir", default=None, help="folder with the scene files (default: HSIGEO_DATA_DIR, ...)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="training option override (JSON value), repeatable")
    p.add_argument("--name", default=None, help="config label in the table (default: the options)")
    p.add_argument("--svm", action="store_true", help="also run the RBF SVM baseline on the same splits")
    p.add_argument("--no-hsigeo", action="store_true", help="skip hsigeo (baselines only)")
    p.add_argument("--json", default=None, help="append one JSON line per run to this file")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.runner import load_scene, score
    from hsigeo.inference.core import classify_array
    from hsigeo.model.training import train
    from hsigeo.text.encoder import TextEncoder, class_embeddings

    torch.set_num_threads(args.threads)
    options = {}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    label = args.name or (",".join(f"{k}={v}" for k, v in options.items()) or "default")
    fractions = [float(f) for f in args.fractions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    protocols = ([Protocol("block", fractions[0])] if args.block else [Protocol("stratified", f) for f in fractions])

    scene = load_scene(args.dataset, BenchmarkConfig(data_dir=args.data_dir))
    labels = scene.labels
    values = list(scene.classes)
    text = class_embeddings(scene.prompts, TextEncoder()) if not args.no_hsigeo else None

    print(f"# {scene.name}: {labels.shape}, {scene.cube.shape[0]} bands, {int((labels > 0).sum())} labelled, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    print("| config | split | seed | OA % | AA % | kappa | train s | train CPU s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    results = []
    for proto in protocols:
        for seed in seeds:
            train_mask, test_mask = proto.split(labels, seed)
            runs = []
            if not args.no_hsigeo:
                t0, c0 = time.perf_counter(), time.process_time()
                model, _report = train(scene.cube, labels, scene.prompts, train_mask=train_mask, text_embeddings=text,
                                       seed=seed, device="cpu", progress=False, **options)
                t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
                pred, _ = classify_array(np.asarray(scene.cube.values), model)
                runs.append((label, pred, t_train, c_train, model.n_parameters().get("trainable")))
            if args.svm:
                from hsigeo.evaluation.baselines.spectral import SVMBaseline

                t0, c0 = time.perf_counter(), time.process_time()
                svm = SVMBaseline().fit(scene.cube, labels, train_mask, seed=seed)
                t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
                runs.append(("svm", svm.predict(scene.cube), t_train, c_train, None))
            for name, pred, t_train, c_train, n_par in runs:
                s = score(pred, labels, test_mask, values)
                row = {"dataset": scene.name, "config": name, "options": options if name != "svm" else {},
                       "split": proto.name, "seed": seed, "oa": s["oa"], "aa": s["aa"], "kappa": s["kappa"],
                       "train_seconds": t_train, "train_cpu_seconds": c_train, "trainable": n_par, "per_class": s["per_class"]}
                results.append(row)
                print(f"| {name} | {proto.name} | {seed} | {100 * s['oa']:.2f} | {100 * s['aa']:.2f} | "
                      f"{s['kappa']:.4f} | {t_train:.1f} | {c_train:.1f} |", flush=True)
                if args.json:
                    with Path(args.json).open("a") as f:
                        f.write(json.dumps(row) + "\n")
    for name in dict.fromkeys(r["config"] for r in results):
        for proto in protocols:
            oa = np.array([r["oa"] for r in results if r["config"] == name and r["split"] == proto.name])
            if oa.size > 1:
                print(f"mean {name} {proto.name}: OA {100 * oa.mean():.2f} ± {100 * oa.std(ddof=1):.2f} (n={oa.size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
