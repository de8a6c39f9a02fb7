"""Tests of the QGIS plugin (``qgis_plugin/``), most of them in a real headless QGIS.

QGIS's Python (``/usr/bin/python3``, Debian's QGIS 3.22) and this venv cannot
share a process: the venv's numpy 2 breaks Debian's GDAL bindings.  So each
QGIS test writes a JSON spec and starts ``tests/qgis/driver.py`` under QGIS's
interpreter, with ``QT_QPA_PLATFORM=offscreen``, an empty QGIS profile and an
environment without this venv's ``PYTHONPATH``/``VIRTUAL_ENV``; the driver
initialises QGIS and Processing, loads the plugin from the zip that
``qgis_plugin/build_zip.py`` builds, runs algorithms with ``processing.run``
(or ``runAndLoadResults``) and writes what happened back as JSON.  One test
also runs ``qgis_process.bin`` on a profile where the zip is installed.

Runner behaviour (argument building, progress, errors, cancelling) is tested
with ``tests/qgis/fake_hsigeo.sh`` standing in for the CLI; the end-to-end
tests run the real ``hsigeo`` of this venv on a tiny synthetic scene and skip
while its subcommands are missing.

The QGIS tests skip when QGIS is not installed (``import qgis.core`` fails
under ``HSIGEO_QGIS_PYTHON``, default ``/usr/bin/python3``).
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SOURCE = REPO / "qgis_plugin"
HELPERS = Path(__file__).resolve().parent / "qgis"
DRIVER = HELPERS / "driver.py"
FAKE_HSIGEO = HELPERS / "fake_hsigeo.sh"
PLUGIN_FOLDER = "hsigeo_qgis"
QGIS_PYTHON = os.environ.get("HSIGEO_QGIS_PYTHON", "/usr/bin/python3")
# the venv's bin folder: `hsigeo` lives there (sys.prefix, not the resolved interpreter, which is the base Python)
VENV_BIN = Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin")
# the CLI the end-to-end tests run (HSIGEO_TEST_CLI: another installation of hsigeo)
HSIGEO_CLI = os.environ.get("HSIGEO_TEST_CLI") or shutil.which("hsigeo", path=str(VENV_BIN)) or ""
ALGORITHM_IDS = {"hsigeo:prompts", "hsigeo:classify_prompts", "hsigeo:train", "hsigeo:classify", "hsigeo:vectorize",
                 "hsigeo:evaluate", "hsigeo:sample", "hsigeo:area_report", "hsigeo:setup"}
# variables of this venv that must not reach QGIS's Python
VENV_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "HSIGEO_EXECUTABLE")
# tiny scene: the end-to-end tests must stay well under a minute on 2 busy cores
SCENE_SIZE = dict(height=60, width=60, bands=40, n_classes=4, seed=0)


# -------------------------------------------------------------------------------------------- #
# helpers
# -------------------------------------------------------------------------------------------- #
def load_runner():
    """``qgis_plugin/runner.py`` as a module (its pure helpers need no QGIS)."""
    spec = importlib.util.spec_from_file_location("hsigeo_qgis_runner", PLUGIN_SOURCE / "runner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def qgis_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for QGIS's Python: no venv variables, headless Qt, this venv's bin last on PATH.

    Last, not first: QGIS's embedded Python (qgis_process) looks for ``python3``
    on PATH to find its home, and would pick up this venv's instead of its own.
    """
    env = {k: v for k, v in os.environ.items() if k not in VENV_VARIABLES}
    env["PATH"] = os.pathsep.join([env.get("PATH", os.defpath), str(VENV_BIN)])
    env["QT_QPA_PLATFORM"] = "offscreen"
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env["XDG_RUNTIME_DIR"] = str(runtime)  # else Qt warns on every start
    env.update(extra)
    return env


def log_records(log: Path) -> list[dict[str, Any]]:
    """Parse the fake CLI's log into one record per invocation: pid, child, argv, env."""
    records: list[dict[str, Any]] = []
    for line in log.read_text().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "pid":
            records.append({"pid": int(value), "child": None, "argv": [], "env": {}})
        elif kind == "child":
            records[-1]["child"] = int(value)
        elif kind == "arg":
            records[-1]["argv"].append(value)
        elif kind == "env":
            name, _, setting = value.partition("=")
            records[-1]["env"][name] = setting
    return records


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper that never comes does not count)."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    try:  # no /proc: ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def option(argv: list[str], flag: str) -> str | None:
    """Value following ``flag`` in ``argv``."""
    return argv[argv.index(flag) + 1] if flag in argv else None


def make_layer(python: str, kind: str, path: Path, *sources: Path) -> Path:
    """Write a test layer with QGIS's own GDAL (``tests/qgis/make_layers.py``: scene, classes, polygons, training)."""
    env = qgis_env(path.parent)
    subprocess.run([python, str(HELPERS / "make_layers.py"), kind, str(path), *map(str, sources)],
                   env=env, check=True, timeout=120)
    return path


def prompt_class_names(prompts: Path) -> set[str]:
    """Class names of a prompts file, read with hsigeo's own loader."""
    from hsigeo.text.prompts import load_prompts

    return {c.name for c in load_prompts(prompts)}


def check_loaded_classification(run: dict[str, Any], report: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Assert the loaded ``classes.tif`` of ``run`` is on the scene's grid and CRS, paletted, legend = ``names``.

    Returns the run's loaded layers by file name.
    """
    layers = {Path(layer["source"].split("|")[0]).name: layer for layer in run["layers"]}
    scene_crs = report["describe"]["scene"]["crs"]
    assert scene_crs == "EPSG:32611"
    classes = layers["classes.tif"]
    assert classes["valid"] and classes["crs"] == scene_crs
    assert classes["size"][:2] == [SCENE_SIZE["width"], SCENE_SIZE["height"]]
    assert classes["renderer"] == "QgsPalettedRasterRenderer"
    labels = {c["label"] for c in classes["classes"]}
    # the legend lists the prompt classes (by name), not 255 unnamed palette entries
    assert labels and labels <= names | {"unclassified"}, labels
    return layers


# -------------------------------------------------------------------------------------------- #
# fixtures
# -------------------------------------------------------------------------------------------- #
@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory) -> Path:
    """The plugin zip, built the way ``make qgis-plugin`` builds it."""
    out = tmp_path_factory.mktemp("dist") / "hsigeo_qgis_plugin.zip"
    subprocess.run(
        [sys.executable, str(PLUGIN_SOURCE / "build_zip.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


@pytest.fixture(scope="session")
def installed_plugin(plugin_zip, tmp_path_factory) -> Path:
    """Folder holding the unzipped plugin (``<folder>/hsigeo_qgis``)."""
    plugins = tmp_path_factory.mktemp("plugins")
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    return plugins


@pytest.fixture(scope="session")
def qgis_python(tmp_path_factory) -> str:
    """QGIS's interpreter; skips the test when QGIS is not installed."""
    if shutil.which(QGIS_PYTHON) is None:
        pytest.skip(f"QGIS tests need QGIS's Python ({QGIS_PYTHON}); install qgis and python3-qgis")
    env = qgis_env(tmp_path_factory.mktemp("probe"))
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], env=env, capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"QGIS not available: '{QGIS_PYTHON} -c \"import qgis.core\"' failed ({reason}); install qgis and python3-qgis")
    return QGIS_PYTHON


