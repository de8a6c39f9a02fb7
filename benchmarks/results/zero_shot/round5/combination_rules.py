import sys, numpy as np
from pathlib import Path
d = Path(sys.argv[1])
# radiance scenes keep the base map (--adapt auto): fixed figures from results.md
fixed = {"indian-pines": (76.2, 54.1), "salinas-a": (85.4, 87.1)} if len(sys.argv) < 3 else {}
def combine(pb, pa, rule):
    kind, v = rule
    if kind == "adapted": return pa
    if kind == "base": return pb
    if kind == "gate":
        g = pb >= v * pb.max(0, keepdims=True)
        return pa * g
    if kind == "geo":
        return np.exp((1 - v) * np.log(np.clip(pa, 1e-9, 1)) + v * np.log(np.clip(pb, 1e-9, 1)))
rules = [("adapted", 0), ("base", 0)] + [("gate", t) for t in (0.05, 0.1, 0.2, 0.3)] + [("geo", a) for a in (0.25, 0.5)]
rows = {}
for f in sorted(d.glob("*.npz")):
    z = np.load(f); t = z["truth"]; v = z["values"]; lab = t > 0
    for r in rules:
        out = []
        for tag in ("desc", "names"):
            p = combine(z[f"{tag}_base"], z[f"{tag}_adapted"], r)
            out.append(100 * float((v[p.argmax(0)][lab] == t[lab]).mean()))
        rows.setdefault(r, {})[f.stem] = out
scenes = sorted(next(iter(rows.values())))
print("| rule | " + " | ".join(scenes + list(fixed)) + " | mean default | mean names | worst drop |")
ref = rows[("adapted", 0)]
for r, res in rows.items():
    allv = {**res, **{k: list(v) for k, v in fixed.items()}}
    md = np.mean([allv[s][0] for s in allv]); mn = np.mean([allv[s][1] for s in allv])
    drop = min(res[s][0] - ref[s][0] for s in scenes)
    print(f"| {r[0]} {r[1]} | " + " | ".join(f"{res[s][0]:.1f} / {res[s][1]:.1f}" for s in scenes) +
          "".join(f" | {fixed[k][0]} / {fixed[k][1]}" for k in fixed) + f" | {md:.2f} | {mn:.2f} | {drop:+.1f} |")
