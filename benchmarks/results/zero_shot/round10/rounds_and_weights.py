"""Words alone, round 10 (diagnostic, development scenes only): adaptation rounds and the head's class weights.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round10/rounds_and_weights.py SCENE [SCENE ...]

Columns (OA %, forced choice; first seeds as in ``endmembers.py``):
``ship1`` the shipped adaptation with one round instead of three; ``both1`` / ``bothm1`` first seeds from
base x (endmember score + 0.05), one round, linear / three-mode head; ``em1`` first seeds from the
endmember score, one round; ``both3nb`` / ``ship3nb`` three rounds with an unweighted head (no
``class_weight="balanced"``), first seeds mixed / as shipped.
"""
import sys
import time
from pathlib import Path

import numpy as np
import sklearn.linear_model as L

sys.path.insert(0, str(Path(__file__).resolve().parent))
import endmembers as E  # noqa: E402

import hsigeo  # noqa: E402
from hsigeo.evaluation.benchmark_config import BenchmarkConfig  # noqa: E402
from hsigeo.evaluation.runner import load_scene  # noqa: E402
from hsigeo.evaluation.zero_shot import prepare_scene  # noqa: E402
from hsigeo.model import adapt as A  # noqa: E402

SHIPPED_ADAPT, SHIPPED_LR = A.adapt, L.LogisticRegression
VARIANTS = [("ship1", "none", False, 1, True), ("both1", "both", False, 1, True), ("bothm1", "both", True, 1, True),
            ("em1", "em", False, 1, True), ("both3nb", "both", False, 3, False), ("ship3nb", "none", False, 3, False)]


def run_variant(zs, cube, first, modes, rounds, balanced):
    A.adapt = lambda z, sc, config=None, **k: SHIPPED_ADAPT(z, sc, A.AdaptConfig(rounds=rounds), **k)
    if not balanced:
        L.LogisticRegression = lambda **k: SHIPPED_LR(**{**k, "class_weight": None})
    try:
        return E.adapted(zs, cube, first, modes)
    finally:
        A.adapt, L.LogisticRegression = SHIPPED_ADAPT, SHIPPED_LR


def main(names):
    base = hsigeo.load_model("base")
    print("| scene | prompts | " + " | ".join(v[0] for v in VARIANTS) + " |\n| --- | --- |" + " ---: |" * len(VARIANTS))
    for name in names:
        t0 = time.time()
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, None)
        truth, cube = run.truth.ravel(), np.asarray(run.cube, np.float32)
        lab = truth > 0
        for label, zs in (("descriptions", run.descriptions), ("bare names", run.names)):
            x, ok, use = E.scene_pixels(zs, cube)
            em, named = E.endmember_model(zs, x[ok], use, 3)
            s3 = E.scores(zs, em, named, x[ok], use)
            cfg, forced = A.AdaptConfig(), zs.with_threshold(0.0)
            pb = np.concatenate([forced.predict_tile(zs.normalize(b, v)).reshape(zs.n_classes, -1) for b, v in
                                 A.sample_windows(cube, zs.radius, cfg.sample_pixels, cfg.window)], axis=1)[:, ok]
            mixed = pb * (s3 + E.FLOOR)
            mixed /= mixed.sum(0, keepdims=True)
            firsts = {"none": None, "both": mixed, "em": s3}
            row = []
            for _, f, modes, rounds, bal in VARIANTS:
                pred = run_variant(zs, cube, firsts[f], modes, rounds, bal).predict_array(cube, threshold=0.0)[0]
                row.append(100 * (pred.ravel()[lab] == truth[lab]).mean())
            print(f"| {name} | {label} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)
        print(f"<!-- {name}: {time.time() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
