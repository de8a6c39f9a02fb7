"""Packaging: what a user gets from the wheel, outside the Makefile and this venv.

The wheel test builds the sdist and the wheel from it (``python -m build``, as
``make dist`` does), installs the wheel with ``pip --no-deps`` into a fresh
virtual environment, and makes this venv's site-packages visible there through
a ``.pth`` line, so the dependencies (torch, GDAL...) need not be installed a
second time.  That line only appends a folder to ``sys.path``: the ``.pth``
files inside it (this venv's editable install of hsigeo) are not run, so the
``hsigeo`` imported there is the wheel's, which the test checks.
"""

from __future__ import annotations

import configparser
import os
import pydoc
import re
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import hsigeo

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_in_pyproject():
    # the package list is written by hand (hsigeo_cli is mapped from cli/): a forgotten
    # subpackage would be missing from the wheel although every test here passes
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(d.relative_to(REPO).parts) for d in (REPO / "hsigeo").rglob("*")
             if d.is_dir() and d.name != "__pycache__" and any(f.is_file() for f in d.iterdir())}
    found.add("hsigeo")
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == {"hsigeo_cli"}


def test_versions_agree():
    plugin = configparser.ConfigParser(interpolation=None)
    plugin.read(REPO / "qgis_plugin" / "metadata.txt", encoding="utf-8")
    citation = re.search(r"^version:\s*(\S+)", (REPO / "CITATION.cff").read_text(encoding="utf-8"), re.M)
    version = PYPROJECT["project"]["version"]
    assert hsigeo.__version__ == version
    assert plugin["general"]["version"] == version
    assert citation and citation.group(1) == version
    assert f"## [{version}]" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")


def test_licence_is_declared_once_and_shipped():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # PEP 639: the SPDX string only
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert licence == (REPO / "qgis_plugin" / "LICENSE").read_text(encoding="utf-8")


def test_dir_and_help_show_the_public_api():
    names = dir(hsigeo)
    for name in ("HsigeoClassifier", "open_hsi", "write_hsi", "load_model", "save_model", "classify_raster",
                 "load_prompts", "load_dataset", "make_synthetic_scene", "HsigeoError", "__version__"):
        assert name in names and name in hsigeo.__all__
        assert getattr(hsigeo, name) is not None
    text = pydoc.render_doc(hsigeo, renderer=pydoc.plaintext)
    for name in ("HsigeoClassifier", "open_hsi", "write_hsi", "load_model"):
        assert name in text


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env() -> dict[str, str]:
    """This environment without the variables that would point a child at this venv."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.mark.slow  # about 20 s of CPU, over a minute on a busy machine (build isolation, a venv)
def test_built_wheel_installs_into_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    build = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], env=_clean_env())
    output = build.stdout + build.stderr
    # the setuptools warnings a user saw on every install
    assert "would be ignored" not in output
    assert "project.license` as a TOML table is deprecated" not in output
    version = hsigeo.__version__
    wheel = dist / f"hsigeo-{version}-py3-none-any.whl"
    sdist = dist / f"hsigeo-{version}.tar.gz"
    assert wheel.is_file() and sdist.is_file()

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"hsigeo-{version}.dist-info/METADATA").decode("utf-8")
    assert f"hsigeo-{version}.dist-info/licenses/LICENSE" in names
    for shipped in ("hsigeo/py.typed", "hsigeo/data/base_model.hsigeo", "hsigeo/data/demo_spectra.json",
                    "hsigeo/data/prompts/salinas_a.yaml", "hsigeo/data/merges/salinas_a_coarse.yaml",
                    "hsigeo_cli/main.py", "hsigeo/model/base.py"):
        assert shipped in names, shipped
    assert not any(n.startswith(("tests/", "cli/", "qgis_plugin/", "benchmarks/")) for n in names)
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    with tarfile.open(sdist) as archive:
        assert f"hsigeo-{version}/LICENSE" in archive.getnames()

    venv = tmp_path / "fresh venv"  # a space in the path, as on many Windows and macOS homes
    _run([sys.executable, "-m", "venv", str(venv)], env=_clean_env())
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
         env=_clean_env())
    site = Path(_run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     env=_clean_env()).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")

    env = _clean_env() | {"HSIGEO_PROGRESS": "none"}
    cli = bin_dir / "hsigeo"
    help_text = _run([str(cli), "demo", "--help"], cwd=tmp_path, env=env).stdout
    assert "Usage: hsigeo demo" in help_text
    assert _run([str(cli), "--version"], cwd=tmp_path, env=env).stdout.strip().endswith(version)
    check = (
        "import importlib.metadata as m, importlib.resources as r, hsigeo; "
        "print(hsigeo.__file__); print(hsigeo.__version__, m.version('hsigeo')); "
        "print(r.files('hsigeo').joinpath('py.typed').is_file()); "
        "print(hsigeo.HsigeoClassifier.__name__, hsigeo.write_hsi.__name__)"
    )
    lines = _run([str(bin_dir / "python"), "-c", check], cwd=tmp_path, env=env).stdout.splitlines()
    assert Path(lines[0]).is_relative_to(site), "hsigeo was imported from somewhere else than the wheel"
    assert lines[1:] == [f"{version} {version}", "True", "HsigeoClassifier write_hsi"]


@pytest.mark.parametrize("name", ["LICENSE", "CHANGELOG.md", "CITATION.cff", "RELEASING.md"])
def test_release_files_exist(name):
    assert (REPO / name).read_text(encoding="utf-8").strip()


def test_citation_names_the_method_paper():
    text = (REPO / "CITATION.cff").read_text(encoding="utf-8")
    assert "arXiv:2509.22697" in text and "cff-version: 1.2.0" in text
    assert "Learning Hyperspectral Images with Curated Text Prompts for Efficient Multimodal Alignment" in text
