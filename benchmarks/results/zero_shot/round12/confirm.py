"""Words alone, round 12: the confirmation run of ``RULE.md`` (clusters the words call none of the classes).

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round12/confirm.py [--gap G] SCENE [SCENE ...]

Per scene, the shipped default (``AUTO_CONFIG``) against the candidate (the same with ``unnamed_gap=G``, 7
by default):

- forced choice, OA % on the labelled pixels, for the descriptive prompts and the bare names;
- open set, descriptive prompts: each class's prompt removed in turn, the share of the removed class's
  pixels the adapted map leaves unknown at the default level (0.003) and the share of the other classes'
  labelled pixels left unknown (``removed / kept``), as ``hsigeo.evaluation.zero_shot.open_set_check`` does.

The path the gate took and the number of clusters flagged are in brackets (``-``: the plain adaptation,
below the gate).
"""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.text.encoder import TextEncoder


def flagged(model):
    return model.info["endmembers"].get("unnamed_clusters", "-" if "clusters_per_class" not in model.info[
        "endmembers"] else 0)


def forced_cell(model, cube, truth):
    """OA % on the labelled pixels, forced choice, and the clusters flagged."""
    lab = truth > 0
    pred = model.predict_array(cube, threshold=0.0)[0]
    return f"{100 * (pred[lab] == truth[lab]).mean():.1f} ({flagged(model)})"


def open_set_cell(model, cube, truth, drop):
    """% of the removed class ``drop`` left unknown at 0.003 / % of the other labelled pixels, and the flags."""
    lab = truth > 0
    pred = model.with_threshold(0.003).predict_array(cube)[0]
    return (f"{100 * (pred[truth == drop] == 0).mean():.1f} / "
            f"{100 * (pred[lab & (truth != drop)] == 0).mean():.1f} ({flagged(model)})")


def main(argv):
    gap = 7.0
    if argv[:1] == ["--gap"]:
        gap, argv = float(argv[1]), argv[2:]
    cfgs = {"shipped": A.AUTO_CONFIG, "candidate": replace(A.AUTO_CONFIG, unnamed_gap=gap)}
    base, enc = hsigeo.load_model("base"), TextEncoder()
    print("| scene | prompts / removed class | shipped | candidate |\n| --- | --- | ---: | ---: |")
    for name in argv:
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
        ps, cube, truth = run.prompts, np.asarray(run.cube, np.float32), run.truth
        for label, zs in (("descriptions", run.descriptions), ("bare names", run.names)):
            cells = [forced_cell(A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc), cube, truth) for cfg in cfgs.values()]
            print(f"| {name} | forced choice, {label} | " + " | ".join(cells) + " |", flush=True)
        for drop in ps.values:
            zs = base.for_scene(cube, ps.without(drop), wavelengths=run.wavelengths, fwhm=run.fwhm, threshold=0.0,
                                encoder=enc)
            cells = [open_set_cell(A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc), cube, truth, drop)
                     for cfg in cfgs.values()]
            print(f"| {name} | open set, {ps.class_names[drop]} removed | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
