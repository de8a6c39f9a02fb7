"""Round 10's rule (RULE.md): ``python decide.py DEV.jsonl ... -- CONFIRM.jsonl ...`` (cvmembers.py records).

For each candidate (`members-sig`, `fused-sig`) and each row (dataset, share; seeds 0-2): the shipped
default (round 9: the three members, the shipped filter rule and its fold check) against the candidate
(which cheap member stays, by the fold maps, then the same filter rule with the fold check on the
members that stay).
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
FOLD_MAP = {"three": "two", "net-cnn": "cnn", "net-svm": "svm"}  # the fold maps of the cheap members that stay


def p_better(rec, a, b):
    """Exact one-sided McNemar p of "fold map ``a`` is right more often than ``b``" on the scored pixels."""
    ra = np.frombuffer(rec["right"][a].encode(), dtype=np.uint8) == ord("1")
    rb = np.frombuffer(rec["right"][b].encode(), dtype=np.uint8) == ord("1")
    wins, losses = int((ra & ~rb).sum()), int((rb & ~ra).sum())
    return binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue if wins + losses else 1.0


def members(rec, candidate):
    """The member set of the final map."""
    if candidate == "shipped":
        return "three"
    if candidate == "members-sig":
        if p_better(rec, "cnn-r0", "svm-r0") < LEVEL:
            return "net-cnn"
        if p_better(rec, "svm-r0", "cnn-r0") < LEVEL:
            return "net-svm"
        return "three"
    # fused-sig
    p_cnn, p_svm = p_better(rec, "cnn-r0", "two-r0"), p_better(rec, "svm-r0", "two-r0")
    if min(p_cnn, p_svm) >= LEVEL:
        return "three"
    return "net-cnn" if p_cnn <= p_svm else "net-svm"


def final_oa(rec, candidate):
    """(test OA of the final map, member set, radius)."""
    s = members(rec, candidate)
    r = shipped_radius(rec)
    if r and p_better(rec, f"{FOLD_MAP[s]}-r0", f"{FOLD_MAP[s]}-r{r}") < LEVEL:
        r = 0
    return rec["oa"][f"{s}-r{r}"], s, r


def table(paths, title, candidate):
    rows = defaultdict(lambda: defaultdict(list))
    for key, rec in records(paths):
        rows[key]["shipped"].append(final_oa(rec, "shipped")[0])
        oa, s, r = final_oa(rec, candidate)
        rows[key]["cand"].append(oa)
        rows[key]["how"].append(f"{s}{'' if r else ', off'}" if s != "three" or not r else "-")
    print(f"\n### {candidate}: {title}\n")
    print(f"| dataset | share | shipped default | {candidate} | difference | members (filter) per seed |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    diffs, fails = row_table(rows, "shipped", "cand", lambda key, s, c, diff: [
        mean_std(s), mean_std(c), f"{diff:+.2f}", "; ".join(rows[key]["how"])], ip_limit=0.3)
    m = float(np.mean(diffs)) if diffs else float("nan")
    ok = bool(diffs) and m >= 0.2 and not fails
    print(f"\nmean difference {m:+.2f} over {len(diffs)} rows (needs >= +0.2); rows lower than allowed: "
          f"{fails or 'none'} -> {'holds' if ok else 'fails'}")
    return ok, m


if __name__ == "__main__":
    cut = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    dev, confirm = sys.argv[1:cut], sys.argv[cut + 1:]
    for cand in ("members-sig", "fused-sig"):
        a, ma = table(dev, f"condition A, the {len({k for k, _ in records(dev)})} development rows", cand)
        b, mb = table(confirm, "condition B, the eight confirmation rows", cand) if confirm else (False, float("nan"))
        print(f"\n**{cand}: {'passes' if a and b else 'fails'}** (A {'holds' if a else 'fails'} {ma:+.2f}, "
              f"B {'holds' if b else 'fails or not run'} {mb:+.2f})")