def drive(
    python: str,
    plugins: Path,
    work: Path,
    runs: list[dict[str, Any]],
    *,
    executable: str | None = None,
    env: dict[str, str] | None = None,
    describe: dict[str, str] | None = None,
    describe_after: dict[str, str] | None = None,
    render: dict[str, Any] | None = None,
    timeout: float = 300,
) -> dict[str, Any]:
    """Run ``tests/qgis/driver.py`` in QGIS's Python with a fresh profile under ``work``; return its report."""
    work.mkdir(parents=True, exist_ok=True)
    n = len(list(work.glob("spec*.json")))
    profile = work / f"profile{n}"
    profile.mkdir()
    spec = {
        "config_path": str(profile),
        "plugin_parent": str(plugins),
        "plugin": PLUGIN_FOLDER,
        "executable": executable,
        "describe": describe or {},
        "describe_after": describe_after or {},
        "render": render,
        "runs": runs,
    }
    spec_path, result_path = work / f"spec{n}.json", work / f"result{n}.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [python, str(DRIVER), str(spec_path), str(result_path)],
        env=qgis_env(work, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if not result_path.exists():
        pytest.fail(f"QGIS driver wrote no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    report = json.loads(result_path.read_text())
    if "fatal" in report:
        pytest.fail(f"QGIS driver failed:\n{report['fatal']}\n{proc.stderr[-4000:]}")
    return report


@pytest.fixture
def run_qgis(qgis_python, installed_plugin, tmp_path):
    """``run_qgis(runs, executable=..., env=..., describe=...)`` -> the driver's report."""

    def _run(runs: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return drive(qgis_python, installed_plugin, tmp_path / "qgis", runs, **kwargs)

    return _run


@pytest.fixture
def fake_env(tmp_path):
    """Environment for runs of the fake CLI, and where its log goes."""
    log = tmp_path / "fake_hsigeo.log"

    def _env(mode: str = "ok", **extra: str) -> dict[str, str]:
        return {"FAKE_HSIGEO_MODE": mode, "FAKE_HSIGEO_LOG": str(log), **extra}

    _env.log = log  # type: ignore[attr-defined]
    return _env


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A tiny synthetic scene (scene.tif, labels.tif, prompts.yaml) written by hsigeo itself."""
    from hsigeo.datasets.synthetic import make_synthetic_scene

    return make_synthetic_scene(tmp_path_factory.mktemp("scene"), **SCENE_SIZE)


def require_cli(*commands: str) -> None:
    """Skip unless ``hsigeo <command> --help`` works for each command."""
    if not HSIGEO_CLI:
        pytest.skip("the hsigeo CLI is not installed in this environment (pip install -e .)")
    for command in commands:
        probe = subprocess.run([HSIGEO_CLI, command, "--help"], capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"'hsigeo {command}' is not available yet (hsigeo {command} --help exits {probe.returncode})")


def skip_if_cli_incomplete(run: dict[str, Any]) -> None:
    """Skip when a run failed only because part of hsigeo has not been written yet."""
    if not run["ok"] and "No module named 'hsigeo" in (run["error"] or ""):
        missing = run["error"].strip().splitlines()[-1]
        pytest.skip(f"the hsigeo CLI is incomplete: {missing}")


# -------------------------------------------------------------------------------------------- #
# without QGIS: the zip and the runner's pure helpers
# -------------------------------------------------------------------------------------------- #
def test_build_zip_makes_an_installable_plugin(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
        metadata_text = archive.read(f"{PLUGIN_FOLDER}/metadata.txt").decode("utf-8")
    assert names and all(n.startswith(f"{PLUGIN_FOLDER}/") for n in names)
    for required in ("metadata.txt", "__init__.py", "plugin.py", "provider.py", "runner.py", "icon.svg", "LICENSE"):
        assert f"{PLUGIN_FOLDER}/{required}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "build_zip.py"))]

    metadata = configparser.ConfigParser(interpolation=None)
    metadata.optionxform = str
    metadata.read_string(metadata_text)
    general = metadata["general"]
    assert general["qgisMinimumVersion"] == "3.22"
    # QGIS 4 (Qt 6) lists only plugins that declare it
    assert general["qgisMaximumVersion"] == "4.99" and general["supportsQt6"] == "True"
    assert general["hasProcessingProvider"] == "yes"
    for key in ("name", "description", "about", "version", "author", "category"):
        assert general[key].strip()
    # no made-up addresses: contact and links are release settings (RELEASING.md), absent until then
    for key in ("email", "repository", "tracker", "homepage"):
        assert key not in general
    assert "example.org" not in metadata_text and "pip install hsigeo" not in metadata_text


def test_release_build_requires_the_release_settings(tmp_path):
    build = importlib.util.spec_from_file_location("hsigeo_build_zip", PLUGIN_SOURCE / "build_zip.py")
    module = importlib.util.module_from_spec(build)
    build.loader.exec_module(module)
    with pytest.raises(SystemExit, match="lacks email, repository"):
        module.build_zip(tmp_path / "release.zip", release=True)
    assert not (tmp_path / "release.zip").exists()


def test_plugin_uses_no_qgis3_only_names():
    """QGIS 4 / PyQt6 dropped the unscoped Processing enums and PyQt5 names: only compat.py may name the old ones."""
    qgis3_only = re.compile(r"QgsProcessing\.Type|QgsProcessingParameterNumber\.(Double|Integer)\b|\bFlagAdvanced\b"
                            r"|QgsProcessingParameterField\.(String|Numeric|DateTime|Any)\b|\bPyQt5\b|\.exec_\(")
    offenders = [f"{path.relative_to(PLUGIN_SOURCE)}:{n}: {line.strip()}"
                 for path in sorted(PLUGIN_SOURCE.rglob("*.py")) if path.name != "compat.py"
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if qgis3_only.search(line)]
    assert offenders == []


def test_progress_lines_are_parsed():
    runner = load_runner()
    assert runner.parse_progress("hsigeo-progress: 42.5 training loss=0.3") == (42.5, "training loss=0.3")
    assert runner.parse_progress("hsigeo-progress: 100.0") == (100.0, "")
    assert runner.parse_progress("hsigeo-progress: 130 overshoot") == (100.0, "overshoot")
    assert runner.parse_progress("hsigeo-progress: nan x") is None
    assert runner.parse_progress("hsigeo-progress: soon") is None
    assert runner.parse_progress("training 40%") is None
    assert runner.progress_stage("training loss=0.31 acc=0.9") == "training"
    assert runner.progress_stage("classifying tiles") == "classifying tiles"


def test_subprocess_environment_drops_qgis_python_variables():
    runner = load_runner()
    env = runner.clean_environment(
        {"PATH": "/bin", "PYTHONPATH": "/usr/share/qgis/python", "PYTHONHOME": "/opt/qgis", "PROJ_LIB": "/x", "HOME": "/h"}
    )
    assert env["PATH"] == "/bin" and env["HOME"] == "/h"
    assert not {"PYTHONPATH", "PYTHONHOME", "PROJ_LIB"} & set(env)
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONIOENCODING"] == "utf-8"


def test_executable_is_the_setting_then_the_environment_then_path(tmp_path, monkeypatch):
    runner = load_runner()
    program = tmp_path / "bin" / "hsigeo"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    other = tmp_path / "other-hsigeo"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)

    monkeypatch.setenv("PATH", str(program.parent))
    monkeypatch.delenv(runner.EXECUTABLE_ENV, raising=False)
    assert runner.resolve_executable("") == str(program)
    monkeypatch.setenv(runner.EXECUTABLE_ENV, str(other))
    assert runner.resolve_executable(None) == str(other)
    assert runner.resolve_executable(str(program)) == str(program)
    with pytest.raises(runner.QgsProcessingException, match="does not name an executable"):
        runner.resolve_executable(str(tmp_path / "missing"))
    monkeypatch.delenv(runner.EXECUTABLE_ENV)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(runner.QgsProcessingException, match="not found on PATH"):
        runner.resolve_executable("")


class RecordingFeedback:
    """The part of QgsProcessingFeedback the runner uses, for runs outside QGIS."""

    def __init__(self, cancel_at_progress: bool = False) -> None:
        self.cancel_at_progress = cancel_at_progress
        self.cancelled = False
        self.progress: list[float] = []
        self.log: list[tuple[str, str]] = []

    def isCanceled(self) -> bool:  # noqa: N802 - QGIS API
        return self.cancelled

    def setProgress(self, value: float) -> None:  # noqa: N802
        self.progress.append(value)
        self.cancelled = self.cancel_at_progress

    def setProgressText(self, text: str) -> None:  # noqa: N802
        self.log.append(("text", text))

    def pushInfo(self, text: str) -> None:  # noqa: N802
        self.log.append(("info", text))

    def pushWarning(self, text: str) -> None:  # noqa: N802
        self.log.append(("warning", text))

    def pushCommandInfo(self, text: str) -> None:  # noqa: N802
        self.log.append(("command", text))


@pytest.fixture
def fake_runner(tmp_path, monkeypatch):
    """The runner module, with the fake CLI logging to ``tmp_path / "log"``."""
    monkeypatch.setenv("FAKE_HSIGEO_LOG", str(tmp_path / "log"))
    return load_runner()


@pytest.mark.skipif(os.name != "posix", reason="the fake CLI is a POSIX shell script")
def test_runner_streams_output_and_raises_cli_errors_without_qgis(fake_runner, tmp_path, monkeypatch):
    runner = fake_runner
    output = tmp_path / "out.gpkg"
    feedback = RecordingFeedback()
    runner.run_hsigeo(["vectorize", "c.tif", "-o", str(output)], feedback, executable=str(FAKE_HSIGEO))
    assert feedback.progress == [10.0, 50.0, 100.0] and output.exists()
    assert ("text", "training") in feedback.log and ("warning", "UserWarning: 3 bad bands dropped") in feedback.log

    monkeypatch.setenv("FAKE_HSIGEO_MODE", "error")
    with pytest.raises(runner.QgsProcessingException) as caught:
        runner.run_hsigeo(["vectorize", "c.tif", "-o", str(output)], RecordingFeedback(), executable=str(FAKE_HSIGEO))
    assert str(caught.value).startswith("/data/missing_scene.tif: no such raster file; check the path.")

    monkeypatch.setenv("FAKE_HSIGEO_MODE", "hang")
    feedback = RecordingFeedback(cancel_at_progress=True)
    with pytest.raises(runner.QgsProcessingException, match="Cancelled"):
        runner.run_hsigeo(["classify", "s.tif", "-o", str(tmp_path / "c.tif")], feedback, executable=str(FAKE_HSIGEO))
    record = log_records(tmp_path / "log")[-1]
    assert not is_alive(record["pid"]) and not is_alive(record["child"])


# -------------------------------------------------------------------------------------------- #
# in QGIS: provider, arguments, progress, errors, cancelling (fake CLI)
# -------------------------------------------------------------------------------------------- #
@pytest.mark.qgis
def test_provider_registers_the_algorithms(run_qgis):
    report = run_qgis([])
    provider = report["provider"]
    assert provider is not None, "the hsigeo provider was not registered"
    assert provider["id"] == "hsigeo"
    assert set(provider["algorithms"]) == ALGORITHM_IDS
    algorithms = provider["algorithms"]
    assert algorithms["hsigeo:train"]["parameters"] == [
        "INPUT", "LABELS_VECTOR", "LABEL_FIELD", "LABELS_RASTER", "PROMPTS", "EPOCHS",
        "TRAIN_FRACTION", "TRAIN_COUNT", "SEED", "DEVICE", "BATCH_SIZE", "LR", "VAL_FRACTION", "LOSS",
        "INIT", "METHOD", "TEXT_MODEL", "THREADS", "OUTPUT", "REPORT_DIR",
    ]  # fmt: skip
    # the hidden CLI options are advanced parameters, with the CLI's defaults shown
    assert {"BATCH_SIZE", "LR", "VAL_FRACTION", "LOSS", "INIT", "METHOD", "TEXT_MODEL", "THREADS"} <= set(
        algorithms["hsigeo:train"]["advanced"])
    assert {k: algorithms["hsigeo:train"]["defaults"][k] for k in ("LR", "VAL_FRACTION", "LOSS", "INIT", "METHOD")} == {
        "LR": 0.001, "VAL_FRACTION": 0.1, "LOSS": 0, "INIT": 0, "METHOD": 0}
    classify = algorithms["hsigeo:classify"]
    assert {"INPUT", "MODEL", "PROMPTS", "OUTPUT", "CONFIDENCE", "VECTOR", "EXTENT", "MASK", "RESAMPLE"} <= set(
        classify["parameters"]
    )
    assert {"THREADS", "RESUME", "BATCH_SIZE", "TILE_SIZE", "DEVICE"} <= set(classify["advanced"])
    assert "EXTENT" not in classify["advanced"] and classify["defaults"]["RESAMPLE"] is False
    assert algorithms["hsigeo:prompts"]["parameters"] == ["INPUT", "FIELD", "DESCRIPTION_FIELD", "OUTPUT"]
    # each algorithm's Help opens its section of the docs' QGIS page (the README's QGIS section);
    # the page's address is a release setting (metadata.txt `homepage`), unset before release: no link
    assert {a["help_url"] for a in algorithms.values()} == {""}
    anchors = {alg_id: a["help_anchor"] for alg_id, a in algorithms.items()}
    assert anchors == {"hsigeo:prompts": "create-class-prompts-from-layer",
                       "hsigeo:classify_prompts": "classify-from-prompts", "hsigeo:train": "train-model",
                       "hsigeo:classify": "classify-raster", "hsigeo:vectorize": "vectorize-classification",
                       "hsigeo:evaluate": "accuracy-report", "hsigeo:sample": "create-sample-design",
                       "hsigeo:area_report": "accuracy-and-area-report",
                       "hsigeo:setup": "installing-hsigeo-for-the-plugin"}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for title in ("Create class prompts from layer", "Classify from prompts", "Train model", "Classify raster",
                  "Vectorize classification", "Accuracy report", "Create sample design", "Accuracy and area report"):
        assert f"\n#### {title}\n" in readme, title
    assert algorithms["hsigeo:vectorize"]["parameters"] == ["INPUT", "MIN_AREA", "OUTPUT"]
    assert {"INPUT", "REFERENCE_VECTOR", "REFERENCE_RASTER", "LABEL_FIELD", "OUTPUT"} <= set(
        algorithms["hsigeo:evaluate"]["parameters"]
    )
    assert {"REPORT_HTML", "REPORT_JSON", "CONFUSION_MATRIX"} <= set(algorithms["hsigeo:evaluate"]["outputs"])
    # this venv's hsigeo is on PATH, so every algorithm can run
    assert all(a["can_execute"][0] for a in algorithms.values())
    assert report["setting"] == {"value": "", "in_providers_group": True}
    assert report["unloaded"] is True


@pytest.fixture
def qgis_process_run(qgis_python, plugin_zip, tmp_path, fake_env):
    """``qgis_process_run(*args, mode="ok")``: ``qgis_process.bin`` on a profile with the zip installed, fake CLI."""
    qgis_process = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"
    if not os.access(qgis_process, os.X_OK):
        pytest.skip("qgis_process.bin not found")
    profile = tmp_path / "config"
    plugins = profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    home = tmp_path / "home"  # qgis_process writes a few settings under ~/.config
    home.mkdir()

    def _run(*args: str, mode: str = "ok") -> subprocess.CompletedProcess:
        env = qgis_env(tmp_path, HOME=str(home), QGIS_CUSTOM_CONFIG_PATH=str(profile),
                       HSIGEO_EXECUTABLE=str(FAKE_HSIGEO), **fake_env(mode))
        return subprocess.run([qgis_process, *args], env=env, capture_output=True, text=True, timeout=120)

    return _run


@pytest.mark.qgis
def test_qgis_process_runs_the_installed_zip(qgis_python, qgis_process_run, tmp_path, fake_env):
    enabled = qgis_process_run("plugins", "enable", PLUGIN_FOLDER)
    assert enabled.returncode == 0, enabled.stderr
    listing = qgis_process_run("list")
    assert all(f"\t{alg_id}\t" in listing.stdout for alg_id in ALGORITHM_IDS), listing.stdout[-2000:]

    output = tmp_path / "polygons.gpkg"
    classes = make_layer(qgis_python, "scene", tmp_path / "classes.tif")
    run = qgis_process_run("run", "hsigeo:vectorize", "--", f"INPUT={classes}", f"OUTPUT={output}", "MIN_AREA=4")
    assert run.returncode == 0, run.stdout + run.stderr
    assert output.exists()
    argv = log_records(fake_env.log)[-1]["argv"]
    assert argv == ["--progress", "plain", "vectorize", str(classes), "-o", str(output), "--min-area", "4.0", "--overwrite"]


@pytest.mark.qgis
def test_algorithms_build_cli_arguments_and_report_progress(run_qgis, qgis_python, fake_env, tmp_path):
    scene = make_layer(qgis_python, "scene", tmp_path / "scene.tif")
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("classes: []\n")
    polygons = make_layer(qgis_python, "polygons", tmp_path / "polygons.gpkg")
    model = tmp_path / "model.hsigeo"
    runs = [
        {"key": "train", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene), "LABELS_RASTER": str(scene), "PROMPTS": str(prompts), "EPOCHS": 3,
            "TRAIN_FRACTION": 0.25, "DEVICE": 1, "OUTPUT": str(model), "REPORT_DIR": str(tmp_path / "train_report")}},
        {"key": "train_polygons", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene), "LABELS_VECTOR": str(polygons), "LABEL_FIELD": "class_name",
            "PROMPTS": str(prompts), "OUTPUT": str(model)}},
        {"key": "classify", "algorithm": "hsigeo:classify", "parameters": {
            "INPUT": str(scene), "MODEL": str(model), "OUTPUT": str(tmp_path / "classes.tif"),
            "CONFIDENCE": str(tmp_path / "confidence.tif"), "VECTOR": str(tmp_path / "classes.gpkg"), "TILE_SIZE": 64,
            "MARGIN": str(tmp_path / "margin.tif")}},
        {"key": "vectorize", "algorithm": "hsigeo:vectorize", "parameters": {
            "INPUT": str(scene), "OUTPUT": "TEMPORARY_OUTPUT"}},
        {"key": "evaluate", "algorithm": "hsigeo:evaluate", "parameters": {
            "INPUT": str(scene), "REFERENCE_RASTER": str(scene), "PROMPTS": str(prompts),
            "OUTPUT": str(tmp_path / "report")}},
        {"key": "no_labels", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene), "PROMPTS": str(prompts), "OUTPUT": str(model)}},
        {"key": "train_advanced", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene), "LABELS_RASTER": str(scene), "PROMPTS": str(prompts), "OUTPUT": str(model),
            "BATCH_SIZE": 64, "LR": 0.0005, "VAL_FRACTION": 0.2, "LOSS": 1, "INIT": 2, "METHOD": 2,
            "TEXT_MODEL": str(tmp_path), "THREADS": 2}},
        {"key": "classify_advanced", "algorithm": "hsigeo:classify", "parameters": {
            "INPUT": str(scene), "MODEL": str(model), "OUTPUT": str(tmp_path / "c2.tif"), "RESAMPLE": True,
            "RESUME": True, "THREADS": 1, "EXTENT": "493002,493006,3764994,3764998 [EPSG:32611]",
            "MASK": str(polygons)}},
    ]  # fmt: skip
    # variables QGIS's Python may carry; none of them may reach the hsigeo environment
    leaky = {"PYTHONPATH": str(tmp_path / "qgis-python"), "PROJ_LIB": "/usr/share/proj", "GDAL_DATA": "/usr/share/gdal"}
    report = run_qgis(runs, executable=str(FAKE_HSIGEO), env=fake_env(**leaky))
    results = report["runs"]
    invoked = ["train", "train_polygons", "classify", "vectorize", "evaluate", "train_advanced", "classify_advanced"]
    for key in invoked:
        assert results[key]["ok"], (key, results[key]["error"])
    calls = dict(zip(invoked, log_records(fake_env.log)))
    assert [rec["argv"][2] for rec in calls.values()] == [
        "train", "train", "classify", "vectorize", "evaluate", "train", "classify"]

    train = calls["train"]["argv"]
    assert train[:4] == ["--progress", "plain", "train", str(scene)]
    assert option(train, "--labels") == str(scene) and option(train, "--prompts") == str(prompts)
    assert option(train, "-o") == str(model) and option(train, "--report-dir") == str(tmp_path / "train_report")
    assert (option(train, "--epochs"), option(train, "--train-fraction"), option(train, "--device")) == ("3", "0.25", "cpu")
    assert "--label-field" not in train and "--overwrite" in train
    assert results["train"]["results"]["REPORT_HTML"] == str(tmp_path / "train_report" / "report.html")
    train_polygons = calls["train_polygons"]["argv"]
    assert option(train_polygons, "--labels").endswith(".gpkg")  # the layer itself, or QGIS's GeoPackage export
    assert option(train_polygons, "--label-field") == "class_name"
    assert "--report-dir" not in train_polygons and "--epochs" not in train_polygons
    # no report folder given: the algorithm returns the one hsigeo wrote (MODEL_report beside the model)
    assert results["train_polygons"]["results"]["REPORT_DIR"] == str(tmp_path / "model_report")
    assert results["train_polygons"]["results"]["REPORT_HTML"] == str(tmp_path / "model_report" / "report.html")

    classify = calls["classify"]["argv"]
    assert option(classify, "--model") == str(model) and option(classify, "-o") == str(tmp_path / "classes.tif")
    assert option(classify, "--confidence") == str(tmp_path / "confidence.tif")
    assert option(classify, "--vector") == str(tmp_path / "classes.gpkg")
    assert option(classify, "--tile-size") == "64" and "--probabilities" not in classify
    assert option(classify, "--margin") == str(tmp_path / "margin.tif")
    assert results["classify"]["results"]["PROBABILITIES"] is None

    vectorize = calls["vectorize"]["argv"]
    assert option(vectorize, "-o") == results["vectorize"]["results"]["OUTPUT"]
    assert "--min-area" not in vectorize  # 0 = the CLI's default
    evaluate = calls["evaluate"]["argv"]
    assert option(evaluate, "--reference") == str(scene) and option(evaluate, "-o") == str(tmp_path / "report")
    assert results["evaluate"]["results"]["REPORT_JSON"] == str(tmp_path / "report" / "report.json")

    # advanced options reach the CLI only when set (LR and VAL_FRACTION at their defaults stay out)
    advanced = calls["train_advanced"]["argv"]
    assert [option(advanced, f) for f in ("--batch-size", "--lr", "--val-fraction", "--loss", "--init", "--method",
                                          "--text-model", "--threads")] == [
        "64", "0.0005", "0.2", "softmax", "base", "svm", str(tmp_path), "2"]
    assert not {"--lr", "--val-fraction", "--loss", "--init", "--method", "--batch-size", "--threads"} & set(train)
    classify_advanced = calls["classify_advanced"]["argv"]
    assert "--resample" in classify_advanced and "--resume" in classify_advanced
    assert option(classify_advanced, "--threads") == "1"
    assert option(classify_advanced, "--extent") == "493002,3764994,493006,3764998,EPSG:32611"
    assert option(classify_advanced, "--mask").endswith(".gpkg")
    assert not {"--resample", "--resume", "--extent", "--mask"} & set(classify)

    # progress lines drive the bar, the stage (without figures) becomes the progress text
    run = results["classify"]
    assert run["progress"] == [10.0, 50.0, 100.0]
    assert run["texts"][:2] == ["reading scene", "training"]
    assert "read scene with 40 bands" in run["infos"] and "done" in run["infos"]
    assert not [line for line in run["infos"] if line.startswith("hsigeo-progress: 50")]
    assert run["warnings"] == ["UserWarning: 3 bad bands dropped"]
    assert run["commands"][0].startswith(f"{FAKE_HSIGEO} --progress plain classify ")

    # QGIS's interpreter and data variables stay out of the CLI's environment
    for rec in calls.values():
        assert rec["env"]["PYTHONPATH"] == rec["env"]["PROJ_LIB"] == rec["env"]["GDAL_DATA"] == "<unset>"
        assert rec["env"]["PYTHONUNBUFFERED"] == "1"

    # parameter checks run before anything starts
    assert not results["no_labels"]["ok"] and "Training polygons" in results["no_labels"]["error"]


@pytest.mark.qgis
def test_classify_from_prompts_builds_the_base_model_command_line(run_qgis, qgis_python, fake_env, tmp_path):
    scene = make_layer(qgis_python, "scene", tmp_path / "scene.tif")
    polygons = make_layer(qgis_python, "polygons", tmp_path / "polygons.gpkg")
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("classes: []\n")
    runs = [
        {"key": "defaults", "algorithm": "hsigeo:classify_prompts", "parameters": {
            "INPUT": str(scene), "PROMPTS": str(prompts), "OUTPUT": str(tmp_path / "classes.tif")}},
        {"key": "all", "algorithm": "hsigeo:classify_prompts", "parameters": {
            "INPUT": str(scene), "PROMPTS": str(prompts), "OUTPUT": str(tmp_path / "c2.tif"),
            "CONFIDENCE": str(tmp_path / "conf.tif"), "THRESHOLD": 0.3, "RADIOMETRY": 2,
            "EXTENT": "493002,493006,3764994,3764998 [EPSG:32611]", "MASK": str(polygons), "DEVICE": 1,
            "THREADS": 1}},
        {"key": "no_prompts", "algorithm": "hsigeo:classify_prompts", "parameters": {
            "INPUT": str(scene), "OUTPUT": str(tmp_path / "c3.tif")}},
    ]  # fmt: skip
    report = run_qgis(runs, executable=str(FAKE_HSIGEO), env=fake_env())
    results = report["runs"]
    assert results["defaults"]["ok"] and results["all"]["ok"], (results["defaults"]["error"], results["all"]["error"])
    defaults, full = (rec["argv"] for rec in log_records(fake_env.log))
    # no --model: with --prompts alone the CLI maps the scene with its base model; threshold and
    # radiometry at the CLI's defaults (0.5, auto) stay out
    assert defaults == ["--progress", "plain", "classify", str(scene), "--prompts", str(prompts),
                        "-o", str(tmp_path / "classes.tif"), "--device", "auto", "--overwrite"]
    assert full == ["--progress", "plain", "classify", str(scene), "--prompts", str(prompts),
                    "-o", str(tmp_path / "c2.tif"), "--confidence", str(tmp_path / "conf.tif"),
                    "--threshold", "0.3", "--radiometry", "radiance",
                    "--extent", "493002,3764994,493006,3764998,EPSG:32611", "--mask", str(polygons),
                    "--device", "cpu", "--threads", "1", "--overwrite"]
    assert results["defaults"]["results"] == {"OUTPUT": str(tmp_path / "classes.tif"), "CONFIDENCE": None}
    assert results["all"]["results"]["CONFIDENCE"] == str(tmp_path / "conf.tif")
    # the prompts file is required: refused before anything starts
    assert not results["no_prompts"]["ok"] and len(log_records(fake_env.log)) == 2


@pytest.mark.qgis
def test_cli_error_message_reaches_processing_intact(run_qgis, qgis_python, fake_env, tmp_path):
    scene = make_layer(qgis_python, "scene", tmp_path / "scene.tif")
    params = {"INPUT": str(scene), "OUTPUT": str(tmp_path / "polygons.gpkg")}
    error = run_qgis([{"key": "r", "algorithm": "hsigeo:vectorize", "parameters": params}],
                     executable=str(FAKE_HSIGEO), env=fake_env("error"))["runs"]["r"]  # fmt: skip
    assert not error["ok"] and error["error_type"] == "QgsProcessingException"
    assert error["error"] == "/data/missing_scene.tif: no such raster file; check the path.\n  (searched relative to /data)"
    assert error["progress"] == [10.0]

    crash = run_qgis([{"key": "r", "algorithm": "hsigeo:vectorize", "parameters": params}],
                     executable=str(FAKE_HSIGEO), env=fake_env("crash"))["runs"]["r"]  # fmt: skip
    assert not crash["ok"] and "hsigeo vectorize failed with exit status 1" in crash["error"]
    assert crash["error"].endswith("ZeroDivisionError: division by zero")
    assert not (tmp_path / "polygons.gpkg").exists()


@pytest.mark.qgis
@pytest.mark.parametrize("mode, max_seconds", [("hang", 2.5), ("stubborn", 9.0)])
def test_cancel_stops_the_cli_and_its_children(run_qgis, qgis_python, fake_env, tmp_path, mode, max_seconds):
    """Cancelling interrupts the process group; one that ignores SIGINT/SIGTERM is killed after the grace periods."""
    scene = make_layer(qgis_python, "scene", tmp_path / "scene.tif")
    output = tmp_path / "classes.tif"
    # what hsigeo's atomic writer leaves when it is killed mid-write
    partial = tmp_path / ".classes.tif.abc123.part.tif"
    partial.write_bytes(b"half a GeoTIFF")
    runs = [{"key": "r", "algorithm": "hsigeo:classify", "cancel_on_progress": True,
             "parameters": {"INPUT": str(scene), "MODEL": str(tmp_path / "m.hsigeo"), "OUTPUT": str(output)}}]  # fmt: skip
    run = run_qgis(runs, executable=str(FAKE_HSIGEO), env=fake_env(mode))["runs"]["r"]

    assert not run["ok"] and "Cancelled" in run["error"]
    assert run["progress"] == [10.0]  # cancelled at the first progress line, nothing after
    assert run["stop_seconds"] < max_seconds
    if mode == "stubborn":
        assert run["stop_seconds"] > 4.0  # it really waited for SIGINT, then SIGTERM, before SIGKILL
    record = log_records(fake_env.log)[-1]
    assert record["child"] is not None
    assert not is_alive(record["pid"]) and not is_alive(record["child"])
    assert "finished" not in fake_env.log.read_text()
    assert not output.exists() and not partial.exists()


@pytest.mark.qgis
def test_loaded_outputs_show_class_names_and_colours(run_qgis, qgis_python, fake_env, tmp_path):
    """Without a .qml, the legend keeps only named classes and polygons take the raster's colours."""
    source = tmp_path / "source"
    source.mkdir()
    scene = make_layer(qgis_python, "scene", source / "scene.tif")
    classes = make_layer(qgis_python, "classes", source / "classes.tif")  # 256-entry colour table, names
    polygons = make_layer(qgis_python, "polygons", source / "polygons.gpkg")
    out = tmp_path / "out"
    out.mkdir()
    runs = [
        {"key": "classify", "algorithm": "hsigeo:classify", "load": True, "parameters": {
            "INPUT": str(scene), "MODEL": str(source / "m.hsigeo"),
            "OUTPUT": str(out / "classes.tif"), "VECTOR": str(out / "classes.gpkg")}},
        {"key": "vectorize", "algorithm": "hsigeo:vectorize", "load": True, "parameters": {
            "INPUT": str(classes), "OUTPUT": str(out / "vectorized.gpkg")}},
    ]  # fmt: skip
    env = fake_env(FAKE_HSIGEO_RASTER=str(classes), FAKE_HSIGEO_POLYGONS=str(polygons))
    report = run_qgis(runs, executable=str(FAKE_HSIGEO), env=env)
    expected = [("Water", "#1f77b4"), ("Forest", "#2ca02c")]

    layers = {Path(layer["source"].split("|")[0]).name: layer for layer in report["runs"]["classify"]["layers"]}
    raster = layers["classes.tif"]
    assert raster["renderer"] == "QgsPalettedRasterRenderer"
    assert [(c["value"], c["label"], c["color"]) for c in raster["classes"]] == [(1.0, *expected[0]), (2.0, *expected[1])]
    for layer in (layers["classes.gpkg"], report["runs"]["vectorize"]["layers"][0]):
        assert layer["renderer"] == "QgsCategorizedSymbolRenderer"
        assert sorted((c["label"], c["color"]) for c in layer["classes"]) == sorted(expected)


@pytest.mark.qgis
def test_executable_from_environment_and_missing_executable(run_qgis, qgis_python, fake_env, tmp_path):
    scene = make_layer(qgis_python, "scene", tmp_path / "scene.tif")
    runs = [{"key": "r", "algorithm": "hsigeo:vectorize",
             "parameters": {"INPUT": str(scene), "OUTPUT": str(tmp_path / "p.gpkg")}}]  # fmt: skip

    from_env = run_qgis(runs, env=fake_env(HSIGEO_EXECUTABLE=str(FAKE_HSIGEO)))
    assert from_env["runs"]["r"]["ok"], from_env["runs"]["r"]["error"]
    assert from_env["runs"]["r"]["commands"][0].startswith(str(FAKE_HSIGEO))

    # the options dialog (the setting's validator) refuses a path that does not exist ...
    refused = run_qgis([], executable=str(tmp_path / "no-such-hsigeo"))
    assert "no-such-hsigeo" in refused["setting_error"]
    # ... and a wrong HSIGEO_EXECUTABLE makes the algorithms say what to fix
    missing = run_qgis(runs, env={"HSIGEO_EXECUTABLE": str(tmp_path / "no-such-hsigeo")})
    assert not missing["runs"]["r"]["ok"]
    assert "does not name an executable" in missing["runs"]["r"]["error"]
    can_execute, reason = missing["provider"]["algorithms"]["hsigeo:vectorize"]["can_execute"]
    assert can_execute is False and "HSIGEO_EXECUTABLE" in reason


# -------------------------------------------------------------------------------------------- #
# in QGIS with the real CLI
# -------------------------------------------------------------------------------------------- #
@pytest.mark.qgis
def test_real_cli_error_is_a_processing_exception(run_qgis, scene, tmp_path):
    require_cli("classify")
    missing_model = tmp_path / "missing.hsigeo"
    runs = [{"key": "r", "algorithm": "hsigeo:classify", "parameters": {
        "INPUT": str(scene.scene_path), "MODEL": str(missing_model), "OUTPUT": str(tmp_path / "c.tif")}}]  # fmt: skip
    run = run_qgis(runs, executable=HSIGEO_CLI)["runs"]["r"]
    skip_if_cli_incomplete(run)
    assert not run["ok"] and run["error_type"] == "QgsProcessingException"
    # the CLI's HsigeoError message names the file; no traceback
    assert "missing.hsigeo" in run["error"] and "Traceback" not in run["error"]
    assert not (tmp_path / "c.tif").exists()


@pytest.mark.qgis
def test_real_vectorize_loads_named_coloured_polygons(run_qgis, scene, tmp_path):
    """The real ``hsigeo vectorize`` on the scene's label raster (a classification written by hsigeo)."""
    require_cli("vectorize")
    names = prompt_class_names(scene.prompts_path)
    output = tmp_path / "labels.gpkg"
    runs = [{"key": "r", "algorithm": "hsigeo:vectorize", "load": True, "parameters": {
        "INPUT": str(scene.labels_path), "MIN_AREA": 8.0, "OUTPUT": str(output)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI, describe={"labels": str(scene.labels_path)})
    run = report["runs"]["r"]
    skip_if_cli_incomplete(run)
    assert run["ok"], run["error"]
    assert run["commands"][0].endswith(f"vectorize {scene.labels_path} -o {output} --min-area 8.0 --overwrite")
    # class areas come with their unit (the scene is in UTM metres)
    areas = [line for line in run["infos"] if "polygons" in line and line.strip()[:1].isdigit()]
    assert areas and all(line.rstrip().endswith("m²") for line in areas), run["infos"]
    (polygons,) = run["layers"]
    assert polygons["crs"] == report["describe"]["labels"]["crs"] == "EPSG:32611"
    assert polygons["feature_count"] > 0
    assert polygons["class_names"] and set(polygons["class_names"]) <= names
    # coloured like the label raster's palette
    assert polygons["renderer"] == "QgsCategorizedSymbolRenderer"
    raster_colours = {c["label"]: c["color"] for c in report["describe"]["labels"]["classes"]}
    assert {c["label"]: c["color"] for c in polygons["classes"]}.items() <= raster_colours.items()


@pytest.mark.qgis
def test_real_classify_from_prompts_without_model_or_labels(run_qgis, scene, tmp_path):
    """The real CLI maps the synthetic demo scene from its prompts file with the base model."""
    require_cli("classify")
    import rasterio

    from hsigeo.text.prompts import load_prompts

    prompts = load_prompts(scene.prompts_path)
    output, confidence = tmp_path / "classes.tif", tmp_path / "confidence.tif"
    runs = [{"key": "r", "algorithm": "hsigeo:classify_prompts", "load": True, "parameters": {
        "INPUT": str(scene.scene_path), "PROMPTS": str(scene.prompts_path), "DEVICE": 1, "THREADS": 1,
        "OUTPUT": str(output), "CONFIDENCE": str(confidence)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI, describe={"scene": str(scene.scene_path)}, timeout=600)
    run = report["runs"]["r"]
    skip_if_cli_incomplete(run)
    assert run["ok"], run["error"]
    # no --model: the CLI said it used the built-in base model
    assert "--model" not in run["commands"][0]
    assert any("built-in base model" in line for line in run["infos"] + run["warnings"]), run["infos"][-20:]

    with rasterio.open(output) as src:
        values = set(np.unique(src.read(1)).tolist())
    allowed = {int(c.value) for c in prompts.classes} | {0}  # 0 = unknown (below the threshold)
    assert values <= allowed and values - {0}, values

    layers = check_loaded_classification(run, report, set(prompts.names))
    assert layers["confidence.tif"]["crs"] == report["describe"]["scene"]["crs"]
    assert layers["confidence.tif"]["renderer"] == "QgsSingleBandPseudoColorRenderer"


@pytest.mark.qgis
def test_real_classify_of_a_sensor_product_with_its_cloud_layer(run_qgis, tmp_path):
    """Processing's Classify on an EnMAP L2A product (its image as the layer), masking the product's cloud flags.

    The CLI finds the metadata XML and the quality layers beside the image; the map is on the product's grid,
    class 0 on the cloud pixels and the product's nodata pixel, a class everywhere else.
    """
    require_cli("classify")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import rasterio
    from _inference_models import tiny_model
    from _product_fixtures import ENMAP_CLOUD, ENMAP_STEM, enmap_l2a

    from hsigeo.model.modelfile import save_model

    folder = enmap_l2a(tmp_path / "dl")
    model = tiny_model(n_bands=224)
    model.mean, model.std = np.full(224, 0.2), np.full(224, 0.1)
    model_path = save_model(model, tmp_path / "tiny.hsigeo")
    image, output = folder / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF", tmp_path / "enmap_classes.tif"
    runs = [{"key": "r", "algorithm": "hsigeo:classify", "load": True, "parameters": {
        "INPUT": str(image), "MODEL": str(model_path), "PRODUCT_MASK": "cloud", "DEVICE": 1, "THREADS": 1,
        "OUTPUT": str(output)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI, env={"HSIGEO_CACHE_DIR": str(tmp_path / "cache")}, timeout=600)
    run = report["runs"]["r"]
    skip_if_cli_incomplete(run)
    assert run["ok"], run["error"]
    assert "--product-mask cloud" in run["commands"][0]
    with rasterio.open(output) as src, rasterio.open(image) as img:
        classes = src.read(1)
        assert src.crs == img.crs and src.transform == img.transform and src.shape == img.shape
    cloud = np.zeros(classes.shape, dtype=bool)
    cloud[ENMAP_CLOUD] = True
    nodata = np.zeros(classes.shape, dtype=bool)
    nodata[0, 0] = True
    assert (classes[cloud | nodata] == 0).all() and (classes[~cloud & ~nodata] != 0).all()
    # loaded into the project on the product's CRS, styled as a classification
    (layer,) = run["layers"]
    assert layer["valid"] and layer["crs"] == "EPSG:32633" and layer["renderer"] == "QgsPalettedRasterRenderer"


def _product_layer(kind: str, folder: Path) -> tuple[str, str]:
    """``(layer source a QGIS user adds, the product hsigeo reads)`` for one sensor product fixture."""
    import _product_fixtures as pf

    if kind == "desis":
        path = pf.desis_l2a(folder)
        return str(next(path.glob("*SPECTRAL_IMAGE*"))) if path.is_dir() else str(path), str(path)
    if kind == "aviris-ng":
        path = pf.aviris_ng_l2(folder)
        return str(path), str(path)
    if kind == "emit":
        path = pf.emit_l2a(folder)
        return f'NETCDF:"{path}":reflectance', str(path)
    path = pf.prisma_l2d(folder, materials=True)
    return f'HDF5:"{path}"://HDFEOS/SWATHS/PRS_L2D_HCO/Data_Fields/VNIR_Cube', str(path)


@pytest.mark.qgis
@pytest.mark.parametrize("kind", ["desis", "aviris-ng", "emit", "prisma"])
def test_real_classify_from_prompts_on_each_sensor_product(run_qgis, tmp_path, kind):
    """Processing's Classify from prompts on a DESIS, AVIRIS-NG, EMIT (its reflectance subdataset) and PRISMA (its
    VNIR cube subdataset) product, as a QGIS user adds them as layers: the CLI reads the whole product (the EMIT
    GLT, the PRISMA SWIR cube and scaling), and the map is on the product's own output grid with the prompts'
    classes."""
    require_cli("classify")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import rasterio

    from hsigeo.io.raster import open_hsi

    layer, product = _product_layer(kind, tmp_path / "dl")
    prompts = tmp_path / "p.yaml"
    prompts.write_text("classes:\n"
                       "  - {name: vegetation, value: 1, prompts: [green vegetation, dense green plants]}\n"
                       "  - {name: soil, value: 2, prompts: [bare soil, dry bare ground without plants]}\n")
    output = tmp_path / f"{kind}_classes.tif"
    # the layer is in the user's project (QGIS opens a subdataset string only as a layer, not as a file path)
    runs = [{"key": "r", "algorithm": "hsigeo:classify_prompts", "load": True, "project_layers": [layer],
             "parameters": {"INPUT": layer, "PROMPTS": str(prompts), "DEVICE": 1, "THREADS": 1,
                            "OUTPUT": str(output)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI, env={"HSIGEO_CACHE_DIR": str(tmp_path / "cache")}, timeout=600)
    run = report["runs"]["r"]
    skip_if_cli_incomplete(run)
    assert run["ok"], run["error"]
    scene = open_hsi(product)
    with rasterio.open(output) as src:
        classes = src.read(1)
        assert src.crs == scene.rio.crs and src.transform == scene.rio.transform()
        assert classes.shape == (scene.sizes["y"], scene.sizes["x"])
    assert set(np.unique(classes).tolist()) <= {0, 1, 2} and (classes > 0).any()


@pytest.fixture(scope="module")
def trained(scene, tmp_path_factory, qgis_python, installed_plugin):
    """Train and Classify (loading the outputs into the project) with the real CLI, once per module."""
    require_cli("train", "classify")
    work = tmp_path_factory.mktemp("end_to_end")
    paths = {
        "model": work / "model.hsigeo",
        "train_report": work / "train_report",
        "classes": work / "classes.tif",
        "confidence": work / "confidence.tif",
        "polygons": work / "classes.gpkg",
    }
    runs = [
        {"key": "train", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene.scene_path), "LABELS_RASTER": str(scene.labels_path),
            "PROMPTS": str(scene.prompts_path), "EPOCHS": 2, "SEED": 0, "DEVICE": 1,
            "OUTPUT": str(paths["model"]), "REPORT_DIR": str(paths["train_report"])}},
        {"key": "classify", "algorithm": "hsigeo:classify", "load": True, "parameters": {
            "INPUT": str(scene.scene_path), "MODEL": str(paths["model"]), "DEVICE": 1,
            "OUTPUT": str(paths["classes"]), "CONFIDENCE": str(paths["confidence"]),
            "VECTOR": str(paths["polygons"])}},
    ]  # fmt: skip
    report = drive(
        qgis_python, installed_plugin, work / "qgis", runs,
        executable=HSIGEO_CLI, describe={"scene": str(scene.scene_path)}, timeout=600,
    )  # fmt: skip
    for run in report["runs"].values():
        skip_if_cli_incomplete(run)
    return report, paths


@pytest.mark.qgis
def test_train_and_classify_end_to_end(trained, scene):
    report, paths = trained
    names = prompt_class_names(scene.prompts_path)
    train, classify = report["runs"]["train"], report["runs"]["classify"]
    assert train["ok"], train["error"]
    assert paths["model"].is_file()
    assert train["progress"] and max(train["progress"]) == 100.0
    assert classify["ok"], classify["error"]
    assert paths["classes"].is_file() and paths["confidence"].is_file() and paths["polygons"].is_file()

    layers = check_loaded_classification(classify, report, names)
    scene_crs = report["describe"]["scene"]["crs"]
    classes = layers["classes.tif"]

    polygons = layers["classes.gpkg"]
    assert polygons["valid"] and polygons["crs"] == scene_crs
    assert polygons["feature_count"] > 0
    assert polygons["class_names"] and set(polygons["class_names"]) <= names
    assert polygons["renderer"] == "QgsCategorizedSymbolRenderer"
    # each class has the same colour in the raster and in the polygons
    raster_colours = {c["label"]: c["color"] for c in classes["classes"]}
    assert all(raster_colours[c["label"]] == c["color"] for c in polygons["classes"])
    assert layers["confidence.tif"]["crs"] == scene_crs


@pytest.mark.qgis
def test_vectorize_and_accuracy_report_end_to_end(trained, run_qgis, scene, tmp_path):
    require_cli("vectorize", "evaluate")
    _, paths = trained
    names = prompt_class_names(scene.prompts_path)
    runs = [
        {"key": "vectorize", "algorithm": "hsigeo:vectorize", "load": True, "parameters": {
            "INPUT": str(paths["classes"]), "MIN_AREA": 8.0, "OUTPUT": str(tmp_path / "polygons.gpkg")}},
        {"key": "evaluate", "algorithm": "hsigeo:evaluate", "parameters": {
            "INPUT": str(paths["classes"]), "REFERENCE_RASTER": str(scene.labels_path),
            "PROMPTS": str(scene.prompts_path), "OUTPUT": str(tmp_path / "report")}},
    ]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI)
    for run in report["runs"].values():
        skip_if_cli_incomplete(run)
    vectorize, evaluate = report["runs"]["vectorize"], report["runs"]["evaluate"]
    assert vectorize["ok"], vectorize["error"]
    (polygons,) = vectorize["layers"]
    assert polygons["crs"] == "EPSG:32611" and polygons["feature_count"] > 0
    assert set(polygons["class_names"]) <= names
    assert evaluate["ok"], evaluate["error"]
    for output, name in (("REPORT_HTML", "report.html"), ("REPORT_JSON", "report.json")):
        assert evaluate["results"][output] == str(tmp_path / "report" / name)
        assert (tmp_path / "report" / name).is_file()


# -------------------------------------------------------------------------------------------- #
# what the user is told (issue 10): late cancels, one error message, readable progress, folders
# -------------------------------------------------------------------------------------------- #
class CancelAfterFinish(RecordingFeedback):
    """Presses Cancel once hsigeo has printed its last line and exited: the click came too late."""

    def pushInfo(self, text: str) -> None:  # noqa: N802
        super().pushInfo(text)
        if text == "done":
            time.sleep(0.5)  # the program ends right after its last line
            self.cancelled = True


@pytest.mark.skipif(os.name != "posix", reason="the fake CLI is a POSIX shell script")
def test_cancel_after_hsigeo_finished_reports_the_complete_outputs(fake_runner, tmp_path):
    output = tmp_path / "out.gpkg"
    feedback = CancelAfterFinish()
    run = fake_runner.run_hsigeo(["vectorize", "c.tif", "-o", str(output)], feedback, executable=str(FAKE_HSIGEO))
    assert run.returncode == 0 and run.late_cancel and output.exists()
    warnings = [text for kind, text in feedback.log if kind == "warning"]
    assert warnings[-1] == "The cancel arrived after hsigeo had finished: its outputs are complete and were kept."
    assert not any("removed" in text for _, text in feedback.log)


@pytest.mark.skipif(os.name != "posix", reason="the fake CLI is a POSIX shell script")
def test_cancel_message_says_what_was_removed(fake_runner, tmp_path, monkeypatch):
    runner = fake_runner
    monkeypatch.setenv("FAKE_HSIGEO_MODE", "hang")
    output = earlier = tmp_path / "c.tif"
    earlier.write_bytes(b"yesterday's map")
    partial = tmp_path / ".c.tif.hsigeo-999999-abc.part.tif"  # what a killed hsigeo leaves
    partial.write_bytes(b"half")
    with pytest.raises(runner.QgsProcessingException) as caught:
        runner.run_hsigeo(["classify", "s.tif", "-o", str(output)], RecordingFeedback(cancel_at_progress=True),
                          executable=str(FAKE_HSIGEO), outputs=[str(output)])
    message = str(caught.value)
    assert message.startswith("Cancelled: hsigeo was stopped before it finished")
    assert "1 temporary file(s) it left were removed" in message and "unchanged" in message
    assert not partial.exists() and earlier.read_bytes() == b"yesterday's map"


def test_console_progress_text_starts_its_own_line():
    """In qgis_process the stage text must not stick to the progress figure ("10reading scene")."""
    runner = load_runner()
    feedback = RecordingFeedback()
    run = runner.HsigeoRun("hsigeo", ["train"], feedback)
    run._console = True
    for line in ("hsigeo-progress: 0.0 training loss=1", "hsigeo-progress: 50.0 training loss=0.5",
                 "Model: m.hsigeo", "hsigeo-progress: 100.0 writing report"):
        run._handle(line)
    texts = [(kind, text) for kind, text in feedback.log]
    assert texts == [("text", "training"), ("info", "\nModel: m.hsigeo"), ("text", "writing report")]
    assert feedback.progress == [0.0, 50.0, 100.0]


@pytest.mark.qgis
def test_qgis_process_prints_an_error_once_and_readable_progress(qgis_python, qgis_process_run, tmp_path):
    classes = make_layer(qgis_python, "scene", tmp_path / "classes.tif")
    assert qgis_process_run("plugins", "enable", PLUGIN_FOLDER).returncode == 0
    args = ("run", "hsigeo:vectorize", "--", f"INPUT={classes}", f"OUTPUT={tmp_path / 'p.gpkg'}")
    failed = qgis_process_run(*args, mode="error")
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert text.count("/data/missing_scene.tif: no such raster file") == 1, text
    ok = qgis_process_run(*args)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.splitlines()
    assert "reading scene" in lines and "training" in lines, ok.stdout
    assert not [ln for ln in lines if ln[:1].isdigit() and ("reading" in ln or "training" in ln)], ok.stdout


@pytest.mark.qgis
def test_report_folder_with_the_users_files_is_refused_not_emptied(run_qgis, scene, tmp_path):
    """QGIS always passes --overwrite; an existing folder of the user's is still never emptied."""
    require_cli("evaluate", "train")
    folder = tmp_path / "my_project"
    folder.mkdir()
    (folder / "notes.txt").write_text("field notes")
    labels = folder / "labels.tif"
    shutil.copy(scene.labels_path, labels)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    runs = [
        {"key": "evaluate", "algorithm": "hsigeo:evaluate", "parameters": {
            "INPUT": str(labels), "REFERENCE_RASTER": str(labels), "PROMPTS": str(scene.prompts_path),
            "OUTPUT": str(folder)}},
        {"key": "train", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene.scene_path), "LABELS_RASTER": str(labels), "PROMPTS": str(scene.prompts_path),
            "EPOCHS": 1, "DEVICE": 1, "OUTPUT": str(tmp_path / "m.hsigeo"), "REPORT_DIR": str(folder)}},
    ]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI)
    for key in ("evaluate", "train"):
        run = report["runs"][key]
        skip_if_cli_incomplete(run)
        assert not run["ok"] and "did not write" in run["error"] and str(folder) in run["error"], run["error"]
        assert "Traceback" not in run["error"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not (tmp_path / "m.hsigeo").exists()


# -------------------------------------------------------------------------------------------- #
# in QGIS with the real CLI: from a layer of training polygons to a styled map
# -------------------------------------------------------------------------------------------- #
# what tests/qgis/make_layers.py's "training" layer holds: (field value, legend label, colour, note)
TRAINING_STYLE = [
    ("Water", "Open water", "#0050ff", ""),
    ("Healthy vegetation", "Healthy vegetation", "#00aa00", "Green crops with a strong red edge"),
    ("Bare soil", "Bare soil", "#c08040", ""),
    ("Asphalt road", "Asphalt road", "#505050", ""),
]
# the scene covers 493000..493120 x 3764880..3765000 (60 x 60 px of 2 m); QGIS's extent text is
# "xmin,xmax,ymin,ymax [CRS]": columns 5..54 and rows 5..54
EXTENT = "493010,493110,3764890,3764990 [EPSG:32611]"


@pytest.fixture(scope="module")
def layer_chain(scene, tmp_path_factory, qgis_python, installed_plugin):
    """Prompts from a categorized GeoPackage -> Train -> Classify (extent + mask) -> Vectorize -> Accuracy report."""
    require_cli("prompts", "train", "classify", "vectorize", "evaluate")
    import geopandas as gpd
    from shapely.geometry import Polygon

    from hsigeo.io.vectors import vectorize_classes, write_vector

    work = tmp_path_factory.mktemp("layer_chain")
    labels = write_vector(vectorize_classes(scene.labels_path), work / "labels.gpkg")
    training = make_layer(qgis_python, "training", work / "training.gpkg", labels)
    # the lower-left half of the scene
    triangle = Polygon([(493000, 3764880), (493120, 3764880), (493000, 3765000)])
    mask = write_vector(gpd.GeoDataFrame({"name": ["farm"]}, geometry=[triangle], crs="EPSG:32611"),
                        work / "mask.gpkg")
    paths = {name: work / name for name in (
        "prompts.yaml", "model.hsigeo", "classes.tif", "confidence.tif", "probabilities.tif", "classes.gpkg",
        "vectorized.gpkg", "report", "map.png")}  # fmt: skip
    paths.update(training=training, mask=mask, triangle=triangle)
    runs = [
        {"key": "prompts", "algorithm": "hsigeo:prompts", "project_layers": [str(training)], "parameters": {
            "INPUT": str(training), "FIELD": "crop", "DESCRIPTION_FIELD": "note",
            "OUTPUT": str(paths["prompts.yaml"])}},
        {"key": "train", "algorithm": "hsigeo:train", "parameters": {
            "INPUT": str(scene.scene_path), "LABELS_VECTOR": str(training), "LABEL_FIELD": "crop",
            "PROMPTS": str(paths["prompts.yaml"]), "EPOCHS": 3, "SEED": 0, "DEVICE": 1, "THREADS": 1,
            "VAL_FRACTION": 0.0, "OUTPUT": str(paths["model.hsigeo"])}},
        {"key": "classify", "algorithm": "hsigeo:classify", "load": True, "parameters": {
            "INPUT": str(scene.scene_path), "MODEL": str(paths["model.hsigeo"]), "DEVICE": 1, "THREADS": 1,
            "EXTENT": EXTENT, "MASK": str(mask), "OUTPUT": str(paths["classes.tif"]),
            "CONFIDENCE": str(paths["confidence.tif"]), "PROBABILITIES": str(paths["probabilities.tif"]),
            "VECTOR": str(paths["classes.gpkg"])}},
        {"key": "vectorize", "algorithm": "hsigeo:vectorize", "load": True, "parameters": {
            "INPUT": str(paths["classes.tif"]), "OUTPUT": str(paths["vectorized.gpkg"])}},
        {"key": "evaluate", "algorithm": "hsigeo:evaluate", "parameters": {
            "INPUT": str(paths["classes.tif"]), "REFERENCE_VECTOR": str(training), "LABEL_FIELD": "crop",
            "PROMPTS": str(paths["prompts.yaml"]), "OUTPUT": str(paths["report"])}},
    ]  # fmt: skip
    by_hand = {name: str(paths[name]) for name in
               ("classes.tif", "confidence.tif", "probabilities.tif", "classes.gpkg", "vectorized.gpkg")}
    # the classes over the scene (QGIS's default rendering of its first bands), legend of the classes only
    render = {"layers": [str(paths["classes.tif"]), str(scene.scene_path)], "legend": [str(paths["classes.tif"])],
              "out": str(paths["map.png"]), "names": {str(paths["classes.tif"]): "Classes (hsigeo)"},
              "title": "hsigeo in QGIS: classes within an extent and a mask polygon", "page_mm": [175, 120]}
    report = drive(qgis_python, installed_plugin, work / "qgis", runs, executable=HSIGEO_CLI,
                   describe_after=by_hand, render=render, timeout=600)
    for run in report["runs"].values():
        skip_if_cli_incomplete(run)
    return report, paths


@pytest.mark.qgis
def test_prompts_from_a_categorized_geopackage_layer(layer_chain):
    report, paths = layer_chain
    run = report["runs"]["prompts"]
    assert run["ok"], run["error"]
    assert "--style" in run["commands"][0] and "--description-field note" in run["commands"][0]
    from hsigeo.text.prompts import load_prompts

    prompts = load_prompts(paths["prompts.yaml"])
    # names = the field's values, values 1..4 in the legend's order, colours from the style, prompts from
    # the description field, else the legend label
    assert [(c.value, c.name, c.colour_hex) for c in prompts.classes] == [
        (i + 1, value, colour) for i, (value, _, colour, _) in enumerate(TRAINING_STYLE)]
    assert [c.prompts for c in prompts.classes] == [
        (note or label,) for _, label, _, note in TRAINING_STYLE]


@pytest.mark.qgis
def test_train_and_classify_within_extent_and_mask(layer_chain):
    import rasterio
    from rasterio.features import geometry_mask

    report, paths = layer_chain
    for key in ("train", "classify"):
        assert report["runs"][key]["ok"], (key, report["runs"][key]["error"])
    command = report["runs"]["classify"]["commands"][0]
    assert "--extent 493010,3764890,493110,3764990,EPSG:32611" in command and f"--mask {paths['mask']}" in command
    with rasterio.open(paths["classes.tif"]) as c, rasterio.open(paths["confidence.tif"]) as f, \
            rasterio.open(paths["probabilities.tif"]) as p:
        classes, conf, probs, transform = c.read(1), f.read(1), p.read(), c.transform
        assert (c.width, c.height) == (50, 50) and (transform.c, transform.f) == (493010, 3764990)
        assert p.descriptions == tuple(name for name, *_ in TRAINING_STYLE)
    inside = geometry_mask([paths["triangle"]], out_shape=(50, 50), transform=transform, invert=True)
    assert 1000 < inside.sum() < 1500
    # outside the mask: nodata in every output; inside: a class for every pixel
    assert (classes[~inside] == 0).all() and np.isnan(conf[~inside]).all() and np.isnan(probs[:, ~inside]).all()
    assert set(np.unique(classes[inside])) <= {1, 2, 3, 4} and np.isfinite(conf[inside]).all()
    assert np.allclose(probs[:, inside].sum(axis=0), 1.0, atol=1e-4)


@pytest.mark.qgis
def test_outputs_load_styled_in_processing_and_by_hand(layer_chain):
    report, paths = layer_chain
    names = [name for name, *_ in TRAINING_STYLE]
    colours = [colour for _, _, colour, _ in TRAINING_STYLE]
    loaded = {Path(layer["source"].split("|")[0]).name: layer for layer in report["runs"]["classify"]["layers"]}
    by_hand = report["describe_after"]
    for layers in (loaded, by_hand):
        confidence, probabilities = layers["confidence.tif"], layers["probabilities.tif"]
        assert confidence["renderer"] == probabilities["renderer"] == "QgsSingleBandPseudoColorRenderer"
        assert confidence["ramp"][0] == [0.0, "#440154"] and confidence["ramp"][-1] == [1.0, "#fde725"]
        assert probabilities["band"] == 1 and probabilities["ramp"] == confidence["ramp"]
        assert [b.split(": ", 1)[-1] for b in probabilities["band_names"]] == names
        classes = layers["classes.tif"]
        assert classes["renderer"] == "QgsPalettedRasterRenderer"
        assert [(c["label"], c["color"]) for c in classes["classes"]] == list(zip(names, colours))
        # polygons: the style stored in the GeoPackage, categories in class-value order like the raster
        polygons = layers["classes.gpkg"]
        assert polygons["renderer"] == "QgsCategorizedSymbolRenderer"
        assert [(c["value"], c["label"], c["color"]) for c in polygons["classes"]] == [
            (str(i + 1), n, c) for i, (n, c) in enumerate(zip(names, colours))]
    vectorized = by_hand["vectorized.gpkg"]
    assert vectorized["renderer"] == "QgsCategorizedSymbolRenderer" and vectorized["feature_count"] > 0
    assert [c["label"] for c in vectorized["classes"]] == names

    import sqlite3

    with sqlite3.connect(paths["classes.gpkg"]) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
        contents = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("classes", "geom", 1)] and contents == [("attributes",)]
    assert 'attr="class_id"' in rows[0][3]


@pytest.mark.qgis
def test_vectorize_report_and_rendered_map(layer_chain):
    report, paths = layer_chain
    for key in ("vectorize", "evaluate"):
        assert report["runs"][key]["ok"], (key, report["runs"][key]["error"])
    accuracy = json.loads((paths["report"] / "report.json").read_text())
    assert accuracy["n_samples"] > 1000  # the training polygons inside the mask
    render = report["render"]
    assert render["status"] == 0 and paths["map.png"].stat().st_size > 5000
    from PIL import Image

    with Image.open(paths["map.png"]) as image:
        assert image.size[0] > image.size[1] > 300
        colours = {c for _, c in image.convert("RGB").getcolors(1 << 20)}
    # the class colours of the style are on the map (and in the legend)
    for _, _, colour, _ in TRAINING_STYLE:
        assert tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5)) in colours, colour


# -------------------------------------------------------------------------------------------- #
# Set up hsigeo: a dedicated environment installed offline from a folder of wheels
# -------------------------------------------------------------------------------------------- #
def write_wheel(folder: Path, name: str, version: str, files: dict[str, str], *, requires: tuple[str, ...] = (),
                entry_points: str = "") -> Path:
    """A pure-Python wheel as PEP 427 / the binary distribution format specify it (RECORD with sha256)."""
    import base64
    import hashlib

    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires)])
    members[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        members[f"{info}/entry_points.txt"] = entry_points
    record = []
    for member, text in members.items():
        data = text.encode("utf-8")
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        record.append(f"{member},sha256={digest},{len(data)}")
    members[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return path


@pytest.fixture
def wheel_folder(tmp_path):
    """A folder of wheels standing in for hsigeo's (the real one's dependencies are gigabytes):
    an ``hsigeo`` distribution whose ``hsigeo --version`` answers like the real CLI, and a dependency."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    write_wheel(folder, "hsigeo", "0.1.0", {
        "hsigeo_standin/__init__.py": (
            "import sys\nimport hsigeo_dependency\n\n"
            "def main():\n    print('hsigeo, version 0.1.0' if '--version' in sys.argv else 'stand-in')\n")},
        requires=("hsigeo-dependency>=1.0",), entry_points="[console_scripts]\nhsigeo = hsigeo_standin:main\n")
    write_wheel(folder, "hsigeo-dependency", "1.0", {"hsigeo_dependency/__init__.py": "VALUE = 1\n"})
    return folder


def load_setup_env():
    """``qgis_plugin/setup_env.py`` (standard library only) with its sibling runner.py, without QGIS."""
    import types

    package = types.ModuleType("hsigeo_qgis_pure")
    package.__path__ = [str(PLUGIN_SOURCE)]
    sys.modules["hsigeo_qgis_pure"] = package
    return importlib.import_module("hsigeo_qgis_pure.setup_env")


def test_setup_helpers_find_a_python_and_build_the_pip_command(tmp_path):
    setup_env = load_setup_env()
    python = setup_env.find_python()
    assert python is not None and setup_env.python_version(python) >= (3, 11)
    assert setup_env.python_version(str(tmp_path / "no-python")) is None
    env = tmp_path / "env"
    assert setup_env.install_command(env, wheels="/w") == [
        str(env / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
        "--upgrade", "--no-index", "--find-links", "/w", "hsigeo"]
    assert "--no-index" not in setup_env.install_command(env)
    assert setup_env.version_of("hsigeo, version 0.1.0\n") == "0.1.0" and setup_env.version_of("Usage: x") is None
    assert setup_env.default_env_dir("/p/profiles/default") == Path("/p/profiles/default/hsigeo/env")
    assert not setup_env.is_venv(tmp_path)


def test_set_up_hsigeo_offline_from_a_folder_of_wheels(run_qgis, qgis_python, wheel_folder, tmp_path):
    env_dir = tmp_path / "hsigeo env"
    program = env_dir / "bin" / "hsigeo"
    setup = {"algorithm": "hsigeo:setup", "parameters": {"WHEELS": str(wheel_folder), "ENV_DIR": str(env_dir)}}
    report = run_qgis([{"key": "install", **setup}, {"key": "again", **setup}], executable="")
    install, again = report["runs"]["install"], report["runs"]["again"]
    assert install["ok"], install["error"]
    assert install["results"] == {"EXECUTABLE": str(program), "VERSION": "0.1.0"}
    # the provider's setting now names the environment's program
    assert report["setting_after"] == str(program)
    assert (env_dir / "pyvenv.cfg").is_file()
    # pip ran offline from the folder and installed the dependency too; its output is in the log
    pip = [c for c in install["commands"] if " -m pip install " in c]
    assert pip and "--no-index" in pip[0] and str(wheel_folder) in pip[0]
    assert any("Successfully installed" in line and "hsigeo-dependency-1.0" in line for line in install["infos"])
    assert subprocess.run([str(env_dir / "bin" / "python"), "-c", "import hsigeo_dependency"]).returncode == 0
    assert install["progress"][-1] == 100
    # nothing went into QGIS's Python
    assert subprocess.run([qgis_python, "-c", "import hsigeo_standin"], capture_output=True).returncode != 0
    # a second run finds the environment and installs nothing
    assert again["ok"] and again["results"]["EXECUTABLE"] == str(program)
    assert not [c for c in again["commands"] if " -m pip " in c]
    assert any("Found hsigeo 0.1.0" in line for line in again["infos"])


def test_set_up_hsigeo_never_fills_a_folder_of_other_files(run_qgis, wheel_folder, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    report = run_qgis([{"key": "setup", "algorithm": "hsigeo:setup",
                        "parameters": {"WHEELS": str(wheel_folder), "ENV_DIR": str(folder)}}], executable="")
    run = report["runs"]["setup"]
    assert not run["ok"] and "holds files and is not a Python environment" in run["error"]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert report["setting_after"] == ""
