"""Training time of the default ensemble with and without its CNN member, in one run (A/B interleaved).

    python benchmarks/results/fewlabels/round6/timing.py [--data-dir DIR]

One torch thread, seed 0, 1 % stratified splits; prints seconds per fit and the ratio.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
from training_timing import prepare, timed_fits  # noqa: E402


def main() -> None:
    _, scenes = prepare(__doc__)
    print("| dataset | share | with CNN member, s | without, s | ratio |\n| --- | ---: | ---: | ---: | ---: |")
    for name, scene in scenes.items():
        fits = timed_fits(scene, 0.01, {cnn: {"method": "ensemble", "cnn_member": cnn} for cnn in (False, True)})
        seconds = {cnn: fits[cnn][0] for cnn in fits}
        print(f"| {name} | 1% | {seconds[True]:.1f} | {seconds[False]:.1f} | {seconds[True] / seconds[False]:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
