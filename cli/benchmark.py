"""``hsigeo benchmark``: hsigeo against SVM, random forest and a HybridSN-style CNN on benchmark scenes,
and the base model against label-free baselines from prompts alone (the zero-shot protocol).

Also the option parsing shared with ``benchmarks/accuracy.py`` and ``benchmarks/zero_shot.py``
(:func:`config_from_options`), so all accept the same values.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hsigeo.errors import HsigeoError, InvalidInputError
from hsigeo.evaluation.benchmark_config import PROTOCOL_KINDS

if TYPE_CHECKING:
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig


@click.command()
@click.option("--dataset", "datasets", multiple=True, metavar="NAME",
              help="Dataset to run, repeatable: salinas-a, indian-pines, pavia-university, salinas, synthetic, berlin "
                   "(the EnMAP-Box urban-gradient scene in <data-dir>/berlin). "
                   "Default: all; real scenes whose cube is not in the data folder are skipped with a message.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with the benchmark .mat files (the GIC 'Hyperspectral Remote Sensing Scenes' page, "
                   "UPV/EHU). Default, the first that exists: $HSIGEO_DATA_DIR, ./shared/datasets and "
                   "../shared/datasets from the working folder, then shared/datasets beside the hsigeo source "
                   "folder.")
@click.option("--seeds", default=None, metavar="N|LIST",
              help="Number of seeds (3 -> 0,1,2) or a comma list (0,5,7). Default 3 (1 with --quick).")
@click.option("--fractions", default=None, metavar="LIST",
              help="Stratified training fractions per class, comma list. Default 0.01,0.05,0.1.")
@click.option("--block/--no-block", default=None, help="Also run the spatially disjoint block split (default: yes).")
@click.option("--methods", default=None, metavar="LIST",
              help="Comma list of hsigeo, hsigeo-softmax, hsigeo-names, hsigeo-base, hsigeo-scratch, hsigeo-random, "
                   "hsigeo-notext, hsigeo-net, hsigeo-svm, hsigeo-ensemble, hsigeo-auto, svm, rf, "
                   "hybridsn (hsigeo is `hsigeo train`'s default method). Default: hsigeo, hsigeo-softmax, hsigeo-names, svm, rf, hybridsn.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default benchmarks/results); its report files are replaced.")
@click.option("--quick", is_flag=True,
              help="Smoke test: synthetic scene, one seed, 5% + block, short training (numbers not comparable).")
@click.option("--hsigeo-epochs", type=click.IntRange(min=1), default=None, help="Epochs of the hsigeo variants (default: the trainer's, 60).")
@click.option("--hsigeo-init", type=click.Choice(["auto", "scratch", "base"]), default=None,
              help="--init of the hsigeo variants but hsigeo-base and hsigeo-scratch (default: the trainer's, auto).")
@click.option("--hybridsn-steps", type=click.IntRange(min=1), default=None,
              help="Optimiser steps of the HybridSN baseline (default 400).")
@click.option("--maps/--no-maps", default=None, help="Write class-map figures (default: yes).")
@click.option("--threads", type=click.IntRange(min=0), default=None,
              help="CPU threads per method (torch, BLAS); 0 = library default. Default 1: equal compute for "
                   "every method and stable timings on a busy machine.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failing method instead of recording the failure.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Fits run at the same time, each in its own worker process with --threads threads "
                   "(default 1: all in this process). 2 on a 2-core machine halves the wall time; the results "
                   "are the same.")
@click.option("--ablation/--no-ablation", default=None,
              help="Also run the language ablation: hsigeo with descriptive prompts, class names, random anchors "
                   "and no text, at 1% and 5% on Indian Pines and Salinas-A (those in --dataset), seeds 0-4, in "
                   "its own table; fits the main comparison already does are reused. Default: no.")
@click.option("--protocol", "protocols", type=click.Choice(list(PROTOCOL_KINDS)), multiple=True,
              help="Repeatable; default labels. labels: the split protocols above. zero-shot: no labels at all; "
                   "the base model from prompts alone against SAM / nearest-mean with library spectra, on each "
                   "dataset (coarse merged classes where a merge table exists: Indian Pines, Salinas-A, Berlin, "
                   "the mosaics; without --dataset, a zero-shot-only run takes those); needs the 'base' extra for "
                   "the libraries. Both in one run give one report, each dataset's results side by side.")
def benchmark(datasets: tuple[str, ...], data_dir: Path | None, seeds: str | None, fractions: str | None,
              block: bool | None, methods: str | None, out: Path | None, quick: bool, hsigeo_epochs: int | None,
              hsigeo_init: str | None, hybridsn_steps: int | None, maps: bool | None, threads: int | None, fail_fast: bool,
              jobs: int | None, ablation: bool | None, protocols: tuple[str, ...]) -> None:
    """Compare hsigeo with baselines under split protocols and, with --protocol zero-shot, from prompts alone.

    Every method gets the same train/test masks per protocol and seed.
    Writes results.md, results.json and maps/*.png to the output folder and
    prints the Markdown report (the README's block of a run: python
    scripts/readme_block.py OUT, in a source checkout).  The README's comparison and
    its language ablation, in one run, two fits at a time:

    \b
      hsigeo benchmark --dataset salinas-a --dataset indian-pines \\
          --dataset synthetic --seeds 3 --ablation --jobs 2

    For Indian Pines and Pavia University at the usual 10% / 5% per class:

    \b
      hsigeo benchmark --dataset indian-pines --dataset pavia-university \\
          --data-dir DIR --fractions 0.10,0.05 --no-block

    The zero-shot protocol beside the 5 % split on Salinas-A, in one report:

    \b
      hsigeo benchmark --dataset salinas-a --fractions 0.05 --no-block \\
          --protocol labels --protocol zero-shot
    """
    from hsigeo.evaluation.runner import run_and_report

    try:
        cfg = config_from_options(
            datasets=datasets or None, data_dir=data_dir, seeds=seeds, fractions=fractions, block=block,
            methods=methods, out=out, quick=quick, hsigeo_epochs=hsigeo_epochs, hsigeo_init=hsigeo_init,
            hybridsn_steps=hybridsn_steps, maps=maps, threads=threads, fail_fast=fail_fast, jobs=jobs, ablation=ablation,
            protocols=protocols or None,
        )
    except ValueError as exc:  # a malformed --seeds / --fractions value
        raise click.BadParameter(str(exc)) from exc
    from hsigeo.filesafety import Output, guard_outputs

    t0 = time.perf_counter()
    # its report files are replaced by design; check the folder is writable (and not in use) before hours of work
    with guard_outputs([Output(Path(cfg.out_dir) / "results.json", "--out")], overwrite=True):
        _results, paths = run_and_report(cfg, log=lambda msg: click.echo(msg, err=True))
    click.echo(paths["markdown"].read_text(encoding="utf-8"))
    click.echo(f"Report: {paths['markdown']}", err=True)
    click.echo(f"JSON: {paths['json']}", err=True)
    click.echo(f"Figures: {len(paths['maps'])} in {paths['markdown'].parent / 'maps'}", err=True)
    click.echo(f"Total: {(time.perf_counter() - t0) / 60:.1f} min", err=True)
    if cfg.label_protocols:  # the README block is a maintainer's tool of the repository, not of the installed command
        click.echo(f"README block (from a source checkout): python scripts/readme_block.py {cfg.out_dir}", err=True)


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
    hsigeo_init: str | None = None,
    hybridsn_steps: int | None = None,
    maps: bool | None = None,
    threads: int | None = None,
    fail_fast: bool = False,
    jobs: int | None = None,
    ablation: bool | None = None,
    protocols: Sequence[str] | None = None,
    zero_shot_model: str | os.PathLike | None = None,
    open_set: bool = False,
) -> BenchmarkConfig:
    """Build a :class:`BenchmarkConfig` from command-line style options (None = the default).

    ``quick`` starts from :meth:`BenchmarkConfig.quick_config`; every option
    given explicitly overrides it.  ``ablation=True`` adds the default
    :class:`~hsigeo.evaluation.benchmark_config.AblationConfig` (off unless asked, also
    with ``quick``).  ``protocols`` names the protocol kinds to run
    (:data:`~hsigeo.evaluation.benchmark_config.PROTOCOL_KINDS`; default ``["labels"]``):
    ``labels`` keeps the split protocols, ``zero-shot`` adds the
    :class:`~hsigeo.evaluation.benchmark_config.ZeroShotProtocol` (with ``zero_shot_model``
    and ``open_set``); a zero-shot-only run without ``datasets`` runs the scenes with a
    merge table (:data:`hsigeo.evaluation.merges.SCENES`) and, without ``out``, writes to
    ``benchmarks/results/zero_shot``, as the zero-shot benchmark always has.
    Shared by ``benchmarks/accuracy.py``, ``benchmarks/zero_shot.py`` and ``hsigeo
    benchmark`` so all accept the same values.

    Raises
    ------
    HsigeoError
        For an unknown protocol kind or method, or no protocol left to run.
    """
    from hsigeo.evaluation.benchmark_config import (
        PROTOCOL_KINDS,
        AblationConfig,
        BenchmarkConfig,
        ZeroShotProtocol,
        make_protocols,
    )
    from hsigeo.evaluation.merges import SCENES
    from hsigeo.evaluation.methods import METHODS

    kinds = list(dict.fromkeys(protocols or ["labels"]))
    odd = [k for k in kinds if k not in PROTOCOL_KINDS]
    if odd:
        raise HsigeoError(f"unknown protocol(s) {', '.join(odd)}; known: {', '.join(PROTOCOL_KINDS)}.")

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
        if not changes["protocols"] and "labels" in kinds:
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
    if hsigeo_init is not None:
        changes["hsigeo_options"] = {**cfg.hsigeo_options, "init": hsigeo_init}
    if hybridsn_steps is not None:
        changes["hybridsn_steps"] = hybridsn_steps
    if maps is not None:
        changes["maps"] = maps
    if threads is not None:
        changes["threads"] = threads if threads > 0 else None
    if jobs is not None:
        if jobs < 1:
            raise InvalidInputError(f"--jobs must be >= 1, got {jobs}")
        changes["jobs"] = jobs
    if ablation is not None:
        changes["ablation"] = AblationConfig() if ablation else None
    label_protocols = list(changes.get("protocols", cfg.protocols)) if "labels" in kinds else []
    zero_shot = ([ZeroShotProtocol(model=None if zero_shot_model is None else str(zero_shot_model),
                                   open_set=open_set)] if "zero-shot" in kinds else [])
    changes["protocols"] = [*label_protocols, *zero_shot]
    if kinds == ["zero-shot"]:  # alone, the zero-shot benchmark's scenes and folder, as it has always had
        if not datasets and not quick:
            changes["datasets"] = tuple(SCENES)
        if out is None:
            changes["out_dir"] = Path(cfg.out_dir) / "zero_shot"
    return replace(cfg, **changes)
