"""The benchmark runner: identical masks for every method, scores, mean ± std, reports, CLI and script."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hsigeo_cli.benchmark import parse_fractions, parse_seeds

from hsigeo.errors import DatasetError, HsigeoError
from hsigeo.evaluation.benchmark_config import (
    DEFAULT_METHODS,
    AblationConfig,
    BenchmarkConfig,
    Protocol,
    make_protocols,
)
from hsigeo.evaluation.report import markdown_report
from hsigeo.evaluation.runner import load_scene, mean_std, run_and_report, run_benchmark, score, summarize

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> Any:
    """A repository script (``benchmarks/``, ``scripts/``) loaded as a module."""
    spec = importlib.util.spec_from_file_location(f"_script_{Path(name).stem}", ROOT / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_readme = _script("scripts/readme_block.py")
readme_block, write_readme_block = _readme.readme_block, _readme.write_readme_block
TINY = {"height": 32, "width": 32, "bands": 24, "n_classes": 3, "seed": 0}


def tiny_config(tmp_path: Path, **kw: Any) -> BenchmarkConfig:
    """Synthetic scene only, two seeds, one stratified protocol + block, no figures."""
    base = dict(datasets=("synthetic",), seeds=(0, 1), protocols=make_protocols((0.1,), block_size=8, gap=1),
                methods=("svm", "rf"), out_dir=tmp_path / "out", synthetic=TINY, rf_trees=20, svm_C=(10.0,),
                svm_gamma_factors=(1.0,), maps=False, fail_fast=True)
    base.update(kw)
    return BenchmarkConfig(**base)


class Spy:
    """A method that predicts the truth and records what it was given."""

    calls: list[dict[str, Any]] = []
    name = "spy"
    parameter_note = "none"
    n_trainable = 7

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def fit(self, cube, labels, train_mask, *, seed, prompts=None):
        Spy.calls.append({"tag": self.tag, "train": train_mask, "seed": seed, "prompts": prompts})
        self.labels = np.asarray(labels)
        return self

    def predict(self, cube):
        return self.labels.copy()


class SeedParity(Spy):
    """Right everywhere on even seeds, 'unclassified' (0) on odd seeds: OA 1, 0, 1, 0..."""

    def fit(self, cube, labels, train_mask, *, seed, prompts=None):
        self.seed = seed
        return super().fit(cube, labels, train_mask, seed=seed, prompts=prompts)

    def predict(self, cube):
        return self.labels.copy() if self.seed % 2 == 0 else np.zeros_like(self.labels)


# --------------------------------------------------------------------------- #
def test_score_hand_example():
    labels = np.array([[1, 1, 1, 1], [2, 2, 3, 0]])
    pred = np.array([[1, 1, 2, 0], [2, 2, 3, 3]])
    test = np.ones_like(labels, bool)
    s = score(pred, labels, test, [1, 2, 3])
    assert s["n_test"] == 7  # the unlabelled pixel is ignored
    assert s["oa"] == pytest.approx(5 / 7)
    assert s["per_class"] == {1: 0.5, 2: 1.0, 3: 1.0}  # the 0 prediction counts as wrong
    assert s["aa"] == pytest.approx(2.5 / 3)
    # kappa by hand: rows (4, 2, 1), predicted columns (2, 3, 1) + 1 "other"
    pe = (4 * 2 + 2 * 3 + 1 * 1) / 49
    assert s["kappa"] == pytest.approx((5 / 7 - pe) / (1 - pe))
    assert np.array(s["confusion"]).sum() == 7 and np.array(s["confusion"])[0, 3] == 1
    only = score(pred, labels, labels == 1, [1, 2, 3])
    assert only["per_class"][2] is None and only["aa"] == pytest.approx(0.5)


def test_mean_std_is_sample_std():
    s = mean_std([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == pytest.approx(2.5) and s["std"] == pytest.approx(math.sqrt(5 / 3)) and s["n"] == 4
    assert mean_std([0.7]) == {"mean": 0.7, "std": 0.0, "n": 1}
    assert mean_std([None, 0.2, 0.4])["mean"] == pytest.approx(0.3)
    assert mean_std([])["mean"] is None


def test_summarize_skips_failed_runs():
    runs = [
        {"oa": 0.9, "aa": 0.8, "kappa": 0.7, "n_trainable": 10, "train_seconds": 1.0, "infer_pixels_per_s": 100.0,
         "per_class": {"1": 1.0, "2": 0.6}},
        {"oa": 0.7, "aa": 0.6, "kappa": 0.5, "n_trainable": 10, "train_seconds": 3.0, "infer_pixels_per_s": 300.0,
         "per_class": {"1": 0.8, "2": None}},
        {"error": "boom"},
    ]
    s = summarize(runs, [1, 2])
    assert s["n_runs"] == 2 and s["n_failed"] == 1
    assert s["oa"]["mean"] == pytest.approx(0.8) and s["oa"]["std"] == pytest.approx(math.sqrt(0.02))
    assert s["per_class"]["2"] == {"mean": 0.6, "std": 0.0, "n": 1}
    assert s["train_seconds"]["mean"] == pytest.approx(2.0)


def test_protocols_and_parsers():
    ps = make_protocols((0.01, 0.1))
    assert [p.name for p in ps] == ["1%", "10%", "block"]
    assert [p.slug for p in ps] == ["stratified1pct", "stratified10pct", "block"]
    labels = np.zeros((40, 40), np.int32)
    labels[:, :20], labels[:, 20:] = 1, 2
    blk = Protocol("block", 0.2, block_size=8, gap=2)
    tr, te = blk.split(labels, 0)
    assert not (tr & te).any() and tr.any() and te.any()
    tr2, te2 = blk.split(labels, 0)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("4,9") == [4, 9] and parse_seeds(2) == [0, 1]
    assert parse_fractions("0.01, 5%,0.1") == [0.01, 0.05, 0.1]
    with pytest.raises(ValueError):
        parse_fractions("1.5")
    with pytest.raises(ValueError):
        parse_seeds("0")


def test_all_methods_get_identical_read_only_masks(tmp_path):
    Spy.calls = []
    cfg = tiny_config(tmp_path, methods=("a", "b", "c"))
    factories = {k: (lambda cfg, k=k: Spy(k)) for k in "abc"}
    res = run_benchmark(cfg, factories=factories, log=lambda m: None)
    scene = load_scene("synthetic", cfg)
    assert len(Spy.calls) == 3 * len(cfg.seeds) * len(cfg.protocols)
    groups = [Spy.calls[i : i + 3] for i in range(0, len(Spy.calls), 3)]
    expected = [(p, s) for p in cfg.protocols for s in cfg.seeds]
    for (proto, seed), group in zip(expected, groups, strict=True):
        assert [c["tag"] for c in group] == ["a", "b", "c"]
        train, _ = proto.split(scene.labels, seed)
        for c in group:
            assert c["seed"] == seed and c["train"] is group[0]["train"]  # the very same array
            assert np.array_equal(c["train"], train) and not c["train"].flags.writeable
            assert c["prompts"] is not None and len(c["prompts"]) == TINY["n_classes"]
    for p in res["datasets"]["synthetic"]["protocols"].values():
        shas = {(r["seed"], r["train_sha"], r["test_sha"]) for m in p["methods"].values() for r in m["runs"]}
        assert shas == {(s["seed"], s["train_sha"], s["test_sha"]) for s in p["splits"]}
        assert all(m["summary"]["oa"]["mean"] == 1.0 for m in p["methods"].values())


def test_report_files_keys_and_mean_std(tmp_path):
    cfg = tiny_config(tmp_path, seeds=(0, 1, 2, 3), methods=("parity", "svm"), maps=True)
    res, paths = run_and_report(cfg, factories={"parity": lambda c: SeedParity("p")}, log=lambda m: None)
    data = json.loads(paths["json"].read_text())
    assert "_maps" not in data
    assert {"meta", "config", "methods", "datasets"} <= set(data)
    assert data["meta"]["total_seconds"] > 0 and data["config"]["seeds"] == [0, 1, 2, 3]
    d = data["datasets"]["synthetic"]
    assert d["status"] == "ok" and set(d["classes"]) == {"1", "2", "3"} and d["shape"] == [24, 32, 32]
    assert set(d["protocols"]) == {"stratified10pct", "block"}
    p = d["protocols"]["stratified10pct"]
    assert len(p["splits"]) == 4 and {"n_train", "n_test", "per_class"} <= set(p["splits"][0])
    s = p["methods"]["parity"]["summary"]
    assert set(s) >= {"oa", "aa", "kappa", "per_class", "n_trainable", "train_seconds", "infer_pixels_per_s"}
    # OA per seed 1, 0, 1, 0 -> mean 0.5, sample std sqrt(1/3)
    assert [r["oa"] for r in p["methods"]["parity"]["runs"]] == [1.0, 0.0, 1.0, 0.0]
    assert s["oa"]["mean"] == pytest.approx(0.5) and s["oa"]["std"] == pytest.approx(math.sqrt(1 / 3))
    assert s["per_class"]["2"]["mean"] == pytest.approx(0.5) and s["n_trainable"]["mean"] == 7
    run = p["methods"]["svm"]["runs"][0]
    assert {"oa", "aa", "kappa", "per_class", "confusion", "n_trainable", "train_seconds", "infer_pixels_per_s",
            "extras"} <= set(run)
    md = paths["markdown"].read_text()
    assert "| method | OA % | AA % | κ × 100 | params | train s | infer px/s |" in md
    assert "| parity | 50.00 ± 57.74 |" in md and "Per-class accuracy" in md and "## Findings" in md
    assert set(paths) == {"json", "markdown", "maps"}  # the README block is the command line's
    block = write_readme_block(res, cfg.out_dir).read_text()
    assert "| synthetic | 10% |" in block and "indian-pines --dataset pavia-university" in block
    assert "--fractions 0.10,0.05" in block
    assert sorted(x.name for x in paths["maps"]) == ["synthetic_block.png", "synthetic_stratified10pct.png"]
    assert all(x.read_bytes()[:4] == b"\x89PNG" for x in paths["maps"])


def test_missing_cube_is_skipped_and_bad_names_fail(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    cfg = tiny_config(tmp_path, datasets=("indian-pines", "synthetic"), data_dir=empty, seeds=(0,))
    msgs: list[str] = []
    res = run_benchmark(cfg, log=msgs.append)
    assert res["datasets"]["indian-pines"]["status"] == "skipped"
    assert "not found" in res["datasets"]["indian-pines"]["reason"]
    assert any("skipping indian-pines" in m for m in msgs)
    assert res["datasets"]["synthetic"]["status"] == "ok"
    md = markdown_report(res)
    assert "Skipped:" in md and "Not run (cube not in the data folder): indian-pines" in readme_block(res)
    with pytest.raises(DatasetError):
        run_benchmark(tiny_config(tmp_path, datasets=("atlantis",)), log=lambda m: None)
    with pytest.raises(HsigeoError, match="unknown method"):
        run_benchmark(tiny_config(tmp_path, methods=("svm", "nope")), log=lambda m: None)


def test_failures_are_recorded_or_raised(tmp_path):
    class Broken(Spy):
        def predict(self, cube):
            raise RuntimeError("broken on purpose")

    fac = {"broken": lambda c: Broken("x")}
    res = run_benchmark(tiny_config(tmp_path, methods=("broken", "rf"), fail_fast=False, seeds=(0,)),
                           factories=fac, log=lambda m: None)
    p = res["datasets"]["synthetic"]["protocols"]["stratified10pct"]["methods"]
    assert "broken on purpose" in p["broken"]["runs"][0]["error"] and p["broken"]["summary"]["n_runs"] == 0
    assert p["rf"]["summary"]["n_runs"] == 1
    assert "failed" in markdown_report(res)
    with pytest.raises(RuntimeError, match="broken on purpose"):
        run_benchmark(tiny_config(tmp_path, methods=("broken",)), factories=fac, log=lambda m: None)


def test_hsigeo_variants_call_train_as_agreed(tmp_path, monkeypatch):
    """The three hsigeo variants differ only in loss and prompts; train's contract is used as documented."""
    import hsigeo.model.training as training

    seen: list[dict[str, Any]] = []

    import hsigeo.inference.core as core

    class FakeModel:
        def __init__(self, labels):
            self.labels = labels

    def fake_classify_array(cube, model, **kw):
        assert isinstance(cube, np.ndarray) and cube.ndim == 3
        return model.labels, np.ones(model.labels.shape, np.float32)

    class FakeReport:
        n_parameters = {"trainable": 1234, "text_model": 99}
        best_epoch, history, val_accuracy, n_train, n_val = 2, {"epoch": [1, 2]}, None, 5, 0

    def fake_train(cube, labels, prompts, **kw):
        seen.append({"prompts": prompts, **kw})
        return FakeModel(np.asarray(labels)), FakeReport()

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(core, "classify_array", fake_classify_array)
    cfg = tiny_config(tmp_path, methods=("hsigeo", "hsigeo-softmax", "hsigeo-names"), seeds=(0,),
                      protocols=make_protocols((0.1,), block=False), hsigeo_epochs=5)
    res = run_benchmark(cfg, log=lambda m: None)
    assert [s["loss"] for s in seen] == ["hard_negative", "softmax", "hard_negative"]
    assert all(s["epochs"] == 5 and s["seed"] == 0 and s["progress"] is False for s in seen)
    assert seen[0]["train_mask"] is seen[1]["train_mask"] is seen[2]["train_mask"]
    assert seen[0]["prompts"] == seen[1]["prompts"]
    assert all(len(c.prompts) == 1 for c in seen[2]["prompts"].classes)  # names only
    assert seen[2]["prompts"].names == seen[0]["prompts"].names
    runs = res["datasets"]["synthetic"]["protocols"]["stratified10pct"]["methods"]["hsigeo"]["runs"]
    assert runs[0]["n_trainable"] == 1234 and runs[0]["extras"]["text_model_parameters"] == 99


