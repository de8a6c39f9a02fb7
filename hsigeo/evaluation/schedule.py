"""The benchmark's fit plan, as data, and the process pool that runs it.

One *fit* is one method trained and scored on one dataset, protocol and seed.
:func:`plan_fits` lists every fit a run needs, in the report's deterministic order: the
main comparison first, then the language ablation's fits that the main comparison does
not already do (a fit both need is planned once and serves both tables).
:func:`longest_first` orders the plan for a pool so the slow fits start first and the
workers finish together, and :func:`run_pool` runs it in ``spawn`` worker processes.

The runner (:mod:`hsigeo.evaluation.runner`) owns what a fit does; this module only
knows tasks, costs and processes, so it imports nothing above the protocol and the
method registry.
"""

from __future__ import annotations

import math
import multiprocessing
import pickle
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from hsigeo.errors import HsigeoError
from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
from hsigeo.evaluation.methods import BUILTIN_METHODS, MethodFactory

__all__ = ["FitTask", "ablation_protocols", "plan_fits", "estimate_cost", "longest_first", "sendable_factories",
           "run_pool"]


@dataclass(frozen=True)
class FitTask:
    """One fit: a method on a dataset, protocol and seed.

    Attributes
    ----------
    dataset
        Scene name (as loaded, e.g. ``salinas-a``).
    protocol
        The split protocol; the masks are ``protocol.split(labels, seed)``.
    seed
        Seeds the split and the method.
    method
        Method name in the registry.
    keep_map
        Return the predicted class map (the main comparison's first seed, when
        figures are on); otherwise only the scores travel back.
    main
        The fit belongs to the main comparison's table.
    ablation
        The fit belongs to the language ablation's table.
    """

    dataset: str
    protocol: Protocol
    seed: int
    method: str
    keep_map: bool = False
    main: bool = True
    ablation: bool = False

    @property
    def key(self) -> tuple[str, Protocol, int, str]:
        """What makes two fits the same fit (and so done once)."""
        return (self.dataset, self.protocol, self.seed, self.method)

    def label(self) -> str:
        """``dataset protocol seed N method``, as in the log lines."""
        return f"{self.dataset} {self.protocol.name} seed {self.seed} {self.method}"


def ablation_protocols(cfg: BenchmarkConfig) -> list[Protocol]:
    """The ablation's stratified protocols, sharing the main run's object where the fraction is the same.

    ``1%`` given as ``0.01`` and as ``1/100`` must be one protocol, or the shared fits
    would not be recognised as shared; a close fraction reuses the main protocol.
    """
    if cfg.ablation is None:
        return []
    out = []
    for p in cfg.ablation.protocols():
        same = [q for q in cfg.label_protocols
                if q.kind == p.kind and math.isclose(q.fraction, p.fraction, rel_tol=1e-9)]
        out.append(same[0] if same else p)
    return out


def plan_fits(cfg: BenchmarkConfig, scenes: Sequence[str], ablation_scenes: Sequence[str] = ()) -> list[FitTask]:
    """Every fit of a run, each once, in the report's order.

    Parameters
    ----------
    cfg
        The run's configuration (protocols, seeds, methods, ablation).
    scenes
        The main comparison's scenes that could be loaded, in run order.
    ablation_scenes
        The scenes the ablation runs on (already checked to be loaded).

    Returns
    -------
    list of FitTask
        The main comparison's fits (dataset, protocol, seed, method order, as
        the sequential runner has always run them), then the ablation's fits
        that the main comparison does not do.  A fit both need appears once,
        with ``main`` and ``ablation`` both set.
    """
    tasks: dict[tuple[Any, ...], FitTask] = {}
    first_seed = cfg.seeds[0] if cfg.seeds else None
    for name in scenes:
        for proto in cfg.label_protocols:  # the zero-shot protocol fits nothing
            for seed in cfg.seeds:
                for method in cfg.methods:
                    t = FitTask(name, proto, seed, method, keep_map=cfg.maps and seed == first_seed)
                    tasks.setdefault(t.key, t)
    if cfg.ablation is not None:
        protos = ablation_protocols(cfg)
        for name in ablation_scenes:
            for proto in protos:
                for seed in cfg.ablation.seeds:
                    for method in cfg.ablation.methods:
                        t = FitTask(name, proto, seed, method, main=False, ablation=True)
                        shared = tasks.get(t.key)
                        tasks[t.key] = t if shared is None else FitTask(
                            shared.dataset, shared.protocol, shared.seed, shared.method, keep_map=shared.keep_map,
                            main=shared.main, ablation=True)
    return list(tasks.values())


