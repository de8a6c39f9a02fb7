"""Files the user owns stay theirs, and outputs are checked before the work (issue 19, the file half).

Each case is one a hostile user found against main 3df5a06: a command that wrote
over its own input (a layer's parts, its style, a mask), a check that came only
after the work (``--resume``, ``--vector`` names), an output name too long for
hsigeo's temporaries, an extent or option silently ignored, a full disk found
after training, signals (SIGHUP, a second SIGTERM) and killed runs leaving
temporaries, a lock that did nothing without ``fcntl``.  Real files, the real
CLI (in-process, or a subprocess where signals are sent), facts asserted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from _inference_models import random_cube, tiny_model, write_scene
from shapely.geometry import box

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HSIGEO_DEBUG", raising=False)
    yield
    from hsigeo import progress

    progress.set_mode(None)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    return run_in_process(capsys, "--progress", "none", *argv)


def one_error(code: int, err: str, *needles: str) -> str:
    """Exit 2 and one ``Error:`` line (the last), no traceback, holding ``needles``."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def leftovers(folder: Path) -> list[str]:
    """hsigeo temporaries and lock files in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if ".hsigeo-" in p.name or p.name.endswith(".hsigeo.lock"))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A scene (UTM 11N, near 117 W 36 N), a model, its prompts and a polygon layer over the scene."""
    from hsigeo.model.modelfile import save_model
    from hsigeo.text.prompts import save_prompts

    d = tmp_path_factory.mktemp("files")
    scene = write_scene(d / "scene.tif", random_cube(40, 52, seed=3))
    model = tiny_model()
    model_path = save_model(model, d / "model.hsigeo")
    prompts = save_prompts(model.prompts, d / "prompts.yaml")
    with rasterio.open(scene) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    names = [c.name for c in model.prompts.classes]
    polys = gpd.GeoDataFrame(
        {"crop": names[:2], "geometry": [box(left + 4, bottom + 4, left + 40, top - 4),
                                         box(left + 50, bottom + 4, right - 4, top - 4)]}, crs=crs)
    gpkg = d / "fields.gpkg"
    polys.to_file(gpkg, driver="GPKG", layer="fields")
    shp = d / "fields.shp"
    polys.to_file(shp, driver="ESRI Shapefile")
    return {"dir": d, "scene": scene, "model": model_path, "prompts": prompts, "gpkg": gpkg, "shp": shp,
            "bounds": (left, bottom, right, top)}


@pytest.fixture
def layer(data, tmp_path):
    """Copies of the polygon layer (GeoPackage and shapefile with all parts) and a style, in ``tmp_path/l``."""
    d = tmp_path / "l"
    d.mkdir()
    for p in data["dir"].glob("fields.*"):
        shutil.copy(p, d / p.name)
    (d / "fields.qpj").write_text("GEOGCS[...]")  # QGIS 2's projection part
    return d


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(folder.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------- #
# Dangerous 1-2: commands writing over their own inputs
# --------------------------------------------------------------------------- #
def test_prompts_never_writes_its_layer_the_layers_parts_or_its_style(capsys, layer):
    style = layer / "s.qml"
    style.write_text("<qgis><renderer-v2 type='singleSymbol'/></qgis>")
    (layer / "fields.qml").write_text("<qgis><renderer-v2 type='singleSymbol'/></qgis>")  # read by default
    before = _hashes(layer)
    gpkg, shp = str(layer / "fields.gpkg"), str(layer / "fields.shp")
    cases = [
        (["prompts", gpkg, "--field", "crop", "-o", gpkg], "fields.gpkg"),
        (["prompts", f"{gpkg}|layername=fields", "--field", "crop", "-o", gpkg], "fields.gpkg"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.dbf")], "fields.dbf"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.shx")], "fields.shx"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.prj")], "fields.prj"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.cpg")], "fields.cpg"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.qpj")], "fields.qpj"),
        (["prompts", shp, "--field", "crop", "-o", str(layer / "fields.qml")], "fields.qml"),
        (["prompts", gpkg, "--field", "crop", "--style", str(style), "-o", str(style)], "s.qml"),
    ]
    for argv, name in cases:
        code, _, err = run(capsys, *argv, "--overwrite")
        one_error(code, err, name, "never writes over what it reads")
    assert _hashes(layer) == before
    # the same command with another output works
    code, out, err = run(capsys, "prompts", shp, "--field", "crop", "-o", str(layer / "p.yaml"))
    assert code == 0 and "Wrote 2 classes" in out, err


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_classify_never_writes_its_mask(capsys, data, layer, tmp_path, suffix):
    mask = layer / f"fields{suffix}"
    before = _hashes(layer)
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                       "-o", str(tmp_path / "c.tif"), "--mask", str(mask), "--vector", str(mask), "--overwrite")
    one_error(code, err, str(mask), "never writes over what it reads")
    assert _hashes(layer) == before and not (tmp_path / "c.tif").exists()


