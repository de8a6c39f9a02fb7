"""Exploration before RULE.md: fusion weights (network 1, SVM a, CNN b) and a log-linear pool, each unfiltered
(r0) and through today's filter rule, re-scored from round 6's kept member maps (development splits only).

    python results/fewlabels/round7/oracle.py KEEP_DIR CACHE_DIR OUT.jsonl        # from benchmarks/
"""
import sys, json, numpy as np
from pathlib import Path
sys.path.insert(0, '.')
import fewlabels_members as fm
fm._init()
keep, cache = Path(sys.argv[1]), Path(sys.argv[2])
out = open(sys.argv[3], 'w')
grid = [(a, b) for a in (0, 0.5, 1, 2) for b in (0, 0.5, 1, 2, 4)]
for path in sorted(keep.glob('*.npz')):
    d = fm._load_split(cache / path.name, None)
    k = np.load(path)
    labels, m_test, values, guide, pool = d['labels'], d['m_test'], d['values'], d['guide'], d['pool']
    pn, ps, pc = (k[n].astype(np.float32) for n in ('p_net', 'p_st3', 'p_cnn'))
    cv = float(k['cv'])
    rad = 1 if np.isfinite(cv) and cv >= 0.9 else 2
    rec = {'dataset': d['name'], 'fraction': d['fraction'], 'seed': d['seed'], 'oa': {}}
    for a, b in grid:
        w = [pn.max(0), a * ps.max(0), b * pc.max(0)]
        p = (w[0] * pn + w[1] * ps + w[2] * pc) / np.maximum(w[0] + w[1] + w[2], 1e-12)
        for r in (0, rad):
            pf = fm._filter(p, guide, r) if r else p
            pred = values[pf.argmax(0)]
            rec['oa'][f'w{a}-{b}-{"r0" if r == 0 else "rule"}'] = float((pred[m_test] == labels[m_test]).mean() * 100)
    # log-linear pool
    lp = (np.log(np.clip(pn, 1e-6, 1)) + np.log(np.clip(ps, 1e-6, 1)) + np.log(np.clip(pc, 1e-6, 1))) / 3
    p = np.exp(lp - lp.max(0)); p /= p.sum(0)
    for r in (0, rad):
        pf = fm._filter(p, guide, r) if r else p
        pred = values[pf.argmax(0)]
        rec['oa'][f'geo-{"r0" if r == 0 else "rule"}'] = float((pred[m_test] == labels[m_test]).mean() * 100)
    out.write(json.dumps(rec) + '\n'); out.flush()
    print(path.name, flush=True)
