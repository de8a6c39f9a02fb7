"""hsigeo never destroys what the user owns, and fails with one clear line (issue 10).

Every case runs through the real CLI (in-process ``hsigeo_cli.main.main``, or
the ``hsigeo`` program in a subprocess where memory, time, signals or
concurrency are measured) and asserts facts: inputs byte-for-byte intact
(sha256 before/after), foreign files intact, one ``Error:`` line with exit
status 2 and no traceback, bounded memory and time for hostile files, no
temporaries after signals, a second concurrent writer refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from _inference_models import NODATA, random_cube, tiny_model, write_scene

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))
# peak memory and time allowed for refusing a hostile file (the bound: well under 1 GB and 10 s)
MAX_RSS_MB = 800
MAX_SECONDS = 10.0


# --------------------------------------------------------------------------- #
# Helpers and fixtures
# --------------------------------------------------------------------------- #
@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # no test may see (or record) the user's most recent model
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HSIGEO_DEBUG", raising=False)
    yield
    from hsigeo import progress

    progress.set_mode(None)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative names)."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def run(capsys, *argv):
    return run_in_process(capsys, "--progress", "none", *argv)


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    """Exit 2, exactly one ``Error:`` line (the last), no traceback; the line contains ``needles``."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def cli(*argv: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The ``hsigeo`` program in a subprocess."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([HSIGEO, "--progress", "none", *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)


# The child's CPU time (user + system) is the time bound: on a machine shared with other work the
# wall clock mostly measures the neighbours (importing torch alone can take 7 s of wall time there).
_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': p.returncode, 'err': p.stderr, 'wall': time.perf_counter() - t,\n"
    "                  'seconds': u.ru_utime + u.ru_stime, 'rss_mb': u.ru_maxrss / 1024}))\n"
)


