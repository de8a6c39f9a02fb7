"""Training time of the default with and without its two-fold filter check, and of the network alone (A/B/C in one run).

    python benchmarks/results/fewlabels/round9/timing.py [--data-dir DIR] [--share 0.01]

One torch thread, seed 0, stratified splits; prints seconds per fit and the ratios.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
from training_timing import prepare, timed_fits  # noqa: E402


def main() -> None:
    args, scenes = prepare(__doc__, lambda ap: ap.add_argument("--share", type=float, default=0.01))
    print("| dataset | share | default (with the check), s | without the check, s | network alone, s | "
          "check / without | default / network alone | check ran |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, scene in scenes.items():
        fits = timed_fits(scene, args.share, {"net": {"method": "net"}, "off": {"method": "ensemble", "fold_test": None},
                                              "on": {"method": "ensemble"}})
        seconds = {label: fit[0] for label, fit in fits.items()}
        ran = "fold_test" in fits["on"][1].report.get("spatial_filter", {})
        print(f"| {name} | {args.share * 100:g}% | {seconds['on']:.1f} | {seconds['off']:.1f} | {seconds['net']:.1f} | "
              f"{seconds['on'] / seconds['off']:.2f} | {seconds['on'] / seconds['net']:.2f} | {ran} |", flush=True)


if __name__ == "__main__":
    main()
