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
from scipy.optimize import nnls
from sklearn.cluster import KMeans

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.model.base import _relative
from hsigeo.model.spatial import edge_aware_smooth

FLOOR = 0.05
MODES = 3


def scene_pixels(zs, scene):
    """The adaptation's sample (its windows, normalised), validity and used bands, as :func:`adapt` reads them."""
    cfg = A.AdaptConfig()
    r = zs.radius
    tiles = [zs.normalize(b, v) for b, v in A.sample_windows(scene, r, cfg.sample_pixels, cfg.window)]
    x = np.concatenate([t[:, r:t.shape[1] - r, r:t.shape[2] - r].reshape(t.shape[0], -1) for t in tiles],
                       axis=1).T.astype(np.float64)
    ok = np.abs(x).sum(1) > 0
    bad = zs.resampler.bad_band if zs.resampler.bad_band is not None else np.zeros(zs.n_bands, dtype=bool)
    return x, ok, np.flatnonzero(~np.asarray(bad, dtype=bool) & (x[ok].std(0) > 0))


def fcls(x, m, delta=1.0):
    """Abundances ``(N, E)`` of pixels ``x (N, B)`` in endmembers ``m (E, B)``: non-negative, sum-to-one row."""
    a = np.vstack([m.T, delta * np.ones(m.shape[0])])
    return np.array([nnls(a, np.append(v, delta))[0] for v in x])


def name_clusters(pe, cover=True):
    """Class of each cluster ``(E,)`` from the base probabilities of the cluster means ``(C, E)``."""
    c, e = pe.shape
    lab = pe.argmax(0)
    for k in range(c) if cover else ():
        if (lab == k).any():
            continue
        ratio = np.log(pe[k] + 1e-9) - np.log(pe[lab, np.arange(e)] + 1e-9)
        ratio[np.bincount(lab, minlength=c)[lab] < 2] = -np.inf
        if np.isfinite(ratio).any():
            lab[int(np.argmax(ratio))] = k
    return lab


def endmember_model(zs, x, use, k):
    """Cluster means ``(E, B)`` and their classes from the pixels ``x (N, B)``."""
    e = int(k * zs.n_classes)
    km = KMeans(e, n_init=3, random_state=0).fit(x[:, use])
    em = np.zeros((e, x.shape[1]))
    em[:, use] = km.cluster_centers_
    pe = zs.pixel_probabilities(em.T.reshape(x.shape[1], e, 1).astype(np.float32))[0].reshape(zs.n_classes, e)
    return em, name_clusters(pe)


def scores(zs, em, lab, x, use):
    """Class scores ``(C, N)``: summed abundances of the clusters each class names."""
    s = np.full((zs.n_classes, x.shape[0]), 1.0 / zs.n_classes)
    ok = np.abs(x).sum(1) > 0
    ab = fcls(x[ok][:, use], em[:, use])
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


class ModesHead(A.AdaptedModel):
    """An adapted model whose head scores ``S`` modes; a class's probability sums its modes'."""

    groups: np.ndarray = np.zeros(0, int)

    def __init__(self, zs, w, b, *a, **k):
        super().__init__(zs, np.zeros((zs.n_bands, zs.n_classes)), np.zeros(zs.n_classes), *a, **k)
        self.w_modes, self.b_modes, self.mode_class = w.astype(np.float32), b.astype(np.float32), ModesHead.groups

    def pixel_probabilities(self, t, batch_size=65536):
        b, hp, wp = t.shape
        x = np.nan_to_num(t.reshape(b, -1))
        lg = self.w_modes.T @ x + self.b_modes[:, None]
        e = np.exp(lg - lg.max(0, keepdims=True))
        p = np.zeros((self.n_classes, x.shape[1]), np.float32)
        np.add.at(p, self.mode_class, e / e.sum(0, keepdims=True))
        return p.reshape(-1, hp, wp), (np.abs(x).sum(0) > 0).reshape(hp, wp)