def test_language_ablation_anchors(tmp_path, monkeypatch):
    """hsigeo-random trains on seeded random unit vectors of the text space, hsigeo-notext on one-hot anchors."""
    import hsigeo.model.training as training
    from hsigeo.evaluation.methods import METHODS
    from hsigeo.text.encoder import TextEncoder

    seen = []

    def fake_train(cube, labels, prompts, **kw):
        seen.append(kw.get("text_embeddings"))
        raise StopIteration  # the anchors are all this test needs

    monkeypatch.setattr(training, "train", fake_train)
    cfg = tiny_config(tmp_path, methods=("hsigeo-random", "hsigeo-notext"), seeds=(0,))
    from hsigeo.evaluation.runner import load_scene

    scene = load_scene("synthetic", cfg)
    mask = scene.labels > 0
    for name in ("hsigeo-random", "hsigeo-random", "hsigeo-notext"):
        with pytest.raises(StopIteration):
            METHODS[name](cfg).fit(scene.cube, scene.labels, mask, seed=3, prompts=scene.prompts)
    n = len(scene.prompts)
    assert seen[0].shape == (n, TextEncoder().dim) and np.allclose(np.linalg.norm(seen[0], axis=1), 1.0)
    assert np.array_equal(seen[0], seen[1])  # seeded
    assert np.array_equal(seen[2], np.eye(n, dtype=np.float32))


