"""Words alone, round 11 (diagnostic after the default changed; development scenes only): a cover nobody named.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/missing.py SCENE CLASS [SCENE CLASS ...]

Round 11's endmember path catches a class the prompts leave out less often than the plain adaptation (README,
"Unknown"): the words must name every cluster with one of the prompts' classes, so the missing class's
clusters become seeds of a named one. Would a per-cluster gate see them? With CLASS's prompt removed, this
prints each cluster's name, the words' top probability for its mean, and the majority truth of its labelled
pixels, then the pixel-weighted confidence of the clusters that hold mostly the missing class against the
others'.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.evaluation.benchmark_config import BenchmarkConfig  # noqa: E402
from hsigeo.evaluation.runner import load_scene  # noqa: E402
from hsigeo.evaluation.zero_shot import prepare_scene  # noqa: E402
from hsigeo.model import adapt as A  # noqa: E402


def main(argv):
    import hsigeo

    base = hsigeo.load_model("base")
    for name, drop in zip(argv[::2], argv[1::2], strict=True):
        run = prepare_scene(load_scene(name, BenchmarkConfig()), base, None)
        ps = run.prompts
        gone = ps.by_name(drop).value
        sub = ps.without(gone)
        cube, truth = np.asarray(run.cube, np.float32), run.truth.ravel()
        zs = base.for_scene(cube, sub, wavelengths=run.wavelengths, fwhm=run.fwhm, threshold=0.0,
                            encoder=run.encoder)
        _, x, ok, use = E.scene_sample(zs, cube)
        means, named = A.scene_endmembers(zs, x[ok], use, 3)
        p = zs.pixel_probabilities(means.T.reshape(means.shape[1], -1, 1).astype(np.float32))[0].reshape(
            zs.n_classes, -1)
        whole = zs.normalize(cube).reshape(cube.shape[0], -1).T.astype(np.float64)
        member = ((whole[:, use, None] - means[:, use].T[None]) ** 2).sum(1).argmin(1)
        print(f"{name}, {drop} not named: overall confidence {A.naming_confidence(zs, x[ok], use, means):.3f}")
        conf = {True: [], False: []}
        for j in range(len(named)):
            m = (member == j) & (truth > 0)
            major = int(np.bincount(truth[m]).argmax()) if m.any() else 0
            print(f"  cluster {j:2d}: {m.sum():5d} labelled, named {zs.classes[named[j]].name:15s} "
                  f"top probability {p[:, j].max():.3f}, mostly {ps.class_names.get(major, '-')}")
            conf[major == gone] += [p[:, j].max()] * int(m.sum())
        print(f"  pixel-weighted confidence: clusters mostly {drop} {np.mean(conf[True]) if conf[True] else np.nan:.3f}, "
              f"the others {np.mean(conf[False]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
