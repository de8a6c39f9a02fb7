#!/usr/bin/env python
"""Accuracy of the hsigeo model on Salinas-A with the library's default training settings.

Protocol: for each training fraction and seed, a stratified split draws that share of each
class's labelled pixels (at least one per class; :func:`hsigeo.sampling.splits.stratified_split`),
:func:`hsigeo.model.training.train` fits a model with its defaults (shipped prompts, frozen
all-MiniLM-L6-v2 text encoder, CPU unless told otherwise), and the remaining labelled pixels
are scored (OA, AA, kappa).  Prints a Markdown table (fraction x seed, then mean +- std per
fraction) and optionally writes JSON.

Example::

    python benchmarks/salinas_a_model.py                       # 5 % and 1 %, seeds 0-2
    python benchmarks/salinas_a_model.py --fractions 0.05 --seeds 0 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fractions", default="0.05,0.01", help="comma-separated training fractions (default 0.05,0.01)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--data-dir", default=None, help="folder with SalinasA_corrected.mat and SalinasA_gt.mat")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training option (JSON value), e.g. --option epochs=100; repeatable")
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from hsigeo.datasets.scenes import load_dataset
    from hsigeo.evaluation.metrics import accuracy_report
    from hsigeo.inference.core import classify_array
    from hsigeo.model.training import DEFAULTS, train
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.encoder import TextEncoder, class_embeddings
    from hsigeo.text.prompts import load_prompts

    if args.threads:
        torch.set_num_threads(args.threads)
    options = {}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    fractions = [float(f) for f in args.fractions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    ds = load_dataset("salinas-a", data_dir=args.data_dir)
    prompts = load_prompts(ds.prompts_path)
    encoder = TextEncoder()
    text = class_embeddings(prompts, encoder)  # once: the same prompts for every run
    labels = ds.labels.values
    cube = ds.cube.values

    rows = []
    print(f"# hsigeo on Salinas-A ({labels.shape[0]}x{labels.shape[1]} px, {cube.shape[0]} bands, "
          f"{int((labels > 0).sum())} labelled), torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {args.device}, options {options or 'defaults'}\n", flush=True)
    print("| fraction | seed | train px | test px | OA % | AA % | kappa | train s | predict s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for fraction in fractions:
        for seed in seeds:
            train_mask, test_mask = stratified_split(labels, fraction=fraction, seed=seed)
            t0 = time.perf_counter()
            model, report = train(ds.cube, ds.labels, prompts, train_mask=train_mask, text_embeddings=text,
                                  seed=seed, device=args.device, progress=False, **options)
            t_train = time.perf_counter() - t0
            t0 = time.perf_counter()
            predicted, _ = classify_array(cube, model, device=args.device)
            t_pred = time.perf_counter() - t0
            acc = accuracy_report(predicted, labels, classes=prompts, mask=test_mask)
            row = {"fraction": fraction, "seed": seed, "n_train": int(train_mask.sum()), "n_test": int(test_mask.sum()),
                   "oa": acc.overall_accuracy, "aa": acc.average_accuracy, "kappa": acc.kappa,
                   "train_seconds": t_train, "predict_seconds": t_pred, "epochs_run": len(report.history["epoch"])}
            rows.append(row)
            print(f"| {fraction:g} | {seed} | {row['n_train']} | {row['n_test']} | {100 * row['oa']:.2f} | "
                  f"{100 * row['aa']:.2f} | {row['kappa']:.4f} | {t_train:.1f} | {t_pred:.2f} |", flush=True)
    print("\n| fraction | runs | OA % | AA % | kappa | train s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    summary = []
    for fraction in fractions:
        sel = [r for r in rows if r["fraction"] == fraction]

        def ms(key: str, scale: float = 1.0, digits: int = 2, sel: list = sel) -> str:
            v = np.array([r[key] for r in sel]) * scale
            return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"

        print(f"| {fraction:g} | {len(sel)} | {ms('oa', 100)} | {ms('aa', 100)} | {ms('kappa', 1, 4)} | "
              f"{ms('train_seconds', 1, 1)} |")
        summary.append({"fraction": fraction, "runs": len(sel),
                        **{f"{k}_mean": float(np.mean([r[k] for r in sel])) for k in ("oa", "aa", "kappa", "train_seconds")},
                        **{f"{k}_std": float(np.std([r[k] for r in sel])) for k in ("oa", "aa", "kappa", "train_seconds")}})
    n_params = model.n_parameters()
    n_params["text_model"] = encoder.n_parameters
    n_params["total"] = n_params["trainable"] + encoder.n_parameters
    print(f"\nParameters: {n_params['trainable']:,} trainable (backbone {n_params['backbone']:,}, probe "
          f"{n_params['probe']:,}) of {n_params['total']:,} with the frozen text model "
          f"({100 * n_params['trainable'] / n_params['total']:.2f} %).")
    if args.json:
        out = {"dataset": "salinas-a", "defaults": DEFAULTS, "options": options, "runs": rows, "summary": summary,
               "parameters": n_params, "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "platform": platform.platform(), "command": " ".join(sys.argv)}
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
