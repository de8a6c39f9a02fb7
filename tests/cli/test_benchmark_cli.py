"""``hsigeo benchmark --protocol``: label protocols and the zero-shot protocol, alone or in one run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from _cli_runner import run_in_process

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_both_protocols_in_one_report(tmp_path, capsys):
    out = tmp_path / "both"
    code, stdout, stderr = run_in_process(
        capsys, "--progress", "none", "benchmark", "--quick", "--methods", "svm", "--fractions", "0.1", "--no-block",
        "--no-maps", "--protocol", "labels", "--protocol", "zero-shot", "--out", str(out))
    assert code == 0, stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    d = data["datasets"]["synthetic"]
    assert list(d["protocols"]) == ["stratified10pct"] and d["protocols"]["stratified10pct"]["methods"]["svm"]
    assert d["zero_shot"]["methods"]["default"]["n"] == d["labelled_pixels"]
    assert [p["kind"] for p in data["config"]["protocols"]] == ["stratified", "zero-shot"]
    assert "### synthetic: 10%" in stdout and "## Zero-shot (prompt-only)" in stdout  # one report, printed
    assert "synthetic zero-shot: default OA" in stderr


def test_unknown_protocol_is_a_clear_error(tmp_path, capsys):
    code, _, stderr = run_in_process(capsys, "benchmark", "--quick", "--protocol", "few-shot", "--out", str(tmp_path))
    assert code == 2 and "Invalid value for '--protocol'" in stderr and "'labels', 'zero-shot'" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "results.json").exists()


def test_zero_shot_script_reports_a_bad_scene_without_a_traceback(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("_zero_shot_script", ROOT / "benchmarks" / "zero_shot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--scene", "no-such-scene", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "no-such-scene" in err and "Traceback" not in err
    # the scenes the benchmark builds itself are named too, the held-out ones among them
    assert "landscape-jasper-like" in err and "berlin-2009-hymap" in err and "heldout-city-like" in err
