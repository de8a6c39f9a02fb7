"""Words alone, round 10 (diagnostic, development scenes only): do self-training rounds drift from endmember seeds?

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round10/drift.py SCENE [SCENE ...]

Per scene (descriptive prompts): the first seeds' purity per class when they come from the ``em3`` score of
``endmembers.py``, and the map's OA and per-class accuracy after 1, 2 and 3 rounds of the shipped adaptation
started from them.
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
        vals = np.array([c.value for c in zs.classes])
        sample = E.scene_sample(zs, cube)
        ok = sample[2]
        _, _, s3, _ = E.first_seeds(zs, sample)
        y, t = A.select_seeds(s3, 0.5, 20), truth[: len(ok)][ok]  # a scene under 40,000 pixels: one window
        print(f"{name}: first seeds " + ", ".join(
            f"{c.name} {(y == k).sum()} ({100 * (t[y == k] == vals[k]).mean():.1f} % pure)"
            for k, c in enumerate(zs.classes)))
        for rounds in (1, 2, 3):
            pred = E.adapted(zs, cube, s3, False, rounds).predict_array(cube, threshold=0.0)[0].ravel()
            print(f"  {rounds} round(s): OA {100 * (pred[lab] == truth[lab]).mean():.1f}; " + ", ".join(
                f"{c.name} {100 * (pred[truth == vals[k]] == vals[k]).mean():.1f}" for k, c in enumerate(zs.classes)))


if __name__ == "__main__":
    main(sys.argv[1:])