def fit_modes(x, y, n_classes, cfg, use, seed):
    """:func:`A._fit_head` with each class's seeds split into ``MODES`` k-means modes (mode labels fitted)."""
    from sklearn.decomposition import PCA

    xb = x[:, use]
    z = (xb - xb.mean(0)) / np.where(xb.std(0) > 0, xb.std(0), 1.0)
    f = PCA(int(min(cfg.components, z.shape[1], z.shape[0] - 1)), whiten=True, random_state=seed).fit_transform(z)
    modes, groups = np.full(len(y), -1), []
    for c in np.unique(y[y >= 0]):
        idx = np.flatnonzero(y == c)
        m = min(MODES, max(1, len(idx) // 20))
        part = KMeans(m, n_init=3, random_state=seed).fit_predict(f[idx]) if m > 1 else np.zeros(len(idx), int)
        for j in range(m):
            modes[idx[part == j]] = len(groups)
            groups.append(c)
    w, b, typ = _shipped_fit(x, modes, len(groups), cfg, use, seed)
    ModesHead.groups = np.array(groups)
    # the typicality reference (unknown outcome, not scored here) is the modes'; forced choice ignores it
    return w, b, typ


_shipped_fit = A._fit_head


def adapted(zs, cube, first, modes=False):
    """The shipped :func:`adapt` with its first seeds picked from ``first (C, N)`` (None: as shipped)."""
    calls = {"n": 0}
    shipped_select = A.select_seeds

    def select(p, fraction, min_per_class):
        calls["n"] += 1
        return shipped_select(first if calls["n"] == 1 and first is not None else p, fraction, min_per_class)

    saved = A.select_seeds, A._fit_head, A.AdaptedModel
    A.select_seeds = select
    if modes:
        A._fit_head, A.AdaptedModel = fit_modes, ModesHead
    try:
        return A.adapt(zs, cube, unknown=0.0)
    finally:
        A.select_seeds, A._fit_head, A.AdaptedModel = saved


def main(argv):
    cols = ["em3", "em5", "seeds-em", "seeds-both", "seeds-both-modes"]
    if argv[:1] == ["--columns"]:
        cols, argv = argv[1].split(","), argv[2:]
    base = hsigeo.load_model("base")
    print("| scene | prompts | " + " | ".join(cols) + " |\n| --- | --- |" + " ---: |" * len(cols))
    for name in argv:
        t0 = time.time()
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, None)
        truth, cube = run.truth.ravel(), np.asarray(run.cube, np.float32)
        lab = truth > 0
        for label, zs in (("descriptions", run.descriptions), ("bare names", run.names)):
            vals = np.array([c.value for c in zs.classes])
            oa = lambda p: 100 * (vals[p.reshape(len(vals), -1).argmax(0)][lab] == truth[lab]).mean()  # noqa: E731
            whole = zs.normalize(cube).reshape(cube.shape[0], -1).T.astype(np.float64)
            x, ok, use = scene_pixels(zs, cube)
            row = {}
            if "shipped" in cols:
                pred = adapted(zs, cube, None).predict_array(cube, threshold=0.0)[0].ravel()
                row["shipped"] = 100 * (pred[lab] == truth[lab]).mean()
            if not {"em3", "em5", "seeds-em", "seeds-both", "seeds-both-modes"} & set(cols):
                print(f"| {name} | {label} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |", flush=True)
                continue
            for k in (3, 5):
                if k == 5 and "em5" not in cols:
                    continue
                em, names_ = endmember_model(zs, x[ok], use, k)
                if f"em{k}" in cols:
                    row[f"em{k}"] = oa(filtered(zs, cube, scores(zs, em, names_, whole, use)))
                if k == 3:
                    s3 = scores(zs, em, names_, x[ok], use)
            cfg, forced = A.AdaptConfig(), zs.with_threshold(0.0)
            pb = np.concatenate([forced.predict_tile(zs.normalize(b, v)).reshape(zs.n_classes, -1) for b, v in
                                 A.sample_windows(cube, zs.radius, cfg.sample_pixels, cfg.window)], axis=1)[:, ok]
            mixed = pb * (s3 + FLOOR)
            mixed /= mixed.sum(0, keepdims=True)
            for col, first, modes in (("seeds-em", s3, False), ("seeds-both", mixed, False),
                                      ("seeds-both-modes", mixed, True)):
                if col not in cols:
                    continue
                pred = adapted(zs, cube, first, modes).predict_array(cube, threshold=0.0)[0].ravel()
                row[col] = 100 * (pred[lab] == truth[lab]).mean()
            print(f"| {name} | {label} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |", flush=True)
        print(f"<!-- {name}: {time.time() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
