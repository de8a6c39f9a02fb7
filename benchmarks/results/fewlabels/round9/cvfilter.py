"""Round 9 (RULE.md): two-fold CV of cheap members on the training pixels, filtered or not, per kept split.

    python benchmarks/results/fewlabels/round9/cvfilter.py --cache CACHE --keep KEEP --out FILE [--jobs 2]

CACHE: the split's network cache (`fewlabels_members.py --cache`), KEEP: its kept member maps
(`--ablate ... --cnn --cnn-smoothing 0.1 --keep`). One JSON line per split: the shipped three-member
map's test OA at filter radius 0/1/2 (`oa`), the folds' accuracy of the SVM and of SVM + CNN at each
radius (`cv_correct`, `cv_scored`), class counts and the SVM's CV accuracy (what the shipped rule reads).
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results/fewlabels/


def score(keep_path: str, cache_dir: str, data_dir: str | None, skip_unfiltered: bool = False) -> dict:
    from fewlabels_members import _filter, _fuse_conf
    from keptsplits import fold_member_maps, load

    t0 = time.perf_counter()
    d, k = load(keep_path, cache_dir, data_dir)
    labels, m_test, values, guide, pool, y = (d[n] for n in ("labels", "m_test", "values", "guide", "pool", "y"))
    three = _fuse_conf(*(k[n].astype(np.float32) for n in ("p_net", "p_st3", "p_cnn")))
    oa = {}
    for r in (0, 1, 2):
        pf = _filter(three, guide, r) if r else three
        oa[f"three-r{r}"] = float((values[pf.argmax(0)][m_test] == labels[m_test]).mean() * 100)
    cv = float(k["cv"])
    rec = {"dataset": d["name"], "fraction": d["fraction"], "seed": d["seed"], "cv": cv if np.isfinite(cv) else None,
           "n_train": [int(n) for n in d["n_train"]], "oa": oa}
    n = d["n_train"][d["n_train"] > 0]
    if skip_unfiltered and np.isfinite(cv) and cv >= 0.9 and np.median(n) >= 50 and n.min() >= 2:
        return {**rec, "seconds": time.perf_counter() - t0}  # the shipped rule already leaves it unfiltered
    rows, cols = np.nonzero(pool)  # raster order, as d["y"]
    correct = {f"{m}-r{r}": 0 for m in ("svm", "two") for r in (0, 1, 2)}
    # McNemar: scored pixels right unfiltered and wrong at radius r ("<m>-r0>r"), and the reverse ("<m>-r>r0")
    discordant = {f"{m}-{k}{r}": 0 for m in ("svm", "two") for r in (1, 2) for k in ("r0>r", "r>r0")}
    scored = 0
    for te, p_s, p_c in fold_member_maps(d):
        scored += int(te.sum())
        for name, p in (("svm", p_s), ("two", _fuse_conf(p_s, p_c))):
            right = {}
            for r in (0, 1, 2):
                pf = _filter(p, guide, r) if r else p
                right[r] = pf.argmax(0)[rows[te], cols[te]] == y[te]
                correct[f"{name}-r{r}"] += int(right[r].sum())
            for r in (1, 2):
                discordant[f"{name}-r0>r{r}"] += int((right[0] & ~right[r]).sum())
                discordant[f"{name}-r>r0{r}"] += int((right[r] & ~right[0]).sum())
    return {**rec, "cv_correct": correct, "discordant": discordant, "cv_scored": scored,
            "seconds": time.perf_counter() - t0}


def main() -> int:
    from keptsplits import run

    return run(score, __doc__, lambda rec: f"{rec['oa']} {rec.get('discordant')} {rec['seconds']:.0f}s",
               {"skip-unfiltered": "no fold fits where the shipped rule already leaves the map unfiltered"})


if __name__ == "__main__":
    raise SystemExit(main())
