"""Accuracy benchmark: hsigeo against pixel and CNN baselines under one split protocol.

For every dataset, protocol (stratified per class at given training fractions,
and a spatially disjoint block split) and seed, one pair of train/test masks is
drawn and handed, unchanged and read-only, to every method.  Each method is a
small object following :class:`hsigeo.evaluation.baselines.base.Method`; the registry
:data:`METHODS` maps names to factories, so new methods plug in without
touching the runner.

The runner reports mean +- standard deviation over seeds of overall accuracy
(OA), average per-class accuracy (AA), Cohen's kappa, per-class accuracy,
trainable parameters, training time and inference speed, as JSON and
Markdown, plus one class-map figure per dataset and protocol.

Used by ``benchmarks/accuracy.py`` and ``hsigeo benchmark``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hsigeo.errors import DatasetError, HsigeoError, InvalidInputError, NotFittedError
from hsigeo.evaluation.baselines.base import Method

__all__ = [
    "DEFAULT_DATASETS",
    "DEFAULT_METHODS",
    "DEFAULT_FRACTIONS",
    "METHODS",
    "BenchmarkConfig",
    "HsigeoMethod",
    "Protocol",
    "Scene",
    "make_protocols",
    "load_scene",
    "register_method",
    "run_benchmark",
    "run_and_report",
    "score",
    "mean_std",
    "summarize",
    "write_report",
    "markdown_report",
    "readme_block",
    "parse_seeds",
    "parse_fractions",
    "paper_commands",
    "config_from_options",
]

#: Datasets run by default; real scenes whose cube is not in the data folder are skipped with a message.
DEFAULT_DATASETS: tuple[str, ...] = ("salinas-a", "indian-pines", "pavia-university", "salinas", "synthetic")
#: Methods run by default, in table order.
DEFAULT_METHODS: tuple[str, ...] = ("hsigeo", "hsigeo-softmax", "hsigeo-names", "svm", "rf", "hybridsn")
#: Training fractions of the stratified protocols.
DEFAULT_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.10)

_LOG = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- #
# Protocols
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Protocol:
    """How training and test pixels are drawn.

    Attributes
    ----------
    kind
        ``"stratified"``: ``fraction`` of each class's labelled pixels train,
        the rest test.  ``"block"``: the scene is cut into ``block_size``
        squares assigned wholly to training or test (``test_fraction`` of the
        blocks test); ``fraction`` of each class's pixels inside the training
        blocks train, and test pixels closer than ``gap`` pixels to a training
        block are dropped, so no test patch overlaps training pixels.
    fraction
        Training share (see ``kind``).
    """

    kind: Literal["stratified", "block"]
    fraction: float
    block_size: int = 16
    test_fraction: float = 0.5
    gap: int = 4

    @property
    def name(self) -> str:
        """Short label used in tables and file names (``5%``, ``block``)."""
        return f"{self.fraction * 100:g}%" if self.kind == "stratified" else "block"

    @property
    def slug(self) -> str:
        """File-name-safe form of :attr:`name`."""
        return f"stratified{self.fraction * 100:g}pct".replace(".", "p") if self.kind == "stratified" else "block"

    def describe(self) -> str:
        """One-line description for reports."""
        if self.kind == "stratified":
            return f"stratified per class, {self.fraction * 100:g}% of each class's labelled pixels train, the rest test"
        return (
            f"spatially disjoint: {self.block_size}x{self.block_size} px blocks, {self.test_fraction * 100:g}% of "
            f"blocks test; {self.fraction * 100:g}% per class of the training blocks' pixels train; test pixels within "
            f"{self.gap} px of a training block dropped"
        )

    def split(self, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Train and test masks for ``labels`` (pure function of labels, protocol and seed)."""
        from hsigeo.sampling.splits import block_split, stratified_split

        if self.kind == "stratified":
            return stratified_split(labels, fraction=self.fraction, seed=seed)
        blocks_train, test = block_split(
            labels, block_size=self.block_size, test_fraction=self.test_fraction, gap=self.gap, seed=seed
        )
        # subsample inside the training blocks so block and stratified runs train on similar amounts of data
        train, _ = stratified_split(labels, fraction=self.fraction, seed=seed, within=blocks_train)
        return train, test


