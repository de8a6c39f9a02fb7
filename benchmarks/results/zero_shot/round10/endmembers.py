"""Words alone, round 10 (diagnostic, development scenes only): name the scene's own endmembers with the words.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round10/endmembers.py SCENE [SCENE ...]

The scene's pixels (the adaptation's sample, the bands it uses) are grouped by k-means into ``k x C``
clusters (C classes); each cluster's **mean spectrum** is named by the base model with the prompts (its
most probable class; with ``cover``, a class that names no cluster takes the cluster most like it
relative to that cluster's own name, from a class that keeps another one); every pixel is unmixed into
the cluster means by fully constrained least squares (non-negative abundances, sum-to-one by an
augmented row), and a class's score is the summed abundance of the clusters it names. Methods, each for
the descriptive prompts and the bare names (OA % on the labelled pixels, forced choice):

- ``em3``, ``em5``: that score as the map, through the base model's edge-aware filter (k = 3 and 5);
- ``seeds-em``: the shipped adaptation (linear head, three rounds) with its first seeds from the
  ``em3`` score instead of the base model's probabilities;
- ``seeds-both``: first seeds from the base probabilities x (``em3`` score + 0.05);
- ``seeds-both-modes``: the same, the head fitting each class as three modes (k-means of its seeds in
  the head's whitened space; a pixel's class probability is the sum over its modes);
- ``shipped``: the shipped adaptation (what ``hsigeo classify --prompts`` gives on a reflectance scene).

``--columns a,b`` runs only those methods (default: all but ``shipped``).

Not a decision rule: every number here is from development scenes and chose nothing that ships.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.model.base import _relative
from hsigeo.model.spatial import edge_aware_smooth

FLOOR = 0.05


def scene_sample(zs, scene):
    """The adaptation's sample of the scene: windows, centre pixels, validity, used bands (:func:`A.scene_sample`)."""
    return A.scene_sample(zs, scene, A.AdaptConfig())


def endmember_model(zs, x, use, k):
    """Cluster means ``(E, B)`` and their classes from the pixels ``x (N, B)`` (:func:`A.scene_endmembers`)."""
    return A.scene_endmembers(zs, x, use, k)


def scores(zs, em, lab, x, use):
    """Class scores ``(C, N)``: summed abundances of the clusters each class names."""
    s = np.full((zs.n_classes, x.shape[0]), 1.0 / zs.n_classes)
    ok = np.abs(x).sum(1) > 0
    ab = A.abundances(x[ok][:, use], em[:, use])
    s[:, ok] = (ab @ np.eye(zs.n_classes)[lab]).T
    return s / np.maximum(s.sum(0, keepdims=True), 1e-9)


def filtered(zs, cube, s):
    """Scores of the whole scene ``(C, H, W)`` through the base model's edge-aware filter."""
    r = zs.radius
    c, (h, w) = s.shape[0], cube.shape[1:]
    tile = np.pad(zs.normalize(cube), ((0, 0), (r, r), (r, r)), mode="reflect")
    mean, std = zs.stats
    guide = ((_relative(tile) - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
    sp = np.pad(s.reshape(c, h, w), ((0, 0), (r, r), (r, r)), mode="reflect").astype(np.float32)
    return edge_aware_smooth(torch.from_numpy(sp), torch.from_numpy(guide), r, zs.spatial.tau,
                             groups=zs.spatial.groups).numpy()


def adapted(zs, cube, first, modes=False, rounds=3):
    """The shipped :func:`adapt` with its first seeds picked from ``first (C, N)`` (None: as shipped), a head of
    three modes a class where ``modes`` (the shipped ``AdaptConfig.modes``; this script carried its own copy
    of the modes head until it was shipped, with the same figures), ``rounds`` self-training rounds."""
    calls = {"n": 0}
    shipped_select = A.select_seeds

    def select(p, fraction, min_per_class):
        calls["n"] += 1
        return shipped_select(first if calls["n"] == 1 and first is not None else p, fraction, min_per_class)

    A.select_seeds = select
    try:
        return A.adapt(zs, cube, A.AdaptConfig(rounds=rounds, modes=3 if modes else 1), unknown=0.0)
    finally:
        A.select_seeds = shipped_select


def bound_scenes(names):
    """``(name, prompts label, bound model, cube, truth, labelled)`` for each scene and prompt set; timing comments."""
    base = hsigeo.load_model("base")
    for name in names:
        t0 = time.time()
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, None)
        truth, cube = run.truth.ravel(), np.asarray(run.cube, np.float32)
        for label, zs in (("descriptions", run.descriptions), ("bare names", run.names)):
            yield name, label, zs, cube, truth, truth > 0
        print(f"<!-- {name}: {time.time() - t0:.0f} s -->", flush=True)


def first_seeds(zs, sample):
    """The k = 3 cluster means and names, their scores ``(C, N)`` and the mixed first-seed probabilities."""
    tiles, x, ok, use = sample
    em, named = endmember_model(zs, x[ok], use, 3)
    s3 = scores(zs, em, named, x[ok], use)
    forced = zs.with_threshold(0.0)
    pb = np.concatenate([forced.predict_tile(t).reshape(zs.n_classes, -1) for t in tiles], axis=1)[:, ok]
    mixed = pb * (s3 + FLOOR)
    return em, named, s3, mixed / mixed.sum(0, keepdims=True)


def table_head(cols):
    print("| scene | prompts | " + " | ".join(cols) + " |\n| --- | --- |" + " ---: |" * len(cols))


def main(argv):
    cols = ["em3", "em5", "seeds-em", "seeds-both", "seeds-both-modes"]
    if argv[:1] == ["--columns"]:
        cols, argv = argv[1].split(","), argv[2:]
    table_head(cols)
    for name, label, zs, cube, truth, lab in bound_scenes(argv):
        vals = np.array([c.value for c in zs.classes])
        oa = lambda p: 100 * (vals[p.reshape(len(vals), -1).argmax(0)][lab] == truth[lab]).mean()  # noqa: E731
        sample = scene_sample(zs, cube)
        _, x, ok, use = sample
        row = {}
        if "shipped" in cols:
            pred = adapted(zs, cube, None).predict_array(cube, threshold=0.0)[0].ravel()
            row["shipped"] = 100 * (pred[lab] == truth[lab]).mean()
        if {"em3", "em5", "seeds-em", "seeds-both", "seeds-both-modes"} & set(cols):
            whole = zs.normalize(cube).reshape(cube.shape[0], -1).T.astype(np.float64)
            em, named, s3, mixed = first_seeds(zs, sample)
            if "em3" in cols:
                row["em3"] = oa(filtered(zs, cube, scores(zs, em, named, whole, use)))
            if "em5" in cols:
                em5, named5 = endmember_model(zs, x[ok], use, 5)
                row["em5"] = oa(filtered(zs, cube, scores(zs, em5, named5, whole, use)))
            for col, first, modes in (("seeds-em", s3, False), ("seeds-both", mixed, False),
                                      ("seeds-both-modes", mixed, True)):
                if col in cols:
                    pred = adapted(zs, cube, first, modes).predict_array(cube, threshold=0.0)[0].ravel()
                    row[col] = 100 * (pred[lab] == truth[lab]).mean()
        print(f"| {name} | {label} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
