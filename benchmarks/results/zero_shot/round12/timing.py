"""Words alone, round 12: what the vocabulary test costs (development scenes).

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round12/timing.py SCENE [SCENE ...]

Per scene (descriptive prompts, forced choice), the default adaptation (``AUTO_CONFIG``, vocabulary test at 7
logits) against the same with the test off, alternated (ABBA, twice) in one process, mean seconds of ``adapt``. The first
default call of the process also embeds the base model's 46 concepts (about 280 sentences) with the text model;
that one-off cost is printed on its own, and so is the test itself (median of five calls on the scene's
cluster means).
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.text.encoder import TextEncoder


def main(argv):
    base, enc = hsigeo.load_model("base"), TextEncoder()
    t0 = time.perf_counter()
    base.concept_anchors(enc)
    print(f"embedding the concepts once: {time.perf_counter() - t0:.2f} s\n")
    cfgs = {"default (test on)": A.AUTO_CONFIG, "test off": replace(A.AUTO_CONFIG, unnamed_gap=0.0)}
    print("| scene | " + " | ".join(f"{k}, s" for k in cfgs) + " | ratio | the test alone, ms |\n| --- |"
          + " ---: |" * (len(cfgs) + 2))
    for name in argv:
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
        cube = np.asarray(run.cube, np.float32)
        times = {k: [] for k in cfgs}
        for order in (list(cfgs), list(cfgs)[::-1], list(cfgs), list(cfgs)[::-1]):  # ABBA ABBA: drift cancels
            for k in order:
                cfg = cfgs[k]
                t = time.perf_counter()
                A.adapt(run.descriptions, cube, cfg, unknown=0.0, encoder=enc)
                times[k].append(time.perf_counter() - t)
        a, b = (float(np.mean(v)) for v in times.values())
        # the test alone: the logits of the cluster means against the concepts and the classes
        _, x, ok, use = A.scene_sample(run.descriptions, cube, A.AUTO_CONFIG)
        means, _ = A.scene_endmembers(run.descriptions, x[ok], use, 3)
        alone = []
        for _ in range(5):
            t = time.perf_counter()
            A.unnamed_clusters(run.descriptions, means, A.AUTO_CONFIG.unnamed_gap, enc)
            alone.append(time.perf_counter() - t)
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.2f} | {1000 * float(np.median(alone)):.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
