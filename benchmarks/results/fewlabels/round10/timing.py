"""Training time of the default, of the default with --member-check, and of the network alone (A/B/C in one run).

    python benchmarks/results/fewlabels/round10/timing.py [--data-dir DIR] [--share 0.01] [--dataset NAME ...]

One torch thread, seed 0, stratified splits; prints seconds per fit and the ratios. "fold fits" says whether the
two-fold fits ran at all in the default (only where a filter was kept) and with the member check (always).
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
    print("| dataset | share | with --member-check, s | default, s | network alone, s | "
          "member check / default | member check / network alone | fold fits (default / member check) | member left out |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for name, scene in scenes.items():
        tr, _ = Protocol("stratified", args.share).split(scene.labels, 0)
        seconds, ran, left = {}, {}, None
        for label, kw in (("net", {"method": "net"}), ("default", {"method": "ensemble"}),
                          ("check", {"method": "ensemble", "member_test": 0.05})):
            t0 = time.perf_counter()
            model, _ = train(scene.cube, scene.labels, scene.prompts, train_mask=tr, seed=0, progress=False,
                             device="cpu", **kw)
            seconds[label] = time.perf_counter() - t0
            if label != "net":
                ran[label] = "members" in model.report or "fold_test" in model.report.get("spatial_filter", {})
            if label == "check" and "members" in model.report:
                left = model.report["members"]["left_out"]
        print(f"| {name} | {args.share * 100:g}% | {seconds['check']:.1f} | {seconds['default']:.1f} | {seconds['net']:.1f} | "
              f"{seconds['check'] / seconds['default']:.2f} | {seconds['check'] / seconds['net']:.2f} | "
              f"{ran['default']} / {ran['check']} | {left} |", flush=True)


if __name__ == "__main__":
    main()
