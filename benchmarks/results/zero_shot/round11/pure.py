"""Words alone, round 11 (diagnostic, development scenes only): name the scene's *pure* clusters, not its mixtures.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/pure.py [--columns a,b] SCENE [SCENE ...]

k-means means are interior points of the scene's mixing simplex as often as vertices: on
``landscape-jasper-like-61`` the cluster the words call road with 0.99 is a tree-water shore mixture
(NIR/red about 3, blue raised), and so is the "road" tree cluster of ``landscape-jasper-like``. A mixture
cluster is one whose mean the other means explain: its fully constrained unmixing into them leaves a small
relative residual. ``prune-T`` removes, one at a time, the mean best explained by the others while that
residual is below ``T`` (recomputed after each removal), then names and unmixes as ``--adapt endmembers``
does. Columns (OA % on the labelled pixels, forced choice, each for the descriptive prompts and the bare
names):

- ``em3``: round 10's abundance map (k = 3 clusters a class, all kept), through the base model's filter;
- ``prune-0.02``, ``prune-0.04``, ``prune-0.08``: the same after pruning at that residual;
- ``kept-0.04``: how many of the ``3C`` means ``prune-0.04`` keeps (not an OA);
- ``wrong-em3``, ``wrong-0.04``: % of labelled pixels whose largest-abundance kept
  cluster is wrongly named (the round-10 measure on the kept clusters).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.model import adapt as A  # noqa: E402


def residuals(means: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Relative residual of each kept mean unmixed into the other kept means (inf where not kept)."""
    out = np.full(len(means), np.inf)
    idx = np.flatnonzero(keep)
    for j in idx:
        others = idx[idx != j]
        a = A.abundances(means[j][None], means[others])[0]
        out[j] = np.linalg.norm(a @ means[others] - means[j]) / max(np.linalg.norm(means[j]), 1e-12)
    return out


def prune(means: np.ndarray, limit: float, floor: int) -> np.ndarray:
    """Kept means ``(E,)`` bool: drop the best-explained mean while its residual is below ``limit``, keep ``floor``."""
    keep = np.ones(len(means), dtype=bool)
    while keep.sum() > floor:
        r = residuals(means, keep)
        j = int(np.argmin(r))
        if r[j] >= limit:
            break
        keep[j] = False
    return keep


def main(argv):
    cols = ["em3", "prune-0.02", "prune-0.04", "prune-0.08", "kept-0.04", "wrong-em3", "wrong-0.04"]
    if argv[:1] == ["--columns"]:
        cols, argv = argv[1].split(","), argv[2:]
    E.table_head(cols)
    for name, label, zs, cube, truth, lab in E.bound_scenes(argv):
        vals = np.array([c.value for c in zs.classes])
        _, x, ok, use = E.scene_sample(zs, cube)
        means, _ = A.scene_endmembers(zs, x[ok], use, 3)
        whole = zs.normalize(cube).reshape(cube.shape[0], -1).T.astype(np.float64)
        wok = np.abs(whole).sum(1) > 0
        row = {}
        for lim in (0.0, 0.02, 0.04, 0.08):
            col = "em3" if lim == 0.0 else f"prune-{lim}"
            wanted = {col, f"kept-{lim}", f"wrong-{lim}", "wrong-em3" if lim == 0.0 else ""} & set(cols)
            if not wanted:
                continue
            keep = prune(means[:, use], lim, zs.n_classes) if lim > 0 else np.ones(len(means), dtype=bool)
            m = means[keep]
            p = zs.pixel_probabilities(m.T.reshape(m.shape[1], -1, 1).astype(np.float32))[0]
            named = A.name_clusters(p.reshape(zs.n_classes, -1))
            s = np.full((zs.n_classes, whole.shape[0]), 1.0 / zs.n_classes)
            ab = A.abundances(whole[wok][:, use], m[:, use])
            s[:, wok] = (ab @ np.eye(zs.n_classes)[named]).T
            em = E.filtered(zs, cube, s / np.maximum(s.sum(0, keepdims=True), 1e-9))
            row[col] = 100 * (vals[em.reshape(len(vals), -1).argmax(0)][lab] == truth[lab]).mean()
            row[f"kept-{lim}"] = float(keep.sum())
            near = np.full(whole.shape[0], -1)
            near[wok] = ab.argmax(1)
            wrong = 0
            for j in range(len(m)):
                sel = (near == j) & lab
                if sel.any():
                    wrong += sel.sum() * (vals[named[j]] != np.bincount(truth[sel]).argmax())
            row["wrong-em3" if lim == 0.0 else f"wrong-{lim}"] = 100 * wrong / lab.sum()
        print(f"| {name} | {label} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