def make_protocols(
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    *,
    block: bool = True,
    block_size: int = 16,
    block_fraction: float = 0.10,
    gap: int = 4,
) -> list[Protocol]:
    """The stratified protocols at ``fractions``, then (optionally) the block protocol."""
    out = [Protocol("stratified", float(f)) for f in fractions]
    if block:
        out.append(Protocol("block", float(block_fraction), block_size=block_size, gap=gap))
    return out


# --------------------------------------------------------------------------- #
# Configuration
# --------------------------------------------------------------------------- #
@dataclass
class BenchmarkConfig:
    """Everything a benchmark run depends on (stored in the JSON report).

    Attributes
    ----------
    datasets
        Dataset names (``salinas-a``, ``indian-pines``, ``pavia-university``,
        ``salinas``, ``synthetic``).
    data_dir
        Folder with the ``.mat`` files (see :func:`hsigeo.datasets.scenes.find_data_dir`).
    seeds
        Seeds; each gives one split per protocol and seeds every method.
    protocols
        Split protocols (see :func:`make_protocols`).
    methods
        Method names from :data:`METHODS`.
    out_dir
        Where the report, JSON and figures go.
    hsigeo_epochs
        Training epochs of the three hsigeo variants (``None``: the trainer's
        default, 60; with 30, one Salinas-A block-split seed stopped at 89 % OA).
    hsigeo_options
        Extra keyword arguments for :func:`hsigeo.model.training.train`.
    hybridsn_steps
        Optimiser steps of the HybridSN baseline.
    svm_C, svm_gamma_factors
        The SVM's cross-validation grid.
    rf_trees
        Trees in the random forest.
    synthetic
        Arguments of :func:`hsigeo.datasets.synthetic.synthetic_cube` for the synthetic scene.
    maps
        Write class-map figures (first seed).
    threads
        CPU threads for torch, BLAS and OpenMP during the run (``None``: leave
        as is).  One thread by default: every method then gets the same
        compute, and timings stay stable on a shared machine, where
        multi-threaded torch slows down many-fold when cores are busy.
    verify
        Check published sha256 sums of the dataset files.
    fail_fast
        Re-raise a method's exception instead of recording it and going on.
    quick
        Marks a smoke-test run in the report.
    """

    datasets: Sequence[str] = DEFAULT_DATASETS
    data_dir: str | os.PathLike | None = None
    seeds: Sequence[int] = (0, 1, 2)
    protocols: Sequence[Protocol] = field(default_factory=make_protocols)
    methods: Sequence[str] = DEFAULT_METHODS
    out_dir: str | os.PathLike = Path("benchmarks/results")
    hsigeo_epochs: int | None = None
    hsigeo_options: dict[str, Any] = field(default_factory=dict)
    hybridsn_steps: int = 400
    svm_C: Sequence[float] = (1.0, 10.0, 100.0, 1000.0)
    svm_gamma_factors: Sequence[float] = (0.1, 1.0, 10.0)
    rf_trees: int = 200
    synthetic: dict[str, Any] = field(
        default_factory=lambda: {"height": 64, "width": 64, "bands": 120, "n_classes": 6, "seed": 0, "noise": 0.03}
    )
    maps: bool = True
    threads: int | None = 1
    verify: bool = True
    fail_fast: bool = False
    quick: bool = False

    @classmethod
    def quick_config(cls, **overrides: Any) -> "BenchmarkConfig":
        """A smoke-test configuration: synthetic scene only, one seed, 5% + block, short training."""
        base = cls(
            datasets=("synthetic",),
            seeds=(0,),
            protocols=make_protocols((0.05,)),
            hsigeo_epochs=3,
            hybridsn_steps=60,
            svm_C=(10.0, 100.0),
            svm_gamma_factors=(1.0,),
            rf_trees=50,
            synthetic={"height": 40, "width": 40, "bands": 48, "n_classes": 4, "seed": 0},
            quick=True,
        )
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["protocols"] = [{"name": p.name, **asdict(p)} for p in self.protocols]
        d["data_dir"] = None if self.data_dir is None else str(self.data_dir)
        d["out_dir"] = str(self.out_dir)
        d["datasets"], d["seeds"], d["methods"] = list(self.datasets), list(self.seeds), list(self.methods)
        d["svm_C"], d["svm_gamma_factors"] = list(self.svm_C), list(self.svm_gamma_factors)
        return d