# --------------------------------------------------------------------------- #
# Worker processes (jobs) and the language ablation
# --------------------------------------------------------------------------- #
def _fingerprint(res: dict[str, Any], block: str = "protocols") -> dict[Any, Any]:
    """Everything of a result that does not depend on timing, keyed by dataset/protocol/method/seed."""
    keep = ("seed", "train_sha", "test_sha", "oa", "aa", "kappa", "per_class", "confusion", "n_test", "n_trainable")
    out: dict[Any, Any] = {}
    for dname, d in res["datasets"].items():
        for slug, p in d.get(block, {}).items():
            out[(dname, slug, "splits")] = p["splits"]
            for m, v in p["methods"].items():
                out[(dname, slug, m)] = [{k: r.get(k) for k in keep} for r in v["runs"]]
    return out


def test_jobs_2_gives_the_same_results_as_jobs_1(tmp_path):
    """Two worker processes: same masks, same scores, same order, ablation included (deterministic baselines)."""
    noisy = {**TINY, "noise": 0.25}  # hard enough that OA is not 1.0 everywhere
    cfg = tiny_config(tmp_path, synthetic=noisy, maps=True,
                      ablation=AblationConfig(datasets=("synthetic",), fractions=(0.1,), seeds=(0, 1, 2),
                                              methods=("svm", "rf")))
    one = run_benchmark(cfg, log=lambda m: None)
    msgs: list[str] = []
    two = run_benchmark(replace(cfg, jobs=2), log=msgs.append)
    assert _fingerprint(two) == _fingerprint(one) and _fingerprint(two, "ablation") == _fingerprint(one, "ablation")
    oas = [r["oa"] for r in one["datasets"]["synthetic"]["protocols"]["block"]["methods"]["svm"]["runs"]]
    assert min(oas) < 1.0  # the comparison is not trivially all-perfect
    assert list(two["datasets"]["synthetic"]["protocols"]) == ["stratified10pct", "block"]
    assert two["meta"]["jobs"] == 2 and two["config"]["jobs"] == 2 and one["meta"]["jobs"] == 1
    # 8 main fits + seed 2 of the ablation's two methods; one log line each
    assert two["meta"]["n_fits"] == 10 and sum(": OA " in m for m in msgs) == 10
    maps1, maps2 = one["_maps"]["synthetic"], two["_maps"]["synthetic"]
    assert list(maps2) == list(maps1) == ["_reference", "stratified10pct", "block"]
    for slug in ("stratified10pct", "block"):
        assert list(maps2[slug]) == ["train", "svm", "rf"]
        assert all(np.array_equal(maps1[slug][k], maps2[slug][k]) for k in maps1[slug])


