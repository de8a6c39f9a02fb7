"""The prepared run for a lent GPU machine (issue 22): one call, every device figure, baselines in the same run.

Lent machines come rarely and for 15 minutes in all, so this script does everything issue 22 asks
to measure in one go, each step timed and each failure recorded without stopping the rest:

1. **install**: the wheels of ``device_bundle/wheels`` (``scripts/device_bundle.py``) the machine lacks;
2. **agreement**: one seeded model with the base-model channels (``--init auto``) maps the same
   300 x 340 scene on the CPU and on the device; share of equal pixels (goal >= 99.9 %);
3. **inference**: ``benchmarks/inference.py`` on the device at 1 and 4 MP with its own limits
   (read-only rate with the same reader pool, model-only rate), then on the CPU with all cores
   and one thread (the N-core scaling goal);
4. **training**: Indian Pines 10 %, seed 0, on the device and on the CPU (all cores): seconds and
   OA on the other labelled pixels, with the text embeddings precomputed in the bundle (the
   text model is not carried).

Writes ``device_check.md`` and ``device_check.json`` into ``--out`` (``$OUT`` on the device machine).

Usage (device tool)::

    run(command="python benchmarks/device_check.py --bundle device_bundle --out $OUT",
        carry=["device_bundle"], timeout_s=540)

Runs on a CPU-only machine too (``--device cpu --quick``), which is how it is tested here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _step(results: dict[str, Any], name: str, fn: Any, *args: Any) -> None:
    """Run one step, record its result or its error and its wall time; never stop the run."""
    t0 = time.perf_counter()
    try:
        results[name] = {"ok": True, **fn(*args)}
    except Exception as exc:  # a failed step must not cost the device time of the others  # noqa: BLE001
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()[-2000:]}
    results[name]["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"[{name}] {'ok' if results[name]['ok'] else 'FAILED'} in {results[name]['seconds']} s", flush=True)


def install(bundle: Path) -> dict[str, Any]:
    """pip-install the bundle's wheels that are not installed yet (offline, without dependencies)."""
    names = sorted({w.name.split("-")[0].replace("_", "-") for w in (bundle / "wheels").glob("*.whl")})
    if not names:
        return {"installed": []}
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                           "--find-links", str(bundle / "wheels"), *names], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-1500:])
    return {"installed": names}


def environment(device: str) -> dict[str, Any]:
    import torch

    out = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
           "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
        out["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    return out


def agreement(device: str, work: Path) -> dict[str, Any]:
    """Share of equal pixels of one model's maps on the CPU and on ``device`` (base-model channels included)."""
    import numpy as np
    import rasterio

    from benchmarks.inference import _default_model
    from hsigeo.datasets.synthetic import make_synthetic_scene
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.model.modelfile import load_model

    work.mkdir(parents=True, exist_ok=True)
    model = load_model(_default_model(200, work / "agree.hsigeo", None, "auto"))
    scene = make_synthetic_scene(work / "agree", height=300, width=340, bands=200, n_classes=6, seed=11)
    maps = {}
    for dev in ("cpu", device):
        res = classify_raster(scene.scene_path, model, work / f"agree_{dev.replace(':', '')}.tif", device=dev,
                              progress=False, tile_size=128, overwrite=True)
        with rasterio.open(res.out_path) as src:
            maps[dev] = src.read(1)
    same = float((maps["cpu"] == maps[device]).mean())
    return {"equal_pixels": same, "classes_in_map": int(np.unique(maps["cpu"]).size), "goal": 0.999,
            "met": same >= 0.999}


def inference(device: str, work: Path, quick: bool) -> dict[str, Any]:
    """``benchmarks/inference.py`` on ``device`` and on all CPU cores; its Markdown tables."""
    common = ["--limits", "--naive-max-mp", "0", "--memory-max-mp", "0", "--dask-max-mp", "0"]
    runs = {}
    sizes = ["0.25"] if quick else ["1", "4"]
    plan = [(f"{device} (readers: library default)", ["--device", device, "--sizes", *sizes, *common])]
    if device != "cpu":
        plan.append(("cpu, all cores, with 1-thread scaling",
                     ["--device", "cpu", "--sizes", sizes[0], "--scaling", *common]))
    for label, extra in plan:
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "inference.py"), *extra,
                               "--workdir", str(work / "inference")], capture_output=True, text=True, cwd=ROOT)
        tables = [ln for ln in proc.stdout.splitlines() if ln.startswith(("|", "- "))]
        runs[label] = {"returncode": proc.returncode, "table": tables, "stderr": proc.stderr[-800:]}
    return {"runs": runs}