def test_library_classification_never_writes_its_mask(data, layer, tmp_path):
    from hsigeo.errors import OutputError
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.model.modelfile import load_model

    before = _hashes(layer)
    with pytest.raises(OutputError, match="never writes over what it reads"):
        classify_raster(data["scene"], load_model(data["model"]), tmp_path / "c.tif", mask=layer / "fields.shp",
                        vector_path=layer / "fields.shp", overwrite=True)
    assert _hashes(layer) == before


# --------------------------------------------------------------------------- #
# --resume: checked before the work, and outputs are never scenes
# --------------------------------------------------------------------------- #
@pytest.fixture
def flight(data, tmp_path):
    d = tmp_path / "flight"
    d.mkdir()
    for i in range(3):
        write_scene(d / f"s{i}.tif", random_cube(24, 30, seed=40 + i))
    return d


def test_resume_finds_a_foreign_file_before_any_scene_is_classified(capsys, data, flight, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    foreign = out / "s2_classes.tif"
    shutil.copy(flight / "s0.tif", foreign)  # a GeoTIFF of the user's where hsigeo would write
    before = sha(foreign)
    code, _, err = run(capsys, "classify", str(flight / "s*.tif"), "--model", str(data["model"]), "-o", str(out),
                       "--resume")
    one_error(code, err, str(foreign), "--resume")
    assert "scenes were done" not in err
    assert sorted(p.name for p in out.iterdir()) == ["s2_classes.tif"] and sha(foreign) == before


@pytest.mark.parametrize("where", ["same", "inside"])
def test_resume_rerun_with_outputs_under_the_scene_glob(capsys, data, flight, where):
    out = flight if where == "same" else flight / "classified"
    pattern = str(flight / "**" / "*.tif") if where == "inside" else str(flight / "*.tif")
    args = ["classify", pattern, "--model", str(data["model"]), "-o", f"{out}{os.sep}", "--resume", "--confidence"]
    for attempt in range(2):
        code, stdout, err = run(capsys, *args)
        assert code == 0, err
        assert "Classified 3 scenes" in stdout, stdout
        rows = [ln for ln in stdout.splitlines() if ln.startswith("| s") and not ln.startswith("| scene ")]
        assert [r.split("|")[1].strip() for r in rows] == ["s0.tif", "s1.tif", "s2.tif"]
        if attempt == 1:
            assert all("up to date" in r for r in rows), stdout
    assert sorted(p.name for p in out.glob("*_classes.tif")) == ["s0_classes.tif", "s1_classes.tif", "s2_classes.tif"]


# --------------------------------------------------------------------------- #
# Names: checked before the work, long names work
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["-dash.tif", "semi;colon.tif", "sub$(id).tif", "new\nline.tif"])
def test_vector_names_are_checked_before_the_work(capsys, data, tmp_path, name):
    out = tmp_path / name
    code, stdout, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(out),
                            "--vector")
    if code == 0:  # a name GDAL takes: the polygons are there, with their layer
        gpkg = out.with_suffix(".gpkg")
        assert out.is_file() and gpkg.is_file()
        plain = shutil.copy(gpkg, tmp_path / "check.gpkg")  # GDAL itself cannot open some of these names
        assert len(gpd.read_file(plain, layer=gpd.list_layers(plain)["name"][0])) > 0
    else:
        one_error(code, err, "--vector")
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing may be written before the check"