def test_pool_ends_its_workers_when_stopped_early():
    """Leaving the loop early (an error, Ctrl-C) cancels the queue and ends the busy workers at once."""
    import multiprocessing
    import time

    from hsigeo.evaluation.schedule import run_pool

    before = {p.pid for p in multiprocessing.active_children()}  # other tests' processes are not this pool's
    t0 = time.perf_counter()
    gen = run_pool([0.0, 60.0, 60.0, 60.0], time.sleep, jobs=2)
    task, fut = next(gen)
    assert task == 0.0 and fut.result() is None
    gen.close()  # what an exception or KeyboardInterrupt in the consumer does
    assert time.perf_counter() - t0 < 30
    # active_children() also reaps; a process that was just killed may need a moment to be collected
    for _ in range(50):
        left = [p for p in multiprocessing.active_children() if p.pid not in before]
        if not left:
            break
        time.sleep(0.1)
    assert left == [], (left, before)


def test_jobs_need_factories_a_worker_can_receive(tmp_path):
    cfg = tiny_config(tmp_path, methods=("spy", "rf"), jobs=2)
    with pytest.raises(HsigeoError, match="'spy': its factory cannot be sent to a worker process"):
        run_benchmark(cfg, factories={"spy": lambda c: Spy("x")}, log=lambda m: None)


