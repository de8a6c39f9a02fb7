"""Evidence for the few-label default: one network fit per split, many ways to use it.

For every dataset, stratified fraction, seed and network configuration, the network is trained
once (:func:`hsigeo.model.training.train`, on the benchmark's own train/test masks) and an RBF
SVM (:func:`hsigeo.model.svm.fit_svm`) on the same pixels; the script then scores, on the test
pixels, the network with and without the edge-aware filter, the SVM with and without it, and
averages of the two probability maps at several SVM weights (arithmetic, and geometric), each
followed by the filter, and the model ``hsigeo train`` writes by default (``model:default``, the
ensemble; ``--config name:method=net`` trains the network alone).  A configuration's options change
the network (``kernel=3``: 9 x 9 patches; ``smooth_radius=0``: no filter; ``init=scratch``: no
base-model channels).  One JSON line per fit goes to ``--out``; ``--summary`` prints mean +- std
tables from such a file.

    python benchmarks/fewlabels.py --dataset salinas-a --dataset synthetic --fractions 0.01,0.05 \\
        --seeds 3 --config default --config k3:kernel=3 --jobs 2 --out results.jsonl
    python benchmarks/fewlabels.py --summary results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np

WEIGHTS = (0.25, 0.5, 0.75)
_SCENES: dict[str, Any] = {}


def _parse_config(text: str) -> tuple[str, dict[str, Any]]:
    name, _, rest = text.partition(":")
    opts: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        try:
            opts[k] = json.loads(v)
        except json.JSONDecodeError:
            opts[k] = v
    return name, opts


def _init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from hsigeo.progress import set_mode

    set_mode("none")


def _oa(probs: np.ndarray, labels: np.ndarray, test: np.ndarray, values: np.ndarray) -> float:
    pred = values[np.nan_to_num(probs, nan=-1.0).argmax(0)]
    m = test & (labels > 0)
    return float((pred[m] == labels[m]).mean() * 100)


def _filter(probs: np.ndarray, guide: np.ndarray, radius: int = 2, tau: float = 0.2) -> np.ndarray:
    import torch

    from hsigeo.model.spatial import edge_aware_smooth

    pad = ((0, 0), (radius, radius), (radius, radius))
    with torch.inference_mode():
        return edge_aware_smooth(torch.from_numpy(np.pad(probs, pad, mode="reflect")),
                                 torch.from_numpy(np.pad(guide, pad, mode="reflect")), radius, tau,
                                 groups=20).numpy()


def _task(dataset: str, fraction: float, seed: int, config: str, options: dict[str, Any],
          data_dir: str | None) -> dict[str, Any]:
    import copy

    import torch

    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.runner import load_scene
    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.svm import fit_svm
    from hsigeo.model.training import train

    if dataset not in _SCENES:
        _SCENES[dataset] = load_scene(dataset, BenchmarkConfig(data_dir=data_dir))
    scene = _SCENES[dataset]
    labels = scene.labels
    tr, te = Protocol("stratified", fraction).split(labels, seed)
    from hsigeo.model.combined import CombinedModel

    t0 = time.perf_counter()
    # what `hsigeo train` writes by default (the ensemble) unless the configuration names a method;
    # its network member is the network `--method net` trains (same seed, same data)
    options = {"method": "ensemble", **options}
    model, report = train(scene.cube, labels, scene.prompts, train_mask=tr, seed=seed, progress=False, **options)
    t_net = time.perf_counter() - t0
    values = model.class_values
    cube = np.asarray(scene.cube.values)
    out: dict[str, Any] = {"dataset": dataset, "fraction": fraction, "seed": seed, "config": config,
                           "options": options, "net_seconds": t_net, "init_used": report.config.get("init_used"),
                           "n_val": report.n_val, "n_train": report.n_train, "oa": {}}
    if isinstance(model, CombinedModel):
        out["oa"]["model:default"] = _oa(predict_proba_array(cube, model, device="cpu"), labels, te, values)
        net = copy.copy(model.net)
        net.spatial = model.spatial
        model = net
    out["oa"]["net+f"] = _oa(predict_proba_array(cube, model, device="cpu"), labels, te, values)
    bare = copy.copy(model)
    bare.spatial = None
    p_net = predict_proba_array(cube, bare, device="cpu")
    out["oa"]["net"] = _oa(p_net, labels, te, values)
    guide = model.normalize(cube)[: model.n_bands]  # (model: the network, its filter attached)
    t0 = time.perf_counter()
    pool = tr & (labels > 0)
    cls_of = {int(v): i for i, v in enumerate(values)}
    y = np.array([cls_of[int(v)] for v in labels[pool]])
    svm = fit_svm(guide[:, pool].T, y, len(values), seed=seed)
    with torch.inference_mode():
        p_svm = svm.proba(torch.from_numpy(guide.reshape(guide.shape[0], -1).T.copy())).numpy().T
    p_svm = p_svm.reshape(len(values), *labels.shape)
    out["svm_seconds"] = time.perf_counter() - t0
    out["svm_info"] = svm.info
    out["oa"]["svm"] = _oa(p_svm, labels, te, values)
    out["oa"]["svm+f"] = _oa(_filter(p_svm, guide), labels, te, values)
    out["oa"]["net+f(refilter)"] = _oa(_filter(p_net, guide), labels, te, values)
    for w in WEIGHTS:
        out["oa"][f"avg{w:g}+f"] = _oa(_filter((1 - w) * p_net + w * p_svm, guide), labels, te, values)
        g = np.exp((1 - w) * np.log(np.clip(p_net, 1e-8, 1)) + w * np.log(np.clip(p_svm, 1e-8, 1)))
        out["oa"][f"geo{w:g}+f"] = _oa(_filter(g / g.sum(0, keepdims=True), guide), labels, te, values)
    out["oa"]["avg0.5"] = _oa(0.5 * p_net + 0.5 * p_svm, labels, te, values)
    # the models hsigeo train writes, run by the engines' whole-scene reference (exact, scene edges included)
    common = {"classes": list(model.classes), "mean": model.mean[: model.n_bands], "std": model.std[: model.n_bands],
              "wavelengths": model.wavelengths, "spatial": model.spatial}
    for name, kw in (("model:svm", {}), ("model:ensemble", {"net": bare, "svm_weight": 0.5})):
        out["oa"][name] = _oa(predict_proba_array(cube, CombinedModel(svm, **common, **kw), device="cpu"),
                              labels, te, values)
    # the benchmark's baselines on the same masks (standardised by the training pixels, no filter)
    from hsigeo.evaluation.methods import METHODS

    for name in ("svm", "rf"):
        t0 = time.perf_counter()
        base = METHODS[name](BenchmarkConfig()).fit(scene.cube, labels, tr, seed=seed)
        pred = base.predict(scene.cube)
        m = te & (labels > 0)
        out["oa"][f"baseline:{name}"] = float((pred[m] == labels[m]).mean() * 100)
        out[f"{name}_seconds"] = time.perf_counter() - t0
    return out


def _add_baselines(src: str, dst: str, data_dir: str | None) -> None:
    """Score the benchmark's SVM and random forest on the splits of ``src``'s records (for records made
    before the script scored them itself); writes the completed records to ``dst``."""
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.methods import METHODS
    from hsigeo.evaluation.runner import load_scene

    with open(dst, "w", encoding="utf-8") as out:
        for line in open(src, encoding="utf-8"):
            r = json.loads(line)
            if "error" not in r and "baseline:svm" not in r["oa"]:
                if r["dataset"] not in _SCENES:
                    _SCENES[r["dataset"]] = load_scene(r["dataset"], BenchmarkConfig(data_dir=data_dir))
                scene = _SCENES[r["dataset"]]
                tr, te = Protocol("stratified", r["fraction"]).split(scene.labels, r["seed"])
                m = te & (scene.labels > 0)
                for name in ("svm", "rf"):
                    base = METHODS[name](BenchmarkConfig()).fit(scene.cube, scene.labels, tr, seed=r["seed"])
                    r["oa"][f"baseline:{name}"] = float((base.predict(scene.cube)[m] == scene.labels[m]).mean() * 100)
            out.write(json.dumps(r) + "\n")


def _pm(values: list[float]) -> str:
    """``mean ± std`` (sample std; 0 for one value), empty for none."""
    a = np.array(values)
    return f"{a.mean():.2f} ± {a.std(ddof=1) if a.size > 1 else 0:.2f}" if a.size else ""


def _summary(paths: list[str], columns: str | None = None) -> None:
    """Mean +- std per dataset, configuration and share; ``columns``: comma list, ``a|b`` = a, else b."""
    rows: dict[tuple[str, str, float], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    secs: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    wanted = [c.split("|") for c in columns.split(",")] if columns else None
    for path in paths:
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if "error" in r:
                continue
            key = (r["dataset"], r["config"], r["fraction"])
            oa = r["oa"]
            if wanted:
                oa = {c[0]: next(oa[k] for k in c if k in oa) for c in wanted if any(k in oa for k in c)}
            for k, v in oa.items():
                rows[key][k].append(v)
            secs[key].append(r["net_seconds"] + r["svm_seconds"])
    variants = [c[0] for c in wanted] if wanted else list(dict.fromkeys(k for d in rows.values() for k in d))
    print("| dataset | config | share | seeds | " + " | ".join(variants) + " | s/fit |")
    print("| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in variants) + " | ---: |")
    for key in sorted(rows):
        d = rows[key]
        cells = [_pm(d.get(v, [])) for v in variants]
        n = len(next(iter(d.values())))
        print(f"| {key[0]} | {key[1]} | {key[2] * 100:g}% | {n} | " + " | ".join(cells)
              + f" | {np.mean(secs[key]):.0f} |")


def _pivot(paths: list[str], variant: str, extra: str = "baseline:svm,baseline:rf") -> None:
    """One variant's mean +- std with the configurations as columns (and the baselines of the same splits)."""
    cells: dict[tuple[str, float], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    configs: list[str] = []
    for path in paths:
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            if "error" in r or variant not in r["oa"]:
                continue
            key = (r["dataset"], r["fraction"])
            configs += [r["config"]] if r["config"] not in configs else []
            cells[key][r["config"]].append(r["oa"][variant])
            if r["config"] == "default":  # the baselines do not depend on the configuration
                for b in filter(None, extra.split(",")):
                    cells[key][b].append(r["oa"][b])
    cols = configs + [b for b in extra.split(",") if b]
    print(f"{variant}, OA % (mean ± std over seeds; n = seeds of the default configuration)\n")
    print("| dataset | share | n | " + " | ".join(cols) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in cols) + " |")
    for key in sorted(cells):
        d = cells[key]
        row = [_pm(d.get(c, [])) for c in cols]
        print(f"| {key[0]} | {key[1] * 100:g}% | {len(d.get('default', []))} | " + " | ".join(row) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", default=[])
    ap.add_argument("--fractions", default="0.01,0.05")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--config", action="append", default=[], help="name[:key=value,...] of training options")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--task", action="append", default=[],
                    help="dataset:fraction:seed, in the order to run (instead of --dataset/--fractions/--seeds)")
    ap.add_argument("--out", default="fewlabels.jsonl")
    ap.add_argument("--summary", action="append", default=[], help="print tables from JSON-lines files and exit")
    ap.add_argument("--columns", default=None, help="with --summary: comma list of variants (a|b: a, else b)")
    ap.add_argument("--pivot", default=None, help="with --summary: this variant, one column per configuration")
    ap.add_argument("--add-baselines", nargs=2, metavar=("IN", "OUT"), default=None,
                    help="score the benchmark's svm and rf on the splits of IN's records, write them to OUT, exit")
    args = ap.parse_args(argv)
    if args.add_baselines:
        _init()
        _add_baselines(*args.add_baselines, args.data_dir)
        return 0
    if args.summary:
        if args.pivot:
            _pivot(args.summary, args.pivot)
        else:
            _summary(args.summary, args.columns)
        return 0
    configs = [_parse_config(c) for c in (args.config or ["default"])]
    if args.task:
        tasks = [(t.split(":")[0], float(t.split(":")[1]), int(t.split(":")[2]), name, opts, args.data_dir)
                 for t in args.task for name, opts in configs]
    else:
        tasks = [(d, float(f), s, name, opts, args.data_dir) for d in args.dataset
                 for f in args.fractions.split(",") for s in range(args.seeds) for name, opts in configs]
    import multiprocessing as mp

    done = 0
    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn"), initializer=_init) as ex, \
            open(args.out, "a", encoding="utf-8") as fh:
        futures = {ex.submit(_task, *t): t for t in tasks}
        for fut in as_completed(futures):
            t = futures[fut]
            try:
                rec = fut.result()
            except Exception as exc:  # record and go on: one failed fit must not lose the others
                rec = {"dataset": t[0], "fraction": t[1], "seed": t[2], "config": t[3], "error": repr(exc)}
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            done += 1
            print(f"[{done}/{len(tasks)}] {t[0]} {t[1]} seed {t[2]} {t[3]}: "
                  + (json.dumps({k: round(v, 2) for k, v in rec["oa"].items()}) if "oa" in rec else rec["error"]),
                  file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
