"""The one benchmark runner: scenes, scores, mean +- std over seeds, for every protocol of a run.

:func:`run_benchmark` loads each dataset once and runs the configuration's protocols on it
(:attr:`BenchmarkConfig.protocols <hsigeo.evaluation.benchmark_config.BenchmarkConfig.protocols>`):

- the label protocols (stratified, block): every method of :data:`~hsigeo.evaluation.methods.METHODS`
  on every dataset, protocol and seed with identical train/test masks: overall accuracy (OA),
  average per-class accuracy (AA), Cohen's kappa, per-class accuracy, trainable parameters,
  training time and inference speed per run, and their mean +- standard deviation per method.
  With ``BenchmarkConfig.ablation`` also the language ablation (more seeds, the anchor
  variants), reusing the fits the main comparison shares with it; with ``jobs > 1`` the fits
  run in worker processes (:mod:`hsigeo.evaluation.schedule`), with the same results;
- the zero-shot protocol (:class:`~hsigeo.evaluation.benchmark_config.ZeroShotProtocol`): the
  prompt-only methods of :data:`hsigeo.evaluation.zero_shot.METHODS` on the same scenes
  (:func:`hsigeo.evaluation.zero_shot.run_protocol`), in this process.

Both land in one results dict, per dataset side by side (``protocols`` and ``zero_shot``), and
:func:`run_and_report` writes them as one report (:mod:`hsigeo.evaluation.report`).  User
errors raise :class:`~hsigeo.errors.HsigeoError`; nothing here exits the process.

Used by ``benchmarks/accuracy.py``, ``benchmarks/zero_shot.py`` and ``hsigeo benchmark``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsigeo.datasets.berlin2009 import BERLIN_2009
from hsigeo.datasets.library_mosaic import MOSAICS
from hsigeo.errors import DatasetError, HsigeoError, InvalidInputError
from hsigeo.evaluation import schedule
from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol, ZeroShotProtocol
from hsigeo.evaluation.methods import METHOD_NOTES, METHODS, MethodFactory
from hsigeo.evaluation.schedule import FitTask

__all__ = ["Scene", "SceneUnavailable", "load_scene", "score", "mean_std", "summarize", "run_benchmark",
           "run_and_report"]

_LOG = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- #
# Datasets
# --------------------------------------------------------------------------- #
@dataclass
class Scene:
    """A dataset ready for the benchmark.

    Attributes
    ----------
    name
        Dataset name.
    cube
        ``(band, y, x)`` float32 DataArray (wavelengths on ``band`` when known).
    labels
        ``(y, x)`` int32 numpy array, ``0`` = unlabelled.
    classes
        ``{value: name}``.
    colours
        ``{value: (r, g, b)}`` for the figures.
    prompts
        The scene's :class:`~hsigeo.text.prompts.PromptSet` (None when none could be loaded).
    note
        Free text for the report (e.g. why prompts are missing).
    """

    name: str
    cube: Any
    labels: np.ndarray
    classes: dict[int, str]
    colours: dict[int, tuple[int, int, int]]
    prompts: Any | None
    note: str = ""


class SceneUnavailable(Exception):
    """The dataset cannot be run (cube missing, checksum mismatch); the message says why."""


def _synthetic_scene(kw: Mapping[str, Any]) -> Scene:
    import xarray as xr

    from hsigeo.datasets.synthetic import CLASS_LIBRARY, synthetic_cube
    from hsigeo.text.prompts import PromptSet

    syn = synthetic_cube(**kw)
    prompts = PromptSet.from_dict({
        "name": "synthetic",
        "classes": [{"name": c.name, "value": c.value, "colour": c.colour_hex,
                     "prompts": list(CLASS_LIBRARY[c.value - 1][3])} for c in syn.classes],
    })
    cube = xr.DataArray(syn.cube.astype(np.float32), dims=("band", "y", "x"),
                        coords={"band": np.arange(1, syn.cube.shape[0] + 1), "wavelength": ("band", syn.wavelengths)},
                        name="synthetic")
    return Scene("synthetic", cube, np.asarray(syn.labels, dtype=np.int32), prompts.class_names,
                 {c.value: c.colour for c in prompts.classes}, prompts,
                 note="hsigeo.datasets.synthetic.synthetic_cube(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")")


def _berlin_scene(cfg: BenchmarkConfig) -> Scene:
    from hsigeo.datasets.berlin import BERLIN, BERLIN_CLASSES, berlin_prompts_path, load_berlin
    from hsigeo.text.prompts import load_prompts

    try:
        cube, labels = load_berlin(cfg.data_dir)
    except DatasetError as exc:
        raise SceneUnavailable(str(exc)) from exc
    prompts = load_prompts(berlin_prompts_path())
    return Scene(BERLIN, cube, labels, dict(BERLIN_CLASSES), {c.value: c.colour for c in prompts.classes}, prompts,
                 note="EnMAP-Box Berlin urban gradient, 30 m; labels: Level_2_ID of the land-cover polygons "
                      "('other' left out), coarse and noisy")


def _berlin_2009_scene(name: str, cfg: BenchmarkConfig) -> Scene:
    """A held-out cut of the Berlin urban gradient (:mod:`hsigeo.datasets.berlin2009`), with the Berlin prompts."""
    from hsigeo.datasets.berlin import BERLIN_CLASSES, berlin_prompts_path
    from hsigeo.datasets.berlin2009 import DOMINANT, load_berlin_2009
    from hsigeo.text.prompts import load_prompts

    try:
        cube, labels = load_berlin_2009(name, cfg.data_dir)
    except DatasetError as exc:
        raise SceneUnavailable(str(exc)) from exc
    prompts = load_prompts(berlin_prompts_path())
    return Scene(name, cube, labels, dict(BERLIN_CLASSES), {c.value: c.colour for c in prompts.classes}, prompts,
                 note=f"EnMAP-Box Berlin urban gradient 2009 cut, {BERLIN_2009[name][1]}, held out; labels: the "
                      f"dominant level-2 class where it covers >= {DOMINANT:.0%} of the 30 m cell")


def _mosaic_scene(name: str, cfg: BenchmarkConfig) -> Scene:
    """A scene of real library spectra (:mod:`hsigeo.datasets.library_mosaic`; development or held out), with its prompts."""
    import xarray as xr

    from hsigeo.datasets.library_mosaic import load_mosaic
    from hsigeo.evaluation.merges import MERGE_FILES, load_merge
    from hsigeo.text.prompts import load_prompts

    try:
        cube, labels, wl = load_mosaic(name, cfg.data_dir)
    except DatasetError as exc:
        raise SceneUnavailable(str(exc)) from exc
    prompts = load_prompts(load_merge(MERGE_FILES[name]).prompts)
    da = xr.DataArray(cube, dims=("band", "y", "x"),
                      coords={"band": np.arange(1, cube.shape[0] + 1), "wavelength": ("band", wl)}, name=name)
    return Scene(name, da, labels.astype(np.int32), prompts.class_names, {c.value: c.colour for c in prompts.classes},
                 prompts, note=f"{MOSAICS[name].layout} layout of the Berlin library's real HyMap spectra "
                               "(hsigeo.datasets.library_mosaic)")


#: Datasets the benchmark builds itself rather than through :func:`hsigeo.datasets.scenes.load_dataset`.
_OWN_SCENES = ("synthetic", "berlin", *BERLIN_2009, *MOSAICS)


def _canonical(name: str) -> str:
    from hsigeo.datasets.scenes import resolve_name

    if name.strip().lower() in _OWN_SCENES:
        return name.strip().lower()
    try:
        return resolve_name(name)
    except DatasetError:
        return name


def load_scene(name: str, cfg: BenchmarkConfig) -> Scene:
    """Load a dataset for the benchmark.

    Raises
    ------
    SceneUnavailable
        When a real scene's cube (or labels) is not in the data folder or fails
        its checksum; the message says which file and what to do.
    """
    if name.strip().lower() == "synthetic":
        return _synthetic_scene(cfg.synthetic)
    if name.strip().lower() == "berlin":
        return _berlin_scene(cfg)
    if name.strip().lower() in BERLIN_2009:
        return _berlin_2009_scene(name.strip().lower(), cfg)
    if name.strip().lower() in MOSAICS:
        return _mosaic_scene(name.strip().lower(), cfg)
    from hsigeo.datasets.scenes import load_dataset
    from hsigeo.text.prompts import load_prompts

    try:
        ds = load_dataset(name, data_dir=cfg.data_dir, verify=cfg.verify)
    except DatasetError as exc:
        raise SceneUnavailable(str(exc)) from exc
    assert ds.cube is not None
    note = ""
    try:
        prompts = load_prompts(ds.prompts_path)
        colours = {c.value: c.colour for c in prompts.classes}
    except HsigeoError as exc:  # benchmark the baselines anyway
        prompts, colours, note = None, {}, f"no prompts: {exc}"
    return Scene(ds.name, ds.cube.astype(np.float32), np.asarray(ds.labels.values, dtype=np.int32),
                 dict(ds.classes), colours, prompts, note)


# --------------------------------------------------------------------------- #
# Scores and summaries
# --------------------------------------------------------------------------- #
def score(pred: np.ndarray, labels: np.ndarray, test_mask: np.ndarray, class_values: Sequence[int]) -> dict[str, Any]:
    """Accuracy of a class map on the test pixels (scores from :mod:`hsigeo.evaluation.metrics`).

    Parameters
    ----------
    pred
        ``(y, x)`` predicted class values (anything not in ``class_values``,
        e.g. 0 = unclassified, counts as wrong).
    labels
        ``(y, x)`` reference values, ``0`` = unlabelled.
    test_mask
        Pixels to score (unlabelled ones are ignored).
    class_values
        The dataset's classes, in report order.

    Returns
    -------
    dict
        ``oa``, ``aa``, ``kappa`` (fractions, not percent), ``per_class``
        ``{value: accuracy or None when the class has no test pixel}``,
        ``confusion`` (rows reference, columns prediction, last column
        "other") and ``n_test``.
    """
    from hsigeo.evaluation import metrics

    mask = np.asarray(test_mask, bool) & (np.asarray(labels) > 0)
    values = [int(v) for v in class_values]
    cm = metrics.confusion_matrix(np.asarray(labels)[mask], np.asarray(pred)[mask], values)
    n = int(cm.sum())
    if n == 0:
        raise InvalidInputError("no labelled test pixels to score")
    per = metrics.per_class_accuracy(cm)
    return {"oa": metrics.overall_accuracy(cm), "aa": metrics.average_accuracy(cm), "kappa": metrics.kappa(cm),
            "per_class": {v: (float(a) if np.isfinite(a) else None) for v, a in zip(values, per, strict=True)},
            "confusion": cm.tolist(), "n_test": n}


def mean_std(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean and sample standard deviation (``ddof=1``) of the non-None values.

    ``std`` is 0.0 for a single value and ``mean``/``std`` are None for none.
    """
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


