"""The rule of RULE.md: ``python decide.py FILE ...`` (cvfilter.py records)."""
import sys
from pathlib import Path
from collections import defaultdict

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # results/fewlabels/
from rowcheck import compare, mean_std, records  # noqa: E402


def shipped_radius(rec):
    """The shipped default (round 8): 0 where separable and dense, 1 where separable, else 2."""
    cv = rec["cv"]
    sep = cv is not None and cv >= 0.9
    n = np.array(rec["n_train"])
    if sep and np.median(n[n > 0]) >= 50 and n[n > 0].min() >= 2:
        return 0
    return 1 if sep else 2


def radius(rec, rule):
    r = shipped_radius(rec)
    if rule == "shipped" or r == 0:
        return r
    c = rec["cv_correct"]
    member = rule.split("-", 1)[1]
    return 0 if c[f"{member}-r0"] > c[f"{member}-r{r}"] else r


rows = defaultdict(lambda: defaultdict(list))
for key, rec in records(sys.argv[1:]):
    for rule in ("shipped", "cv-svm", "cv-two"):
        rows[key][rule].append(rec["oa"][f"three-r{radius(rec, rule)}"])
        rows[key][rule + "-off"].append(radius(rec, rule) == 0)
print("| dataset | share | shipped default | cv-svm | diff | cv-two | diff | unfiltered splits (shipped / cv-svm / cv-two) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
diffs, fails = defaultdict(list), defaultdict(list)
for key in sorted(rows):
    s = np.array(rows[key]["shipped"])
    cells = [mean_std(s)]
    for rule in ("cv-svm", "cv-two"):
        c = np.array(rows[key][rule])
        diff, _, fail = compare(key, s, c, ip_limit=0.3)
        diffs[rule].append(diff)
        if fail:
            fails[rule].append(fail)
        cells += [mean_std(c), f"{diff:+.2f}"]
    off = " / ".join(str(sum(rows[key][r + "-off"])) for r in ("shipped", "cv-svm", "cv-two"))
    print(f"| {key[0]} | {key[1] * 100:g}% | " + " | ".join(cells) + f" | {off} |")
print()
for rule in ("cv-svm", "cv-two"):
    m = float(np.mean(diffs[rule]))
    ok = m >= 0.2 and not fails[rule]
    print(f"{rule}: mean difference {m:+.2f} over {len(diffs[rule])} rows (needs >= +0.2); rows lower than allowed: "
          f"{fails[rule] or 'none'} -> {'passes' if ok else 'fails'}")