def training(device: str, bundle: Path, quick: bool) -> dict[str, Any]:
    """Indian Pines 10 %, seed 0: seconds and OA on the device and on the CPU."""
    import numpy as np
    import torch

    from hsigeo.datasets.scenes import load_dataset
    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.training import train
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    ds = load_dataset("indian-pines", data_dir=bundle / "data")
    ps = load_prompts(ROOT / "hsigeo" / "data" / "prompts" / "indian_pines.yaml")
    emb = np.load(bundle / "text" / "indian_pines.npy")
    labels = np.asarray(ds.labels.values)
    train_mask, test = stratified_split(labels, fraction=0.1, seed=0)  # the benchmark's 10 % split
    cube = np.asarray(ds.cube.values)
    out = {}
    for dev in dict.fromkeys([device, "cpu"]):
        if dev == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        opts = {"epochs": 3} if quick else {}
        t0 = time.perf_counter()
        model, _ = train(ds.cube, labels, ps, train_mask=train_mask, seed=0, text_embeddings=emb, device=dev,
                         progress=False, **opts)
        seconds = time.perf_counter() - t0
        probs = predict_proba_array(cube, model, device=dev)
        pred = np.asarray(model.class_values)[np.nan_to_num(probs, nan=-1.0).argmax(0)]
        out[dev] = {"seconds": round(seconds, 1), "oa_test": round(float((pred[test] == labels[test]).mean()), 4),
                    "train_pixels": int(train_mask.sum()), "epochs": opts.get("epochs", "default")}
    return out


def markdown(results: dict[str, Any]) -> str:
    env = results.get("environment", {})
    lines = [f"# Device check ({env.get('gpu', env.get('device'))}, {env.get('cpus')} CPUs, torch {env.get('torch')})", ""]
    for name, r in results.items():
        lines.append(f"## {name} ({'ok' if r.get('ok') else 'FAILED'}, {r.get('seconds')} s)")
        if not r.get("ok"):
            lines += ["", "```", r.get("error", ""), "```", ""]
            continue
        if name == "inference":
            for label, run in r["runs"].items():
                lines += ["", f"**{label}** (exit {run['returncode']})", "", *run["table"], ""]
        else:
            lines += ["", "```json", json.dumps({k: v for k, v in r.items() if k not in ("ok", "seconds")},
                                              indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "device_bundle")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "device_out")))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 epochs (a CPU dry run of the script)")
    ap.add_argument("--skip", action="append", default=[], choices=["install", "agreement", "inference", "training"])
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    results: dict[str, Any] = {}
    if "install" not in args.skip:
        _step(results, "install", install, args.bundle)
    _step(results, "environment", environment, args.device)
    if "agreement" not in args.skip:
        _step(results, "agreement", agreement, args.device, work)
    if "inference" not in args.skip:
        _step(results, "inference", inference, args.device, work, args.quick)
    if "training" not in args.skip:
        _step(results, "training", training, args.device, args.bundle, args.quick)
    (args.out / "device_check.json").write_text(json.dumps(results, indent=1, default=str))
    md = markdown(results)
    (args.out / "device_check.md").write_text(md + "\n")
    print(md)
    import shutil

    shutil.rmtree(work, ignore_errors=True)  # only the reports come back
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
