"""Training time of the default with and without its two-fold filter check, and of the network alone (A/B/C in one run).

    python benchmarks/results/fewlabels/round9/timing.py [--data-dir DIR] [--share 0.01]

One torch thread, seed 0, stratified splits; prints seconds per fit and the ratios.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
from training_timing import prepare  # noqa: E402


def main() -> None:
    from hsigeo.evaluation.benchmark_config import Protocol
    from hsigeo.model.training import train

    args, scenes = prepare(__doc__, lambda ap: ap.add_argument("--share", type=float, default=0.01))
    print("| dataset | share | default (with the check), s | without the check, s | network alone, s | "
          "check / without | default / network alone | check ran |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, scene in scenes.items():
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
