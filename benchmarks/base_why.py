"""Why real reflectance collapsed onto one vegetation concept (issue 21): the evidence figure.

Left: median shape (spectrum over its own mean) of the Berlin library's 13 measured trees and 18
low-vegetation spectra, against the old base model's tree and sparse-vegetation training spectra
(its stored pseudo-target library, 8 spectra per concept) and the new corpus's tree crowns
(:func:`hsigeo.speclib.simulate.tree_crowns`).  Right: the mean reflectance (albedo) of the
Berlin library's classes, which the per-pixel brightness normalisation threw away.

Usage (the old model is the file shipped before issue 21)::

    git show 3df5a06:hsigeo/data/base_model.hsigeo > /tmp/old_base.hsigeo
    python benchmarks/base_why.py --old-model /tmp/old_base.hsigeo --out benchmarks/results/base_model
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.base_dev import load_berlin_library
    from hsigeo.model.base import load_base
    from hsigeo.speclib.libraries import load_earthlib
    from hsigeo.speclib.simulate import prosail_canopy, tree_crowns
    from hsigeo.spectra.grid import GRID, GridResampler, brightness_normalize

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-model", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("HSIGEO_DATA_DIR", "/work/shared/datasets")))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "base_model")
    args = ap.parse_args(argv)

    x, wl, _, lvl3 = load_berlin_library(args.data_dir)
    rs = GridResampler(wl)
    g, m = rs(x), rs.mask
    old = load_base(args.old_model)
    keys = list(old.meta["concepts"])
    per = old.library.shape[0] // len(keys)  # 8 full-coverage spectra per concept, in concept order

    def old_rows(key: str) -> np.ndarray:
        k = keys.index(key)
        return old.library[per * k: per * (k + 1)]

    el = load_earthlib()
    soils = el.spectra[[lab[2] == "soil" for lab in el.labels]]
    wood = el.spectra[[lab[2] in ("bark", "wood") for lab in el.labels]]
    rng = np.random.default_rng(0)
    new = np.stack([tree_crowns(rng, prosail_canopy(rng, soils[rng.integers(len(soils))], lai=(2.0, 6.0),
                                                    ala=(35.0, 60.0), n=(1.4, 2.2), cm=(0.006, 0.02),
                                                    cw=(0.01, 0.025), cab=(30.0, 60.0), cbrown=(0.0, 0.3)),
                                wood[rng.integers(len(wood))]) for _ in range(40)])
    full = np.ones(GRID.size, bool)

    def shape(s: np.ndarray, mk: np.ndarray) -> np.ndarray:
        return np.median(brightness_normalize(s[:, mk], np.ones(int(mk.sum()), bool))[0], 0)

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    curves = [(g[[c == "tree" for c in lvl3]], m, "Berlin library: 13 measured trees", "g-"),
              (g[[c == "low vegetation" for c in lvl3]], m, "Berlin library: 18 low vegetation", "y-"),
              (old_rows("forest_broadleaf"), full, "old corpus: trees (PROSAIL, crown shading)", "k--"),
              (old_rows("grass_green"), full, "old corpus: green grass", "c:"),
              (new, full, "new corpus: tree crowns (shadow + wood)", "r-")]
    for arr, mk, label, style in curves:
        y = np.full(GRID.size, np.nan)
        y[m & mk] = shape(arr, m & mk)  # on the bands the Berlin sensor covers, for a like-for-like shape
        ax[0].plot(GRID, y, style, label=label, lw=1.2)
        red = y[np.argmin(np.abs(GRID - 670))]
        print(f"{label}: red/mean {red:.3f}, 860 nm/mean {y[np.argmin(np.abs(GRID - 860))]:.3f}")
    ax[0].set_xlabel("wavelength (nm)")
    ax[0].set_ylabel("reflectance / own mean (median)")
    ax[0].legend(fontsize=7)
    ax[0].set_title("Shape: the old corpus's vegetation is far greener (NIR high, SWIR low) than measured trees", fontsize=8)
    groups = {c: g[[v == c for v in lvl3]][:, m].mean(1) for c in
              ("water", "tree", "low vegetation", "pavement", "roof", "soil")}
    ax[1].boxplot(list(groups.values()))
    ax[1].set_xticks(range(1, len(groups) + 1), list(groups), fontsize=7)
    ax[1].set_yscale("log")
    ax[1].set_ylabel("mean reflectance over the bands")
    ax[1].set_title("Albedo, thrown away by the brightness normalisation", fontsize=8)
    for c, v in groups.items():
        print(f"{c}: mean reflectance 10/50/90 % {np.round(np.percentile(v, [10, 50, 90]), 3).tolist()}")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "why_trees_collapse.png", dpi=110)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
