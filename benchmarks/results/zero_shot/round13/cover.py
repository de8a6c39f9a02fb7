"""Words alone, round 13 (before its rule; diagnostic, development scenes only): the vocabulary test with
covered concepts.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round13/cover.py COVER SCENE [SCENE ...]

Per scene (``synthetic``: the tests' and ``make demo``'s synthetic scene, its own prompts), forced choice OA %
with every class named and, each class removed in turn, the share of its pixels left unknown at level 0.003 /
the other classes' share, for the default (``AUTO_CONFIG``, no test), the test as its rule ran (gap 7) and the
test with concepts that a class's anchor is at least COVER close to counted as named (gap 7, ``unnamed_cover``).
"""
from __future__ import annotations

import sys
import tempfile
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


def synthetic():
    """The tests' synthetic scene (``tests/model/test_adapt.py``'s fixture): cube, truth, prompts, wavelengths."""
    import rasterio

    from hsigeo.datasets.synthetic import CLASS_LIBRARY, make_synthetic_scene
    from hsigeo.io.raster import open_hsi
    from hsigeo.speclib.corpus import demo_class_spectra

    spectra = demo_class_spectra([c[0] for c in CLASS_LIBRARY[:4]])
    sc = make_synthetic_scene(Path(tempfile.mkdtemp()) / "scene", height=30, width=34, bands=60, n_classes=4, seed=3,
                              class_spectra=spectra)
    with rasterio.open(sc.labels_path) as src:
        truth = src.read(1)
    return open_hsi(sc.scene_path), truth, load_prompts(sc.prompts_path), None, None


def main(argv):
    cover = float(argv[0])
    base, enc = hsigeo.load_model("base"), TextEncoder()
    cfgs = {"default": A.AUTO_CONFIG, "gap 7": replace(A.AUTO_CONFIG, unnamed_gap=7.0),
            f"gap 7, cover {cover:g}": replace(A.AUTO_CONFIG, unnamed_gap=7.0, unnamed_cover=cover)}
    print("| scene | prompts / removed class | " + " | ".join(cfgs) + " |\n| --- | --- |" + " ---: |" * len(cfgs))
    for name in argv[1:]:
        if name == "synthetic":
            cube, truth, ps, wl, fwhm = synthetic()
        else:
            run = prepare_scene(load_scene(name, BenchmarkConfig()), base, enc)
            cube, truth, ps, wl, fwhm = np.asarray(run.cube, np.float32), run.truth, run.prompts, run.wavelengths, run.fwhm
        lab = truth > 0
        for drop in [None, *ps.values]:
            sub = ps if drop is None else ps.without(drop)
            zs = base.for_scene(cube, sub, wavelengths=wl, fwhm=fwhm, threshold=0.0, encoder=enc)
            cells = []
            for cfg in cfgs.values():
                model = A.adapt(zs, cube, cfg, unknown=0.0, encoder=enc)
                n = model.info["endmembers"].get("unnamed_clusters", "-")
                if drop is None:
                    pred = model.predict_array(cube)[0]
                    cells.append(f"{100 * (pred[lab] == truth[lab]).mean():.1f} ({n})")
                else:
                    pred = model.with_threshold(0.003).predict_array(cube)[0]
                    cells.append(f"{100 * (pred[truth == drop] == 0).mean():.1f} / "
                                 f"{100 * (pred[lab & (truth != drop)] == 0).mean():.1f} ({n})")
            what = "forced choice" if drop is None else f"{ps.class_names[drop]} removed"
            print(f"| {name} | {what} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