class Counted(Spy):
    """Predicts the truth; counts fits per method name."""


class Blind(Spy):
    """Predicts the truth except class 1 (always wrong): a constant, lower OA."""

    def predict(self, cube):
        out = self.labels.copy()
        out[out == 1] = 2
        return out


def test_ablation_reuses_main_fits_and_writes_its_table(tmp_path):
    """Fits shared by the main comparison and the ablation run once; the ablation gets its own table."""
    Spy.calls = []
    anchors = ("hsigeo", "hsigeo-names", "hsigeo-random", "hsigeo-notext")
    factories = {m: (lambda c, m=m: (Blind if m == "hsigeo-names" else Counted)(m)) for m in anchors}
    cfg = tiny_config(tmp_path, methods=("hsigeo", "hsigeo-names", "svm"), seeds=(0, 1),
                      ablation=AblationConfig(datasets=("synthetic", "salinas-a"), fractions=(0.1, 0.2),
                                              seeds=(0, 1, 2), methods=anchors))
    msgs: list[str] = []
    res, paths = run_and_report(cfg, factories=factories, log=msgs.append)
    # main: 2 protocols x 2 seeds x 2 spies (+ svm); ablation: 2 fractions x 3 seeds x 4 anchors, minus the
    # 10%, seed 0-1 hsigeo / hsigeo-names fits the main comparison already did
    fits = sorted((c["tag"], c["seed"]) for c in Spy.calls)
    assert len(fits) == 8 + 2 * 3 * 4 - 4 == 28
    assert res["meta"]["n_fits"] == 28 + 4  # the svm fits
    assert sum(": OA " in m for m in msgs) == 32
    assert any("language ablation skips salinas-a: not among this run's datasets" in m for m in msgs)
    d = res["datasets"]["synthetic"]
    ab = d["ablation"]
    assert list(ab) == ["stratified10pct", "stratified20pct"] and ab["stratified10pct"]["seeds"] == [0, 1, 2]
    main_runs = d["protocols"]["stratified10pct"]["methods"]["hsigeo"]["runs"]
    ab_runs = ab["stratified10pct"]["methods"]["hsigeo"]["runs"]
    assert ab_runs[:2] == main_runs and [r["seed"] for r in ab_runs] == [0, 1, 2]
    assert [s["train_sha"] for s in ab["stratified10pct"]["splits"][:2]] == \
        [s["train_sha"] for s in d["protocols"]["stratified10pct"]["splits"]]
    # the main summaries stay over the main seeds only
    assert d["protocols"]["stratified10pct"]["methods"]["hsigeo"]["summary"]["n_runs"] == 2
    assert ab["stratified10pct"]["methods"]["hsigeo"]["summary"]["n_runs"] == 3
    data = json.loads(paths["json"].read_text())
    assert data["ablation"]["run_on"] == ["synthetic"] and "salinas-a" in data["ablation"]["skipped"]
    assert set(data["datasets"]["synthetic"]["ablation"]["stratified20pct"]["methods"]) == set(anchors)
    md = paths["markdown"].read_text()
    table = "| dataset | protocol | hsigeo | hsigeo-names | hsigeo-random | hsigeo-notext |"
    assert "## Language ablation" in md and table in md
    assert "| synthetic | 10% | **100.00 ± 0.00** |" in md and "| synthetic | 20% |" in md
    assert "Not run on salinas-a: not among this run's datasets" in md
    assert md.count("descriptive prompts **ahead of names by more than one std**") == 2
    block = write_readme_block(res, cfg.out_dir).read_text()
    assert "#### Language ablation" in block and table in block
    assert "--seeds 3 --ablation --jobs 2" in block


