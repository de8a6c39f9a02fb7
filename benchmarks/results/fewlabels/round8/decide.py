"""The rule of RULE.md on kept member maps: ``python decide.py CONFIRM.jsonl -- ROUND7.jsonl ...``.

``default``: today's rule (radius 1 where the SVM's cross-validated accuracy reaches 0.9, else 2);
``candidate``: radius 0 where, in addition, the median class has at least 50 training pixels and every
class at least 2.  Files before ``--`` are the confirmation rows (condition 1), after it the round-7 rows
(condition 2).
"""
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # results/fewlabels/
from rowcheck import mean_std, records, row_table  # noqa: E402


def radius(rec, rule):
    cv = rec["cv"]
    sep = cv is not None and cv >= 0.9
    n = np.array(rec["n_train"])
    if rule == "candidate" and sep and np.median(n) >= 50 and n.min() >= 2:
        return 0
    return 1 if sep else 2


def cv_range(cvs):
    cv = np.array(cvs)
    return "n/a" if np.isnan(cv).all() else f"{np.nanmin(cv):.2f}-{np.nanmax(cv):.2f}"


def table(paths):
    rows = defaultdict(lambda: defaultdict(list))
    for key, r in records(paths):
        for rule in ("default", "candidate"):
            rows[key][rule].append(r["oa"][f"three-r{radius(r, rule)}"])
        rows[key]["median"].append(float(np.median(r["n_train"])))
        rows[key]["cv"].append(r["cv"] if r["cv"] is not None else float("nan"))
    print("| dataset | share | median class | SVM CV | default | candidate | difference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    diffs, fails = row_table(rows, "default", "candidate", lambda key, d, c, diff: [
        f"{np.mean(rows[key]['median']):.0f}", cv_range(rows[key]["cv"]), mean_std(d), mean_std(c), f"{diff:+.2f}"],
        ip_limit=0.0)
    return float(np.mean(diffs)), fails


cut = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
mean1, fails1 = table(sys.argv[1:cut])
print(f"\ncondition 1 (confirmation rows): mean difference {mean1:+.2f} (needs >= +0.2); rows lower than allowed: {fails1 or 'none'}")
if cut < len(sys.argv):
    print()
    _, fails2 = table(sys.argv[cut + 1:])
    print(f"\ncondition 2 (round-7 rows): rows lower than allowed: {fails2 or 'none'}")
