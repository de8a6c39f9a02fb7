"""What a prompt-only map costs with one base model file or another, timed in the same run.

For each scene, every model file is bound to it (``for_scene``), then mapped by the base model
alone (``--adapt off``) and with the scene adaptation (``--adapt on``: the adaptation's fit plus the
adapted map), ``--repeats`` times with the files interleaved so that a busy machine slows them
alike.  Prints pixels per second (best of the repeats) and each file's time as a multiple of the
first file's.  Timings are of this machine and its load; compare the ratios.

    python benchmarks/zero_shot_speed.py --model OLD.hsigeo --model hsigeo/data/base_model.hsigeo
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    import torch

    from hsigeo.evaluation.merges import SCENES, load_merge
    from hsigeo.evaluation.zero_shot import scene_arrays
    from hsigeo.model.adapt import adapt
    from hsigeo.model.base import load_base
    from hsigeo.progress import set_mode
    from hsigeo.text.encoder import TextEncoder
    from hsigeo.text.prompts import load_prompts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", type=Path, required=True, help="base model file (two or more)")
    ap.add_argument("--scene", action="append", default=None, help="zero-shot scene(s) (default: berlin, "
                    "landscape-jasper-like)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    set_mode("none")
    encoder = TextEncoder()
    models = [load_base(p) for p in args.model]
    print("| scene | pixels | model | base alone, px/s | x first | adapted (fit + map), px/s | x first |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name in args.scene or ["berlin", "landscape-jasper-like"]:
        cube, _, wl, fwhm = scene_arrays(name, args.data_dir)
        ps = load_prompts(load_merge(SCENES[name]).prompts)
        n = cube.shape[1] * cube.shape[2]
        # bound once per file (the radiometry check and the prompts' embedding are not what is timed)
        bound = [base.for_scene(cube, ps, wavelengths=wl, fwhm=fwhm, threshold=0.0,
                                text_embeddings=base.encode_prompts(ps, encoder)) for base in models]
        best = {i: [float("inf"), float("inf")] for i in range(len(models))}
        for _ in range(args.repeats):
            for i, zs in enumerate(bound):
                t0 = time.perf_counter()
                zs.predict_array(cube)
                t1 = time.perf_counter()
                adapt(zs, cube, unknown=0.0).predict_array(cube)
                t2 = time.perf_counter()
                best[i] = [min(best[i][0], t1 - t0), min(best[i][1], t2 - t1)]
        for i, p in enumerate(args.model):
            r = [best[i][k] / best[0][k] for k in (0, 1)]
            print(f"| {name} | {n:,} | {p.name} | {n / best[i][0]:,.0f} | {r[0]:.2f} | {n / best[i][1]:,.0f} | "
                  f"{r[1]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
