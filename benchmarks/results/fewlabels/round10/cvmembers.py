"""Round 10 (RULE.md): the fold maps of the cheap members, per pixel, and every member set's final map.

    python benchmarks/results/fewlabels/round10/cvmembers.py --cache CACHE --keep KEEP --out FILE [--jobs 2]

CACHE: the split's network cache (`fewlabels_members.py --cache`), KEEP: its kept member maps
(`--ablate ... --cnn --cnn-smoothing 0.1 --keep`). One JSON line per split:

- `oa`: the final map's test OA for each member set (`three`: network + self-trained SVM + CNN, the
  shipped default's; `net-cnn`; `net-svm`), fused by confidence with equal weights, at filter radius 0/1/2;
- `right`: for the fold maps (`svm`, `cnn`, `two` = both fused by confidence) at radius 0/1/2, a string of
  0/1 per scored pixel (fold 0's pixels, then fold 1's, in raster order), so that any McNemar count
  between two of them can be read off later; the folds are round 9's (the shipped check's halves);
- `cv`, `n_train`: what the shipped filter rule reads.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results/fewlabels/

SETS = {"three": ("p_net", "p_st3", "p_cnn"), "net-cnn": ("p_net", "p_cnn"), "net-svm": ("p_net", "p_st3")}


def score(keep_path: str, cache_dir: str, data_dir: str | None) -> dict:
    from fewlabels_members import _filter, _fuse_conf
    from keptsplits import fold_member_maps, load

    t0 = time.perf_counter()
    d, k = load(keep_path, cache_dir, data_dir)
    labels, m_test, values, guide, pool, y = (d[n] for n in ("labels", "m_test", "values", "guide", "pool", "y"))
    oa = {}
    for name, members in SETS.items():
        p = _fuse_conf(*(k[n].astype(np.float32) for n in members))
        for r in (0, 1, 2):
            pf = _filter(p, guide, r) if r else p
            oa[f"{name}-r{r}"] = float((values[pf.argmax(0)][m_test] == labels[m_test]).mean() * 100)
    cv = float(k["cv"])
    rows, cols = np.nonzero(pool)  # raster order, as d["y"]
    right: dict[str, list[np.ndarray]] = {f"{m}-r{r}": [] for m in ("svm", "cnn", "two") for r in (0, 1, 2)}
    for te, p_s, p_c in fold_member_maps(d):
        for name, p in (("svm", p_s), ("cnn", p_c), ("two", _fuse_conf(p_s, p_c))):
            for r in (0, 1, 2):
                pf = _filter(p, guide, r) if r else p
                right[f"{name}-r{r}"].append(pf.argmax(0)[rows[te], cols[te]] == y[te])
    return {"dataset": d["name"], "fraction": d["fraction"], "seed": d["seed"], "cv": cv if np.isfinite(cv) else None,
            "n_train": [int(n) for n in d["n_train"]], "oa": oa,
            "right": {key: "".join("1" if v else "0" for v in np.concatenate(parts)) for key, parts in right.items()},
            "seconds": time.perf_counter() - t0}


def main() -> int:
    from keptsplits import run

    return run(score, __doc__, lambda rec: f"{ {k: round(v, 2) for k, v in rec['oa'].items()} } {rec['seconds']:.0f}s")


if __name__ == "__main__":
    raise SystemExit(main())
