"""Words alone, round 11 (diagnostic): can the scene itself say when to trust its named clusters?

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/gate.py SCENE [SCENE ...]

Round 10's candidate (``seeds-both-modes``, shipped as ``--adapt endmembers``) lifted the Jasper- and
Samson-like scenes and cost the city-like ones, where the words name 35-46 % of the clusters wrongly
(``naming.py``). Label-free statistics a gate could read, per scene and prompt set, computed on the
adaptation's sample of the scene (no label is read for them; the last column is the OA of the shipped
adaptation, for reference):

- ``agree-named``: share of pixels whose nearest cluster's name (the words on the cluster mean) equals the
  shipped adaptation's class there;
- ``agree-em3``: share where the abundance map's class (``em3``, unfiltered) equals the shipped adaptation's;
- ``agree-base``: share where ``em3`` equals the base model's own filtered map;
- ``conf``: pixel-weighted mean of the top probability the words give each cluster mean;
- ``resid``: median relative residual of the fully constrained unmixing into the cluster means.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.model import adapt as A  # noqa: E402


def main(names):
    print("| scene | prompts | agree-named | agree-em3 | agree-base | conf | resid | shipped OA |")
    print("| --- | --- |" + " ---: |" * 6)
    for name, label, zs, cube, truth, lab in E.bound_scenes(names):
        tiles, x, ok, use = E.scene_sample(zs, cube)
        xs = x[ok]
        means, named = A.scene_endmembers(zs, xs, use, 3)
        member = ((xs[:, use, None] - means[:, use].T[None]) ** 2).sum(1).argmin(1)
        ab = A.abundances(xs[:, use], means[:, use])
        em3 = (ab @ np.eye(zs.n_classes)[named]).argmax(1)
        resid = np.linalg.norm(ab @ means[:, use] - xs[:, use], axis=1) / np.maximum(
            np.linalg.norm(xs[:, use], axis=1), 1e-12)
        conf = A.naming_confidence(zs, xs, use, means)  # shipped since; first computed here in the same way

        def sample_map(model):
            m = model.with_threshold(0.0)
            return np.concatenate([m.predict_tile(t).reshape(m.n_classes, -1) for t in tiles], axis=1)[:, ok].argmax(0)

        model = A.adapt(zs, cube, A.AdaptConfig(), unknown=0.0)  # the adaptation shipped before round 11
        shipped, base = sample_map(model), sample_map(zs)
        pred = model.predict_array(cube, threshold=0.0)[0].ravel()
        oa = 100 * (pred[lab] == truth[lab]).mean()
        print(f"| {name} | {label} | {100 * (named[member] == shipped).mean():.1f} | {100 * (em3 == shipped).mean():.1f} | "
              f"{100 * (em3 == base).mean():.1f} | {conf:.3f} | {np.median(resid):.4f} | {oa:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
