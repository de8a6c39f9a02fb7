"""Words alone, round 10 (diagnostic, development scenes only): adaptation rounds and the head's class weights.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round10/rounds_and_weights.py SCENE [SCENE ...]

Columns (OA %, forced choice; first seeds as in ``endmembers.py``):
``ship1`` the shipped adaptation with one round instead of three; ``both1`` / ``bothm1`` first seeds from
base x (endmember score + 0.05), one round, linear / three-mode head; ``em1`` first seeds from the
endmember score, one round; ``both3nb`` / ``ship3nb`` three rounds with an unweighted head (no
``class_weight="balanced"``), first seeds mixed / as shipped.
"""
import sys
from pathlib import Path

import sklearn.linear_model as L

sys.path.insert(0, str(Path(__file__).resolve().parent))
import endmembers as E  # noqa: E402

SHIPPED_LR = L.LogisticRegression
VARIANTS = [("ship1", "none", False, 1, True), ("both1", "both", False, 1, True), ("bothm1", "both", True, 1, True),
            ("em1", "em", False, 1, True), ("both3nb", "both", False, 3, False), ("ship3nb", "none", False, 3, False)]


def run_variant(zs, cube, first, modes, rounds, balanced):
    if not balanced:
        L.LogisticRegression = lambda **k: SHIPPED_LR(**{**k, "class_weight": None})
    try:
        return E.adapted(zs, cube, first, modes, rounds)
    finally:
        L.LogisticRegression = SHIPPED_LR


def main(names):
    E.table_head([v[0] for v in VARIANTS])
    for name, label, zs, cube, truth, lab in E.bound_scenes(names):
        sample = E.scene_sample(zs, cube)
        _, _, s3, mixed = E.first_seeds(zs, sample)
        firsts = {"none": None, "both": mixed, "em": s3}
        row = []
        for _, f, modes, rounds, bal in VARIANTS:
            pred = run_variant(zs, cube, firsts[f], modes, rounds, bal).predict_array(cube, threshold=0.0)[0]
            row.append(100 * (pred.ravel()[lab] == truth[lab]).mean())
        print(f"| {name} | {label} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
