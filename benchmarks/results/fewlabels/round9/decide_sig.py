"""The addendum's rule (RULE.md): ``python decide_sig.py DEV.jsonl ... -- CONFIRM.jsonl ...`` (cvfilter.py records).

``cv-two-sig``: unfiltered where the shipped rule keeps a filter and the SVM + CNN fold maps are better
unfiltered by an exact one-sided McNemar test, p < 0.05.
"""
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # results/fewlabels/
from rowcheck import mean_std, records, row_table  # noqa: E402
from rowcheck import rule_radius as shipped_radius

LEVEL = 0.05


def p_value(rec, r):
    b, c = rec["discordant"][f"two-r0>r{r}"], rec["discordant"][f"two-r>r0{r}"]
    return binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0


def radius(rec):
    r = shipped_radius(rec)
    if r == 0:
        return 0
    return 0 if p_value(rec, r) < LEVEL else r


def table(paths, title):
    rows = defaultdict(lambda: defaultdict(list))
    for key, rec in records(paths):
        r = radius(rec)
        rows[key]["shipped"].append(rec["oa"][f"three-r{shipped_radius(rec)}"])
        rows[key]["cand"].append(rec["oa"][f"three-r{r}"])
        rows[key]["off"].append(r == 0 and shipped_radius(rec) != 0)
        if "discordant" in rec and shipped_radius(rec):
            rows[key]["p"].append(p_value(rec, shipped_radius(rec)))
    print(f"\n### {title}\n")
    print("| dataset | share | shipped default | cv-two-sig | difference | splits turned unfiltered | McNemar p per seed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    diffs, fails = row_table(rows, "shipped", "cand", lambda key, s, c, diff: [
        mean_std(s), mean_std(c), f"{diff:+.2f}", str(sum(rows[key]["off"])),
        ", ".join(f"{p:.2g}" for p in rows[key]["p"]) or "(shipped: unfiltered)"], ip_limit=0.3)
    m = float(np.mean(diffs))
    ok = m >= 0.2 and not fails
    print(f"\nmean difference {m:+.2f} over {len(diffs)} rows (needs >= +0.2); rows lower than allowed: "
          f"{fails or 'none'} -> {'holds' if ok else 'fails'}")
    return ok


cut = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
a = table(sys.argv[1:cut], "Condition A: the 36 development rows")
b = table(sys.argv[cut + 1:], "Condition B: the eight confirmation rows") if cut < len(sys.argv) else False
print(f"\n**cv-two-sig: {'passes' if a and b else 'fails'}** (A {'holds' if a else 'fails'}, B {'holds' if b else 'fails or not run'})")
