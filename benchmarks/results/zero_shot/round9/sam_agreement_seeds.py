"""Diagnostic: seed purity when seeds must also be the SAM map's class (benchmark selectors)."""
import sys
import numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
import hsigeo

name = sys.argv[1]
sc = load_scene(name, BenchmarkConfig())
base = hsigeo.load_model("base")
run = prepare_scene(sc, base, None)
zs = run.descriptions
sam = run.map("sam-library").ravel()
t = run.truth.ravel()
vals = [c.value for c in zs.classes]
x = run.cube
r = zs.radius
tt = zs.normalize(np.pad(x, ((0, 0), (r, r), (r, r)), mode="reflect"), np.ones((x.shape[1] + 2 * r, x.shape[2] + 2 * r), bool))
pb = zs.with_threshold(0.0).predict_tile(tt).reshape(zs.n_classes, -1)
y = A.select_seeds(pb, 0.5, 20)
lab = t > 0
print(name, "base OA %.1f SAM OA %.1f" % (100 * (np.array(vals)[pb.argmax(0)][lab] == t[lab]).mean(), 100 * (sam[lab] == t[lab]).mean()))
for k, c in enumerate(zs.classes):
    s = y == k
    ag = s & (sam == vals[k])
    pur = lambda m: 100 * (t[m] == vals[k]).mean() if m.any() else float("nan")
    print(f"{c.name:16s} seeds {s.sum():5d} purity {pur(s):5.1f} | agree with SAM {ag.sum():5d} purity {pur(ag):5.1f}")
