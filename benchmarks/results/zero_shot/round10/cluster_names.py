"""Words alone, round 10 (diagnostic): how often do the words name a scene's cluster means wrongly?

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round10/cluster_names.py SCENE [SCENE ...]

Per scene (descriptive prompts): the k = 3 cluster means of ``--adapt endmembers`` and the class the base model
gives each, against the majority truth of the labelled pixels nearest to that mean; the share of labelled pixels
in wrongly named clusters; per-class accuracy of the default and of ``--adapt endmembers``.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import endmembers as E  # noqa: E402

from hsigeo.model import adapt as A  # noqa: E402


def main(names):
    for name, label, zs, cube, truth, lab in E.bound_scenes(names):
        if label != "descriptions":
            continue
        vals = [c.value for c in zs.classes]
        _, x, ok, use = E.scene_sample(zs, cube)
        means, named = A.scene_endmembers(zs, x[ok], use, 3)
        t = truth[: len(ok)][ok]  # a scene under 40,000 pixels: one window
        d = ((x[ok][:, use, None] - means[:, use].T[None]) ** 2).sum(1)
        member = d.argmin(1)
        wrong = 0
        for e in range(len(named)):
            m = (member == e) & (t > 0)
            if not m.any():
                continue
            major = int(np.bincount(t[m]).argmax())
            wrong += m.sum() * (vals[named[e]] != major)
            print(f"  cluster {e:2d}: {m.sum():5d} labelled pixels, named {zs.classes[named[e]].name:15s} "
                  f"mostly {zs.classes[vals.index(major)].name}{'' if vals[named[e]] == major else '  (wrong)'}")
        print(f"{name}: {100 * wrong / (t > 0).sum():.1f} % of the labelled pixels in wrongly named clusters")
        # round 10's two adaptations: the plain one (then --adapt auto's) and its --adapt endmembers (three rounds)
        for mode, cfg in (("auto", A.AdaptConfig()), ("endmembers", A.AdaptConfig(endmembers=3, modes=3))):
            pred = A.adapt(zs, cube, cfg, unknown=0.0).predict_array(cube)[0].ravel()
            print(f"  --adapt {mode}: OA {100 * (pred[lab] == truth[lab]).mean():.1f}; " + ", ".join(
                f"{c.name} {100 * (pred[truth == v] == v).mean():.0f}" for c, v in zip(zs.classes, vals, strict=True)))


if __name__ == "__main__":
    main(sys.argv[1:])
