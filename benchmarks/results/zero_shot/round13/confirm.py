"""Words alone, round 13: the confirmation run of ``RULE.md`` (the vocabulary test with covered concepts).

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round13/confirm.py SCENE [SCENE ...]

Per scene, the shipped default (``AUTO_CONFIG``, no vocabulary test) against the candidate (the same with
``unnamed_gap=7, unnamed_cover=0.5``), with three prompt sets: the scene's descriptive prompts, their bare
class names, and the classes in other words (``<kind>_reworded.yaml`` here, written before any run with them):

- forced choice, OA % on the labelled pixels, each prompt set;
- open set, descriptive and reworded prompts: each class's prompt removed in turn, the share of the removed
  class's pixels left unknown at the default level 0.003 / the share of the other classes' labelled pixels.

Brackets: clusters the vocabulary test flagged (``-``: below round 11's gate, the plain adaptation).
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.text.encoder import TextEncoder
from hsigeo.text.prompts import load_prompts

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "round12"))
import confirm as R12  # noqa: E402  (round 12's cells: the same measurements)

CANDIDATE = replace(A.AUTO_CONFIG, unnamed_gap=7.0, unnamed_cover=0.5)


def reworded(name):
    """The classes of a twin of ``name``'s kind in other words (this folder's ``<kind>_like_reworded.yaml``)."""
    kind = next(k for k in ("jasper", "samson", "city") if k in name)
    return load_prompts(HERE / f"{kind}_like_reworded.yaml")


def main(argv):
    cfgs = {"shipped": A.AUTO_CONFIG, "candidate": CANDIDATE}
    base, enc = hsigeo.load_model("base"), TextEncoder()
    print("| scene | prompts / removed class | shipped | candidate |\n| --- | --- | ---: | ---: |")
    for name in argv:
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
        cube, truth = np.asarray(run.cube, np.float32), run.truth
        sets = {"descriptions": run.prompts, "bare names": run.prompts.names_only(), "reworded": reworded(name)}
        for label, ps in sets.items():
            zs = base.for_scene(cube, ps, wavelengths=run.wavelengths, fwhm=run.fwhm, threshold=0.0, encoder=enc)
            cells = [R12.forced_cell(A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc), cube, truth)
                     for cfg in cfgs.values()]
            print(f"| {name} | forced choice, {label} | " + " | ".join(cells) + " |", flush=True)
        for label in ("descriptions", "reworded"):
            ps = sets[label]
            for drop in ps.values:
                zs = base.for_scene(cube, ps.without(drop), wavelengths=run.wavelengths, fwhm=run.fwhm,
                                    threshold=0.0, encoder=enc)
                cells = [R12.open_set_cell(A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc), cube, truth, drop)
                         for cfg in cfgs.values()]
                print(f"| {name} | open set ({label}), {ps.class_names[drop]} removed | " + " | ".join(cells) + " |",
                      flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
