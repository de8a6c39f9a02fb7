"""``hsigeo classify`` on many scenes (cli/batch.py), in process: names, summary table, resume, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import rasterio
from _batch_scenes import HEIGHT, N_SCENES, TILE, WIDTH, classify_args, make_flight, no_partial_files
from _cli_runner import run_in_process
from _inference_models import random_cube, write_scene


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield
    from hsigeo import progress

    progress.set_mode(None)


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    return make_flight(tmp_path_factory.mktemp("batch"))


def _run(capsys, *argv):
    return run_in_process(capsys, "--progress", "plain", *argv)


def _table(out: str) -> dict[str, list[str]]:
    """Summary table rows by scene name (header row under 'scene')."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ")]
    return {r[0]: r[1:] for r in rows}


def test_glob_into_folder_named_after_scenes(flight, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, *classify_args(flight, out))
    assert code == 0, err
    want = {f"scene_{i}{s}" for i in range(N_SCENES) for s in
            ("_classes.tif", "_classes.tif.aux.xml", "_classes.qml", "_classes.gpkg", "_confidence.tif",
             "_probabilities.tif", "_confidence.qml", "_probabilities.qml")}
    # the folder's manifest (hsigeo.filesafety.claim_folder) lists exactly what hsigeo wrote there
    assert {p.name for p in out.iterdir()} == want | {".hsigeo-output.json"}
    manifest = json.loads((out / ".hsigeo-output.json").read_text(encoding="utf-8"))
    assert manifest["state"] == "complete" and set(manifest["files"]) == want
    # progress across scenes and within each
    assert "hsigeo-progress: 33.3 scenes" in err and "hsigeo-progress: 100.0 scenes" in err
    assert "hsigeo-progress: 100.0 classify scene_2.tif" in err

    # each scene's outputs equal a single-scene run of that scene
    code, _, err = _run(capsys, "classify", str(flight["flight"] / "scene_1.tif"), "--model", str(flight["model"]),
                        "-o", str(tmp_path / "one.tif"), "--probabilities", "--tile-size", TILE)
    assert code == 0, err
    with rasterio.open(out / "scene_1_classes.tif") as a, rasterio.open(tmp_path / "one.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())
        assert a.crs == b.crs and a.transform == b.transform
    with rasterio.open(out / "scene_1_probabilities.tif") as a, \
            rasterio.open(tmp_path / "one_probabilities.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())

    # summary: one row per scene plus the total, shares from the written class maps
    table = _table(stdout)
    assert table["scene"][:2] == ["pixels", "seconds"] and table["scene"][2:] == [f"class {i} %" for i in range(1, 5)]
    all_counts = np.zeros(4)
    for i in range(N_SCENES):
        row = table[f"scene_{i}.tif"]
        assert row[0] == f"{HEIGHT * WIDTH:,}" and float(row[1]) > 0
        with rasterio.open(out / f"scene_{i}_classes.tif") as src:
            classes = src.read(1)
        counts = np.array([(classes == v).sum() for v in (10, 20, 30, 40)])
        all_counts += counts
        np.testing.assert_allclose([float(v) for v in row[2:]], 100 * counts / counts.sum(), atol=0.051)
    assert table["all"][0] == f"{N_SCENES * HEIGHT * WIDTH:,}"
    np.testing.assert_allclose([float(v) for v in table["all"][2:]], 100 * all_counts / all_counts.sum(), atol=0.051)


def test_resume_skips_scenes_done_by_the_same_model(flight, tmp_path, capsys):
    from _inference_models import tiny_model

    from hsigeo.model.modelfile import save_model

    scenes = tmp_path / "flight"
    scenes.mkdir()
    for p in flight["flight"].glob("*.tif"):
        (scenes / p.name).write_bytes(p.read_bytes())
    args = ["classify", str(scenes / "scene_*.tif"), "--model", str(flight["model"]), "-o", str(tmp_path / "out"),
            "--confidence"]
    assert _run(capsys, *args)[0] == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.tif") if "scene_1" not in p.name}

    # a run interrupted during scene_1 leaves nothing of it (outputs are atomic): --resume makes only that
    for p in (tmp_path / "out").glob("scene_1_*"):
        p.unlink()
    code, out, err = _run(capsys, *args, "--resume")
    assert code == 0, err
    table = _table(out)
    assert table["scene_0.tif"][1] == table["scene_2.tif"][1] == "up to date"
    assert re.fullmatch(r"\d+\.\d", table["scene_1.tif"][1])
    now = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.tif") if "scene_1" not in p.name}
    assert set(now) == set(stamps) and {k for k in stamps if now[k] != stamps[k]} == set()
    assert (tmp_path / "out" / "scene_1_classes.qml").exists()

    # another model's outputs are never taken as done
    other = save_model(tiny_model(seed=5), tmp_path / "other.hsigeo")
    code, _, err = _run(capsys, "classify", str(scenes / "scene_*.tif"), "--model", str(other),
                        "-o", str(tmp_path / "out"), "--confidence", "--resume")
    assert code == 2 and "scene_0_classes.tif: output exists" in err
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.tif") if "scene_1" not in p.name} == now


def test_bad_scene_fails_before_any_work(flight, tmp_path, capsys):
    scenes = tmp_path / "mixed"
    scenes.mkdir()
    (scenes / "a.tif").write_bytes((flight["flight"] / "scene_0.tif").read_bytes())
    write_scene(scenes / "b.tif", random_cube(20, 20, bands=7))  # 7 bands; the model has 12
    code, _, err = _run(capsys, "classify", str(scenes / "a.tif"), str(scenes / "b.tif"), "--model",
                        str(flight["model"]), "-o", str(tmp_path / "out"))
    assert code == 2 and err.splitlines()[-1].startswith("Error: ") and "b.tif" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("extra, message", [
    (["-o", "{tmp}/x.tif"], "names a file, but 3 scenes"),
    (["-o", "{tmp}/out", "--confidence", "{tmp}/c.tif"], "name containing {scene}"),
    (["-o", "{tmp}/out", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "not both"),
])
def test_unusable_arguments(flight, tmp_path, capsys, extra, message):
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code, _, err = _run(capsys, "classify", str(flight["flight"] / "scene_*.tif"), "--model",
                        str(flight["model"]), *extra)
    assert code == 2 and message in err, err
    assert not any(tmp_path.iterdir()) or no_partial_files(tmp_path) == []


def test_pattern_matching_nothing(flight, tmp_path, capsys):
    code, _, err = _run(capsys, "classify", str(tmp_path / "nothing_*.tif"), "--model", str(flight["model"]),
                        "-o", str(tmp_path / "out"))
    assert code == 2 and "no scene matches this pattern" in err


def test_scene_template_names(flight, tmp_path, capsys):
    code, _, err = _run(capsys, "classify", str(flight["flight"] / "scene_0.tif"),
                        str(flight["flight"] / "scene_2.tif"), "--model", str(flight["model"]),
                        "-o", str(tmp_path / "out"), "--confidence", "conf-{scene}.tif")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == [
        "conf-scene_0.tif", "conf-scene_2.tif", "scene_0_classes.tif", "scene_2_classes.tif"]


def test_unreachable_scheduler_is_a_clear_error(flight, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = _run(capsys, *classify_args(flight, tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{port}"))
    assert code == 2 and f"nothing accepts connections at tcp://127.0.0.1:{port}" in err
    out = tmp_path / "out"
    assert "dask scheduler" in err and (not out.exists() or sorted(out.iterdir()) == [])
