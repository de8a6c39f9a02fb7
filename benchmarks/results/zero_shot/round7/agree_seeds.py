"""Seeds where the full-range and the 400-900 nm base maps agree: purity and adapted OA (dev scenes)."""
import sys, numpy as np
from hsigeo.evaluation.benchmark_config import BenchmarkConfig
from hsigeo.evaluation.runner import load_scene
from hsigeo.evaluation.merges import MERGE_FILES, load_merge, merge_labels
from hsigeo.text.prompts import load_prompts
from hsigeo.model import adapt as A
import hsigeo

base = hsigeo.load_model("base")
for name in sys.argv[1:]:
    sc = load_scene(name, BenchmarkConfig())
    mt = load_merge(MERGE_FILES[name])
    ps = load_prompts(mt.prompts)
    da = sc.cube
    truth = merge_labels(np.asarray(sc.labels), mt).ravel()
    vals = np.array([c.value for c in ps.classes])
    wl = np.asarray(da.wavelength, float)
    zs = base.for_scene(da, ps)
    x = np.asarray(da.values, np.float32)
    r = zs.radius
    def probs(m, cube):
        t = m.normalize(np.pad(cube, ((0, 0), (r, r), (r, r)), mode="reflect"), np.ones((cube.shape[1] + 2 * r, cube.shape[2] + 2 * r), bool))
        return m.with_threshold(0.0).predict_tile(t).reshape(m.n_classes, -1)
    v = wl <= 900
    zv = base.for_scene(da.isel(band=np.flatnonzero(v)), ps)
    pb, pv = probs(zs, x), probs(zv, x[v])
    lab = truth > 0
    agree = pb.argmax(0) == pv.argmax(0)
    print(name, "base OA %.1f vnir OA %.1f agree share %.1f%% OA on agreed %.1f" % (
        100 * (vals[pb.argmax(0)][lab] == truth[lab]).mean(), 100 * (vals[pv.argmax(0)][lab] == truth[lab]).mean(),
        100 * agree.mean(), 100 * (vals[pb.argmax(0)][lab & agree] == truth[lab & agree]).mean()))
    orig = A.select_seeds
    for mode in ("full", "agree"):
        calls = {"n": 0}
        def sel(p, fraction, mpc, mode=mode):
            calls["n"] += 1
            if mode == "agree" and calls["n"] == 1:
                y0 = orig(p, fraction, mpc)
                y = np.where(agree, y0, -1)
                for k in range(p.shape[0]):  # too few agreed seeds: the class keeps its own
                    if (y == k).sum() < mpc:
                        y[y == k] = -1; y[y0 == k] = k
            else:
                y = orig(p, fraction, mpc)
            if calls["n"] == 1:
                print("  ", mode, "seed purity", {ps.classes[k].name: ("%d" % (y == k).sum(), "%.1f" % (100 * (truth[y == k] == vals[k]).mean() if (y == k).any() else 0)) for k in range(len(vals))})
            return y
        A.select_seeds = sel
        ad = A.adapt(zs, da)
        A.select_seeds = orig
        pa = probs(ad, x)
        pred = vals[pa.argmax(0)]
        print("  ", mode, "adapted OA %.1f" % (100 * (pred[lab] == truth[lab]).mean()),
              {c.name: "%.1f" % (100 * (pred[truth == c.value] == c.value).mean()) for c in ps.classes if (truth == c.value).any()})
