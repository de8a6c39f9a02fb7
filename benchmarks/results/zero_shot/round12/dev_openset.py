"""Words alone, round 12 (development scenes only): open-set catch and forced-choice OA of the shipped
default against AUTO_CONFIG with ``unnamed_gap`` = each G.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round12/dev_openset.py G[,G...] SCENE [SCENE ...]
"""
import sys
from dataclasses import replace

import numpy as np

import hsigeo
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.zero_shot import prepare_scene
from hsigeo.model import adapt as A
from hsigeo.text.encoder import TextEncoder

gaps = [float(g) for g in sys.argv[1].split(",")]
base = hsigeo.load_model("base")
enc = TextEncoder()
cfgs = {"shipped": A.AUTO_CONFIG, **{f"gap{g:g}": replace(A.AUTO_CONFIG, unnamed_gap=g) for g in gaps}}
print("| scene | removed | " + " | ".join(f"{k} removed/kept @0.003" for k in cfgs) + " |")
for name in sys.argv[2:]:
    run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
    ps, cube, truth = run.prompts, np.asarray(run.cube, np.float32), run.truth
    lab = truth > 0
    for drop in [None, *ps.values]:
        sub = ps if drop is None else ps.without(drop)
        zs = base.for_scene(cube, sub, wavelengths=run.wavelengths, fwhm=run.fwhm, threshold=0.0, encoder=enc)
        cells = []
        for k, cfg in cfgs.items():
            ad = A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc)
            if drop is None:
                pred = ad.predict_array(cube, threshold=0.0)[0]
                cells.append(f"OA {100*(pred[lab]==truth[lab]).mean():.1f} ({ad.info['endmembers'].get('unnamed_clusters', '-')})")
            else:
                pred = ad.with_threshold(0.003).predict_array(cube)[0]
                cells.append(f"{100*(pred[truth==drop]==0).mean():.1f} / {100*(pred[lab&(truth!=drop)]==0).mean():.1f} ({ad.info['endmembers'].get('unnamed_clusters', '-')})")
        print(f"| {name} | {ps.class_names[drop] if drop else '(none: forced choice)'} | " + " | ".join(cells) + " |", flush=True)
