"""The rule of RULE.md on kept member maps: ``python decide.py KEPT.jsonl [KEPT.jsonl ...]``.

Each line holds one split's OA for the three-member fusion through filters of radius 0, 1, 2
(``fewlabels_members.py --kept``), its SVM's cross-validated accuracy and training pixels per
class.  ``default``: today's rule (radius 1 where that accuracy reaches 0.9, else 2);
``dense``: radius 0 where the median class has at least 50 training pixels and every class at
least 2, else today's rule.  Prints the per-row table and the verdict of conditions 1-4.
"""
import sys
from pathlib import Path
from collections import defaultdict

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # results/fewlabels/
from rowcheck import mean_std, records, row_table  # noqa: E402

DENSE = 50


def radius(rec, rule):
    cv = rec["cv"]
    sep = 1 if cv is not None and cv >= 0.9 else 2
    n = np.array(rec["n_train"])
    if rule == "dense" and np.median(n) >= DENSE and n.min() >= 2:
        return 0
    return sep


rows = defaultdict(lambda: defaultdict(list))
for key, r in records(sys.argv[1:]):
    for rule in ("default", "dense"):
        rows[key][rule].append(r["oa"][f"three-r{radius(r, rule)}"])
    rows[key]["median"].append(float(np.median(r["n_train"])))
print("| dataset | share | median class (training px) | default (three members, separable rule) | dense-labels rule | difference |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
_, fails = row_table(rows, "default", "dense", lambda key, d, c, diff: [
    f"{np.mean(rows[key]['median']):.0f}", mean_std(d), mean_std(c), f"{diff:+.2f}"], ip_limit=0.3, tolerance=0.0)
mean_d = np.mean([np.mean(rows[k]["dense"]) - np.mean(rows[k]["default"]) for k in rows])
print(f"\nmean difference over {len(rows)} rows: {mean_d:+.2f}; rows lower than allowed: {fails or 'none'}")
