"""Training time of the default with and without its two-fold filter check, and of the network alone (A/B/C in one run).

    python benchmarks/results/fewlabels/round9/timing.py [--data-dir DIR] [--share 0.01]

One torch thread, seed 0, stratified splits; prints seconds per fit and the ratios.
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
    ap.add_argument("--share", type=float, default=0.01)
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
    print("| dataset | share | default (with the check), s | without the check, s | network alone, s | "
          "check / without | default / network alone | check ran |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        scene = scenes[name]
        tr, _ = Protocol("stratified", args.share).split(scene.labels, 0)
        seconds, ran = {}, None
        for label, kw in (("net", {"method": "net"}), ("off", {"method": "ensemble", "fold_test": None}),
                          ("on", {"method": "ensemble"})):
            t0 = time.perf_counter()
            model, _ = train(scene.cube, scene.labels, scene.prompts, train_mask=tr, seed=0, progress=False,
                             device="cpu", **kw)
            seconds[label] = time.perf_counter() - t0
            if label == "on":
                ran = "fold_test" in model.report.get("spatial_filter", {})
        print(f"| {name} | {args.share * 100:g}% | {seconds['on']:.1f} | {seconds['off']:.1f} | {seconds['net']:.1f} | "
              f"{seconds['on'] / seconds['off']:.2f} | {seconds['on'] / seconds['net']:.2f} | {ran} |", flush=True)


if __name__ == "__main__":
    main()
