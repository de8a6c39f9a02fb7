"""Prompt-only maps with the edge-aware filter at radius 2 (the default), 1 and 0, on the zero-shot scenes.

The few-label ensemble narrows its filter where the spectra separate the classes (README, "Few labels
on scenes nobody tuned on", third round); this checks whether prompt-only maps (``hsigeo classify
--prompts``'s default, descriptions and bare names, ``--adapt auto``) want the same.  Prints one line
of OA % per scene.

    HSIGEO_DATA_DIR=... python benchmarks/zero_shot_filter.py
"""

import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from hsigeo.evaluation import zero_shot as Z  # noqa: E402
from hsigeo.evaluation.merges import SCENES, load_merge, merge_labels  # noqa: E402
from hsigeo.model.adapt import adapt_if_wanted  # noqa: E402
from hsigeo.model.base import load_base  # noqa: E402
from hsigeo.text.encoder import TextEncoder  # noqa: E402
from hsigeo.text.prompts import load_prompts  # noqa: E402

torch.set_num_threads(1)

base = load_base(None)
enc = TextEncoder()
for name in SCENES:
    table = load_merge(SCENES[name])
    ps = load_prompts(table.prompts)
    cube, labels, wl, fwhm = Z.scene_arrays(name, None)
    truth = merge_labels(labels, table)
    row = {}
    for r in (2, 1, 0):
        for label, prompts in (("desc", ps), ("names", ps.names_only())):
            zs = base.for_scene(cube, prompts, wavelengths=wl, fwhm=fwhm, threshold=0.0, encoder=enc, smooth_radius=r)
            pred = adapt_if_wanted("auto", zs, cube, unknown=0.0).predict_array(cube)[0]
            row[f"{label} r{r}"] = round(100 * Z.accuracy_table(pred, truth, ps.values)["oa"], 1)
    print(name, json.dumps(row), flush=True)
