"""The benchmark's configuration: its protocols, defaults and the run settings.

Label protocols (:class:`Protocol`): for every dataset, protocol (stratified per class at
given training fractions, and a spatially disjoint block split) and seed, one pair of
train/test masks is drawn (:meth:`Protocol.split`) and handed, unchanged and read-only, to
every method.  The zero-shot protocol (:class:`ZeroShotProtocol`) uses no label at all: each
dataset is mapped from its prompts alone and the labels only score the maps.  Both kinds sit
in one :attr:`BenchmarkConfig.protocols`, so one run (:func:`hsigeo.evaluation.runner.run_benchmark`)
can report them side by side.  :class:`BenchmarkConfig` holds everything a run depends on; it
is stored in the report.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["DEFAULT_DATASETS", "DEFAULT_METHODS", "DEFAULT_FRACTIONS", "PROTOCOL_KINDS", "Protocol",
           "ZeroShotProtocol", "make_protocols", "AblationConfig", "BenchmarkConfig"]

#: Datasets run by default; real scenes whose cube is not in the data folder are skipped with a message.
DEFAULT_DATASETS: tuple[str, ...] = ("salinas-a", "indian-pines", "pavia-university", "salinas", "synthetic", "berlin")
#: Methods run by default, in table order.
DEFAULT_METHODS: tuple[str, ...] = ("hsigeo", "hsigeo-softmax", "hsigeo-names", "svm", "rf", "hybridsn")
#: Training fractions of the stratified protocols.
DEFAULT_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.10)


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


@dataclass(frozen=True)
class ZeroShotProtocol:
    """The zero-shot (prompt-only) protocol: no method sees a label; labels only score the maps.

    Run on every dataset of the run that has prompts: the scenes with a merge table
    (:data:`hsigeo.evaluation.merges.SCENES`) on their coarse merged classes, the others on
    their own classes and prompts.  See :mod:`hsigeo.evaluation.zero_shot`.

    Attributes
    ----------
    methods
        Names from :data:`hsigeo.evaluation.zero_shot.METHODS`, in table order (``None``:
        all of them).  A method whose needs a scene cannot meet (the library baselines on a
        scene without library selectors) is listed as not run there.
    model
        The base model file (``None``: the one shipped with hsigeo).
    open_set
        Also remove each class's prompt in turn and measure the unknown outcome on its pixels.
    """

    methods: tuple[str, ...] | None = None
    model: str | None = None
    open_set: bool = False
    kind: Literal["zero-shot"] = field(default="zero-shot", init=False)

    @property
    def name(self) -> str:
        """Label used in tables (``zero-shot``)."""
        return "zero-shot"

    @property
    def slug(self) -> str:
        """File-name-safe form of :attr:`name` (the figures' ``maps/<dataset>_zero-shot.png``)."""
        return "zero-shot"

    def describe(self) -> str:
        """One-line description for reports."""
        return ("zero-shot: no label seen by any method; each scene mapped from its prompts alone, scored on all "
                "labelled pixels (merged onto coarse classes where a merge table exists)")


#: Protocol kinds a run can hold, as the command line names them: ``labels`` for the split
#: protocols (:class:`Protocol`), ``zero-shot`` for :class:`ZeroShotProtocol`.
PROTOCOL_KINDS: tuple[str, ...] = ("labels", "zero-shot")


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
@dataclass(frozen=True)
class AblationConfig:
    """The language ablation run beside the main comparison (``BenchmarkConfig.ablation``).

    Every ``method`` is fitted on every dataset, stratified ``fraction`` and seed; a fit the
    main comparison already does (same dataset, protocol, seed and method) is reused, not
    repeated.  Its results are reported in their own table (mean +- std over these seeds),
    never mixed into the main table's summaries.

    Attributes
    ----------
    datasets
        Datasets to ablate; each must also be in the main run's ``datasets`` (one
        that is not, or whose cube is missing, is skipped with a message).
    fractions
        Stratified training fractions per class.
    seeds
        Seeds (more than the main run's: the differences sought are small).
    methods
        The anchor variants: descriptive prompts (``hsigeo``), class names only,
        random anchors of the text space, and no text at all.
    """

    datasets: tuple[str, ...] = ("indian-pines", "salinas-a")
    fractions: tuple[float, ...] = (0.01, 0.05)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = ("hsigeo", "hsigeo-names", "hsigeo-random", "hsigeo-notext")

    def protocols(self) -> list[Protocol]:
        """The stratified protocols at :attr:`fractions`."""
        return make_protocols(self.fractions, block=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"datasets": list(self.datasets), "fractions": list(self.fractions), "seeds": list(self.seeds),
                "methods": list(self.methods)}


@dataclass
class BenchmarkConfig:
    """Everything a benchmark run depends on (stored in the JSON report).

    Attributes
    ----------
    datasets
        Dataset names (``salinas-a``, ``indian-pines``, ``pavia-university``,
        ``salinas``, ``synthetic``, ``berlin``).
    data_dir
        Folder with the ``.mat`` files (see :func:`hsigeo.datasets.scenes.find_data_dir`).
    seeds
        Seeds; each gives one split per label protocol and seeds every method.
    protocols
        The label protocols (see :func:`make_protocols`) and, optionally, one
        :class:`ZeroShotProtocol`; see :attr:`label_protocols` and :attr:`zero_shot`.
    methods
        Method names from :data:`METHODS` (the label protocols' methods; the
        zero-shot protocol names its own).
    out_dir
        Where the report, JSON and figures go.
    hsigeo_epochs
        Training epochs of the three hsigeo variants (``None``: the trainer's
        default, 60; fewer epochs under-trained a Salinas-A block-split seed).
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
    jobs
        Worker processes running the fits (1: all in this process, no pool).
        Each worker gets ``threads`` threads, so ``jobs * threads`` should not
        exceed the cores.
    ablation
        The language ablation to run in the same invocation (``None``: none);
        see :class:`AblationConfig`.
    """

    datasets: Sequence[str] = DEFAULT_DATASETS
    data_dir: str | os.PathLike | None = None
    seeds: Sequence[int] = (0, 1, 2)
    protocols: Sequence[Protocol | ZeroShotProtocol] = field(default_factory=make_protocols)
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
    jobs: int = 1
    ablation: AblationConfig | None = None

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

    @property
    def label_protocols(self) -> list[Protocol]:
        """The split protocols, in configuration order (the fits' plan and the main tables)."""
        return [p for p in self.protocols if isinstance(p, Protocol)]

    @property
    def zero_shot(self) -> ZeroShotProtocol | None:
        """The zero-shot protocol of this run (None: none)."""
        return next((p for p in self.protocols if isinstance(p, ZeroShotProtocol)), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["protocols"] = [{"name": p.name, **asdict(p)} for p in self.protocols]
        d["data_dir"] = None if self.data_dir is None else str(self.data_dir)
        d["out_dir"] = str(self.out_dir)
        d["datasets"], d["seeds"], d["methods"] = list(self.datasets), list(self.seeds), list(self.methods)
        d["svm_C"], d["svm_gamma_factors"] = list(self.svm_C), list(self.svm_gamma_factors)
        d["ablation"] = None if self.ablation is None else self.ablation.to_dict()
        return d