def test_a_240_character_output_name_works(capsys, data, tmp_path):
    out = tmp_path / ("c" * 236 + ".tif")
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(out),
                       "--confidence", str(tmp_path / ("k" * 236 + ".tif")))
    assert code == 0, err
    with rasterio.open(out) as src:
        assert src.shape == (40, 52)
    assert leftovers(tmp_path) == []


def test_one_scene_and_an_output_without_extension_is_refused(capsys, data, tmp_path):
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                       "-o", str(tmp_path / "classes"))
    one_error(code, err, "classes", ".tif", "slash")
    assert list(tmp_path.iterdir()) == []
    # a folder is asked for with a trailing slash
    code, stdout, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                            "-o", str(tmp_path / "classes") + os.sep)
    assert code == 0, err
    assert (tmp_path / "classes" / "scene_classes.tif").is_file()


# --------------------------------------------------------------------------- #
# Options and extents that were silently ignored
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("extent", ["36.1,-117.0,36.11,-116.99,EPSG:4326",  # lat/lon swapped
                                    "10.0,50.0,10.1,50.1,EPSG:4326"])  # elsewhere on Earth
def test_extent_in_degrees_that_misses_the_scene_is_an_error(capsys, data, tmp_path, extent):
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                       "-o", str(tmp_path / "c.tif"), "--extent", extent)
    one_error(code, err, "extent")
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.parametrize("option", [["--threshold", "0.7"], ["--radiometry", "radiance"]])
def test_base_model_options_with_a_trained_model_are_refused(capsys, data, tmp_path, option):
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                       "-o", str(tmp_path / "c.tif"), *option)
    one_error(code, err, option[0], "base model")
    assert not (tmp_path / "c.tif").exists()


def test_threshold_nan_is_refused(capsys, data, tmp_path):
    code, _, err = run(capsys, "classify", str(data["scene"]), "--prompts", str(data["prompts"]),
                       "-o", str(tmp_path / "c.tif"), "--threshold", "nan")
    assert code == 2 and "--threshold" in err and "Traceback" not in err
    assert not (tmp_path / "c.tif").exists()


# --------------------------------------------------------------------------- #
# A full disk: found before training, the file named
# --------------------------------------------------------------------------- #
@pytest.fixture
def tiny_disk(tmp_path):
    d = tmp_path / "full"
    d.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root for a tmpfs mount (a small, really full disk)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"tmpfs mount refused: {r.stderr!r}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture
def labels(data, tmp_path):
    lab = np.zeros((40, 52), np.uint8)
    for i, v in enumerate((10, 20, 30, 40)):
        lab[2 + 9 * i: 8 + 9 * i, 4:48] = v
    with rasterio.open(data["scene"]) as src:
        profile = dict(driver="GTiff", width=52, height=40, count=1, dtype="uint8", crs=src.crs,
                       transform=src.transform, nodata=0)
    with rasterio.open(tmp_path / "labels.tif", "w", **profile) as dst:
        dst.write(lab, 1)
    return tmp_path / "labels.tif"


def test_full_disk_in_train_is_found_before_training_and_names_the_file(capsys, data, labels, tiny_disk):
    out = tiny_disk / "m.hsigeo"
    code, _, err = run(capsys, "train", str(data["scene"]), "--labels", str(labels), "--prompts",
                       str(data["prompts"]), "-o", str(out), "--epochs", "1")
    one_error(code, err, str(out), "space")
    assert "Training on" not in err
    assert sorted(p.name for p in tiny_disk.iterdir()) == []


