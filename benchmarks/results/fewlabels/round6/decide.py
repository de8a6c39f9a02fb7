"""The rule of RULE.md on the kept member maps: ``python decide.py [KEPT CNN [CNN-COLUMN-TITLE]]``.

Defaults: the first two candidates' files (kept.jsonl, cnn.jsonl, whose "cnn" is the HybridSN
baseline); the third candidate: ``python decide.py kept_ls.jsonl cnn_ls.jsonl "CNN member alone"``.
"""
import json, sys, os, numpy as np
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
KEPT = os.path.join(HERE, sys.argv[1] if len(sys.argv) > 1 else "kept.jsonl")
CNN = os.path.join(HERE, sys.argv[2] if len(sys.argv) > 2 else "cnn.jsonl")
CNN_TITLE = sys.argv[3] if len(sys.argv) > 3 else "HybridSN baseline"
recs=[json.loads(l) for l in open(KEPT)]
abl={ (r["dataset"],r["fraction"],r["seed"]): r for r in map(json.loads, open(CNN))}
def pick(r, m, rule):
    if rule=="sep":
        cv=r["cv"]; rad = 1 if cv is not None and cv>=0.9 else 2
    elif rule.startswith("r"): rad=int(rule[1:])
    else:
        tau=float(rule[2:]); src=r["train"]; key=f"{m}_pre"; base=src[f"{key}-r0"]; rad=0
        for k in (2,1):
            if base-src[f"{key}-r{k}"]<=tau: rad=k; break
    return r["oa"][f"{m}-r{rad}"]
rows=defaultdict(lambda: defaultdict(list))
cands=[("two","sep"),("three","sep"),("three","r0"),("three","r1"),("two","tr1"),("two","tr2"),("three","tr0.5"),("three","tr1"),("three","tr2"),("three","tr3")]
for r in recs:
    key=(r["dataset"],r["fraction"])
    rows[key]["default"].append(abl[(r["dataset"],r["fraction"],r["seed"])]["oa"]["default"])
    for m,rule in cands: rows[key][f"{m}-{rule}"].append(pick(r,m,rule))
    for b in ("three","three-st"): rows[key]["abl:"+b].append(abl[(r["dataset"],r["fraction"],r["seed"])]["oa"][b])
cols=sorted(rows)
names=["default"]+[f"{m}-{x}" for m,x in cands]+["abl:three","abl:three-st"]
for n in names:
    deltas=[np.mean(rows[c][n])-np.mean(rows[c]["default"]) for c in cols]
    sds=[np.std(rows[c]["default"],ddof=1) for c in cols]
    worst=[(d, max(0.3,s), c) for d,s,c in zip(deltas,sds,cols) if d < -max(0.3,s)]
    ip=[d for d,c in zip(deltas,cols) if c[0]=="indian-pines"]
    mean=np.mean([np.mean(rows[c][n]) for c in cols])
    ok1 = np.mean(deltas)>=0.3; ok2=not worst; ok3=all(d>=-0.3 for d in ip)
    print(f"{n:14s} mean {mean:.2f} d {np.mean(deltas):+.2f} IP {['%+.2f'%d for d in ip]} worse: {[(c[0][:12],c[1],round(d,2),round(t,2)) for d,t,c in worst]} -> {'PASS' if ok1 and ok2 and ok3 else 'fail'}")

# the README table: OA % mean +- std over seeds 0-2 per development split
cnn = defaultdict(list)
for (d, f, s), r in abl.items():
    cnn[(d, f)].append(r["oa"]["cnn"])
show = [("default", "default (shipped)"), ("three-sep", "+ CNN member"), ("two-tr1", "+ training-pixel filter rule, tau 1"),
        ("three-tr1", "+ both, tau 1")]
print()
print("| dataset | share | " + " | ".join(t for _, t in show) + f" | {CNN_TITLE} |")
print("| --- | ---: | " + " | ".join("---:" for _ in show) + " | ---: |")
for c in cols:
    cells = [f"{np.mean(rows[c][n]):.2f} ± {np.std(rows[c][n], ddof=1):.2f}" for n, _ in show]
    cells.append(f"{np.mean(cnn[c]):.2f} ± {np.std(cnn[c], ddof=1):.2f}")
    print(f"| {c[0]} | {c[1] * 100:g}% | " + " | ".join(cells) + " |")
print("| **mean of the 18 rows** | | " + " | ".join(f"**{np.mean([np.mean(rows[c][n]) for c in cols]):.2f}**" for n, _ in show)
      + f" | {np.mean([np.mean(cnn[c]) for c in cols]):.2f} |")