_SUMMARY_KEYS = ("oa", "aa", "kappa", "n_trainable", "train_seconds", "infer_pixels_per_s")


def summarize(runs: Sequence[Mapping[str, Any]], class_values: Sequence[int]) -> dict[str, Any]:
    """Mean +- std over the successful runs of one method (see :func:`mean_std`)."""
    ok = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {k: mean_std([r[k] for r in ok]) for k in _SUMMARY_KEYS}
    out["per_class"] = {str(v): mean_std([r["per_class"].get(str(v)) for r in ok]) for v in class_values}
    out["n_runs"], out["n_failed"] = len(ok), len(runs) - len(ok)
    return out


def _mask_digest(mask: np.ndarray) -> str:
    return hashlib.sha256(np.packbits(np.asarray(mask, bool)).tobytes() + str(mask.shape).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- #
# Runner
# --------------------------------------------------------------------------- #
def _environment() -> dict[str, Any]:
    import sklearn

    from hsigeo import __version__

    env = {"hsigeo": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__, "platform": platform.platform(), "machine": platform.machine(),
           "cpu_count": os.cpu_count()}
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:  # the baselines without torch still run
        pass
    try:
        env["load_average_start"] = list(os.getloadavg())
    except OSError:
        pass
    return env


@contextlib.contextmanager
def _limit_threads(n: int | None) -> Iterator[None]:
    """Cap torch, BLAS and OpenMP threads at ``n`` inside the block (no-op for None)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # baselines without torch still run
        torch = None  # type: ignore[assignment]
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=n):
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def run_benchmark(
    cfg: BenchmarkConfig,
    *,
    factories: Mapping[str, MethodFactory] | None = None,
    log: _LOG = _stderr,
) -> dict[str, Any]:
    """Run the configuration's protocols on every dataset (and the language ablation, when asked).

    Parameters
    ----------
    cfg
        The run's configuration.  Its label protocols run every method on
        every dataset, protocol and seed; with ``cfg.jobs > 1`` those fits run
        in that many worker processes (:mod:`hsigeo.evaluation.schedule`), with
        the same results, assembled in the same order.  Its zero-shot protocol,
        when it has one, maps the same scenes from prompts alone, in this process.
    factories
        Method factories to use instead of (or on top of) :data:`METHODS`.
        With ``cfg.jobs > 1`` a factory that is not one of hsigeo's own must be
        picklable (a module-level function or class).
    log
        Receives one line per step (default: stderr).

    Returns
    -------
    dict
        The JSON-ready results (``meta``, ``config``, ``datasets``; with an
        ablation also ``ablation`` and ``datasets[name]["ablation"]``; with the
        zero-shot protocol also ``zero_shot``, its summary, and
        ``datasets[name]["zero_shot"]``); class maps are kept under the private
        keys ``_maps`` (label protocols, first seed) and ``_zero_shot_maps`` for
        :func:`write_report` and dropped from the JSON.

    Raises
    ------
    HsigeoError
        For a configuration that cannot run (an unknown protocol, method or
        dataset name, no seeds); a dataset whose files are missing is skipped
        with the reason instead.
    """
    from hsigeo.progress import Progress

    _check_protocols(cfg)
    registry = {**METHODS, **(factories or {})}
    # a zero-shot-only run fits no label method, so none is checked or listed
    label_methods = cfg.methods if cfg.label_protocols else ()
    wanted = list(dict.fromkeys([*label_methods, *(cfg.ablation.methods if cfg.ablation else ())]))
    unknown = [m for m in wanted if m not in registry]
    if unknown:
        raise HsigeoError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(registry)}.")
    if not cfg.seeds:
        raise HsigeoError("no seeds given; pass at least one seed.")
    if cfg.ablation is not None and not (cfg.ablation.seeds and cfg.ablation.fractions and cfg.ablation.methods):
        raise HsigeoError("the language ablation needs at least one seed, fraction and method.")
    if cfg.jobs < 1:
        raise HsigeoError(f"jobs must be at least 1, not {cfg.jobs}.")
    from hsigeo.datasets.scenes import resolve_name

    for name in [*cfg.datasets, *(cfg.ablation.datasets if cfg.ablation else ())]:
        if name.strip().lower() not in _OWN_SCENES:  # a misspelt name is an error, not a skip
            try:
                resolve_name(name)
            except DatasetError as exc:
                from hsigeo.datasets.scenes import DATASETS

                own = [n for n in _OWN_SCENES if n not in DATASETS]
                raise DatasetError(f"{exc} The benchmark also builds: {', '.join(own)}.") from exc
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {"started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"), **_environment()},
        "config": cfg.to_dict(),
        "methods": {m: METHOD_NOTES.get(m, "") for m in wanted},
        "datasets": {},
        "_maps": {},
    }
    scenes: dict[str, Scene] = {}
    for name in cfg.datasets:
        try:
            scene = load_scene(name, cfg)
        except SceneUnavailable as exc:
            log(f"benchmark: skipping {name}: {exc}")
            results["datasets"][_canonical(name)] = {"status": "skipped", "reason": str(exc)}
            continue
        scenes.setdefault(scene.name, scene)  # a dataset named twice runs once
    ablation_scenes = _ablation_scenes(cfg, scenes, results, log)
    splits = _Splits()
    tasks = schedule.plan_fits(cfg, list(scenes), ablation_scenes)
    results["meta"].update(threads=cfg.threads, jobs=cfg.jobs, n_fits=len(tasks))
    with _limit_threads(cfg.threads), Progress(len(tasks), "benchmark", unit="fit") as bar:
        if cfg.jobs == 1 or len(tasks) < 2:
            outcomes = _run_here(tasks, scenes, splits, registry, cfg, bar, log)
        else:
            outcomes = _run_pooled(tasks, scenes, splits, registry, cfg, bar, log)
    for name, scene in scenes.items():
        results["datasets"][name] = _scene_results(scene, cfg, tasks, outcomes, splits, results["_maps"],
                                                   ablation=name in ablation_scenes)
    if cfg.zero_shot is not None:
        _run_zero_shot(cfg.zero_shot, scenes, cfg, results, log)
    results["meta"]["total_seconds"] = time.perf_counter() - t_start
    try:
        results["meta"]["load_average_end"] = list(os.getloadavg())
    except OSError:
        pass
    return results


def _check_protocols(cfg: BenchmarkConfig) -> None:
    """A clear error for protocols the runner does not know, none at all, or zero-shot methods it lacks."""
    if not cfg.protocols:
        raise HsigeoError("no protocol given; give at least one label protocol (stratified, block) or the "
                          "zero-shot protocol.")
    odd = [p for p in cfg.protocols if not isinstance(p, Protocol | ZeroShotProtocol)]
    if odd:
        raise HsigeoError(f"unknown protocol(s) {', '.join(map(repr, odd))}: each must be a Protocol (stratified "
                          "or block) or a ZeroShotProtocol.")
    if sum(isinstance(p, ZeroShotProtocol) for p in cfg.protocols) > 1:
        raise HsigeoError("the zero-shot protocol is given more than once; give it once.")
    if cfg.zero_shot is not None and cfg.zero_shot.methods is not None:
        from hsigeo.evaluation.zero_shot import METHODS as ZERO_SHOT_METHODS

        unknown = [m for m in cfg.zero_shot.methods if m not in ZERO_SHOT_METHODS]
        if unknown or not cfg.zero_shot.methods:
            raise HsigeoError(f"unknown zero-shot method(s) {', '.join(unknown) or '(none given)'}; known: "
                              f"{', '.join(ZERO_SHOT_METHODS)}.")


def _run_zero_shot(proto: ZeroShotProtocol, scenes: Mapping[str, Scene], cfg: BenchmarkConfig,
                   results: dict[str, Any], log: _LOG) -> None:
    """The zero-shot protocol on the run's scenes, its results put beside each dataset's label protocols."""
    from hsigeo.evaluation import zero_shot

    with _limit_threads(cfg.threads):
        summary, per_scene, figures = zero_shot.run_protocol(proto, scenes, data_dir=cfg.data_dir, log=log)
    results["zero_shot"] = summary
    for name, res in per_scene.items():
        results["datasets"][name]["zero_shot"] = res
    if cfg.maps:
        results["_zero_shot_maps"] = figures


def _ablation_scenes(cfg: BenchmarkConfig, scenes: Mapping[str, Scene], results: dict[str, Any],
                     log: _LOG) -> list[str]:
    """The ablation's datasets that this run has loaded; the others are skipped with the reason recorded."""
    if cfg.ablation is None:
        return []
    run_on: list[str] = []
    skipped: dict[str, str] = {}
    for name in cfg.ablation.datasets:
        canon = _canonical(name)
        if canon in scenes:
            if canon not in run_on:
                run_on.append(canon)
            continue
        main = results["datasets"].get(canon)
        reason = (f"not available ({main['reason']})" if main is not None
                  else f"not among this run's datasets (add --dataset {canon})")
        log(f"benchmark: language ablation skips {canon}: {reason}")
        skipped[canon] = reason
    results["ablation"] = {**cfg.ablation.to_dict(), "run_on": run_on, "skipped": skipped}
    return run_on


class _Splits:
    """Train/test masks per scene, protocol and seed: drawn once, read-only, shared by every method."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, Protocol, int], tuple[np.ndarray, np.ndarray, dict[str, str]]] = {}

    def get(self, scene: Scene, proto: Protocol, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
        key = (scene.name, proto, seed)
        if key not in self._cache:
            train, test = proto.split(scene.labels, seed)
            # read-only: a method that tried to change the masks would fail loudly, not skew the others
            train.setflags(write=False)
            test.setflags(write=False)
            self._cache[key] = (train, test, {"train": _mask_digest(train), "test": _mask_digest(test)})
        return self._cache[key]

    def info(self, scene: Scene, proto: Protocol, seed: int, values: Sequence[int]) -> dict[str, Any]:
        """The split's entry in the report: sizes, digests and per-class train/test counts."""
        train, test, digest = self.get(scene, proto, seed)
        labels = scene.labels
        return {"seed": seed, "n_train": int(train.sum()), "n_test": int(test.sum()),
                "train_sha": digest["train"], "test_sha": digest["test"],
                "per_class": {str(v): [int((train & (labels == v)).sum()), int((test & (labels == v)).sum())]
                              for v in values}}


def _class_values(labels: np.ndarray) -> list[int]:
    return sorted(int(v) for v in np.unique(labels) if v > 0)


_Outcome = tuple[dict[str, Any], "np.ndarray | None", float]


def _fit_one(task: FitTask, scene: Scene, train: np.ndarray, test: np.ndarray, digest: Mapping[str, str],
             factory: MethodFactory, cfg: BenchmarkConfig) -> _Outcome:
    """Fit, predict and score one method: ``(run, class map or None, wall seconds)``.

    The same code runs in this process (``jobs=1``) and in a worker, so both give the
    same run dict.  A failure is recorded in the run unless ``cfg.fail_fast``.
    """
    t_start = time.perf_counter()
    labels, values = scene.labels, _class_values(scene.labels)
    run: dict[str, Any] = {"seed": task.seed, "train_sha": digest["train"], "test_sha": digest["test"]}
    kept = None
    try:
        method = factory(cfg)
        t0 = time.perf_counter()
        method.fit(scene.cube, labels, train, seed=task.seed, prompts=scene.prompts)
        t1 = time.perf_counter()
        pred = np.asarray(method.predict(scene.cube))
        t2 = time.perf_counter()
        if pred.shape != labels.shape:
            raise InvalidInputError(f"{task.method} returned a class map of shape {pred.shape}, not {labels.shape}")
        s = score(pred, labels, test, values)
        run.update(oa=s["oa"], aa=s["aa"], kappa=s["kappa"],
                   per_class={str(k): v for k, v in s["per_class"].items()}, confusion=s["confusion"],
                   n_test=s["n_test"], n_trainable=int(method.n_trainable),
                   train_seconds=t1 - t0, infer_seconds=t2 - t1,
                   infer_pixels_per_s=int(labels.size) / max(t2 - t1, 1e-9))
        extras = getattr(method, "extras", None)
        if extras:
            run["extras"] = dict(extras)
        if task.keep_map:
            kept = pred.astype(np.int32)
    except Exception as exc:
        if cfg.fail_fast:
            raise
        run["error"] = f"{type(exc).__name__}: {exc}"
        run["traceback"] = traceback.format_exc(limit=6)
    return run, kept, time.perf_counter() - t_start


def _log_fit(task: FitTask, run: Mapping[str, Any], log: _LOG) -> None:
    if "error" in run:
        log(f"benchmark: {task.label()} FAILED: {run['error']}")
    else:
        log(f"benchmark: {task.label()}: OA {run['oa'] * 100:.2f} kappa {run['kappa'] * 100:.2f} "
            f"fit {run['train_seconds']:.1f}s")


def _show(bar: Any, task: FitTask) -> None:
    bar.set_postfix(scene=task.dataset, protocol=task.protocol.name, seed=task.seed, method=task.method)


def _run_here(tasks: Sequence[FitTask], scenes: Mapping[str, Scene], splits: _Splits,
              registry: Mapping[str, MethodFactory], cfg: BenchmarkConfig, bar: Any,
              log: _LOG) -> dict[tuple[Any, ...], _Outcome]:
    """``jobs=1``: every fit in this process, in plan order."""
    outcomes: dict[tuple[Any, ...], _Outcome] = {}
    for task in tasks:
        scene = scenes[task.dataset]
        train, test, digest = splits.get(scene, task.protocol, task.seed)
        _show(bar, task)
        outcomes[task.key] = _fit_one(task, scene, train, test, digest, registry[task.method], cfg)
        _log_fit(task, outcomes[task.key][0], log)
        bar.update(1)
    return outcomes


def _run_pooled(tasks: Sequence[FitTask], scenes: Mapping[str, Scene], splits: _Splits,
                registry: Mapping[str, MethodFactory], cfg: BenchmarkConfig, bar: Any,
                log: _LOG) -> dict[tuple[Any, ...], _Outcome]:
    """``jobs > 1``: the fits in worker processes, longest first; results keyed by fit, whatever the order."""
    sendable = schedule.sendable_factories(registry, {t.method for t in tasks})

    def cost(task: FitTask) -> float:
        scene = scenes[task.dataset]
        n_train = int(splits.get(scene, task.protocol, task.seed)[0].sum())
        return schedule.estimate_cost(task, n_train, int(scene.labels.size), int(scene.cube.shape[0]), cfg)

    outcomes: dict[tuple[Any, ...], _Outcome] = {}
    pool = schedule.run_pool(schedule.longest_first(tasks, cost), _worker_fit, jobs=min(cfg.jobs, len(tasks)),
                             initializer=_worker_init, initargs=(cfg, sendable))
    # closing(): an exception here (fail_fast, Ctrl-C) ends the workers at once, not when the generator is collected
    with contextlib.closing(pool) as finished:
        for task, fut in finished:
            outcomes[task.key] = _collect(task, fut, splits.get(scenes[task.dataset], task.protocol, task.seed)[2], cfg)
            _show(bar, task)
            _log_fit(task, outcomes[task.key][0], log)
            bar.update(1)
    return outcomes


def _collect(task: FitTask, fut: Any, digest: Mapping[str, str], cfg: BenchmarkConfig) -> _Outcome:
    """A finished worker fit, checked against this process's masks; a dead worker is recorded like a failure."""
    try:
        outcome = fut.result()
        if (outcome[0]["train_sha"], outcome[0]["test_sha"]) != (digest["train"], digest["test"]):
            raise HsigeoError(f"{task.label()}: the worker drew other masks than this process "
                              f"({outcome[0]['train_sha']} vs {digest['train']}); the split is not deterministic")
    except Exception as exc:
        if cfg.fail_fast:
            raise
        outcome = ({"seed": task.seed, "train_sha": digest["train"], "test_sha": digest["test"],
                    "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}, None, 0.0)
    return outcome


# Per-worker state, set by _worker_init in each spawned process (never used in the parent).
_WORKER: dict[str, Any] = {}


def _worker_init(cfg: BenchmarkConfig, factories: Mapping[str, MethodFactory]) -> None:
    """Prepare a worker process: thread limits, no progress output, empty scene cache."""
    import signal

    from hsigeo.progress import set_mode

    # Ctrl-C reaches the whole process group; the parent alone handles it (it ends the workers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cfg.threads is not None:  # before torch starts its pools; _limit_threads caps them again per fit
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(cfg.threads)
    set_mode("none")  # one bar, the parent's; a worker's epoch bars would garble it
    _WORKER.clear()
    _WORKER.update(cfg=cfg, registry={**METHODS, **factories}, scenes={}, splits=_Splits())


def _worker_fit(task: FitTask) -> _Outcome:
    """One fit in a worker: the scene is loaded once per worker, the masks drawn as in the parent."""
    cfg: BenchmarkConfig = _WORKER["cfg"]
    scenes: dict[str, Scene] = _WORKER["scenes"]
    if task.dataset not in scenes:
        scenes[task.dataset] = load_scene(task.dataset, cfg)
    scene = scenes[task.dataset]
    train, test, digest = _WORKER["splits"].get(scene, task.protocol, task.seed)
    with _limit_threads(cfg.threads):
        return _fit_one(task, scene, train, test, digest, _WORKER["registry"][task.method], cfg)


def _protocol_results(scene: Scene, proto: Protocol, seeds: Sequence[int], methods: Sequence[str],
                      outcomes: Mapping[tuple[Any, ...], _Outcome], splits: _Splits,
                      values: Sequence[int]) -> dict[str, Any]:
    runs = {m: [outcomes[(scene.name, proto, s, m)][0] for s in seeds] for m in methods}
    return {"name": proto.name, "description": proto.describe(),
            "splits": [splits.info(scene, proto, s, values) for s in seeds],
            "methods": {m: {"summary": summarize(r, values), "runs": r} for m, r in runs.items()}}


def _scene_results(scene: Scene, cfg: BenchmarkConfig, tasks: Sequence[FitTask],
                   outcomes: Mapping[tuple[Any, ...], _Outcome], splits: _Splits, maps: dict[str, Any], *,
                   ablation: bool) -> dict[str, Any]:
    """One dataset's entry in the results, in configuration order whatever order the fits finished in."""
    labels = scene.labels
    values = _class_values(labels)
    mine = [t for t in tasks if t.dataset == scene.name]
    out: dict[str, Any] = {
        "status": "ok", "shape": [int(s) for s in scene.cube.shape],
        "classes": {str(v): scene.classes.get(v, str(v)) for v in values},
        "colours": {str(v): list(scene.colours[v]) for v in values if v in scene.colours},
        "labelled_pixels": int((labels > 0).sum()), "note": scene.note, "protocols": {},
        # the fits' own wall time, summed (with jobs > 1 they overlapped)
        "seconds": sum(outcomes[t.key][2] for t in mine if t.main),
    }
    maps[scene.name] = {"_reference": labels}
    for proto in cfg.label_protocols:
        out["protocols"][proto.slug] = _protocol_results(scene, proto, cfg.seeds, cfg.methods, outcomes, splits, values)
        for m in cfg.methods:
            pred = outcomes[(scene.name, proto, cfg.seeds[0], m)][1]
            if pred is not None:
                train = splits.get(scene, proto, cfg.seeds[0])[0]
                maps[scene.name].setdefault(proto.slug, {"train": np.array(train)})[m] = pred
    if ablation and cfg.ablation is not None:
        out["ablation"] = {proto.slug: {**_protocol_results(scene, proto, cfg.ablation.seeds, cfg.ablation.methods,
                                                            outcomes, splits, values),
                                        "seeds": list(cfg.ablation.seeds)}
                           for proto in schedule.ablation_protocols(cfg)}
        out["ablation_seconds"] = sum(outcomes[t.key][2] for t in mine if not t.main)
    return out


def run_and_report(cfg: BenchmarkConfig, *, log: _LOG = _stderr,
                   factories: Mapping[str, MethodFactory] | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`run_benchmark`, then :func:`~hsigeo.evaluation.report.write_report` into ``cfg.out_dir``."""
    from hsigeo.evaluation.report import write_report

    results = run_benchmark(cfg, factories=factories, log=log)
    return results, write_report(results, cfg.out_dir)