#: Rough seconds per unit of work at one thread, per method family, fitted to one run on the
#: 2-core development machine (Salinas-A and Indian Pines at 1 % and 10 %, two fits at a time:
#: hsigeo 21-110 s, HybridSN 7-8 s, SVM and RF under 3 s).  Only the order of the estimates
#: matters: they decide which fits a pool starts first.
_TRAIN_S_PER_UNIT = {"hsigeo": 0.105 / 60 / 200, "hybridsn": 0.0, "svm": 2e-7 / 200, "rf": 1.6e-3 / 200}
_FIXED_S = {"hsigeo": 1.0, "hybridsn": 7.5, "svm": 0.2, "rf": 0.2}
_INFER_S_PER_PIXEL_BAND = {"hsigeo": 2.4e-7, "hybridsn": 3.3e-7, "svm": 5e-7, "rf": 1.2e-7}


def estimate_cost(task: FitTask, n_train: int, n_pixels: int, n_bands: int, cfg: BenchmarkConfig) -> float:
    """A rough estimate of a fit's seconds, good enough to order a plan by (not a prediction).

    hsigeo's variants train ``epochs`` passes of at least 256 samples (8 steps of 32);
    the SVM's grid search grows with the square of the training pixels; HybridSN trains a
    fixed number of steps; every method then classifies the whole scene.  Unknown methods
    count like hsigeo, so a new slow method is not left for last.
    """
    family = "hsigeo" if task.method.startswith("hsigeo") else task.method
    if family not in _FIXED_S:
        family = "hsigeo"
    if family == "hsigeo":
        epochs = cfg.hsigeo_epochs or 60
        work = epochs * max(n_train, 256) * n_bands
    elif family == "svm":
        work = len(cfg.svm_C) * len(cfg.svm_gamma_factors) * float(n_train) ** 2 * n_bands
    elif family == "rf":
        work = cfg.rf_trees / 200 * n_train * n_bands
    else:
        work = 0.0
    fixed = _FIXED_S[family] * (cfg.hybridsn_steps / 400 if family == "hybridsn" else 1.0)
    return fixed + _TRAIN_S_PER_UNIT[family] * work + _INFER_S_PER_PIXEL_BAND[family] * n_pixels * n_bands


def longest_first(tasks: Sequence[FitTask], cost: Callable[[FitTask], float]) -> list[FitTask]:
    """The tasks by decreasing estimated cost (ties in plan order).

    Started in this order on a pool, the long fits run side by side early and the
    short ones fill the gaps at the end, so the workers finish close together (the
    classic longest-processing-time-first rule).
    """
    order = {t.key: i for i, t in enumerate(tasks)}
    return sorted(tasks, key=lambda t: (-cost(t), order[t.key]))


def sendable_factories(registry: Mapping[str, MethodFactory], names: Iterable[str]) -> dict[str, MethodFactory]:
    """The method factories a worker process must be sent: those it would not find in its own :data:`METHODS`.

    A spawned worker imports hsigeo afresh, so it has :data:`BUILTIN_METHODS` but not
    a factory registered or passed at run time; such a factory travels by pickle.

    Raises
    ------
    HsigeoError
        When such a factory cannot be pickled (a lambda, a local function).
    """
    out = {}
    for name in sorted(set(names)):
        factory = registry[name]
        if BUILTIN_METHODS.get(name) is factory:
            continue
        try:
            pickle.dumps(factory)
        except Exception as exc:
            raise HsigeoError(
                f"method {name!r}: its factory cannot be sent to a worker process ({exc}); with jobs > 1 define it "
                "as a module-level function or class, or run with jobs=1.") from exc
        out[name] = factory
    return out


def run_pool(
    tasks: Sequence[FitTask],
    worker: Callable[[FitTask], Any],
    *,
    jobs: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[tuple[FitTask, Future]]:
    """Run ``worker(task)`` for every task in ``jobs`` spawned processes; yield each as it finishes.

    Parameters
    ----------
    tasks
        Submitted in this order (a pool starts them first-in first-out).
    worker
        A module-level function (``spawn`` pickles it by name).
    jobs
        Worker processes.
    initializer, initargs
        Run once in each worker before its first task.

    Yields
    ------
    (FitTask, Future)
        In completion order; ``future.result()`` is the worker's return value or
        raises its exception.

    Notes
    -----
    ``spawn``, not ``fork``: a forked child of a process that has started torch's or
    OpenMP's threads can deadlock.  If the consumer stops early (an exception,
    Ctrl-C, closing the generator), the queued tasks are cancelled and the workers
    terminated, so no process outlives the run still busy with a fit nobody waits for.
    """
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)
    order = {id(t): i for i, t in enumerate(tasks)}
    finished = False
    try:
        pending = {pool.submit(worker, t): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # several done at once are reported in submission order, not in set order
            for fut in sorted(done, key=lambda f: order[id(pending[f])]):
                yield pending.pop(fut), fut
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (they may be minutes into a fit)."""
    # the handles must be taken before shutdown(), which forgets them; Python 3.14 has terminate_workers()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 10
    for p in procs:
        p.join(timeout=max(0.1, deadline - time.monotonic()))
        if p.is_alive():  # SIGTERM not honoured in time (a worker still starting up): it must not outlive the run
            p.kill()
            p.join(timeout=5)