def test_full_disk_in_evaluate_names_the_report(capsys, data, labels, tiny_disk, tmp_path):
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.model.modelfile import load_model

    classes = classify_raster(data["scene"], load_model(data["model"]), tmp_path / "c.tif").out_path
    report = tiny_disk / "report"
    code, _, err = run(capsys, "evaluate", str(classes), "--reference", str(labels), "-o", str(report))
    one_error(code, err, str(report), "space")
    assert sorted(p.name for p in tiny_disk.iterdir()) == []


def test_a_write_that_fills_the_disk_names_the_output_not_its_temporary(tiny_disk):
    from hsigeo.filesafety import atomic_output

    out = tiny_disk / "big.bin"
    with pytest.raises(OSError) as info, atomic_output(out) as tmp:
        tmp.write_bytes(b"\0" * (1 << 20))
    assert info.value.filename == str(out) and "space" in str(info.value).lower()
    assert sorted(p.name for p in tiny_disk.iterdir()) == []


# --------------------------------------------------------------------------- #
# Signals and killed runs
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def big_scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("bigfiles")
    return write_scene(d / "big.tif", random_cube(600, 600, seed=1))


def _start(scene: Path, model: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([HSIGEO, "--progress", "plain", "classify", str(scene), "--model", str(model),
                             "-o", str(out), "--confidence", str(out.with_name("conf.tif")), "--tile-size", "32",
                             "--threads", "1"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, start_new_session=True)


def _wait_until_writing(proc: subprocess.Popen, folder: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(".part" in n for n in leftovers(folder)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the classification never started writing")


def test_sighup_cleans_up_like_sigterm(big_scene, data, tmp_path):
    proc = _start(big_scene, data["model"], tmp_path / "c.tif")
    _wait_until_writing(proc, tmp_path)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 129, err
    assert "SIGHUP" in err and "no partial output was kept" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_second_sigterm_during_cleanup_still_exits_143(big_scene, data, tmp_path):
    # HSIGEO_TEST_SLOW_CLEANUP is not needed: the interpreter's own shutdown (threads, torch) takes long
    # enough that signals sent in a burst land during the first one's cleanup
    proc = _start(big_scene, data["model"], tmp_path / "c.tif")
    _wait_until_writing(proc, tmp_path)
    for _ in range(40):
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_temporaries_of_a_killed_run_are_swept_by_any_write_in_the_folder(big_scene, data, tmp_path, capsys):
    proc = _start(big_scene, data["model"], tmp_path / "c.tif")
    _wait_until_writing(proc, tmp_path)
    proc.kill()
    proc.communicate()
    assert any(".part" in n for n in leftovers(tmp_path)) and any(n.endswith(".lock") for n in leftovers(tmp_path))
    # a lock file younger than the grace period is never swept (its writer may be about to take it): age them,
    # as the next run minutes later would find them, so the test does not depend on how fast this machine is
    old = time.time() - 60
    for name in leftovers(tmp_path):
        os.utime(tmp_path / name, (old, old))
    # another output in the same folder: the dead run's temporaries and locks go
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                       "-o", str(tmp_path / "other.tif"))
    assert code == 0, err
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- #
# The lock holds without fcntl (Windows)
# --------------------------------------------------------------------------- #
_HOLD = textwrap.dedent("""
    import sys, time
    sys.modules["fcntl"] = None  # as on Windows: no fcntl module
    from hsigeo.errors import OutputBusyError
    from hsigeo.filesafety import output_lock
    if sys.argv[1] == "hold":
        with output_lock(sys.argv[2]):
            print("held", flush=True)
            time.sleep(60)
    else:
        try:
            with output_lock(sys.argv[2]):
                print("taken")
        except OutputBusyError as exc:
            print("busy:", exc)
""")


def test_output_lock_holds_without_fcntl(tmp_path):
    out = tmp_path / "c.tif"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, "hold", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-c", _HOLD, "try", str(out)], capture_output=True, text=True,
                                timeout=60)
        assert second.stdout.startswith("busy:"), second.stdout + second.stderr
        assert f"pid {holder.pid}" in second.stdout
    finally:
        holder.kill()
        holder.wait()
