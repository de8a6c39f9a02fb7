"""Running the accuracy benchmark: scenes, scores, mean +- std over seeds.

:func:`run_benchmark` runs every method on every dataset, protocol and seed with identical
train/test masks and returns JSON-ready results: overall accuracy (OA), average per-class
accuracy (AA), Cohen's kappa, per-class accuracy, trainable parameters, training time and
inference speed per run, and their mean +- standard deviation per method.
:func:`run_and_report` also writes the report (:mod:`hsigeo.evaluation.report`).

Used by ``benchmarks/accuracy.py`` and ``hsigeo benchmark``.
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

from hsigeo.errors import DatasetError, HsigeoError, InvalidInputError
from hsigeo.evaluation.methods import METHOD_NOTES, METHODS, MethodFactory
from hsigeo.evaluation.protocol import BenchmarkConfig

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


def _canonical(name: str) -> str:
    from hsigeo.datasets.scenes import resolve_name

    if name.strip().lower() == "synthetic":
        return "synthetic"
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
    """Run every method on every dataset, protocol and seed.

    Parameters
    ----------
    cfg
        The run's configuration.
    factories
        Method factories to use instead of (or on top of) :data:`METHODS`.
    log
        Receives one line per step (default: stderr).

    Returns
    -------
    dict
        The JSON-ready results (``meta``, ``config``, ``datasets``); class maps
        of the first seed are kept under the private key ``_maps`` for
        :func:`write_report` and dropped from the JSON.
    """
    from hsigeo.progress import Progress

    registry = {**METHODS, **(factories or {})}
    unknown = [m for m in cfg.methods if m not in registry]
    if unknown:
        raise HsigeoError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(registry)}.")
    if not cfg.seeds:
        raise HsigeoError("no seeds given; pass at least one seed.")
    from hsigeo.datasets.scenes import resolve_name

    for name in cfg.datasets:  # a misspelt name is an error, not a skip
        if name.strip().lower() != "synthetic":
            resolve_name(name)
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {"started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"), **_environment()},
        "config": cfg.to_dict(),
        "methods": {m: METHOD_NOTES.get(m, "") for m in cfg.methods},
        "datasets": {},
        "_maps": {},
    }
    scenes: list[Scene] = []
    for name in cfg.datasets:
        try:
            scenes.append(load_scene(name, cfg))
        except SceneUnavailable as exc:
            log(f"benchmark: skipping {name}: {exc}")
            results["datasets"][_canonical(name)] = {"status": "skipped", "reason": str(exc)}
    total = len(scenes) * len(cfg.protocols) * len(cfg.seeds) * len(cfg.methods)
    with _limit_threads(cfg.threads), Progress(total, "benchmark", unit="fit") as bar:
        results["meta"]["threads"] = cfg.threads
        for scene in scenes:
            t_scene = time.perf_counter()
            results["datasets"][scene.name] = _run_scene(scene, cfg, registry, bar, log, results["_maps"])
            results["datasets"][scene.name]["seconds"] = time.perf_counter() - t_scene
    results["meta"]["total_seconds"] = time.perf_counter() - t_start
    try:
        results["meta"]["load_average_end"] = list(os.getloadavg())
    except OSError:
        pass
    return results


def _run_scene(scene: Scene, cfg: BenchmarkConfig, registry: Mapping[str, MethodFactory], bar: Any, log: _LOG,
               maps: dict[str, Any]) -> dict[str, Any]:
    labels = scene.labels
    values = sorted(int(v) for v in np.unique(labels) if v > 0)
    cube = scene.cube
    n_pixels = int(labels.size)
    out: dict[str, Any] = {
        "status": "ok", "shape": [int(s) for s in cube.shape],
        "classes": {str(v): scene.classes.get(v, str(v)) for v in values},
        "colours": {str(v): list(scene.colours[v]) for v in values if v in scene.colours},
        "labelled_pixels": int((labels > 0).sum()), "note": scene.note, "protocols": {},
    }
    maps[scene.name] = {"_reference": labels}
    for proto in cfg.protocols:
        splits = []
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in cfg.methods}
        for seed in cfg.seeds:
            train, test = proto.split(labels, seed)
            # read-only: a method that tried to change the masks would fail loudly, not skew the others
            train.setflags(write=False)
            test.setflags(write=False)
            digest = {"train": _mask_digest(train), "test": _mask_digest(test)}
            splits.append({"seed": seed, "n_train": int(train.sum()), "n_test": int(test.sum()),
                           "train_sha": digest["train"], "test_sha": digest["test"],
                           "per_class": {str(v): [int((train & (labels == v)).sum()), int((test & (labels == v)).sum())]
                                         for v in values}})
            for mname in cfg.methods:
                bar.set_postfix(scene=scene.name, protocol=proto.name, seed=seed, method=mname)
                run: dict[str, Any] = {"seed": seed, "train_sha": digest["train"], "test_sha": digest["test"]}
                try:
                    method = registry[mname](cfg)
                    t0 = time.perf_counter()
                    method.fit(cube, labels, train, seed=seed, prompts=scene.prompts)
                    t1 = time.perf_counter()
                    pred = np.asarray(method.predict(cube))
                    t2 = time.perf_counter()
                    if pred.shape != labels.shape:
                        raise InvalidInputError(
                            f"{mname} returned a class map of shape {pred.shape}, not {labels.shape}")
                    s = score(pred, labels, test, values)
                    run.update(oa=s["oa"], aa=s["aa"], kappa=s["kappa"],
                               per_class={str(k): v for k, v in s["per_class"].items()}, confusion=s["confusion"],
                               n_test=s["n_test"], n_trainable=int(method.n_trainable),
                               train_seconds=t1 - t0, infer_seconds=t2 - t1,
                               infer_pixels_per_s=n_pixels / max(t2 - t1, 1e-9))
                    extras = getattr(method, "extras", None)
                    if extras:
                        run["extras"] = dict(extras)
                    if seed == cfg.seeds[0]:
                        maps[scene.name].setdefault(proto.slug, {"train": np.array(train)})[mname] = pred.astype(np.int32)
                    log(f"benchmark: {scene.name} {proto.name} seed {seed} {mname}: OA {s['oa'] * 100:.2f} "
                        f"kappa {s['kappa'] * 100:.2f} fit {t1 - t0:.1f}s")
                except Exception as exc:
                    if cfg.fail_fast:
                        raise
                    run["error"] = f"{type(exc).__name__}: {exc}"
                    run["traceback"] = traceback.format_exc(limit=6)
                    log(f"benchmark: {scene.name} {proto.name} seed {seed} {mname} FAILED: {run['error']}")
                runs[mname].append(run)
                bar.update(1)
        out["protocols"][proto.slug] = {
            "name": proto.name, "description": proto.describe(), "splits": splits,
            "methods": {m: {"summary": summarize(r, values), "runs": r} for m, r in runs.items()},
        }
    return out


def run_and_report(cfg: BenchmarkConfig, *, log: _LOG = _stderr,
                   factories: Mapping[str, MethodFactory] | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`run_benchmark`, then :func:`~hsigeo.evaluation.report.write_report` into ``cfg.out_dir``."""
    from hsigeo.evaluation.report import write_report

    results = run_benchmark(cfg, factories=factories, log=log)
    return results, write_report(results, cfg.out_dir)
