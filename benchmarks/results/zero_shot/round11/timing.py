"""Words alone, round 11: what the gate and the endmember step cost, against the plain adaptation.

    HSIGEO_DATA_DIR=... python benchmarks/results/zero_shot/round11/timing.py SCENE [SCENE ...]

Seconds of ``adapt_if_wanted`` (descriptive prompts), ``auto`` (round 11's default: k-means of the sample, the
gate, and where it passes the unmixing and one round) and ``plain`` (three rounds), alternated twice in one run.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "round10"))
import endmembers as E  # noqa: E402

from hsigeo.model.adapt import adapt_if_wanted  # noqa: E402


def main(names):
    for name, label, zs, cube, _, _ in E.bound_scenes(names):
        if label != "descriptions":
            continue
        t = {"auto": [], "plain": []}
        for _ in range(2):
            for mode in t:
                t0 = time.perf_counter()
                adapt_if_wanted(mode, zs, cube, unknown=0.0)
                t[mode].append(time.perf_counter() - t0)
        print(f"{name} {cube.shape}: " + "; ".join(f"{k} {' / '.join(f'{v:.1f}' for v in vs)} s" for k, vs in t.items()),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
