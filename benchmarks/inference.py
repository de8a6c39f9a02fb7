"""Inference throughput and peak memory of tiled (streaming) classification.

For scenes of 0.25, 1, 4 and 16 megapixels x 200 bands (synthetic int16,
written window by window to a temporary folder), runs, each in a fresh
Python process so that peak RSS is that run's alone:

* ``dense``  - :func:`hsigeo.classify_raster`, the model's shared-work path;
* ``naive``  - the same with one patch per pixel (small sizes only: slow);
* ``memory`` - whole-scene in-memory inference
  (:func:`hsigeo.inference.core.predict_proba_array` on the loaded cube; small sizes only);
* ``dask2``  - the same classification on a local dask cluster of 2 worker
  processes (``classify_raster(client=...)``, what ``hsigeo classify --workers 2``
  runs); peak RSS of the client and of each worker process; the cluster's
  start-up is timed apart;
* ``read``   - the pipeline's reading stage alone, with the same reader pool
  (``--readers``): every window read, decoded, validated and normalised (base-model
  channels included), nothing else: the rate the readers can feed;
* ``model``  - the model stage alone on an in-memory tile (the run's tile size), repeated:
  the rate the model can take.  ``dense`` against min(read, model) says how close
  the pipeline is to its own limits;
* ``dense1`` - (``--scaling``) the dense path with one torch thread, so the table
  shows the N-thread rate against N x the 1-thread rate of the same run.

Prints a Markdown table and a verdict against the goals (memory flat within
1.5x from 1 to 16 MP, time linear in pixels, >= 10,000 px/s, dense >= 3x
naive) and writes JSON to ``benchmarks/results/``.  The model is an untrained
default :class:`~hsigeo.model.classifier.HsigeoModel` (speed does not depend
on training), or ``--model FILE``.

Timings are only comparable on a quiet machine: the JSON records the load
average before each run.  ``--quick`` runs 0.25 and 1 MP only;
``--profile`` adds a cProfile of the dense path on the smallest size.

Usage::

    python benchmarks/inference.py [--quick] [--sizes 0.25 1 4 16] [--bands 200]
                                   [--tile-size N] [--naive-max-mp 0.25] [--dask-max-mp 1] [--model FILE]
                                   [--readers N] [--limits] [--scaling] [--device cuda] [--profile]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
GOAL_PX_S = 10_000
GOAL_NAIVE_RATIO = 3.0
GOAL_MEMORY_FLAT = 1.5


# --------------------------------------------------------------------------- #
# Worker: one measurement in a fresh process
# --------------------------------------------------------------------------- #
def _peak_rss_mb() -> float:
    import resource

    # ru_maxrss is KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used, all threads."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker(args: argparse.Namespace) -> None:
    """Run one mode on one scene; print one JSON line."""
    import psutil
    import torch

    from hsigeo.device import default_threads
    from hsigeo.model.modelfile import load_model

    model = load_model(args.model_file)
    # every mode alike: the library's default (all cores but one) unless given
    torch.set_num_threads(args.threads or default_threads() or torch.get_num_threads())
    threads = torch.get_num_threads()

    baseline = psutil.Process().memory_info().rss / 2**20
    t0 = time.perf_counter()
    cpu0 = _cpu_s()
    stages: dict[str, float] = {}
    if args.mode in ("read", "model"):
        pixels = _stage_only(args, model)
    elif args.mode == "memory":
        import rasterio

        from hsigeo.inference.core import predict_proba_array

        with rasterio.open(args.scene) as src:
            cube = src.read()
            nodata = src.nodata
        # the model's own default batch: whole-scene strips are as wide as the scene
        predict_proba_array(cube, model, nodata=nodata, device=args.device, batch_size=args.memory_batch_size)
        pixels = cube.shape[1] * cube.shape[2]
    elif args.mode == "dask2":
        from hsigeo.inference.cluster import open_client
        from hsigeo.inference.tiled import classify_raster

        with open_client(workers=2) as client:
            stages["startup"] = time.perf_counter() - t0
            t0, cpu0 = time.perf_counter(), _cpu_s()
            workers_cpu0 = client.run(_cpu_s)
            result = classify_raster(args.scene, model, Path(args.out_dir) / "classes-dask2.tif",
                                     tile_size=args.tile_size, batch_size=args.batch_size, device=args.device,
                                     overwrite=True, progress=False, client=client)
            seconds = time.perf_counter() - t0
            cpu = _cpu_s() - cpu0 + sum(v - workers_cpu0[k] for k, v in client.run(_cpu_s).items())
            worker_peaks = sorted(client.run(_peak_rss_mb).values())
        pixels = result.width * result.height
        stages.update(result.stage_seconds)
        print(json.dumps({
            "mode": args.mode, "pixels": pixels, "seconds": seconds, "px_per_s": pixels / seconds,
            "peak_rss_mb": _peak_rss_mb(), "baseline_rss_mb": baseline, "worker_peak_rss_mb": worker_peaks,
            "cpu_s": cpu,
            "stages": stages, "threads": 1,
        }))
        return
    else:
        from hsigeo.inference.tiled import classify_raster

        if args.mode == "dense1":
            torch.set_num_threads(1)
            threads = 1

        def run() -> Any:
            return classify_raster(args.scene, model, Path(args.out_dir) / f"classes-{args.mode}.tif",
                                   tile_size=args.tile_size, batch_size=args.batch_size, device=args.device,
                                   naive=args.mode == "naive", overwrite=True, progress=False, threads=threads,
                                   readers=args.readers)

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            result = prof.runcall(run)
            stats = pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime")
            stats.print_stats(25)
        else:
            result = run()
        pixels = result.width * result.height
        stages = result.stage_seconds
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "mode": args.mode, "pixels": pixels, "seconds": seconds, "px_per_s": pixels / seconds,
        "peak_rss_mb": _peak_rss_mb(), "baseline_rss_mb": baseline,
        "stages": stages, "threads": threads, "cpu_s": _cpu_s() - cpu0,
    }))


def _stage_only(args: argparse.Namespace, model: Any) -> int:
    """One pipeline stage alone (``read`` or ``model``); returns the pixels it processed."""
    import threading

    import numpy as np
    import rasterio

    from hsigeo.inference.core import class_dtype, class_values, classify_tile
    from hsigeo.inference.region import plan_region
    from hsigeo.inference.scene import open_scene, read_region_tile
    from hsigeo.inference.tiled import RunOptions
    from hsigeo.sampling.windows import plan_windows

    opts = RunOptions.for_device(args.device, tile_size=args.tile_size, batch_size=args.batch_size,
                                 readers=args.readers)
    scene = open_scene(Path(args.scene), model)
    region = plan_region(scene.width, scene.height, scene.transform, scene.crs)
    windows = plan_windows(region.height, region.width, opts.tile_size)
    radius = int(model.radius)
    if args.mode == "read":
        todo = iter(windows)
        lock = threading.Lock()

        def read_all() -> None:
            with rasterio.open(scene.data_path) as src:
                while True:
                    with lock:
                        window = next(todo, None)
                    if window is None:
                        return
                    read_region_tile(src, scene, region, window, radius, model)

        pool = [threading.Thread(target=read_all) for _ in range(max(1, min(opts.readers, len(windows))))]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return region.width * region.height
    # the model stage on an in-memory tile of the run's size, as many times as the scene has full windows
    side = opts.tile_size + 2 * radius
    rng = np.random.default_rng(0)
    n_in = int(model.config.n_bands) if hasattr(model, "config") else int(model.n_bands)
    tile = rng.standard_normal((n_in, side, side)).astype(np.float32)
    valid = np.ones((opts.tile_size, opts.tile_size), dtype=bool)
    repeats = max(1, min(len(windows), (region.width * region.height) // opts.tile_size ** 2))
    for _ in range(repeats):
        classify_tile(model, tile, valid, class_values(model), class_dtype(model),
                      window=(0, 0, opts.tile_size, opts.tile_size), device=opts.device, batch_size=opts.batch_size,
                      naive=False, keep_probabilities=False)
    if opts.device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return repeats * opts.tile_size ** 2


# --------------------------------------------------------------------------- #
# Driver
# --------------------------------------------------------------------------- #
def _default_model(bands: int, out: Path, smooth_radius: int | None = None, init: str = "auto") -> Path:
    """Save an untrained model with the training defaults' architecture (speed does not depend on training).

    ``init="auto"``: like a model trained on a scene with wavelengths, it carries the base
    model's 64 input channels (:mod:`hsigeo.model.prior`); ``"scratch"``: the bands only.
    """
    from dataclasses import replace

    import numpy as np
    import torch

    from hsigeo.classes import ClassInfo
    from hsigeo.datasets.synthetic import synthetic_wavelengths
    from hsigeo.model.classifier import HsigeoModel, HsigeoNet
    from hsigeo.model.modelfile import save_model
    from hsigeo.model.spatial import SpatialFilter
    from hsigeo.model.training import TrainConfig

    torch.manual_seed(0)
    defaults = TrainConfig()
    prior = None
    if init != "scratch":
        from hsigeo.model.prior import base_prior

        prior = base_prior(None, wavelengths=synthetic_wavelengths(bands), radiometry="reflectance")
    extra = prior.dim if prior is not None else 0
    config = replace(defaults.backbone, n_bands=bands + extra)
    text_dim, n_classes = 384, 6  # the bundled MiniLM text encoder's width; the synthetic scene's classes
    rng = np.random.default_rng(0)
    mean = np.concatenate([np.full(bands, 3000.0), np.zeros(extra)])
    std = np.concatenate([np.full(bands, 1500.0), np.full(extra, 0.1)])
    model = HsigeoModel(
        net=HsigeoNet(config, text_dim), config=config, mean=mean, std=std, prior=prior,
        classes=[ClassInfo(i + 1, f"class {i + 1}", (40 * i, 100, 200 - 30 * i)) for i in range(n_classes)],
        text_embeddings=rng.normal(size=(n_classes, text_dim)).astype(np.float32),
        wavelengths=synthetic_wavelengths(bands),
        # as a trained model: the default edge-aware probability filter is part of inference
        spatial=SpatialFilter.optional(defaults.spatial.smooth_radius if smooth_radius is None else smooth_radius,
                                       defaults.spatial.smooth_tau),
    )
    save_model(model, out)
    return out


def _run_worker(scene: Path, mode: str, args: argparse.Namespace, model_file: Path, out_dir: Path,
                *, profile: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", "--scene", str(scene), "--mode", mode,
           "--model-file", str(model_file), "--out-dir", str(out_dir), "--device", args.device]
    if args.tile_size:
        cmd += ["--tile-size", str(args.tile_size)]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.memory_batch_size:
        cmd += ["--memory-batch-size", str(args.memory_batch_size)]
    if args.readers:
        cmd += ["--readers", str(args.readers)]
    if profile:
        cmd.append("--profile")
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} on {scene.name} failed:\n{proc.stderr[-4000:]}")
    if profile:
        print(proc.stderr, file=sys.stderr)
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["load_before"] = load
    return rec


def _side(mp: float) -> int:
    return int(round(math.sqrt(mp * 1e6)))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="0.25 and 1 MP only")
    p.add_argument("--sizes", type=float, nargs="+", default=None, help="scene sizes in megapixels")
    p.add_argument("--bands", type=int, default=200)
    p.add_argument("--tile-size", type=int, default=None, help="default: the library's (256 on CPU)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: the library's, all cores but one)")
    p.add_argument("--naive-max-mp", type=float, default=0.25, help="largest size run with the naive path")
    p.add_argument("--memory-max-mp", type=float, default=1.0, help="largest size run whole-scene in memory")
    p.add_argument("--dask-max-mp", type=float, default=1.0,
                   help="largest size run on a local dask cluster of 2 worker processes")
    p.add_argument("--memory-batch-size", type=int, default=None,
                   help="batch of the whole-scene run (default: the model's)")
    p.add_argument("--model", type=Path, default=None, help="model file (default: untrained default model)")
    p.add_argument("--init", choices=["auto", "scratch"], default="auto",
                   help="auto: the default model carries the base model's input channels, as training on a scene "
                        "with wavelengths gives; scratch: the bands only")
    p.add_argument("--smooth-radius", type=int, default=None,
                   help="spatial filter radius of the default model (default: the trainer's, 2; 0 = none)")
    p.add_argument("--profile", action="store_true", help="cProfile the dense path on the smallest size")
    p.add_argument("--readers", type=int, default=None,
                   help="reader threads of the pipeline (default: the library's: 1 on CPU, up to 8 on CUDA)")
    p.add_argument("--limits", action="store_true",
                   help="also run the read-only and model-only stages on every size (the pipeline's own limits)")
    p.add_argument("--scaling", action="store_true",
                   help="also run the dense path with one torch thread (N-thread rate vs N x 1-thread rate)")
    p.add_argument("--workdir", type=Path, default=None, help="where scenes go (default: a temporary folder)")
    # worker-only options
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--scene", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=["dense", "dense1", "naive", "memory", "dask2", "read", "model"],
                   help=argparse.SUPPRESS)
    p.add_argument("--model-file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return

    sizes = args.sizes or ([0.25, 1.0] if args.quick else [0.25, 1.0, 4.0, 16.0])
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hsigeo-bench-", dir=args.workdir) as tmp:
        tmp_path = Path(tmp)
        model_file = args.model or _default_model(args.bands, tmp_path / "default.hsigeo", args.smooth_radius, args.init)
        from hsigeo.datasets.synthetic import write_large_synthetic

        rows: list[dict[str, Any]] = []
        for mp in sizes:
            side = _side(mp)
            scene = tmp_path / f"scene-{side}.tif"
            t0 = time.perf_counter()
            write_large_synthetic(scene, height=side, width=side, bands=args.bands, seed=0, progress=False)
            print(f"wrote {side} x {side} x {args.bands} in {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
            modes = ["dense"]
            if mp <= args.naive_max_mp:
                modes.append("naive")
            if mp <= args.memory_max_mp:
                modes.append("memory")
            if mp <= args.dask_max_mp:
                modes.append("dask2")
            if args.scaling:
                modes.append("dense1")
            if args.limits:
                modes += ["read", "model"]
            for mode in modes:
                rec = _run_worker(scene, mode, args, model_file, tmp_path,
                                  profile=args.profile and mode == "dense" and mp == sizes[0])
                rec.update(size_mp=mp, side=side)
                rows.append(rec)
                print(f"  {mp:g} MP {mode:<6} {rec['px_per_s']:>10,.0f} px/s  {rec['seconds']:7.1f} s  "
                      f"peak {rec['peak_rss_mb']:7.0f} MB  stages {rec['stages']}", file=sys.stderr, flush=True)
            scene.unlink()

    table = _table(rows)
    verdict = _verdict(rows)
    print(table)
    print()
    print("\n".join(verdict))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"inference-{stamp}.json"
    import torch

    out.write_text(json.dumps({
        "rows": rows, "verdict": verdict, "bands": args.bands, "tile_size": args.tile_size,
        "batch_size": args.batch_size, "device": args.device, "model": str(args.model or f"untrained default (init {args.init}, smooth radius "
                                                   f"{'default' if args.smooth_radius is None else args.smooth_radius})"),
        "threads": rows[0].get("threads") if rows else None,
        "machine": {"cpus": os.cpu_count(), "torch_threads_default": torch.get_num_threads(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "platform": platform.platform()},
    }, indent=2))
    print(f"\nresults: {out}", file=sys.stderr)


def _table(rows: list[dict[str, Any]]) -> str:
    dense = {r["size_mp"]: r for r in rows if r["mode"] == "dense"}
    lines = ["| size (MP) | pixels | path | seconds | px/s | px per CPU-s | peak RSS (MB) | RSS - baseline (MB) "
             "| time / dense | read / model / write / wait (s) |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        d = dense.get(r["size_mp"])
        ratio = f"{r['seconds'] / d['seconds']:.1f}x" if d and r["mode"] != "dense" else ""
        workers = r.get("worker_peak_rss_mb")
        peak = f"{r['peak_rss_mb']:.0f}" + (f" (workers {', '.join(f'{w:.0f}' for w in workers)})" if workers else "")
        lines.append(f"| {r['size_mp']:g} | {r['pixels']:,} | {r['mode']} | {r['seconds']:.1f} | "
                     f"{r['px_per_s']:,.0f} | {_px_per_cpu(r)} | {peak} | "
                     f"{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f} | {ratio} | {_stages(r)} |")
    return "\n".join(lines)


def _px_per_cpu(r: dict[str, Any]) -> str:
    # on a shared machine wall time follows the CPU share a run got; CPU time is the work it did
    return f"{r['pixels'] / r['cpu_s']:,.0f}" if r.get("cpu_s") else ""


def _stages(r: dict[str, Any]) -> str:
    st = r.get("stages") or {}
    return " / ".join(f"{st[k]:.1f}" for k in ("read", "model", "write", "wait")) if st else ""


def _verdict(rows: list[dict[str, Any]]) -> list[str]:
    dense = sorted((r for r in rows if r["mode"] == "dense"), key=lambda r: r["pixels"])
    out: list[str] = []
    if not dense:
        return out
    best = max(r["px_per_s"] for r in dense)
    out.append(f"- throughput: best {best:,.0f} px/s (goal >= {GOAL_PX_S:,}): {'OK' if best >= GOAL_PX_S else 'MISSED'}")
    big = [r for r in dense if r["size_mp"] >= 1]
    if len(big) >= 2:
        ratio = big[-1]["peak_rss_mb"] / big[0]["peak_rss_mb"]
        out.append(f"- memory: peak RSS {big[-1]['size_mp']:g} MP / {big[0]['size_mp']:g} MP = {ratio:.2f} "
                   f"(goal <= {GOAL_MEMORY_FLAT}): {'OK' if ratio <= GOAL_MEMORY_FLAT else 'MISSED'}")
        per_px = [r["seconds"] / r["pixels"] * 1e6 for r in big]
        spread = max(per_px) / min(per_px)
        out.append(f"- linearity: {', '.join(f'{v:.1f}' for v in per_px)} s per megapixel "
                   f"(max/min {spread:.2f}; ~1 = linear)")
    by = {(r["size_mp"], r["mode"]): r for r in rows}
    for d in dense:
        read, model = by.get((d["size_mp"], "read")), by.get((d["size_mp"], "model"))
        if read and model:
            limit = min(read["px_per_s"], model["px_per_s"])
            out.append(f"- limits at {d['size_mp']:g} MP: read-only {read['px_per_s']:,.0f} px/s, model-only "
                       f"{model['px_per_s']:,.0f} px/s; end to end {d['px_per_s']:,.0f} px/s = "
                       f"{d['px_per_s'] / limit:.0%} of min(read, model)")
        one = by.get((d["size_mp"], "dense1"))
        if one and d.get("threads"):
            n = d["threads"]
            out.append(f"- scaling at {d['size_mp']:g} MP: {n} threads {d['px_per_s']:,.0f} px/s vs 1 thread "
                       f"{one['px_per_s']:,.0f} px/s = {d['px_per_s'] / (one['px_per_s'] * n):.2f} x N x 1-thread "
                       f"(goal >= 0.6)")
    for r in rows:
        if r["mode"] == "naive":
            d = next(x for x in dense if x["size_mp"] == r["size_mp"])
            ratio = r["seconds"] / d["seconds"]
            out.append(f"- dense vs naive at {r['size_mp']:g} MP: {ratio:.1f}x (goal >= {GOAL_NAIVE_RATIO}): "
                       f"{'OK' if ratio >= GOAL_NAIVE_RATIO else 'MISSED'}")
        if r["mode"] == "memory":
            d = next(x for x in dense if x["size_mp"] == r["size_mp"])
            out.append(f"- tiled vs whole-scene in memory at {r['size_mp']:g} MP: time {d['seconds'] / r['seconds']:.2f}x, "
                       f"peak RSS {d['peak_rss_mb']:.0f} vs {r['peak_rss_mb']:.0f} MB")
        if r["mode"] == "dask2":
            d = next(x for x in dense if x["size_mp"] == r["size_mp"])
            out.append(f"- 2 local dask workers vs in-process at {r['size_mp']:g} MP: {r['px_per_s']:,.0f} vs "
                       f"{d['px_per_s']:,.0f} px/s ({r['px_per_s'] / d['px_per_s']:.2f}x), {_px_per_cpu(r)} vs "
                       f"{_px_per_cpu(d)} px per CPU-second (cluster start-up "
                       f"{r['stages'].get('startup', 0):.1f} s not counted); peak RSS client "
                       f"{r['peak_rss_mb']:.0f} MB, workers {', '.join(f'{w:.0f}' for w in r['worker_peak_rss_mb'])} MB "
                       f"vs in-process {d['peak_rss_mb']:.0f} MB")
    return out


if __name__ == "__main__":
    main()
