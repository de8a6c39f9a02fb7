"""Words alone, round 11 (diagnostic, development scenes only): endmember seeds with fewer rounds.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/rounds.py SCENE [SCENE ...]

Round 10 saw the self-training rounds drift away from the endmember seeds (``round10/drift.py``) and round
11's confirmation lost a Jasper-like twin after three rounds. Columns (OA %, forced choice), each the shipped
:func:`hsigeo.model.adapt.adapt` with its first seeds as in ``round10/endmembers.py``:

- ``shipped``: as shipped (three rounds, base-model seeds, one linear score a class);
- ``em1`` / ``em1m``: first seeds from the endmember score alone, one round, linear / three-mode head;
- ``both1m``: first seeds from base x (endmember score + 0.05) (``--adapt endmembers``'s), one round,
  three-mode head;
- ``em2m``: endmember-score seeds, two rounds, three-mode head.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

VARIANTS = [("shipped", None, False, 3), ("em1", "em", False, 1), ("em1m", "em", True, 1), ("both1m", "both", True, 1),
            ("em2m", "em", True, 2)]


def main(names):
    E.table_head([v[0] for v in VARIANTS])
    for name, label, zs, cube, truth, lab in E.bound_scenes(names):
        _, _, s3, mixed = E.first_seeds(zs, E.scene_sample(zs, cube))
        firsts = {None: None, "em": s3, "both": mixed}
        row = []
        for _, first, modes, rounds in VARIANTS:
            pred = E.adapted(zs, cube, firsts[first], modes, rounds).predict_array(cube, threshold=0.0)[0]
            row.append(100 * (pred.ravel()[lab] == truth[lab]).mean())
        print(f"| {name} | {label} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
