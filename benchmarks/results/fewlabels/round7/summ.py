"""Table of oracle.jsonl: python summ.py oracle.jsonl w1-1-rule [TOP]."""
import json, sys, numpy as np
from collections import defaultdict
rows = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    r = json.loads(line)
    for k, v in r['oa'].items():
        rows[(r['dataset'], r['fraction'])][k].append(v)
keys = list(next(iter(rows.values())).keys())
base = sys.argv[2]
means = {k: np.mean([np.mean(rows[c][k]) for c in rows]) for k in keys}
top = sorted(keys, key=lambda k: -means[k])[:int(sys.argv[3]) if len(sys.argv) > 3 else 12]
if base not in top: top.append(base)
print('row'.ljust(26), ' '.join(k[:13].rjust(13) for k in top))
for c in sorted(rows):
    print(f'{c[0][:20]} {c[1]:.2f}'.ljust(26), ' '.join(f'{np.mean(rows[c][k]):13.2f}' for k in top))
print('mean'.ljust(26), ' '.join(f'{means[k]:13.2f}' for k in top))
print('worst drop vs base'.ljust(26), ' '.join(f'{min(np.mean(rows[c][k]) - np.mean(rows[c][base]) for c in rows):13.2f}' for k in top))
