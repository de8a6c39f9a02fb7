"""Words alone, round 11: the confirmation run of ``RULE.md`` (the gated endmember adaptation).

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/confirm.py [--rounds N] SCENE [SCENE ...]

Per scene and prompt set: ``conf`` (the words' pixel-weighted confidence on the scene's cluster means,
``RULE.md``), the path the gate takes (``endmembers`` where ``conf >= 0.875``), and OA % on the labelled
pixels (forced choice) of the shipped adaptation, of ``--adapt endmembers`` and of the gated candidate
(= one of the two). ``--rounds N``: the endmember path with ``N`` self-training rounds (the first rule: 3,
round 10's ``ENDMEMBER_CONFIG``; the second rule: 1). ``shipped`` is the adaptation shipped before round 11,
``AdaptConfig()`` (three rounds from the base model's seeds), which the gate falls back to.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.model import adapt as A  # noqa: E402

GATE = 0.875


def main(argv):
    rounds = 3
    if argv[:1] == ["--rounds"]:
        rounds, argv = int(argv[1]), argv[2:]
    endmember_cfg = A.AdaptConfig(endmembers=3, modes=3, rounds=rounds)
    print("| scene | prompts | conf | gate | shipped | endmembers | gated |\n| --- | --- | ---: | --- | ---: | ---: | ---: |")
    for name, label, zs, cube, truth, lab in E.bound_scenes(argv):
        _, x, ok, use = E.scene_sample(zs, cube)
        means, _ = A.scene_endmembers(zs, x[ok], use, 3)
        conf = A.naming_confidence(zs, x[ok], use, means)
        oa = {}
        for col, cfg in (("shipped", A.AdaptConfig()), ("endmembers", endmember_cfg)):
            pred = A.adapt(zs, cube, cfg, unknown=0.0).predict_array(cube, threshold=0.0)[0].ravel()
            oa[col] = 100 * (pred[lab] == truth[lab]).mean()
        gate = "endmembers" if conf >= GATE else "shipped"
        print(f"| {name} | {label} | {conf:.3f} | {gate} | {oa['shipped']:.1f} | {oa['endmembers']:.1f} | "
              f"{oa[gate]:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
