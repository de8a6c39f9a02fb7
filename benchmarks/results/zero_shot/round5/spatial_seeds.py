import sys, numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
import hsigeo
base = hsigeo.load_model("base")
def spatial_seeds(p, h, w, fraction, min_per_class, block, share):
    c, n = p.shape
    lp = np.log(np.clip(p, 1e-9, 1))
    y = np.full(n, -1); taken = np.zeros(n, int)
    yy, xx = np.divmod(np.arange(n), w); blk = (yy // block) * ((w + block - 1) // block) + xx // block
    for k in range(c):
        margin = lp[k] - np.max(np.delete(lp, k, 0), 0)
        top = []
        for b in np.unique(blk):
            idx = np.flatnonzero((blk == b) & (margin > 0))
            if len(idx) < share * (blk == b).sum():
                continue
            top.append(idx[np.argsort(-margin[idx])[:int(fraction * len(idx))]])
        top = np.concatenate(top) if top else np.array([], int)
        if len(top) < min_per_class:
            top = np.argsort(-margin)[:min_per_class]
        taken[top] += 1; y[top] = k
    y[taken > 1] = -1
    return y
for name in sys.argv[1:]:
    run = prepare_scene(load_scene(name, BenchmarkConfig()), base, None)
    x = np.asarray(run.cube, np.float32); t = run.truth.ravel(); vals = list(run.prompts.values)
    zs = run.bind(run.prompts); r = zs.radius
    tt = zs.normalize(np.pad(x, ((0,0),(r,r),(r,r)), mode="reflect"), np.ones((x.shape[1]+2*r, x.shape[2]+2*r), bool))
    pb = zs.predict_tile(tt).reshape(zs.n_classes, -1)
    h, w = x.shape[1:]
    for tag, y in (("margin", A.select_seeds(pb, 0.5, 20)), ("spatial16/0.25", spatial_seeds(pb, h, w, 0.5, 20, 16, 0.25)),
                   ("spatial16/0.5", spatial_seeds(pb, h, w, 0.5, 20, 16, 0.5))):
        print(name, tag, " ".join(f"{c.name}:{(y==k).sum()}/{100*(t[y==k]==vals[k]).mean():.0f}%" for k, c in enumerate(run.prompts.classes)), flush=True)
