"""Ablations of the few-label default's members, one network fit per split reused many times.

``--cache DIR`` trains the network of ``hsigeo train --method net`` once per split (the
benchmark's own stratified masks) and stores its unfiltered whole-scene probability map
(``DIR/<dataset>_<fraction>_<seed>.npz``, float16).  ``--ablate DIR`` then scores, on each
split's test pixels and without any further network fit, spectral SVM members (per-pixel, and
spectral-spatial: the spectrum beside its local mean in a window), transductive self-training,
and their averages with the cached network map, each followed by the edge-aware filter.
Everything is OA % on the test pixels; JSON lines to ``--out``, tables with ``--summary``.

    python benchmarks/fewlabels_members.py --cache /tmp/flcache --task synthetic:0.01:0 ...
    python benchmarks/fewlabels_members.py --ablate /tmp/flcache --out members.jsonl
    python benchmarks/fewlabels_members.py --summary members.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

# the edge-aware filter on a whole-scene map, as the evidence script applies it (run from benchmarks/)
from fewlabels import _filter

_SCENES: dict[str, Any] = {}


def _init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from hsigeo.progress import set_mode

    set_mode("none")


def _scene(name: str, data_dir: str | None) -> Any:
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig
    from hsigeo.evaluation.runner import load_scene

    if name not in _SCENES:
        _SCENES[name] = load_scene(name, BenchmarkConfig(data_dir=data_dir))
    return _SCENES[name]


def _split(scene: Any, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from hsigeo.evaluation.benchmark_config import Protocol

    return Protocol("stratified", fraction).split(scene.labels, seed)


def cache(task: str, out_dir: Path, data_dir: str | None) -> None:
    """Train the network on one split and store its unfiltered probability map."""
    import copy

    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.training import train

    name, fraction, seed = task.split(":")
    path = out_dir / f"{name}_{float(fraction):g}_{int(seed)}.npz"
    if path.exists():
        return
    scene = _scene(name, data_dir)
    tr, _ = _split(scene, float(fraction), int(seed))
    t0 = time.perf_counter()
    model, _ = train(scene.cube, scene.labels, scene.prompts, train_mask=tr, seed=int(seed), progress=False,
                     method="net")
    seconds = time.perf_counter() - t0
    bare = copy.copy(model)
    bare.spatial = None
    p = predict_proba_array(np.asarray(scene.cube.values), bare, device="cpu")
    np.savez_compressed(path, p_net=p.astype(np.float16), values=model.class_values, seconds=seconds,
                        mean=model.mean[: model.n_bands], std=model.std[: model.n_bands])
    print(f"{path.name}: {seconds:.0f} s", file=sys.stderr, flush=True)


def local_mean(bands: Any, radius: int) -> Any:
    """Mean spectrum of each pixel's ``(2 radius + 1)^2`` window, over its valid pixels only.

    Parameters
    ----------
    bands
        ``(B, h + 2r, w + 2r)`` standardised bands of a tile and an ``r``-pixel ring around it;
        invalid pixels are all zero (as the models' ``normalize`` leaves them).
    radius
        Window radius ``r`` (0: the pixel itself).

    Returns
    -------
    Any
        ``(B, h, w)`` window means; a window without a valid pixel gives zeros.
    """
    import torch

    r = int(radius)
    if r == 0:
        return bands
    k = 2 * r + 1
    # invalid pixels are exact zeros: they must not pull the mean of a window at a nodata edge
    valid = (bands != 0).any(0, keepdim=True).to(bands.dtype)
    pool = torch.nn.functional.avg_pool2d
    total = pool((bands * valid)[None], k, stride=1)[0]
    count = pool(valid[None], k, stride=1)[0]
    return total / count.clamp_min(1.0 / (k * k))


def spectral_spatial(bands: Any, radius: int) -> Any:
    """Each pixel's spectrum followed by its window's mean spectrum: ``(2B, h, w)`` of ``(B, h + 2r, w + 2r)``.

    With an RBF kernel on the stacked vector, two pixels are alike only when both their own
    spectra and their neighbourhoods' are (the product of the two RBF kernels; Camps-Valls et
    al. 2006's "stacked" features).
    """
    import torch

    r = int(radius)
    h, w = bands.shape[-2] - 2 * r, bands.shape[-1] - 2 * r
    return torch.cat([bands[:, r : r + h, r : r + w], local_mean(bands, r)], dim=0)


def _features(guide: np.ndarray, radius: int | None) -> np.ndarray:
    """``(F, H, W)`` SVM input: the spectrum (``radius`` None) or spectrum + window mean."""
    import torch

    if radius is None:
        return guide
    pad = ((0, 0), (radius, radius), (radius, radius))
    return spectral_spatial(torch.from_numpy(np.pad(guide, pad, mode="reflect")), radius).numpy()


def _svm_map(feats: np.ndarray, mask: np.ndarray, y: np.ndarray, n_classes: int, seed: int,
             fixed: dict[str, float] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit the SVM on the pixels of ``mask`` (C, gamma by CV unless ``fixed``); its whole-scene map."""
    import torch

    from hsigeo.model.svm import fit_svm

    kw: dict[str, Any] = {}
    if fixed:
        kw = {"C_grid": (fixed["C"],), "gamma_factors": (fixed["gamma"] * feats.shape[0],)}
    svm = fit_svm(feats[:, mask].T, y, n_classes, seed=seed, **kw)
    with torch.inference_mode():
        p = svm.proba(torch.from_numpy(feats.reshape(feats.shape[0], -1).T.copy())).numpy().T
    return p.reshape(n_classes, *mask.shape), svm.info


def _confidence(p: np.ndarray, rule: str) -> np.ndarray:
    """Per-pixel confidence of a probability map: its maximum, or one minus its normalised entropy."""
    if rule == "max":
        return p.max(0)
    h = -(np.clip(p, 1e-8, 1) * np.log(np.clip(p, 1e-8, 1))).sum(0) / np.log(p.shape[0])
    return 1.0 - h


def _fuse_conf(*members: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Confidence fusion (``fusion="confidence"``) of any number of members: equal weights, each
    scaled per pixel by the member's highest probability (``power`` > 1 sharpens the preference
    for the surer member)."""
    w = [m.max(0) ** power for m in members]
    return sum(wi * m for wi, m in zip(w, members)) / np.maximum(sum(w), 1e-12)


def _pseudo(p: np.ndarray, pool: np.ndarray, valid: np.ndarray, n_train: np.ndarray,
            factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The most confident unlabelled pixels per class (by margin), up to ``factor`` x its training pixels."""
    srt = np.sort(p, axis=0)
    margin = srt[-1] - srt[-2]
    pred = p.argmax(0)
    free = valid & ~pool
    mask = np.zeros_like(pool)
    for c in range(p.shape[0]):
        cand = np.flatnonzero((free & (pred == c)).ravel())
        k = int(min(cand.size, round(factor * n_train[c])))
        if k:
            best = cand[np.argsort(-margin.ravel()[cand], kind="stable")[:k]]
            mask.ravel()[best] = True
    return mask, pred


def _refit_svm(feats: np.ndarray, p_map: np.ndarray, d: dict[str, Any], ok: np.ndarray, factor: float,
               info: dict[str, Any]) -> np.ndarray:
    """Self-training of the SVM on one split: its training pixels plus the most confident pixels of
    ``p_map`` within ``ok`` (:func:`_pseudo`), refitted with the ``C`` and ``gamma`` of ``info``;
    its whole-scene map."""
    pool = d["pool"]
    extra, pred = _pseudo(p_map, pool, ok, d["n_train"], factor)
    mask = pool | extra
    yy = np.where(pool[mask], -1, pred[mask])
    yy[pool[mask]] = d["y"]  # the training pixels' class indices, in raster order as pool[mask] selects them
    return _svm_map(feats, mask, yy, len(d["values"]), d["seed"], fixed=info)[0]


def _load_split(path: Path, data_dir: str | None) -> dict[str, Any]:
    """One cached split: the scene's labels, masks, the cached network map and the standardised bands."""
    name, fraction, seed = path.stem.rsplit("_", 2)
    scene = _scene(name, data_dir)
    tr, te = _split(scene, float(fraction), int(seed))
    z = np.load(path)
    cube = np.asarray(scene.cube.values, dtype=np.float32)
    std = np.where(z["std"] > 0, z["std"], 1.0).astype(np.float32)
    guide = (cube - z["mean"][:, None, None]) / std[:, None, None]
    valid = np.isfinite(guide).all(0)
    guide[:, ~valid] = 0.0
    labels, values = scene.labels, z["values"]
    pool = tr & (labels > 0)
    cls_of = {int(v): i for i, v in enumerate(values)}
    y = np.array([cls_of[int(v)] for v in labels[pool]])
    return {"name": name, "fraction": float(fraction), "seed": int(seed), "scene": scene, "labels": labels,
            "train": tr, "m_test": te & (labels > 0), "p_net": z["p_net"].astype(np.float32), "values": values,
            "guide": np.nan_to_num(guide).astype(np.float32), "valid": valid, "pool": pool,
            "y": y, "n_train": np.bincount(y, minlength=len(values)), "seconds": float(z["seconds"])}


def ablate(path: Path, data_dir: str | None, radii: list[int], factors: list[float],
           sources: list[str]) -> dict[str, Any]:
    """Every member variant on one cached split; OA % of its test pixels."""
    d = _load_split(path, data_dir)
    name, fraction_f, seed_i, scene, labels = d["name"], d["fraction"], d["seed"], d["scene"], d["labels"]
    tr, m_test, p_net, values, guide, valid = d["train"], d["m_test"], d["p_net"], d["values"], d["guide"], d["valid"]
    pool, y = d["pool"], d["y"]

    def oa(p: np.ndarray) -> float:
        return float((values[np.nan_to_num(p, nan=-1.0).argmax(0)][m_test] == labels[m_test]).mean() * 100)

    out: dict[str, Any] = {"dataset": name, "fraction": fraction_f, "seed": seed_i, "net_seconds": d["seconds"],
                           "oa": {}, "seconds": {}, "svm": {}}
    out["oa"]["net"] = oa(p_net)
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig
    from hsigeo.evaluation.methods import METHODS

    for base in ("svm", "rf"):  # the benchmark's baselines on the same masks
        pred = METHODS[base](BenchmarkConfig()).fit(scene.cube, labels, tr, seed=seed_i).predict(scene.cube)
        out["oa"][f"baseline:{base}"] = float((pred[m_test] == labels[m_test]).mean() * 100)
    out["oa"]["net+f"] = oa(_filter(p_net, guide))
    for r in [None, *radii]:
        key = "svm" if r is None else f"ss{2 * r + 1}"
        t0 = time.perf_counter()
        feats = _features(guide, r)
        p, info = _svm_map(feats, pool, y, len(values), seed_i)
        out["seconds"][key] = time.perf_counter() - t0
        out["svm"][key] = {k: info.get(k) for k in ("C", "gamma", "cv_accuracy")}
        pf = _filter(p, guide)
        out["oa"][key] = oa(p)
        out["oa"][f"{key}+f"] = oa(pf)
        for w in (0.5, 0.6, 0.75):
            out["oa"][f"net+{key}@{w:g}+f"] = oa(_filter((1 - w) * p_net + w * p, guide))
        # per-pixel weights: each member counts by its own confidence there (max probability, or 1 - entropy)
        for rule in ("max", "ent"):
            wn, ws = (_confidence(p_net, rule), _confidence(p, rule))
            mix = (wn * p_net + ws * p) / np.maximum(wn + ws, 1e-6)
            out["oa"][f"net+{key}@{rule}+f"] = oa(_filter(mix, guide))
        # transductive self-training: confident pixels of a filtered map become labels, the SVM is refitted
        ens = _filter(0.5 * p_net + 0.5 * p, guide)
        ensmax = _filter(_fuse_conf(p_net, p), guide)
        for src in sources:
            base = {"self": pf, "ens": ens, "agree": ens, "ensmax": ensmax}[src]
            for fac in factors:
                t0 = time.perf_counter()
                ok = valid
                if src == "agree":  # only where both members and the ensemble name the same class
                    ok = valid & (p_net.argmax(0) == p.argmax(0)) & (p.argmax(0) == ens.argmax(0))
                p2 = _refit_svm(feats, base, d, ok, fac, info)
                k2 = f"{key}-st{src}{fac:g}"
                out["seconds"][k2] = time.perf_counter() - t0
                out["oa"][f"{k2}+f"] = oa(_filter(p2, guide))
                for w in (0.5, 0.6):
                    out["oa"][f"net+{k2}@{w:g}+f"] = oa(_filter((1 - w) * p_net + w * p2, guide))
                out["oa"][f"net+{k2}@max+f"] = oa(_filter(_fuse_conf(p_net, p2), guide))
                out["oa"][f"net+{k2}@max"] = oa(_fuse_conf(p_net, p2))
                for power in (2, 4):
                    out["oa"][f"net+{k2}@max^{power}+f"] = oa(_filter(_fuse_conf(p_net, p2, power=power), guide))
    return out


def ablate_filters(path: Path, data_dir: str | None, factor: float = 3.0) -> dict[str, Any]:
    """Where the edge-aware filter goes in the default ensemble, on one cached split.

    The default's pipeline (SVM with C and gamma by CV, pseudo-labels from the ensemble's own map,
    the SVM refitted once on them, confidence fusion) with the filter after the fusion at radius 2
    (``f2``, before this round) or 1 (``f1``), nowhere (``none``), or on the SVM member only
    (``svm-f2``: the network brings its own neighbourhood).  Also the SVM's cross-validated accuracy
    (``cv``, what the ``separable_cv`` rule reads) and the benchmark's SVM baseline.
    """
    d = _load_split(path, data_dir)
    labels, m_test, p_net, values, guide = d["labels"], d["m_test"], d["p_net"], d["values"], d["guide"]
    pool, y, seed = d["pool"], d["y"], d["seed"]

    def oa(p: np.ndarray) -> float:
        return float((values[np.nan_to_num(p, nan=-1.0).argmax(0)][m_test] == labels[m_test]).mean() * 100)

    p_svm, info = _svm_map(guide, pool, y, len(values), seed)
    out: dict[str, Any] = {"dataset": d["name"], "fraction": d["fraction"], "seed": seed,
                           "cv": info.get("cv_accuracy"), "oa": {"net": oa(p_net), "svm": oa(p_svm)}}
    combine = {"f2": lambda pn, ps: _filter(_fuse_conf(pn, ps), guide, 2),
               "f1": lambda pn, ps: _filter(_fuse_conf(pn, ps), guide, 1),
               "none": lambda pn, ps: _fuse_conf(pn, ps),
               "svm-f2": lambda pn, ps: _fuse_conf(pn, _filter(ps, guide, 2))}
    for name, fn in combine.items():
        out["oa"][name] = oa(fn(p_net, _refit_svm(guide, fn(p_net, p_svm), d, d["valid"], factor, info)))
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig
    from hsigeo.evaluation.methods import METHODS

    pred = METHODS["svm"](BenchmarkConfig()).fit(d["scene"].cube, labels, d["train"], seed=seed).predict(d["scene"].cube)
    out["oa"]["baseline:svm"] = float((pred[m_test] == labels[m_test]).mean() * 100)
    _with_rule(out)
    return out


def ablate_cnn(path: Path, data_dir: str | None, factor: float = 3.0, keep: Path | None = None,
               smoothing: float | None = None) -> dict[str, Any]:
    """A third, convolutional member beside the default ensemble's network and SVM, on one cached split.

    The CNN is the benchmark's HybridSN baseline (9 x 9 patches of 15 PCA components of the scene,
    cross-entropy, fitted on the same training pixels), read as probabilities.  Scored: the default
    (``default``: network + self-trained SVM, confidence fusion, the filter the ``separable_cv`` rule
    picks), the CNN alone with and without that filter, the network + CNN, the three members fused
    by confidence with the default's self-trained SVM (``three``), the same with the SVM self-trained
    on the three-member map (``three-st``), and ``three`` without a filter (``three-nof``) or with the
    3 x 3 one everywhere (``three-f1``).  ``keep``: a folder where each split's member maps are
    stored (``<split>.npz``: ``p_net``, ``p_svm``, ``p_st``, ``p_st3``, ``p_cnn``, float16), so other
    fusions and filters can be scored later without refitting anything.  ``smoothing`` None: the
    CNN is the benchmark's baseline, fitted on the raw scene (the first runs of round 6); a number:
    the ensemble's own member, fitted on the standardised bands as ``hsigeo train`` does, with
    that label smoothing.
    """
    from hsigeo.model.patch_cnn import PatchCNN

    d = _load_split(path, data_dir)
    labels, m_test, p_net, values, guide = d["labels"], d["m_test"], d["p_net"], d["values"], d["guide"]
    pool, y, seed, valid = d["pool"], d["y"], d["seed"], d["valid"]

    def oa(p: np.ndarray) -> float:
        return float((values[np.nan_to_num(p, nan=-1.0).argmax(0)][m_test] == labels[m_test]).mean() * 100)

    p_svm, info = _svm_map(guide, pool, y, len(values), seed)
    cv = info.get("cv_accuracy")
    radius = 1 if cv is not None and cv >= 0.9 else 2
    t0 = time.perf_counter()
    if smoothing is None:
        from hsigeo.evaluation.baselines.hybridsn import HybridSNBaseline

        base = HybridSNBaseline().fit(d["scene"].cube, labels, d["train"], seed=seed)
        p_cnn = base.predict_proba(d["scene"].cube)
        # the CNN's classes are the sorted training values, as the network's
        assert list(base.classes_) == [int(v) for v in values], (base.classes_, values)
    else:
        # the ensemble's member: fitted on the standardised bands the other members read (hsigeo.model.selection)
        rows, cols = np.nonzero(pool)
        cnn = PatchCNN(label_smoothing=smoothing).fit_scene(guide, rows, cols, y, len(values), seed=seed,
                                                              valid=valid)
        p_cnn = cnn.proba_scene(guide).numpy()
    cnn_seconds = time.perf_counter() - t0
    p_st = _refit_svm(guide, _filter(_fuse_conf(p_net, p_svm), guide, radius), d, valid, factor, info)
    three = _fuse_conf(p_net, p_st, p_cnn)
    p_st3 = _refit_svm(guide, _filter(_fuse_conf(p_net, p_svm, p_cnn), guide, radius), d, valid, factor, info)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(keep / path.name, **{k: v.astype(np.float16) for k, v in
                                                 {"p_net": p_net, "p_svm": p_svm, "p_st": p_st, "p_st3": p_st3,
                                                  "p_cnn": p_cnn}.items()}, cv=np.nan if cv is None else cv)
    rec: dict[str, Any] = {"dataset": d["name"], "fraction": d["fraction"], "seed": seed, "cv": cv,
                           "cnn_seconds": cnn_seconds, "oa": {
                               "net": oa(p_net), "cnn": oa(p_cnn), "cnn+f": oa(_filter(p_cnn, guide, radius)),
                               "default": oa(_filter(_fuse_conf(p_net, p_st), guide, radius)),
                               "net+cnn": oa(_filter(_fuse_conf(p_net, p_cnn), guide, radius)),
                               "net+cnn-nof": oa(_fuse_conf(p_net, p_cnn)),
                               "three": oa(_filter(three, guide, radius)),
                               "three-st": oa(_filter(_fuse_conf(p_net, p_st3, p_cnn), guide, radius)),
                               "three-nof": oa(three),
                               "three-f1": oa(_filter(three, guide, 1)),
                               "three-mean": oa(_filter((p_net + p_st + p_cnn) / 3, guide, radius))}}
    return rec


def score_kept(path: Path, cache_dir: Path, data_dir: str | None) -> dict[str, Any]:
    """Filters of the two- and three-member fusions from one split's kept member maps (``--keep``).

    For ``two`` (network + self-trained SVM, today's default) and ``three`` (network, SVM
    self-trained on the three-member map, CNN), and both before self-training (``two_pre``,
    ``three_pre``), each through the edge-aware filter of radius 0, 1
    and 2: OA % of the split's test pixels (``oa``) and of its own training pixels (``train``,
    what a rule may read); ``n_train``: training pixels per class (what the dense-labels rule reads).
    """
    d = _load_split(cache_dir / path.name, data_dir)
    k = np.load(path)
    labels, m_test, values, guide, pool = d["labels"], d["m_test"], d["values"], d["guide"], d["pool"]
    maps = {"two": _fuse_conf(k["p_net"].astype(np.float32), k["p_st"].astype(np.float32)),
            "three": _fuse_conf(*(k[n].astype(np.float32) for n in ("p_net", "p_st3", "p_cnn"))),
            # before self-training: what a rule deciding the filter ahead of it can read
            "two_pre": _fuse_conf(k["p_net"].astype(np.float32), k["p_svm"].astype(np.float32)),
            "three_pre": _fuse_conf(*(k[n].astype(np.float32) for n in ("p_net", "p_svm", "p_cnn")))}
    rec: dict[str, Any] = {"dataset": d["name"], "fraction": d["fraction"], "seed": d["seed"],
                           "cv": None if not np.isfinite(k["cv"]) else float(k["cv"]),
                           "n_train": [int(n) for n in d["n_train"]], "oa": {}, "train": {}}
    for name, p in maps.items():
        for r in (0, 1, 2):
            pf = _filter(p, guide, r) if r else p
            pred = values[pf.argmax(0)]
            rec["oa"][f"{name}-r{r}"] = float((pred[m_test] == labels[m_test]).mean() * 100)
            rec["train"][f"{name}-r{r}"] = float((pred[pool] == labels[pool]).mean() * 100)
    return rec


def _with_rule(rec: dict[str, Any]) -> dict[str, Any]:
    """Add ``rule``: what the default (``separable_cv`` 0.9, ``separable_radius`` 1) picks on this split."""
    cv = rec["cv"]
    rec["oa"]["rule"] = rec["oa"]["f1" if cv is not None and cv >= 0.9 else "f2"]
    return rec


def summary(paths: list[str], only: str | None) -> None:
    """Mean +- std of every variant per dataset and share (seeds pooled)."""
    rows: dict[tuple[str, float], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for path in paths:
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            for k, v in r["oa"].items():
                rows[(r["dataset"], r["fraction"])][k].append(v)
    keys = list(dict.fromkeys(k for d in rows.values() for k in d))
    if only:
        keys = [k for k in keys if any(part in k for part in only.split(","))]
    cols = sorted(rows)
    print("| variant | " + " | ".join(f"{d} {f * 100:g}% (n={len(next(iter(rows[(d, f)].values())))})"
                                        for d, f in cols) + " |")
    print("| --- | " + " | ".join("---:" for _ in cols) + " |")
    for k in keys:
        cells = []
        for c in cols:
            a = np.array(rows[c].get(k, []))
            cells.append(f"{a.mean():.2f} ± {a.std(ddof=1) if a.size > 1 else 0:.2f}" if a.size else "")
        print(f"| {k} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=None, help="folder of network probability maps to fill")
    ap.add_argument("--task", action="append", default=[], help="dataset:fraction:seed (with --cache)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--ablate", default=None, help="score the member variants on every map of this folder")
    ap.add_argument("--radii", default="1,2,3", help="window radii of the spectral-spatial SVM")
    ap.add_argument("--factors", default="3,10", help="pseudo-labels per class, as multiples of its training pixels")
    ap.add_argument("--sources", default="self,ens", help="self-training label sources: self, ens, agree")
    ap.add_argument("--match", default="", help="with --ablate: only maps whose name contains this")
    ap.add_argument("--filters", action="store_true",
                    help="with --ablate: where the default ensemble's filter goes (ablate_filters), not the members")
    ap.add_argument("--cnn", action="store_true",
                    help="with --ablate: a convolutional third member beside the default's two (ablate_cnn)")
    ap.add_argument("--kept", default=None,
                    help="score filters of the member maps kept in this folder (score_kept; with --cache)")
    ap.add_argument("--cnn-smoothing", type=float, default=None,
                    help="with --cnn: fit the ensemble's own CNN member with this label smoothing (default: the "
                         "benchmark's HybridSN baseline, as the first runs of round 6)")
    ap.add_argument("--keep", default=None, help="with --cnn: folder for each split's member maps")
    ap.add_argument("--out", default="members.jsonl")
    ap.add_argument("--summary", action="append", default=[], help="print tables from JSON-lines files and exit")
    ap.add_argument("--only", default=None, help="with --summary: variants containing one of these (comma list)")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, args.only)
        return 0
    _init()
    if args.kept:
        if not args.cache:
            ap.error("--kept needs --cache: the folder of the network maps the kept members were scored with")
        for path in sorted(Path(args.kept).glob("*.npz")):
            if args.match in path.stem:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(score_kept(path, Path(args.cache), args.data_dir)) + "\n")
        return 0
    if args.ablate:
        done = set()
        if os.path.exists(args.out):
            done = {(r["dataset"], r["fraction"], r["seed"]) for r in map(json.loads, open(args.out, encoding="utf-8"))}
        radii = [int(v) for v in args.radii.split(",") if v]
        factors = [float(v) for v in args.factors.split(",") if v]
        for path in sorted(Path(args.ablate).glob("*.npz")):
            name, fraction, seed = path.stem.rsplit("_", 2)
            if args.match not in path.stem or (name, float(fraction), int(seed)) in done:
                continue
            if args.cnn:
                rec = ablate_cnn(path, args.data_dir, keep=Path(args.keep) if args.keep else None,
                                 smoothing=args.cnn_smoothing)
            elif args.filters:
                rec = ablate_filters(path, args.data_dir)
            else:
                rec = ablate(path, args.data_dir, radii, factors, args.sources.split(","))
            with open(args.out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(path.stem, json.dumps({k: round(v, 2) for k, v in rec["oa"].items()}), file=sys.stderr, flush=True)
        return 0
    if args.cache:
        Path(args.cache).mkdir(parents=True, exist_ok=True)
        for t in args.task:
            cache(t, Path(args.cache), args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