def test_ablation_datasets_missing_or_not_run_are_skipped(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    cfg = tiny_config(tmp_path, datasets=("indian-pines", "synthetic"), data_dir=empty, seeds=(0,), methods=("rf",),
                      ablation=AblationConfig(datasets=("indian-pines", "salinas-a"), methods=("rf",)))
    msgs: list[str] = []
    res = run_benchmark(cfg, log=msgs.append)
    assert res["ablation"]["run_on"] == [] and set(res["ablation"]["skipped"]) == {"indian-pines", "salinas-a"}
    assert "not available" in res["ablation"]["skipped"]["indian-pines"]
    assert "ablation" not in res["datasets"]["synthetic"] and res["meta"]["n_fits"] == 2
    md = markdown_report(res)
    assert "## Language ablation" in md and "Not run on indian-pines: not available" in md
    with pytest.raises(DatasetError):
        run_benchmark(replace(cfg, ablation=AblationConfig(datasets=("atlantis",))), log=lambda m: None)


def test_jobs_and_ablation_options_land_in_the_config(tmp_path):
    from hsigeo_cli.benchmark import config_from_options

    cfg = config_from_options(jobs=2, ablation=True)
    assert cfg.jobs == 2 and cfg.ablation == AblationConfig()
    assert cfg.ablation.seeds == (0, 1, 2, 3, 4) and cfg.ablation.fractions == (0.01, 0.05)
    assert set(cfg.ablation.datasets) == {"indian-pines", "salinas-a"}
    assert config_from_options(quick=True).ablation is None and config_from_options().jobs == 1
    assert config_from_options(ablation=False).ablation is None
    mod = _script("benchmarks/accuracy.py")
    args = mod.build_parser().parse_args(["--jobs", "2", "--ablation"])
    assert args.jobs == 2 and args.ablation is True
    assert mod.build_parser().parse_args([]).ablation is None


# --------------------------------------------------------------------------- #
def _cli(args: list[str]):
    from click.testing import CliRunner
    from hsigeo_cli.main import cli

    return CliRunner().invoke(cli, ["--progress", "none", *args], catch_exceptions=False)


def test_cli_quick_baselines_writes_table(tmp_path):
    out = tmp_path / "res"
    r = _cli(["benchmark", "--quick", "--methods", "svm,rf", "--no-maps", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "### synthetic: 5%" in r.stdout and "\n| svm | " in r.stdout  # the Markdown report, printed
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["quick"] is True and data["config"]["methods"] == ["svm", "rf"]
    md = (out / "results.md").read_text()
    assert md.count("\n| svm | ") == 2  # one table row each for 5% and block
    assert "Class maps" not in md  # --no-maps


def test_cli_bad_values(tmp_path):
    r = _cli(["benchmark", "--quick", "--seeds", "0", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "seeds" in r.output
    r = _cli(["benchmark", "--quick", "--jobs", "0", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "--jobs" in r.output


def test_cli_jobs_and_ablation(tmp_path):
    """--jobs 2 --ablation: two worker processes; the ablation's scenes are not in --quick's run, so skipped."""
    out = tmp_path / "j2"
    r = _cli(["benchmark", "--quick", "--methods", "svm,rf", "--no-maps", "--jobs", "2", "--ablation",
              "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["jobs"] == 2 and data["meta"]["jobs"] == 2
    assert data["config"]["ablation"]["seeds"] == [0, 1, 2, 3, 4]
    assert set(data["ablation"]["skipped"]) == {"indian-pines", "salinas-a"}
    assert "language ablation skips salinas-a" in r.output
    assert data["datasets"]["synthetic"]["protocols"]["block"]["methods"]["rf"]["summary"]["n_runs"] == 1
    assert "## Language ablation" in (out / "results.md").read_text()


def test_script_runs(tmp_path):
    mod = _script("benchmarks/accuracy.py")
    out = tmp_path / "s"
    assert mod.main(["--quick", "--methods", "rf", "--no-maps", "--fractions", "0.1", "--no-block",
                     "--out", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert list(data["datasets"]["synthetic"]["protocols"]) == ["stratified10pct"]
    assert mod.main(["--quick", "--methods", "nope", "--out", str(out)]) == 2


def test_cli_quick_all_methods(tmp_path):
    """The full quick run, hsigeo's three variants included (real training, short; ~10 s with one thread)."""
    out = tmp_path / "all"
    r = _cli(["benchmark", "--quick", "--out", str(out), "--fail-fast"])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "results.json").read_text())
    methods = data["datasets"]["synthetic"]["protocols"]["stratified5pct"]["methods"]
    assert set(methods) == set(DEFAULT_METHODS)
    for m in methods.values():
        assert m["summary"]["n_runs"] == 1 and m["summary"]["oa"]["mean"] > 0.5
    import matplotlib.image as mpimg

    img = mpimg.imread(out / "maps" / "synthetic_block.png")
    # reference + six class maps side by side, painted in the class colours (not a blank canvas)
    assert img.shape[1] > 3 * img.shape[0] and len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 10
    assert "## synthetic" in r.stdout and "scripts/readme_block.py" in r.stderr  # the report; the block is a script's
    assert not (out / "README_block.md").exists()
    assert _readme.main([str(out)]) == 0
    block = (out / "README_block.md").read_text()
    assert "| synthetic | block |" in block and " | ".join(DEFAULT_METHODS) in block


@pytest.mark.realdata
def test_indian_pines_path_with_a_stand_in_cube(tmp_path):
    """The IP protocol end to end on the real label map and a random cube of the published shape.

    With checksum verification the stand-in is refused (a clean skip naming the sha256);
    without it the scene runs with its 16 classes and the shipped prompts.
    """
    import shutil

    from scipy.io import savemat

    from hsigeo.datasets.scenes import find_data_dir

    src = find_data_dir()
    if src is None or not (src / "Indian_pines_gt.mat").is_file():
        pytest.skip("Indian_pines_gt.mat not available")
    folder = tmp_path / "gic"
    folder.mkdir()
    shutil.copy(src / "Indian_pines_gt.mat", folder)
    rng = np.random.default_rng(0)
    savemat(folder / "Indian_pines_corrected.mat",
            {"indian_pines_corrected": rng.integers(0, 9000, (145, 145, 200), dtype=np.int16)})
    cfg = tiny_config(tmp_path, datasets=("indian-pines",), data_dir=folder, seeds=(0,), methods=("rf",),
                      protocols=make_protocols((0.1,), block=False))
    res = run_benchmark(cfg, log=lambda m: None)
    assert res["datasets"]["indian-pines"]["status"] == "skipped"
    assert "sha256" in res["datasets"]["indian-pines"]["reason"]
    res = run_benchmark(replace(cfg, verify=False), log=lambda m: None)
    d = res["datasets"]["indian-pines"]
    assert d["status"] == "ok" and d["shape"] == [200, 145, 145] and len(d["classes"]) == 16
    split = d["protocols"]["stratified10pct"]["splits"][0]
    assert split["per_class"]["9"][0] == 2 and split["n_train"] + split["n_test"] == 10249  # Oats: 10% of 20
    assert load_scene("indian-pines", replace(cfg, verify=False)).prompts is not None
