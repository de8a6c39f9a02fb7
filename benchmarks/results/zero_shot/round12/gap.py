"""Words alone, round 12 (diagnostic, development scenes only): does the gap between a cluster mean's best
base-model concept and its best class flag a cover the prompts leave out?

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round12/gap.py SCENE [SCENE ...]

(Written first with its own copy of the logits; it calls the shipped ``concept_anchors`` and
``spectra_logits`` since they exist, same figures.)
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.text.encoder import TextEncoder

base = hsigeo.load_model("base")
enc = TextEncoder()
keys, canch = base.concept_anchors(enc)


def gaps(zs, means):
    """Best concept's logit minus the best class's, and the best concept, of each cluster mean."""
    c, u = zs.spectra_logits(means, canch), zs.spectra_logits(means)
    return c.max(1) - u.max(1), c.argmax(1)


for name in sys.argv[1:]:
    run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
    ps = run.prompts
    cube, truth = np.asarray(run.cube, np.float32), run.truth.ravel()
    for drop in [None, *ps.values]:
        sub = ps if drop is None else ps.without(drop)
        zs = base.for_scene(cube, sub, wavelengths=run.wavelengths, fwhm=run.fwhm, threshold=0.0, encoder=enc)
        _, x, ok, use = E.scene_sample(zs, cube)
        means, named = A.scene_endmembers(zs, x[ok], use, 3)
        conf = A.naming_confidence(zs, x[ok], use, means)
        g, best = gaps(zs, means)
        whole = zs.normalize(cube).reshape(cube.shape[0], -1).T.astype(np.float64)
        member = ((whole[:, use, None] - means[:, use].T[None]) ** 2).sum(1).argmin(1)
        print(f"{name} drop={ps.class_names.get(drop,'-') if drop else '-'} conf={conf:.3f}")
        for j in range(len(named)):
            m = (member == j) & (truth > 0)
            major = int(np.bincount(truth[m]).argmax()) if m.any() else 0
            pur = (truth[m] == major).mean() if m.any() else 0
            flag = "MISSING" if drop and major == drop else ""
            print(f"  c{j:2d} n={m.sum():5d} truth={ps.class_names.get(major,'-')[:14]:14s}({pur:.2f}) named={zs.classes[named[j]].name[:14]:14s} concept={keys[best[j]]:20s} gap={g[j]:6.2f} {flag}")
        sys.stdout.flush()
