"""Diagnostic: are a class's seeds explained as non-negative mixtures of the other classes' seed means?"""
import sys
import numpy as np
from scipy.optimize import nnls
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.merges import MERGE_FILES, load_merge, merge_labels
from hsigeo.text.prompts import load_prompts
from hsigeo.model import adapt as A
import hsigeo

name = sys.argv[1]
sc = load_scene(name, BenchmarkConfig())
mt = load_merge(MERGE_FILES[name])
ps = load_prompts(mt.prompts)
base = hsigeo.load_model("base")
da = sc.cube
zs = base.for_scene(da, ps)
t = merge_labels(np.asarray(sc.labels), mt).ravel()
vals = [c.value for c in ps.classes]
x = np.asarray(da.values, np.float32)
r = zs.radius
tt = zs.normalize(np.pad(x, ((0, 0), (r, r), (r, r)), mode="reflect"), np.ones((x.shape[1] + 2 * r, x.shape[2] + 2 * r), bool))
pb = zs.with_threshold(0.0).predict_tile(tt).reshape(zs.n_classes, -1)
X = tt[:, r:-r, r:-r].reshape(tt.shape[0], -1).T.astype(np.float64)
y = A.select_seeds(pb, 0.5, 20)
C = len(vals)
mu = np.stack([X[y == k].mean(0) if (y == k).any() else np.zeros(X.shape[1]) for k in range(C)])
for k in range(C):
    s = np.flatnonzero(y == k)
    if not s.size:
        continue
    others = [j for j in range(C) if j != k and (y == j).any()]
    E = mu[others].T
    rel = np.array([nnls(E, X[i])[1] / np.linalg.norm(X[i]) for i in s])
    pure = t[s] == vals[k]
    q = np.quantile(rel, [0.25, 0.5, 0.75])
    top = rel >= q[1]
    print(f"{ps.classes[k].name:16s} seeds {s.size:5d} purity {100*pure.mean():5.1f} | rel resid pure {np.median(rel[pure]) if pure.any() else np.nan:.3f} impure {np.median(rel[~pure]) if (~pure).any() else np.nan:.3f} | purity of upper half {100*pure[top].mean():5.1f}")
