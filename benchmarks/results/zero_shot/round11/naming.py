"""Words alone, round 11 (diagnostic, development scenes only): who should name a scene's clusters?

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/naming.py SCENE [SCENE ...]

Round 10 found that ``--adapt endmembers`` loses in cities because the words name the cluster *means*
wrongly (a tree cluster's mean named "low vegetation": averaging dark, shaded crowns with sunlit ones
gives a brighter, lawn-like spectrum). A cluster can also be named by its *members*. For the same k = 3
clusters per class (``hsigeo.model.adapt.scene_endmembers``; members = the scene's pixels nearest each
mean), this prints, per scene and prompt set, for each naming scheme the share of labelled pixels in
wrongly named clusters (a cluster is wrong when its name is not the majority truth of its labelled
members) and the OA of the abundance map (``em3`` of round 10: fully constrained unmixing into the
means, a class's score = summed abundance of the clusters it names, the base model's edge-aware
filter):

- ``mean``: the base model's class of the mean spectrum (shipped in ``--adapt endmembers``);
- ``vote``: the class most members get from the base model, pixel by pixel (no filter);
- ``mapvote``: the same from the base model's filtered map (what ``--adapt off`` shows);
- ``geo``: the largest mean log-probability over the members (a soft vote);
- ``mean+geo``: the mean's log-probability plus the members' mean log-probability.

Last two columns: the share of labelled pixels in clusters whose ``mean`` and ``vote`` names agree, and
the share of those that sit in a wrongly named cluster (is agreement a sign of a right name?).

Each scheme's scores go through ``name_clusters`` (a class that names no cluster takes the most
similar one from a class that keeps another).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.model import adapt as A  # noqa: E402

SCHEMES = ("mean", "vote", "mapvote", "geo", "mean+geo")


def scheme_scores(zs, means, member, p_pix, p_map, ok):
    """``{scheme: (C, E) scores}`` for ``name_clusters``; ``member (N,)`` nearest cluster of each pixel."""
    c, e = zs.n_classes, len(means)
    p_mean = zs.pixel_probabilities(means.T.reshape(means.shape[1], e, 1).astype(np.float32))[0].reshape(c, e)
    lp = np.log(np.clip(p_pix, 1e-9, 1.0))
    out = {"mean": p_mean}
    vote, mapvote, geo = np.full((c, e), 1e-6), np.full((c, e), 1e-6), np.zeros((c, e))
    for j in range(e):
        m = (member == j) & ok
        if not m.any():
            continue
        vote[:, j] += np.bincount(p_pix[:, m].argmax(0), minlength=c) / m.sum()
        mapvote[:, j] += np.bincount(p_map[:, m].argmax(0), minlength=c) / m.sum()
        geo[:, j] = lp[:, m].mean(1)
    soft = lambda s: np.exp(s - s.max(0)) / np.exp(s - s.max(0)).sum(0)  # noqa: E731
    out.update({"vote": vote, "mapvote": mapvote, "geo": soft(geo),
                "mean+geo": soft(geo + np.log(np.clip(p_mean, 1e-9, 1.0)))})
    return out


def main(names):
    print("| scene | prompts | " + " | ".join(f"{s} wrong %" for s in SCHEMES) + " | "
          + " | ".join(f"{s} em3 OA" for s in SCHEMES) + " | agreeing % | wrong among them % |")
    print("| --- | --- |" + " ---: |" * (2 * len(SCHEMES) + 2))
    for name, label, zs, cube, truth, lab in E.bound_scenes(names):
        vals = np.array([c.value for c in zs.classes])
        _, x, ok_s, use = E.scene_sample(zs, cube)
        means, _ = A.scene_endmembers(zs, x[ok_s], use, 3)
        tile = zs.normalize(cube)
        whole = tile.reshape(cube.shape[0], -1).T.astype(np.float64)
        ok = np.abs(whole).sum(1) > 0
        d = ((whole[:, use, None] - means[:, use].T[None]) ** 2).sum(1)
        member = d.argmin(1)
        p_pix = zs.pixel_probabilities(tile)[0].reshape(zs.n_classes, -1)
        r = zs.radius
        p_map = zs.with_threshold(0.0).predict_tile(np.pad(tile, ((0, 0), (r, r), (r, r)), mode="reflect"))
        p_map = np.nan_to_num(p_map.reshape(zs.n_classes, -1))
        wrong, oa, names = {}, {}, {}
        ab = A.abundances(whole[ok][:, use], means[:, use])  # the same for every naming
        for s, sc in scheme_scores(zs, means, member, p_pix, p_map, ok).items():
            named = names[s] = A.name_clusters(sc)
            bad = 0
            for j in range(len(named)):
                m = (member == j) & lab
                if m.any():
                    bad += m.sum() * (vals[named[j]] != np.bincount(truth[m]).argmax())
            wrong[s] = 100 * bad / lab.sum()
            sc_pix = np.full((zs.n_classes, whole.shape[0]), 1.0 / zs.n_classes)
            sc_pix[:, ok] = (ab @ np.eye(zs.n_classes)[named]).T
            em = E.filtered(zs, cube, sc_pix / np.maximum(sc_pix.sum(0, keepdims=True), 1e-9))
            oa[s] = 100 * (vals[em.reshape(len(vals), -1).argmax(0)][lab] == truth[lab]).mean()
        agree_px = lab & (names["mean"] == names["vote"])[member]
        right = np.zeros(len(truth), dtype=bool)
        for j in range(len(means)):
            m = (member == j) & lab
            if m.any():
                right[m] = vals[names["mean"][j]] == np.bincount(truth[m]).argmax()
        print(f"| {name} | {label} | " + " | ".join(f"{wrong[s]:.1f}" for s in SCHEMES) + " | "
              + " | ".join(f"{oa[s]:.1f}" for s in SCHEMES)
              + f" | {100 * agree_px.sum() / lab.sum():.1f} | {100 * (agree_px & ~right).sum() / max(1, agree_px.sum()):.1f} |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
