"""Training time of the default, of the default with --member-check, and of the network alone (A/B/C in one run).

    python benchmarks/results/fewlabels/round10/timing.py [--data-dir DIR] [--share 0.01] [--dataset NAME ...]

One torch thread, seed 0, stratified splits; prints seconds per fit and the ratios. "fold fits" says whether the
two-fold fits ran at all in the default (only where a filter was kept) and with the member check (always).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
from training_timing import prepare, timed_fits  # noqa: E402


def main() -> None:
    args, scenes = prepare(__doc__, lambda ap: ap.add_argument("--share", type=float, default=0.01))
    print("| dataset | share | with --member-check, s | default, s | network alone, s | "
          "member check / default | member check / network alone | fold fits (default / member check) | member left out |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for name, scene in scenes.items():
        fits = timed_fits(scene, args.share, {"net": {"method": "net"}, "default": {"method": "ensemble"},
                                              "check": {"method": "ensemble", "member_test": 0.05}})
        seconds = {label: fit[0] for label, fit in fits.items()}
        reports = {label: fits[label][1].report for label in ("default", "check")}
        ran = {label: "members" in r or "fold_test" in r.get("spatial_filter", {}) for label, r in reports.items()}
        left = reports["check"]["members"]["left_out"] if "members" in reports["check"] else None
        print(f"| {name} | {args.share * 100:g}% | {seconds['check']:.1f} | {seconds['default']:.1f} | {seconds['net']:.1f} | "
              f"{seconds['check'] / seconds['default']:.2f} | {seconds['check'] / seconds['net']:.2f} | "
              f"{ran['default']} / {ran['check']} | {left} |", flush=True)


if __name__ == "__main__":
    main()
