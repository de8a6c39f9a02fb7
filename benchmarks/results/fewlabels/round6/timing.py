"""Training time of the default ensemble with and without its CNN member, in one run (A/B interleaved).

    python benchmarks/results/fewlabels/round6/timing.py [--data-dir DIR]

One torch thread, seed 0, 1 % stratified splits; prints seconds per fit and the ratio.
"""
import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    import torch

    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.runner import load_scene
    from hsigeo.model.training import train
    from hsigeo.progress import set_mode

    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--dataset", action="append", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    set_mode("none")
    warnings.simplefilter("ignore")
    names = args.dataset or ["salinas-a", "landscape-jasper-like", "indian-pines"]
    scenes = {name: load_scene(name, BenchmarkConfig(data_dir=args.data_dir)) for name in names}
    # one fit first, not timed: the text model, the base model and torch's kernels load once per process
    first = scenes[names[0]]
    train(first.cube, first.labels, first.prompts, train_mask=Protocol("stratified", 0.01).split(first.labels, 0)[0],
          method="ensemble", seed=0, progress=False, device="cpu", epochs=1)
    print("| dataset | share | with CNN member, s | without, s | ratio |\n| --- | ---: | ---: | ---: | ---: |")
    for name in names:
        scene = scenes[name]
        tr, _ = Protocol("stratified", 0.01).split(scene.labels, 0)
        seconds = {}
        for cnn in (False, True):
            t0 = time.perf_counter()
            train(scene.cube, scene.labels, scene.prompts, train_mask=tr, method="ensemble", seed=0,
                  progress=False, device="cpu", cnn_member=cnn)
            seconds[cnn] = time.perf_counter() - t0
        print(f"| {name} | 1% | {seconds[True]:.1f} | {seconds[False]:.1f} | {seconds[True] / seconds[False]:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
