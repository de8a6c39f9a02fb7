"""Base and adapted probabilities per scene (descriptions and bare names), saved for offline combination rules."""
import sys, json
from pathlib import Path
import numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model.adapt import adapt
import hsigeo

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
base = hsigeo.load_model("base")
def probs(m, x):
    r = m.radius
    tt = m.normalize(np.pad(x, ((0,0),(r,r),(r,r)), mode="reflect"), np.ones((x.shape[1]+2*r, x.shape[2]+2*r), bool))
    return m.with_threshold(0.0).predict_tile(tt).reshape(m.n_classes, -1)
for name in sys.argv[2:]:
    sc = load_scene(name, BenchmarkConfig())
    run = prepare_scene(sc, base, None)
    x = np.asarray(run.cube, np.float32)
    res = {"truth": run.truth.ravel(), "values": np.array(run.prompts.values)}
    for tag, ps in (("desc", run.prompts), ("names", run.prompts.names_only())):
        zs = run.bind(ps)
        res[f"{tag}_base"] = probs(zs, x)
        res[f"{tag}_adapted"] = probs(adapt(zs, run.cube, unknown=0.0), x)
        res[f"{tag}_radiometry"] = np.array(zs.radiometry)
    np.savez_compressed(out / f"{name}.npz", **res)
    v = res["values"]; t = res["truth"]; lab = t > 0
    print(name, {k: round(100 * float((v[res[k].argmax(0)][lab] == t[lab]).mean()), 1) for k in res if k.endswith(("base", "adapted"))}, flush=True)
