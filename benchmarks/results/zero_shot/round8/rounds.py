"""Diagnostic: base and adapted accuracy per class after 1, 2, 3 and 5 adaptation rounds (python rounds.py SCENE)."""
import sys
import numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.merges import MERGE_FILES, load_merge, merge_labels
from hsigeo.text.prompts import load_prompts
from hsigeo.model import adapt as A
import hsigeo
name = sys.argv[1]
sc = load_scene(name, BenchmarkConfig())
mg = load_merge(MERGE_FILES[name]); ps = load_prompts(mg.prompts)
base = hsigeo.load_model("base"); da = sc.cube; zs = base.for_scene(da, ps)
t = merge_labels(np.asarray(sc.labels), mg).ravel(); lab = t > 0
vals = np.array([c.value for c in ps.classes]); x = np.asarray(da.values, np.float32); r = zs.radius
def probs(m):
    tt = m.normalize(np.pad(x, ((0,0),(r,r),(r,r)), mode="reflect"), np.ones((x.shape[1]+2*r, x.shape[2]+2*r), bool))
    return m.with_threshold(0.0).predict_tile(tt).reshape(m.n_classes, -1)
def score(p, tag):
    pred = vals[p.argmax(0)]
    pc = " ".join(f"{c.name[:6]} {100*(pred[t==c.value]==c.value).mean():.1f}" for c in ps.classes)
    print(f"{tag}: OA {100*(pred[lab]==t[lab]).mean():.1f} | {pc}", flush=True)
score(probs(zs), "base")
for rounds in (1, 2, 3, 5):
    ad = A.adapt(zs, da, A.AdaptConfig(rounds=rounds))
    score(probs(ad), f"rounds {rounds}")
