"""Training time of the default ensemble with and without its CNN member, in one run (A/B interleaved).

    python benchmarks/results/fewlabels/round6/timing.py [--data-dir DIR]

One torch thread, seed 0, 1 % stratified splits; prints seconds per fit and the ratio.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # benchmarks/
from training_timing import prepare  # noqa: E402


def main() -> None:
    from hsigeo.evaluation.benchmark_config import Protocol
    from hsigeo.model.training import train

    _, scenes = prepare(__doc__)
    print("| dataset | share | with CNN member, s | without, s | ratio |\n| --- | ---: | ---: | ---: | ---: |")
    for name, scene in scenes.items():
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
