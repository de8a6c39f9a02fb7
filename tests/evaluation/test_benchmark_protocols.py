"""One benchmark runner for every protocol: label protocols and the zero-shot protocol in one run and one report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hsigeo.errors import HsigeoError
from hsigeo.evaluation.benchmark_config import BenchmarkConfig, ZeroShotProtocol, make_protocols
from hsigeo.evaluation.merges import SCENES
from hsigeo.evaluation.runner import Scene, SceneUnavailable, run_and_report, run_benchmark

TINY = {"height": 32, "width": 32, "bands": 24, "n_classes": 3, "seed": 0}
#: per-run facts that depend on the clock, not on the data
TIMING = {"seconds", "train_seconds", "infer_seconds", "infer_pixels_per_s"}


def _config(out: Path, *protocols: Any) -> BenchmarkConfig:
    """The synthetic scene, one seed, cheap baselines, no figures."""
    return BenchmarkConfig(datasets=("synthetic",), seeds=(0,), protocols=protocols, methods=("svm", "rf"),
                           out_dir=out, synthetic=TINY, rf_trees=20, svm_C=(10.0,), svm_gamma_factors=(1.0,),
                           maps=False, fail_fast=True)


def _untimed(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _untimed(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [_untimed(v) for v in x]
    return x


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The label protocol alone, the zero-shot protocol alone and both in one run (the last with its report)."""
    tmp = tmp_path_factory.mktemp("protocols")
    labels, zero_shot = make_protocols((0.1,), block=False), ZeroShotProtocol()
    quiet = dict(log=lambda msg: None)
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "labels": (run_benchmark(_config(tmp / "l", *labels), **quiet), {}),
        "zero-shot": (run_benchmark(_config(tmp / "z", zero_shot), **quiet), {}),
    }
    mixed, paths = run_and_report(replace(_config(tmp / "m", *labels, zero_shot), maps=True), **quiet)
    out["mixed"] = (mixed, paths)
    return out


def test_a_mixed_run_holds_both_protocols_with_the_numbers_of_each_alone(runs):
    labels, zero_shot, (mixed, _) = runs["labels"][0], runs["zero-shot"][0], runs["mixed"]
    d = mixed["datasets"]["synthetic"]
    assert list(d["protocols"]) == ["stratified10pct"] and "zero_shot" in d
    # the label protocol: the same masks and scores as without the zero-shot protocol beside it
    assert _untimed(d["protocols"]) == _untimed(labels["datasets"]["synthetic"]["protocols"])
    assert "zero_shot" not in labels["datasets"]["synthetic"] and "zero_shot" not in labels
    # the zero-shot protocol: the same maps' scores as run alone, which fits nothing
    alone = zero_shot["datasets"]["synthetic"]
    assert _untimed(d["zero_shot"]) == _untimed(alone["zero_shot"])
    assert alone["protocols"] == {} and zero_shot["meta"]["n_fits"] == 0 and zero_shot["methods"] == {}
    assert d["zero_shot"]["methods"]["base-descriptions"]["oa"] > 0.5
    # no merge table, so the synthetic scene keeps its own classes and the library baselines cannot run
    assert d["zero_shot"]["classes"] == {int(k): v for k, v in d["classes"].items()}
    assert set(d["zero_shot"]["not_run"]) == {"sam-library", "nearest-library-mean"}
    assert set(mixed["zero_shot"]["methods"]) == set(d["zero_shot"]["methods"]) | set(d["zero_shot"]["not_run"])
    assert [p["kind"] for p in mixed["config"]["protocols"]] == ["stratified", "zero-shot"]


def test_a_mixed_run_writes_one_report(runs):
    mixed, paths = runs["mixed"]
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md.startswith("# hsigeo accuracy benchmark") and md.count("\n## Zero-shot (prompt-only)\n") == 1
    assert "### synthetic: 10%" in md and "\n| synthetic | 3 | 1024 | reflectance | " in md
    assert md.index("## Findings") < md.index("## Zero-shot")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["datasets"]["synthetic"]["zero_shot"]["methods"]["base-names"]["oa"] == pytest.approx(
        mixed["datasets"]["synthetic"]["zero_shot"]["methods"]["base-names"]["oa"])
    assert sorted(p.name for p in paths["maps"]) == ["synthetic_stratified10pct.png", "synthetic_zero-shot.png"]
    assert all(p.is_file() for p in paths["maps"])


def test_zero_shot_only_report_has_no_label_tables(runs, tmp_path):
    from hsigeo.evaluation.report import write_report

    paths = write_report(runs["zero-shot"][0], tmp_path)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert md.startswith("# hsigeo zero-shot benchmark") and "## Zero-shot (prompt-only)" in md
    assert "## Findings" not in md and "### synthetic" not in md and paths["maps"] == []
    assert md.count("Methods:") == 1 and "- `base-adapted`: the base model adapted" in md  # the zero-shot legend


@pytest.mark.parametrize(("protocols", "message"), [
    ((), "no protocol given"),
    (("zero-shot",), "unknown protocol"),
    ((ZeroShotProtocol(), ZeroShotProtocol()), "more than once"),
    ((ZeroShotProtocol(methods=("base-descriptions", "nope")),), "unknown zero-shot method"),
])
def test_bad_protocols_are_clear_errors(tmp_path, protocols, message):
    with pytest.raises(HsigeoError, match=message):
        run_benchmark(_config(tmp_path, *protocols), log=lambda msg: None)


def test_a_scene_without_prompts_or_merge_table_is_skipped_by_the_zero_shot_protocol():
    from hsigeo.evaluation.zero_shot import prepare_scene

    scene = Scene("stand-in", None, np.ones((2, 2), np.int32), {1: "a"}, {}, None, note="no prompts: none shipped")
    with pytest.raises(SceneUnavailable, match="no merge table and no prompts"):
        prepare_scene(scene, None, None)


def test_options_choose_the_protocols():
    from hsigeo_cli.benchmark import config_from_options

    default = config_from_options()
    assert default.zero_shot is None and default.label_protocols == list(default.protocols)
    assert [p["kind"] for p in default.to_dict()["protocols"]] == ["stratified"] * 3 + ["block"]
    zs = config_from_options(protocols=["zero-shot"], open_set=True, zero_shot_model="m.hsigeo")
    assert zs.label_protocols == [] and zs.zero_shot == ZeroShotProtocol(model="m.hsigeo", open_set=True)
    # the zero-shot benchmark's scenes and folder, as before (not the label report's folder, which it would replace)
    assert tuple(zs.datasets) == tuple(SCENES) and Path(zs.out_dir) == Path("benchmarks/results/zero_shot")
    both = config_from_options(protocols=["labels", "zero-shot"], fractions="0.05", block=False)
    assert [p.name for p in both.protocols] == ["5%", "zero-shot"] and both.datasets == default.datasets
    assert both.out_dir == default.out_dir
    assert config_from_options(quick=True, protocols=["zero-shot"]).datasets == ("synthetic",)
    with pytest.raises(HsigeoError, match="unknown protocol"):
        config_from_options(protocols=["labels", "few-shot"])