def measured(*argv: str) -> dict:
    """Run ``hsigeo argv`` alone under a small parent process.

    Returns its exit status, stderr, CPU seconds, wall seconds and peak RSS (MB).
    """
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", _MEASURE, HSIGEO, "--progress", "none", *argv],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def temporaries(folder: Path) -> list[Path]:
    """hsigeo temporaries and locks left in ``folder``."""
    return [p for p in folder.iterdir() if ".hsigeo-" in p.name or p.name.endswith(".hsigeo.lock")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A scene, its ENVI twin, a model, prompts, training labels and a classification (read-only: copy to change)."""
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.model.modelfile import save_model
    from hsigeo.text.prompts import save_prompts

    d = tmp_path_factory.mktemp("safety")
    cube = random_cube(40, 52, seed=3)
    scene = write_scene(d / "scene.tif", cube)
    model = tiny_model()
    model_path = save_model(model, d / "model.hsigeo")
    prompts = save_prompts(model.prompts, d / "prompts.yaml")
    labels = np.zeros((40, 52), np.uint8)
    for i, v in enumerate((10, 20, 30, 40)):
        labels[2 + 9 * i: 8 + 9 * i, 4:48] = v
    with rasterio.open(scene) as src:
        profile = dict(driver="GTiff", width=52, height=40, count=1, dtype="uint8", crs=src.crs,
                       transform=src.transform, nodata=0)
    with rasterio.open(d / "labels.tif", "w", **profile) as dst:
        dst.write(labels, 1)
    envi = d / "envi"
    envi.mkdir()
    with rasterio.open(scene) as src, rasterio.open(envi / "scene.img", "w", driver="ENVI", width=52, height=40,
                                                     count=cube.shape[0], dtype="int16", crs=src.crs,
                                                     transform=src.transform, nodata=NODATA) as dst:
        dst.write(cube)
    classify_raster(scene, model, d / "classes.tif")
    return {"dir": d, "scene": scene, "model": model_path, "prompts": prompts, "labels": d / "labels.tif",
            "classes": d / "classes.tif", "envi_img": envi / "scene.img", "envi_hdr": envi / "scene.hdr",
            "model_obj": model}


@pytest.fixture
def work(data, tmp_path):
    """A folder ``w`` holding copies of the scene, labels, prompts, model and classification."""
    w = tmp_path / "w"
    w.mkdir()
    for key in ("scene", "labels", "prompts", "model", "classes"):
        shutil.copy(data[key], w / data[key].name)
    return w


@pytest.fixture
def special_dir(tmp_path):
    """``make(name, read_only=..., size=...)``: a read-only or tiny folder (tmpfs when root, chmod otherwise)."""
    mounted: list[Path] = []
    chmodded: list[Path] = []

    def make(name: str, *, read_only: bool = False, size: str = "4m") -> Path:
        d = tmp_path / name
        d.mkdir()
        if os.geteuid() == 0 and shutil.which("mount"):
            opts = ("ro," if read_only else "") + f"size={size}"
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True)
            if r.returncode == 0:
                mounted.append(d)
                return d
        if read_only and os.geteuid() != 0:
            d.chmod(0o555)
            chmodded.append(d)
            return d
        pytest.skip("needs tmpfs mounts (root) or a non-root user (chmod) for a read-only / full folder")

    yield make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)
    for d in chmodded:
        d.chmod(0o755)


def _rewrite_metadata(src: Path, dst: Path, change) -> Path:
    """Copy a model file, applying ``change(meta)`` to its metadata.json (the weights stay as they are)."""
    with zipfile.ZipFile(src) as zf:
        meta = json.loads(zf.read("metadata.json"))
        weights = zf.read("weights.safetensors")
    change(meta)
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("weights.safetensors", weights)
    return dst


# --------------------------------------------------------------------------- #
# 1-4. Destroys data
# --------------------------------------------------------------------------- #
def test_evaluate_and_train_refuse_a_report_folder_holding_the_users_files(capsys, work):
    before = hashes(work)
    code, _, err = run(capsys, "evaluate", str(work / "classes.tif"), "--reference", str(work / "labels.tif"),
                       "-o", str(work), "--overwrite")
    assert_one_line_error(code, err, str(work), "did not write")
    code, _, err = run(capsys, "train", str(work / "scene.tif"), "--labels", str(work / "labels.tif"),
                       "--prompts", str(work / "prompts.yaml"), "-o", str(work.parent / "m.hsigeo"),
                       "--report-dir", str(work), "--overwrite", "--epochs", "1")
    assert_one_line_error(code, err, str(work))
    assert "Training on" not in err  # refused before reading anything or training
    assert hashes(work) == before
    assert not (work.parent / "m.hsigeo").exists()


def test_overwrite_replaces_a_report_folder_hsigeo_wrote_and_nothing_else(capsys, work, tmp_path):
    report = tmp_path / "report"
    argv = ["evaluate", str(work / "classes.tif"), "--reference", str(work / "labels.tif"), "-o", str(report)]
    assert run(capsys, *argv)[0] == 0
    manifest = json.loads((report / ".hsigeo-output.json").read_text())
    assert "report.json" in manifest["files"] and "report.html" in manifest["files"]
    assert_one_line_error(*run(capsys, *argv)[::2], "exists")  # no --overwrite: kept
    assert run(capsys, *argv, "--overwrite")[0] == 0  # hsigeo's own folder: replaced
    # a file of the user's inside it: the folder is no longer hsigeo's alone, so it is refused
    (report / "notes.txt").write_text("mine")
    code, _, err = run(capsys, *argv, "--overwrite")
    assert_one_line_error(code, err, "notes.txt")
    assert (report / "notes.txt").read_text() == "mine"
    assert (report / "report.json").is_file()
    assert temporaries(tmp_path) == []


def test_evaluate_into_the_current_folder_is_refused(capsys, work, monkeypatch):
    before = hashes(work)
    monkeypatch.chdir(work)
    code, _, err = run(capsys, "evaluate", "classes.tif", "--reference", "labels.tif", "-o", ".", "--overwrite")
    assert_one_line_error(code, err, "did not write")
    assert hashes(work) == before


def test_save_model_never_deletes_a_folder(tmp_path, data):
    from hsigeo.errors import OutputError
    from hsigeo.model.modelfile import save_model

    folder = tmp_path / "some_dir"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match="is a folder"):
        save_model(data["model_obj"], folder, overwrite=True)
    assert (folder / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("scene_key, out_key", [("envi_hdr", "envi_img"), ("envi_img", "envi_hdr")])
def test_envi_cube_is_never_overwritten_through_its_other_half(capsys, data, tmp_path, scene_key, out_key):
    from hsigeo.errors import OutputError
    from hsigeo.inference.tiled import classify_raster

    envi = tmp_path / "envi"
    shutil.copytree(data["envi_img"].parent, envi)
    scene, out = envi / data[scene_key].name, envi / data[out_key].name
    before = hashes(envi)
    code, _, err = run(capsys, "classify", str(scene), "--model", str(data["model"]), "-o", str(out), "--overwrite")
    assert_one_line_error(code, err, str(out))
    # the rule lives in the output layer: the library refuses it too, whatever the suffix check says
    with pytest.raises(OutputError, match="never writes over what it reads"):
        classify_raster(scene, data["model_obj"], out, overwrite=True)
    assert hashes(envi) == before
    assert temporaries(envi) == []


def test_classify_never_writes_its_model_or_scene_by_any_name(capsys, work):
    os.link(work / "scene.tif", work / "hard.tif")
    os.symlink(work / "scene.tif", work / "link.tif")
    before = hashes(work)
    model = str(work / "model.hsigeo")
    cases = [
        ("scene.tif", "model.hsigeo", "-o must end in .tif"),  # the model
        ("scene.tif", "scene.tif", "never writes over"),  # the scene itself
        ("scene.tif", "hard.tif", "never writes over"),  # a hard link of it
        ("link.tif", "scene.tif", "never writes over"),  # the target of a symbolic link
        ("scene.tif", "link.tif", "never writes over"),
    ]
    for scene, out, needle in cases:
        code, _, err = run(capsys, "classify", str(work / scene), "--model", model, "-o", str(work / out),
                           "--overwrite")
        assert_one_line_error(code, err, needle)
    code, _, err = run(capsys, "classify", str(work / "scene.tif"), "--model", model, "-o", str(work / "c.tif"),
                       "--vector", str(work / "prompts.yaml"), "--overwrite")
    assert_one_line_error(code, err, "--vector must end in")
    assert hashes(work) == before


def test_train_vectorize_evaluate_never_write_their_inputs(capsys, work):
    before = hashes(work)
    code, _, err = run(capsys, "train", str(work / "scene.tif"), "--labels", str(work / "labels.tif"),
                       "--prompts", str(work / "prompts.yaml"), "-o", str(work / "scene.tif"), "--overwrite")
    assert_one_line_error(code, err, "-o must end in .hsigeo")
    os.symlink(work / "scene.tif", work / "scene_link.hsigeo")
    code, _, err = run(capsys, "train", str(work / "scene.tif"), "--labels", str(work / "labels.tif"),
                       "--prompts", str(work / "prompts.yaml"), "-o", str(work / "scene_link.hsigeo"), "--overwrite")
    assert_one_line_error(code, err, "never writes over")
    code, _, err = run(capsys, "vectorize", str(work / "classes.tif"), "-o", str(work / "classes.tif"), "--overwrite")
    assert_one_line_error(code, err, "-o must end in")
    code, _, err = run(capsys, "evaluate", str(work / "classes.tif"), "--reference", str(work / "labels.tif"),
                       "-o", str(work / "labels.tif"), "--overwrite")
    assert_one_line_error(code, err, "is a file")
    (work / "scene_link.hsigeo").unlink()
    assert hashes(work) == before


# --------------------------------------------------------------------------- #
# 5-6. Hostile files: bounded memory and time
# --------------------------------------------------------------------------- #
def test_model_with_a_giant_network_in_its_metadata_fails_fast(data, tmp_path):
    def giant(meta):
        meta["backbone"]["width"] = 10 ** 7
        meta["training"] = {"padding": "x" * 600_000}  # the 600 KB file of the issue

    def plausible_but_wrong(meta):
        meta["backbone"]["width"] = 4096  # within bounds, but not what the weights hold
        meta["backbone"]["stem_dim"] = 4096

    bad = _rewrite_metadata(data["model"], tmp_path / "giant.hsigeo", giant)
    wrong = _rewrite_metadata(data["model"], tmp_path / "wrong.hsigeo", plausible_but_wrong)
    for argv, needle in ((["info", str(bad)], "width"),
                         (["classify", str(data["scene"]), "--model", str(bad), "-o", str(tmp_path / "c.tif")], "width"),
                         (["info", str(wrong)], "do not fit")):
        r = measured(*argv)
        assert_one_line_error(r["rc"], r["err"], needle)
        assert r["rss_mb"] < MAX_RSS_MB and r["seconds"] < MAX_SECONDS, r
    assert not (tmp_path / "c.tif").exists()


def test_model_with_a_huge_metadata_member_fails_fast(data, tmp_path):
    bomb = tmp_path / "bomb.hsigeo"
    with zipfile.ZipFile(data["model"]) as zf:
        weights = zf.read("weights.safetensors")
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("metadata.json", "w", force_zip64=True) as f:
            chunk = b" " * (1 << 20)
            for _ in range(64):  # 64 MB of blanks: a few hundred kB compressed
                f.write(chunk)
        zf.writestr("weights.safetensors", weights)
    assert bomb.stat().st_size < 1 << 20
    r = measured("info", str(bomb))
    assert_one_line_error(r["rc"], r["err"], "metadata.json", "MB")
    assert r["rss_mb"] < MAX_RSS_MB and r["seconds"] < MAX_SECONDS, r


def test_prompts_alias_bomb_and_flood_fail_fast(data, tmp_path):
    bomb = tmp_path / "bomb.yaml"
    # the classic shape: every level refers nine times to the one before, under a valid key
    bomb.write_text(
        "x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]\n" for i in range(1, 9))
        + "description: *x8\nclasses: [{name: a, prompts: [x]}]\n")
    assert bomb.stat().st_size < 1000
    flood = tmp_path / "flood.yaml"
    flood.write_text("classes:\n" + "".join(
        f"  - name: c{i}\n    prompts: [{', '.join(f'p{i}_{k}' for k in range(12))}]\n" for i in range(1000)))
    for path, needle in ((bomb, "anchors"), (flood, "too many prompts")):
        r = measured("classify", str(data["scene"]), "--model", str(data["model"]), "--prompts", str(path),
                     "-o", str(tmp_path / "c.tif"))
        assert_one_line_error(r["rc"], r["err"], str(path), needle)
        assert r["rss_mb"] < MAX_RSS_MB and r["seconds"] < MAX_SECONDS, r
        assert len(r["err"]) < 2000  # untrusted values are never expanded into the message
    big = tmp_path / "big.yaml"
    big.write_text("classes:\n  - name: a\n    prompts: [x]\n# " + "y" * (3 << 20) + "\n")
    from hsigeo.errors import PromptError
    from hsigeo.text.prompts import load_prompts

    with pytest.raises(PromptError, match="larger than 2 MB"):
        load_prompts(big)


@pytest.mark.parametrize("change, needle", [
    (lambda m: m["classes"][0].update(colour=[300, 0, 0]), "colour"),
    (lambda m: m["classes"][0].update(colour="red"), "colour"),
    (lambda m: m["classes"][1].update(value=m["classes"][0]["value"]), "repeats the value"),
    (lambda m: m["classes"][0].update(value=0), "value 0"),
    (lambda m: m["classes"][0].update(value=-3), "value -3"),
    (lambda m: m["classes"][0].update(value=70000), "value 70000"),
    (lambda m: m["classes"][0].update(name="bad\x00name"), "control characters"),
])
def test_model_files_with_bad_classes_are_refused_at_load(capsys, data, tmp_path, change, needle):
    bad = _rewrite_metadata(data["model"], tmp_path / "bad.hsigeo", change)
    assert_one_line_error(*run(capsys, "info", str(bad))[::2], needle)
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(bad), "-o", str(tmp_path / "c.tif"))
    assert_one_line_error(code, err, needle)
    code, _, err = run(capsys, "evaluate", str(data["classes"]), "--reference", str(data["labels"]),
                       "--model", str(bad), "-o", str(tmp_path / "r"))
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "r").exists()


def test_nul_and_control_characters_in_prompt_class_names_are_refused(capsys, data, tmp_path):
    for i, name in enumerate(('"water\\0body"', '"water\\tbody"', '"a\\nb"')):
        p = tmp_path / f"p{i}.yaml"
        p.write_text(f"classes:\n  - name: {name}\n    prompts: [x]\n")
        code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]), "--prompts", str(p),
                           "-o", str(tmp_path / "c.tif"))
        assert_one_line_error(code, err, str(p), "control characters")
        assert "\x00" not in err


# --------------------------------------------------------------------------- #
# 7. One line, not a traceback
# --------------------------------------------------------------------------- #
def test_read_only_output_folder_is_reported_before_any_work(capsys, data, special_dir):
    ro = special_dir("ro", read_only=True)
    s, m, lab, p = (str(data[k]) for k in ("scene", "model", "labels", "prompts"))
    t0 = time.perf_counter()
    cases = [
        ["classify", s, "--model", m, "-o", str(ro / "c.tif")],
        ["train", s, "--labels", lab, "--prompts", p, "-o", str(ro / "m.hsigeo")],
        ["train", s, "--labels", lab, "--prompts", p, "-o", str(ro.parent / "m.hsigeo"), "--report-dir", str(ro / "r")],
        ["evaluate", str(data["classes"]), "--reference", lab, "-o", str(ro / "report")],
        ["vectorize", str(data["classes"]), "-o", str(ro / "v.gpkg")],
    ]
    for argv in cases:
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, str(ro), "read-only")
        assert "Training on" not in err and "Classified" not in err
    assert time.perf_counter() - t0 < 30  # no training, no classification happened
    assert not (ro.parent / "m.hsigeo").exists()


def test_disk_full_is_one_line_and_leaves_no_temporary(capsys, data, special_dir):
    full = special_dir("full", size="12k")
    # a subprocess: what libtiff/GDAL print on the terminal themselves is part of what the user sees
    r = cli("classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(full / "c.tif"),
            "--confidence", str(full / "conf.tif"), "--probabilities", str(full / "p.tif"))
    assert_one_line_error(r.returncode, r.stderr, str(full), "space left on device")
    assert [ln for ln in r.stderr.splitlines() if not ln.startswith(("Model:", "Error:"))] == []  # no GDAL chatter
    code, _, err = run(capsys, "vectorize", str(data["classes"]), "-o", str(full / "v.gpkg"))
    assert_one_line_error(code, err, str(full / "v.gpkg"))
    assert sorted(p.name for p in full.iterdir()) == []


def test_vector_output_is_checked_before_the_classification(capsys, data, tmp_path):
    code, out, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]),
                         "-o", str(tmp_path / "c.tif"), "--vector", str(tmp_path / "out.txt"))
    assert_one_line_error(code, err, "out.txt", ".gpkg")
    assert "Classified" not in out and list(tmp_path.glob("c.*")) == []


def test_unexpected_errors_are_one_line_with_a_bug_report_hint(capsys, monkeypatch, tmp_path, data):
    import hsigeo_cli.info as info_mod

    def broken(path):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(info_mod, "_model_info", broken)
    code, _, err = run(capsys, "info", str(data["model"]))
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        err.strip().splitlines()[0]] and "bug in hsigeo" in err and "ZeroDivisionError" in err
    monkeypatch.setenv("HSIGEO_DEBUG", "1")
    code, _, err = run(capsys, "info", str(data["model"]))
    assert code == 1 and "Traceback" in err and "simulated bug" in err
    monkeypatch.delenv("HSIGEO_DEBUG")
    code, _, err = run(capsys, "--debug", "info", str(data["model"]))
    assert "Traceback" in err


def test_python_api_classify_takes_a_model_or_its_path(data):
    from hsigeo.errors import InvalidTypeError
    from hsigeo.io.raster import open_hsi

    da = open_hsi(data["scene"])
    with pytest.raises(InvalidTypeError, match="needs a model, got None"):
        da.hsi.classify(None)
    by_path = da.hsi.classify(str(data["model"])).values
    by_model = da.hsi.classify(data["model_obj"]).values
    assert np.array_equal(by_path, by_model) and set(np.unique(by_path)) <= {0, 10, 20, 30, 40}


# --------------------------------------------------------------------------- #
# 8. Silently wrong -> warnings or errors
# --------------------------------------------------------------------------- #
def test_scene_on_another_scale_than_the_model_is_warned_with_the_factor(data, tmp_path):
    # subprocesses: what the terminal shows (in-process, pytest records warnings instead)
    cube = random_cube(40, 52, seed=3).astype(np.float32) / 10000.0  # 0-1 reflectance; the model knows x 10000
    scene = write_scene(tmp_path / "reflectance.tif", cube, nodata=None)
    r = cli("classify", str(scene), "--model", str(data["model"]), "-o", str(tmp_path / "c.tif"))
    assert r.returncode == 0, r.stderr
    warning = [ln for ln in r.stderr.splitlines() if ln.startswith("Warning:") and "times smaller" in ln]
    assert len(warning) == 1 and "10,000 times smaller" in warning[0], r.stderr
    r = cli("classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(tmp_path / "ok.tif"))
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr  # the matching scene: no warning


def test_scene_without_crs_and_all_nodata_scene_are_warned(data, tmp_path):
    plain = write_scene(tmp_path / "nocrs.tif", random_cube(40, 52, seed=3), crs=None)
    r = cli("classify", str(plain), "--model", str(data["model"]), "-o", str(tmp_path / "a.tif"))
    assert r.returncode == 0 and any(ln.startswith("Warning:") and "no CRS" in ln for ln in r.stderr.splitlines())
    empty = write_scene(tmp_path / "empty.tif", np.full((12, 40, 52), NODATA, np.int16))
    r = cli("classify", str(empty), "--model", str(data["model"]), "-o", str(tmp_path / "b.tif"))
    assert r.returncode == 0, r.stderr
    assert any(ln.startswith("Warning:") and "no valid pixel" in ln for ln in r.stderr.splitlines()), r.stderr
    with rasterio.open(tmp_path / "b.tif") as src:
        assert int(src.read(1).max()) == 0


def test_class_values_beyond_the_raster_type_are_refused(data, tmp_path):
    from hsigeo.errors import HsigeoError
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.model.classifier import ClassInfo

    model = data["model_obj"]
    big = dataclasses.replace(model.classes[0], value=70000) if dataclasses.is_dataclass(model.classes[0]) else \
        ClassInfo(70000, model.classes[0].name, model.classes[0].colour, model.classes[0].prompts)
    model.classes[0], original = big, model.classes[0]
    try:
        with pytest.raises(HsigeoError, match="70000 cannot be stored"):
            classify_raster(data["scene"], model, tmp_path / "c.tif")
    finally:
        model.classes[0] = original
    assert list(tmp_path.iterdir()) == []


def test_zero_std_band_gives_no_raw_runtime_warning(data, tmp_path):
    from hsigeo.model.modelfile import load_model, save_model

    model = load_model(data["model"])
    model.std[:3] = 0.0
    path = save_model(model, tmp_path / "zero.hsigeo")
    r = cli("classify", str(data["scene"]), "--model", str(path), "-o", str(tmp_path / "c.tif"))
    assert r.returncode == 0 and "RuntimeWarning" not in r.stderr, r.stderr
    block = np.full((12, 2, 2), 1234.0, np.float32)
    out = load_model(path).normalize(block)
    assert np.isfinite(out).all() and np.allclose(out[:3], 1234.0 - model.mean[:3, None, None])


def test_train_fraction_leaving_no_test_pixel_is_a_clear_error(capsys, data, tmp_path):
    one = tmp_path / "one.tif"
    with rasterio.open(data["labels"]) as src:
        profile, lab = src.profile, np.zeros((src.height, src.width), np.uint8)
    for i, v in enumerate((10, 20, 30, 40)):
        lab[5, 5 + 3 * i] = v  # one pixel per class
    with rasterio.open(one, "w", **profile) as dst:
        dst.write(lab, 1)
    code, _, err = run(capsys, "train", str(data["scene"]), "--labels", str(one), "--prompts", str(data["prompts"]),
                       "--train-fraction", "0.5", "-o", str(tmp_path / "m.hsigeo"))
    assert_one_line_error(code, err, "leaves no labelled pixel to test")
    assert "nan" not in err and not (tmp_path / "m.hsigeo").exists()


# --------------------------------------------------------------------------- #
# 9. Signals and concurrency
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def big_scene(tmp_path_factory):
    """A scene that takes a tiny model several seconds to classify with small tiles on one thread."""
    d = tmp_path_factory.mktemp("big")
    return write_scene(d / "big.tif", random_cube(600, 600, seed=1))


def _start_classify(scene: Path, model: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([HSIGEO, "--progress", "plain", "classify", str(scene), "--model", str(model),
                             "-o", str(out), "--confidence", str(out.with_name("conf.tif")), "--tile-size", "32",
                             "--threads", "1"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def _wait_until_writing(proc: subprocess.Popen, folder: Path, timeout: float = 90) -> None:
    """Until the run's output temporaries exist beside its outputs (the classification has started).

    The writability probe is also a ``.part`` but lives for an instant only; a kill
    right after seeing it could find nothing to leave behind, so it does not count.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(".part" in p.name and "-probe-" not in p.name for p in temporaries(folder)):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the classification never started writing")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_leave_no_temporaries(big_scene, data, tmp_path, sig, status):
    out = tmp_path / "c.tif"
    proc = _start_classify(big_scene, data["model"], out)
    _wait_until_writing(proc, tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "no partial output was kept" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_temporaries_of_a_killed_run_are_swept_by_the_next(big_scene, data, tmp_path, capsys):
    out = tmp_path / "c.tif"
    proc = _start_classify(big_scene, data["model"], out)
    _wait_until_writing(proc, tmp_path)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.communicate()
    left = temporaries(tmp_path)
    assert any(".part" in p.name for p in left)
    # a temporary of a live process (this one) with the same pattern is not touched
    live = tmp_path / f".c.tif.hsigeo-{os.getpid()}-keep.part.tif"
    live.write_bytes(b"busy")
    code, _, err = run(capsys, "classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(out),
                       "--confidence", str(tmp_path / "conf.tif"))
    assert code == 0, err
    assert [p for p in temporaries(tmp_path) if p != live] == []
    assert live.read_bytes() == b"busy"
    assert sorted(p.name for p in tmp_path.iterdir() if p != live) == ["c.qml", "c.tif", "c.tif.aux.xml", "conf.qml", "conf.tif"]


def test_second_concurrent_writer_is_refused(big_scene, data, tmp_path):
    out = tmp_path / "c.tif"
    first = _start_classify(big_scene, data["model"], out)
    try:
        _wait_until_writing(first, tmp_path)
        first.send_signal(signal.SIGSTOP)  # paused mid-run (still holding its outputs), however fast the machine
        second = cli("classify", str(data["scene"]), "--model", str(data["model"]), "-o", str(out), "--overwrite")
        assert_one_line_error(second.returncode, second.stderr, str(out), "another hsigeo process",
                              f"pid {first.pid}")
        assert first.poll() is None  # the first run goes on undisturbed
    finally:
        first.send_signal(signal.SIGCONT)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