# --------------------------------------------------------------------------- #
# Methods
# --------------------------------------------------------------------------- #
class HsigeoMethod:
    """hsigeo's prompt-anchored model as a benchmark method.

    Parameters
    ----------
    name
        Label in the tables.
    loss
        ``"hard_negative"`` (hard + semi-hard negatives) or ``"softmax"``
        (full-softmax contrastive loss).
    names_only
        Replace the descriptive prompts by the bare class names (ablation).
    epochs
        Training epochs (``None``: the trainer's default).
    options
        Further keyword arguments for :func:`hsigeo.model.training.train`.
    """

    parameter_note = "trainable parameters reported by the trainer (the frozen text encoder is not counted)"

    def __init__(
        self, name: str, *, loss: str = "hard_negative", names_only: bool = False, epochs: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.loss = loss
        self.names_only = names_only
        self.epochs = epochs
        self.options = dict(options or {})
        self.model: Any = None
        self.report: Any = None

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "HsigeoMethod":
        """Train with :func:`hsigeo.model.training.train` on the pixels of ``train_mask``."""
        from hsigeo.model.training import train

        if prompts is None:
            raise HsigeoError(f"{self.name}: this dataset has no prompts file; hsigeo needs one prompt set per scene.")
        if self.names_only:
            prompts = prompts.names_only()
        kwargs = dict(self.options)
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        self.model, self.report = train(cube, labels, prompts, train_mask=train_mask, loss=self.loss, seed=seed,
                                        progress=False, **kwargs)
        return self

    def predict(self, cube: Any) -> np.ndarray:
        """Class values of every pixel (``predict_array``'s class map)."""
        if self.model is None:
            raise NotFittedError(f"{self.name}: predict called before fit")
        classes, _confidence = self.model.predict_array(np.asarray(getattr(cube, "values", cube)))
        return np.asarray(classes, dtype=np.int32)

    @property
    def n_trainable(self) -> int:
        """Trainable parameters (backbone, text probe, temperature) from the train report."""
        if self.report is None:
            return 0
        return int(self.report.n_parameters.get("trainable", 0))

    @property
    def extras(self) -> dict[str, Any]:
        """Training facts worth keeping per run (frozen text parameters, kept epoch, validation accuracy)."""
        if self.report is None:
            return {}
        r = self.report
        return {"text_model_parameters": int(r.n_parameters.get("text_model", 0)), "best_epoch": r.best_epoch,
                "epochs_run": len(r.history.get("epoch", [])), "val_accuracy": r.val_accuracy,
                "n_fit_pixels": r.n_train, "n_val_pixels": r.n_val}


MethodFactory = Callable[[BenchmarkConfig], Method]


def _svm(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.spectral import SVMBaseline

    return SVMBaseline(C_grid=cfg.svm_C, gamma_factors=cfg.svm_gamma_factors)


def _rf(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.spectral import RandomForestBaseline

    return RandomForestBaseline(n_estimators=cfg.rf_trees)


def _hybridsn(cfg: BenchmarkConfig) -> Method:
    from hsigeo.evaluation.baselines.hybridsn import HybridSNBaseline

    return HybridSNBaseline(steps=cfg.hybridsn_steps)


#: name -> factory building a fresh (unfitted) method from the run's configuration.
METHODS: dict[str, MethodFactory] = {
    "hsigeo": lambda cfg: HsigeoMethod("hsigeo", loss="hard_negative", epochs=cfg.hsigeo_epochs,
                                       options=cfg.hsigeo_options),
    "hsigeo-softmax": lambda cfg: HsigeoMethod("hsigeo-softmax", loss="softmax", epochs=cfg.hsigeo_epochs,
                                               options=cfg.hsigeo_options),
    "hsigeo-names": lambda cfg: HsigeoMethod("hsigeo-names", loss="hard_negative", names_only=True,
                                             epochs=cfg.hsigeo_epochs, options=cfg.hsigeo_options),
    "svm": _svm,
    "rf": _rf,
    "hybridsn": _hybridsn,
}

#: One line per method for the report's legend.
METHOD_NOTES: dict[str, str] = {
    "hsigeo": "hsigeo, contrastive loss over the positive + hard and semi-hard negative classes, descriptive prompts",
    "hsigeo-softmax": "hsigeo, full-softmax contrastive loss over all classes, descriptive prompts",
    "hsigeo-names": "hsigeo (hard + semi-hard negatives) with class names as the only prompts",
    "svm": "RBF SVM on standardized spectra; C and gamma by stratified 3-fold CV on the training pixels",
    "rf": "random forest on standardized spectra",
    "hybridsn": "HybridSN-style 3-D/2-D CNN on 9x9 patches of 15 PCA components, cross-entropy",
}


def register_method(name: str, factory: MethodFactory, note: str = "") -> None:
    """Add (or replace) a method in :data:`METHODS`."""
    METHODS[name] = factory
    if note:
        METHOD_NOTES[name] = note


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
                        raise InvalidInputError(f"{mname} returned a class map of shape {pred.shape}, not {labels.shape}")
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


# --------------------------------------------------------------------------- #
# Reports
# --------------------------------------------------------------------------- #
def _pm(stat: Mapping[str, Any], scale: float = 100.0, digits: int = 2) -> str:
    if stat.get("mean") is None:
        return "n/a"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"


def _count(n: float | None) -> str:
    if n is None:
        return "n/a"
    n = float(n)
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k" if n >= 1e3 else f"{n:.0f}"


def _best_oa(methods: Mapping[str, Any]) -> str | None:
    scored = [(m, v["summary"]["oa"]["mean"]) for m, v in methods.items() if v["summary"]["oa"]["mean"] is not None]
    return max(scored, key=lambda t: t[1])[0] if scored else None


def _findings(results: Mapping[str, Any]) -> list[str]:
    """Plain-language lines on where hsigeo wins or loses (OA means over seeds)."""
    lines = []
    for dname, d in results["datasets"].items():
        if d.get("status") != "ok":
            continue
        for p in d["protocols"].values():
            ms = p["methods"]
            ours = {m: v for m, v in ms.items() if m.startswith("hsigeo") and v["summary"]["oa"]["mean"] is not None}
            others = {m: v for m, v in ms.items() if not m.startswith("hsigeo") and v["summary"]["oa"]["mean"] is not None}
            failed = [f"{m} ({v['summary']['n_failed']} failed)" for m, v in ms.items() if v["summary"]["n_failed"]]
            if failed:
                lines.append(f"{dname} {p['name']}: runs failed: {', '.join(failed)}.")
            if not ours or not others:
                continue
            best_ours = max(ours, key=lambda m: ours[m]["summary"]["oa"]["mean"])
            best_other = max(others, key=lambda m: others[m]["summary"]["oa"]["mean"])
            a = ours[best_ours]["summary"]["oa"]
            b = others[best_other]["summary"]["oa"]
            diff = (a["mean"] - b["mean"]) * 100
            spread = max(a["std"] or 0.0, b["std"] or 0.0) * 100
            if min(a["n"], b["n"]) < 2:
                verdict = "single seed, no spread to judge by" if diff else "tied"
                verdict = ("hsigeo ahead, " if diff > 0 else "baseline ahead, " if diff < 0 else "") + verdict
            else:
                verdict = ("within one std of each other" if abs(diff) <= spread
                           else "hsigeo ahead" if diff > 0 else "**baseline ahead**")
            lines.append(f"{dname} {p['name']}: best hsigeo variant {best_ours} {_pm(a)} vs best baseline "
                         f"{best_other} {_pm(b)} OA ({diff:+.2f} points, {verdict}).")
    return lines


def markdown_report(results: Mapping[str, Any]) -> str:
    """The full Markdown report: one table per dataset and protocol, per-class tables, findings."""
    meta, cfg = results["meta"], results["config"]
    lines = ["# hsigeo accuracy benchmark", ""]
    lines += [f"Run {meta.get('started', '?')}, total {meta.get('total_seconds', 0.0) / 60:.1f} min on "
              f"{meta.get('cpu_count')} CPU(s) ({meta.get('platform', '')}), "
              f"{meta.get('threads') or 'default'} thread(s) per method; torch {meta.get('torch', 'n/a')}, "
              f"scikit-learn {meta.get('scikit-learn')}, hsigeo {meta.get('hsigeo')}."
              + (" **Quick smoke-test settings: not for comparison.**" if cfg.get("quick") else ""), ""]
    lines += [f"Seeds {', '.join(map(str, cfg['seeds']))}; values are mean ± sample std (ddof=1) over seeds, "
              "in percent for OA/AA/κ. Every method gets the same train/test masks per protocol and seed; "
              "params = trainable parameters (see notes); train s = wall-clock fit time; px/s = full-scene "
              "inference pixels per second. Timings come from a shared machine and are indicative only.", ""]
    lines += ["Methods:", ""] + [f"- `{m}`: {note}" for m, note in results.get("methods", {}).items()] + [""]
    for dname, d in results["datasets"].items():
        lines.append(f"## {dname}")
        lines.append("")
        if d.get("status") != "ok":
            lines += [f"Skipped: {d.get('reason', '')}", ""]
            continue
        shape = "x".join(map(str, d["shape"]))
        lines += [f"Cube {shape} (band x y x x), {len(d['classes'])} classes, {d['labelled_pixels']} labelled pixels"
                  f"{'; ' + d['note'] if d.get('note') else ''}; {d.get('seconds', 0.0):.0f} s for this dataset.", ""]
        for p in d["protocols"].values():
            sp = p["splits"]
            lines += [f"### {dname}: {p['name']}", "", p["description"] + ".",
                      f"Train pixels per seed: {', '.join(str(s['n_train']) for s in sp)}; test pixels: "
                      f"{', '.join(str(s['n_test']) for s in sp)}.", ""]
            best = _best_oa(p["methods"])
            lines += ["| method | OA % | AA % | κ × 100 | params | train s | infer px/s |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for m, v in p["methods"].items():
                s = v["summary"]
                if s["n_runs"] == 0:
                    err = next((r.get("error", "") for r in v["runs"] if "error" in r), "")
                    lines.append(f"| {m} | failed: {err[:80]} | | | | | |")
                    continue
                oa = _pm(s["oa"])
                oa = f"**{oa}**" if m == best else oa
                lines.append(f"| {m} | {oa} | {_pm(s['aa'])} | {_pm(s['kappa'])} | {_count(s['n_trainable']['mean'])} "
                             f"| {s['train_seconds']['mean']:.1f} | {_count(s['infer_pixels_per_s']['mean'])} |")
            lines += ["", "Per-class accuracy %:", ""]
            names = list(p["methods"])
            lines += ["| class | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
            for v, cname in d["classes"].items():
                cells = [_pm(p["methods"][m]["summary"]["per_class"][v], digits=1) for m in names]
                lines.append(f"| {v} {cname} | " + " | ".join(cells) + " |")
            lines.append("")
            if cfg.get("maps", True):
                fig = Path("maps") / f"{dname}_{next(k for k, q in d['protocols'].items() if q is p)}.png"
                lines += [f"Class maps (seed {cfg['seeds'][0]}): `{fig.as_posix()}`", ""]
    lines += ["## Findings", ""] + [f"- {f}" for f in _findings(results)] + [""]
    return "\n".join(lines)


def paper_commands(data_dir: str = "/path/to/gic") -> list[str]:
    """Commands for the Indian Pines / Pavia University protocol (10% and 5% stratified per class)."""
    return [
        f"python benchmarks/accuracy.py --dataset indian-pines --dataset pavia-university --data-dir {data_dir} "
        "--fractions 0.10,0.05 --no-block --seeds 3 --out benchmarks/results/ip_pu",
        f"hsigeo benchmark --dataset indian-pines --dataset pavia-university --data-dir {data_dir} "
        "--fractions 0.10,0.05 --no-block --seeds 3 --out benchmarks/results/ip_pu",
    ]


def readme_block(results: Mapping[str, Any]) -> str:
    """A compact Markdown block for the project README: OA per dataset/protocol/method, findings, commands."""
    meta, cfg = results["meta"], results["config"]
    methods = list(cfg["methods"])
    lines = ["### Accuracy benchmark", ""]
    lines += [f"Overall accuracy % (mean ± std over seeds {', '.join(map(str, cfg['seeds']))}); "
              "identical train/test masks for every method; best per row in bold. "
              f"Whole run: {meta.get('total_seconds', 0.0) / 60:.1f} min on a {meta.get('cpu_count')}-core CPU, "
              f"{meta.get('threads') or 'default'} thread(s) per method"
              f"{' (quick settings)' if cfg.get('quick') else ''}.", ""]
    lines += ["| dataset | protocol | " + " | ".join(methods) + " |", "| --- | --- |" + " ---: |" * len(methods)]
    skipped = []
    for dname, d in results["datasets"].items():
        if d.get("status") != "ok":
            skipped.append(dname)
            continue
        for p in d["protocols"].values():
            best = _best_oa(p["methods"])
            cells = []
            for m in methods:
                s = p["methods"][m]["summary"]
                cell = "failed" if s["n_runs"] == 0 else _pm(s["oa"])
                cells.append(f"**{cell}**" if m == best else cell)
            lines.append(f"| {dname} | {p['name']} | " + " | ".join(cells) + " |")
    lines.append("")
    params = _param_line(results)
    if params:
        lines += [params, ""]
    if skipped:
        lines += [f"Not run (cube not in the data folder): {', '.join(skipped)}.", ""]
    lines += ["Findings:", ""] + [f"- {f}" for f in _findings(results)] + [""]
    lines += ["Reproduce (Salinas-A + synthetic, all protocols, 3 seeds): `python benchmarks/accuracy.py`.",
              "Indian Pines / Pavia University at 10% and 5% stratified per class, with the `.mat` cubes "
              "from the GIC page in a folder (sha256 verified on load):", "", "```"]
    lines += paper_commands() + ["```", ""]
    return "\n".join(lines)


def _param_line(results: Mapping[str, Any]) -> str:
    counts: dict[str, float] = {}
    for d in results["datasets"].values():
        if d.get("status") != "ok":
            continue
        for p in d["protocols"].values():
            for m, v in p["methods"].items():
                n = v["summary"]["n_trainable"]["mean"]
                if n is not None and m not in counts:
                    counts[m] = n
    if not counts:
        return ""
    return "Trainable parameters (first dataset): " + ", ".join(f"{m} {_count(n)}" for m, n in counts.items()) + "."


def _rgb(colours: Mapping[str, Sequence[int]], values: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    import matplotlib

    out: dict[int, tuple[float, float, float]] = {}
    cmap = matplotlib.colormaps["tab20"]
    for i, v in enumerate(values):
        c = colours.get(str(v))
        out[v] = tuple(x / 255 for x in c) if c else cmap(i % 20)[:3]  # type: ignore[assignment]
    return out


def _map_figure(path: Path, dname: str, proto: Mapping[str, Any], maps: Mapping[str, np.ndarray],
                labels_meta: Mapping[str, Any], reference: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from hsigeo.outputs import atomic_output

    values = [int(v) for v in labels_meta["classes"]]
    rgb = _rgb(labels_meta.get("colours", {}), values)

    def paint(arr: np.ndarray) -> np.ndarray:
        img = np.ones(arr.shape + (3,))  # unlabelled / unclassified: white (no class palette uses it)
        for v, c in rgb.items():
            img[arr == v] = c
        return img

    methods = [m for m in proto["methods"] if m in maps]
    n = 1 + len(methods)
    h, w = reference.shape
    panel_w = 2.6
    fig, axes = plt.subplots(1, n, figsize=(panel_w * n, panel_w * h / w + 1.3), squeeze=False)
    ax = axes[0, 0]
    ax.imshow(paint(reference), interpolation="nearest")
    train = maps.get("train")
    if train is not None:
        ys, xs = np.nonzero(train)
        ax.scatter(xs, ys, s=1.5, c="black", marker=".", linewidths=0)
    ax.set_title("reference\n(black dots: training)", fontsize=8)
    first = next(iter(proto["splits"]), {})
    for ax, m in zip(axes[0, 1:], methods, strict=True):
        run = next((r for r in proto["methods"][m]["runs"] if r.get("seed") == first.get("seed") and "oa" in r), None)
        ax.imshow(paint(maps[m]), interpolation="nearest")
        ax.set_title(f"{m}\nOA {run['oa'] * 100:.1f}%" if run else m, fontsize=8)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=rgb[v], label=f"{v} {labels_meta['classes'][str(v)]}") for v in values]
    handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.5, label="0 unlabelled / unclassified"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), fontsize=7, frameon=False)
    fig.suptitle(f"{dname}, {proto['name']} (seed {first.get('seed', '?')})", fontsize=9)
    fig.tight_layout(rect=(0, 0.12 + 0.02 * (len(handles) // 4), 1, 1))
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)


def _jsonable(obj: Any) -> Any:
    """Plain JSON types; NaN/inf become None (strict JSON has no NaN), numpy scalars become Python ones."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def write_report(results: dict[str, Any], out_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write ``results.json``, ``results.md``, ``README_block.md`` and the class-map figures.

    Parameters
    ----------
    results
        From :func:`run_benchmark`.
    out_dir
        Output folder (default: the configuration's ``out_dir``).  Existing
        report files there are replaced.
    Returns
    -------
    dict
        ``{"json": ..., "markdown": ..., "readme": ..., "maps": [...]}`` paths.
    """
    from hsigeo.outputs import atomic_output

    out = Path(out_dir if out_dir is not None else results["config"]["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    maps = results.get("_maps", {})
    clean = {k: v for k, v in results.items() if not k.startswith("_")}
    paths: dict[str, Any] = {"json": out / "results.json", "markdown": out / "results.md",
                             "readme": out / "README_block.md", "maps": []}
    with atomic_output(paths["json"], overwrite=True) as tmp:
        tmp.write_text(json.dumps(_jsonable(clean), indent=1, allow_nan=False), encoding="utf-8")
    with atomic_output(paths["markdown"], overwrite=True) as tmp:
        tmp.write_text(markdown_report(clean), encoding="utf-8")
    with atomic_output(paths["readme"], overwrite=True) as tmp:
        tmp.write_text(readme_block(clean), encoding="utf-8")
    if results["config"].get("maps", True):
        for dname, per_proto in maps.items():
            if results["datasets"].get(dname, {}).get("status") != "ok":
                continue
            d = results["datasets"][dname]
            for slug, m in per_proto.items():
                if slug.startswith("_"):
                    continue
                path = out / "maps" / f"{dname}_{slug}.png"
                _map_figure(path, dname, d["protocols"][slug], m, d, per_proto["_reference"])
                paths["maps"].append(path)
    return paths


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """``3`` -> ``[0, 1, 2]`` (a count); ``"0,5,7"`` -> those seeds."""
    if isinstance(text, int):
        return list(range(text))
    if not isinstance(text, str):
        return [int(s) for s in text]
    text = text.strip()
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise InvalidInputError(f"--seeds must be >= 1, got {n}")
    return list(range(n))


def parse_fractions(text: str) -> list[float]:
    """``"0.01,0.05,0.1"`` (or percentages ``"1%,5%"``) -> fractions in (0, 1)."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        f = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        if not 0 < f < 1:
            raise InvalidInputError(f"training fraction {part!r} is not in (0, 1)")
        out.append(f)
    return out


def run_and_report(cfg: BenchmarkConfig, *, log: _LOG = _stderr,
                   factories: Mapping[str, MethodFactory] | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """:func:`run_benchmark`, then :func:`write_report` into ``cfg.out_dir``."""
    results = run_benchmark(cfg, factories=factories, log=log)
    return results, write_report(results, cfg.out_dir)


def config_from_options(
    *,
    datasets: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    seeds: str | int | None = None,
    fractions: str | None = None,
    block: bool | None = None,
    methods: str | Sequence[str] | None = None,
    out: str | os.PathLike | None = None,
    quick: bool = False,
    hsigeo_epochs: int | None = None,
    hybridsn_steps: int | None = None,
    maps: bool | None = None,
    threads: int | None = None,
    fail_fast: bool = False,
) -> BenchmarkConfig:
    """Build a :class:`BenchmarkConfig` from command-line style options (None = the default).

    ``quick`` starts from :meth:`BenchmarkConfig.quick_config`; every option
    given explicitly overrides it.  Shared by ``benchmarks/accuracy.py`` and
    ``hsigeo benchmark`` so both accept the same values.
    """
    cfg = BenchmarkConfig.quick_config() if quick else BenchmarkConfig()
    changes: dict[str, Any] = {"fail_fast": fail_fast}
    if datasets:
        changes["datasets"] = tuple(datasets)
    if data_dir is not None:
        changes["data_dir"] = data_dir
    if seeds is not None:
        changes["seeds"] = tuple(parse_seeds(seeds))
    if fractions is not None or block is not None:
        current = [p.fraction for p in cfg.protocols if p.kind == "stratified"]
        has_block = any(p.kind == "block" for p in cfg.protocols)
        changes["protocols"] = make_protocols(
            parse_fractions(fractions) if fractions is not None else current,
            block=has_block if block is None else block,
        )
        if not changes["protocols"]:
            raise HsigeoError("no protocol left: give --fractions or allow the block split.")
    if methods:
        names = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
        unknown = [m for m in names if m not in METHODS]
        if unknown:
            raise HsigeoError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}.")
        changes["methods"] = tuple(n for n in names if n)
    if out is not None:
        changes["out_dir"] = Path(out)
    if hsigeo_epochs is not None:
        changes["hsigeo_epochs"] = hsigeo_epochs
    if hybridsn_steps is not None:
        changes["hybridsn_steps"] = hybridsn_steps
    if maps is not None:
        changes["maps"] = maps
    if threads is not None:
        changes["threads"] = threads if threads > 0 else None
    return replace(cfg, **changes)
