"""Diagnose adaptation seeds on a development scene: base vs adapted confusion, seed purity."""
import sys
import numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.evaluation.merges import MERGE_FILES, load_merge
from hsigeo.model import adapt as A

name = sys.argv[1]
sc = load_scene(name, BenchmarkConfig())
from hsigeo.text.prompts import load_prompts
ps = load_prompts(load_merge(MERGE_FILES[name]).prompts)
import hsigeo
base = hsigeo.load_model("base")
da = sc.cube
zs = base.for_scene(da, ps)
truth = np.asarray(sc.labels)
from hsigeo.evaluation.merges import merge_labels
truth = merge_labels(truth, load_merge(MERGE_FILES[name]))
vals = [c.value for c in ps.classes]
x = np.asarray(da.values, np.float32)
r = zs.radius
def probs(m):
    t = m.normalize(np.pad(x, ((0,0),(r,r),(r,r)), mode="reflect"), np.ones((x.shape[1]+2*r, x.shape[2]+2*r), bool))
    return m.with_threshold(0.0).predict_tile(t).reshape(m.n_classes, -1)
pb = probs(zs)
ad = A.adapt(zs, da, A.AdaptConfig(seed_filter=sys.argv[2]))
pa = probs(ad)
t = truth.ravel()
lab = t > 0
def conf(p):
    pred = np.array(vals)[p.argmax(0)]
    M = np.zeros((len(vals), len(vals)), int)
    for i, a in enumerate(vals):
        for j, b in enumerate(vals):
            M[i, j] = ((t == a) & (pred == b)).sum()
    return M, (pred[lab] == t[lab]).mean()
for nm, p in (("base", pb), ("adapted", pa)):
    M, oa = conf(p)
    print(nm, "OA %.1f" % (100*oa)); print("rows truth, cols pred", [c.name for c in ps.classes]); print(M)
y = A.select_seeds(pb, 0.5, 20)
for k, c in enumerate(ps.classes):
    s = y == k
    print(c.name, "seeds", s.sum(), "purity %.1f" % (100*(t[s] == vals[k]).mean() if s.any() else 0),
          "truth of seeds", np.bincount(t[s], minlength=max(vals)+1))
pred_b = np.array(vals)[pb.argmax(0)]
X = x.reshape(x.shape[0], -1)
wl = np.asarray(da.wavelength)
idx = [np.argmin(abs(wl - w)) for w in (480, 560, 660, 860, 1650, 2200)]
for tv, nmv in ((2, "water"), (1, "tree"), (4, "road")):
    for pv in vals:
        m = (t == tv) & (pred_b == pv)
        if m.sum() > 30:
            print(nmv, "pred", pv, m.sum(), np.round(X[idx][:, m].mean(1), 3))
