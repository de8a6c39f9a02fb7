"""The ``hsigeo classify``, ``hsigeo info`` and ``hsigeo vectorize`` commands."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from _inference_models import random_cube, tiny_model, write_scene
from hsigeo_cli.main import main


@pytest.fixture(autouse=True)
def _reset_progress_and_home(tmp_path, monkeypatch):
    # no test may see (or record) the user's most recent model
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    yield
    from hsigeo import progress

    progress.set_mode(None)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A scene, a model file and a prompts file naming exactly the model's classes."""
    from hsigeo.model.modelfile import save_model
    from hsigeo.text.prompts import save_prompts

    d = tmp_path_factory.mktemp("cli")
    scene = write_scene(d / "scene.tif", random_cube(40, 52, seed=21))
    model = tiny_model()
    model_path = save_model(model, d / "tiny.hsigeo")
    same = save_prompts(model.prompts, d / "same.yaml")
    named = save_prompts(dataclasses.replace(model.prompts, model_path=model_path), d / "named.yaml")
    return {"dir": d, "scene": scene, "model": model_path, "same": same, "named": named}


def _run(capsys, *argv):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_classify_all_outputs(files, tmp_path, capsys):
    code, out, err = _run(
        capsys, "--progress", "plain", "classify", str(files["scene"]), "--model", str(files["model"]),
        "--prompts", str(files["same"]), "-o", str(tmp_path / "c.tif"), "--confidence", str(tmp_path / "conf.tif"),
        "--probabilities", str(tmp_path / "p.tif"), "--vector", str(tmp_path / "c.gpkg"), "--device", "cpu",
        "--tile-size", "32", "--batch-size", "512")
    assert code == 0, err
    assert f"Model: {files['model']} (--model)" in err and "re-anchored" not in err
    assert "hsigeo-progress: 100.0" in err
    assert "Classified 52 x 40 pixels" in out and "px/s" in out
    for name in ("c.tif", "conf.tif", "p.tif", "c.gpkg", "c.qml"):
        assert (tmp_path / name).exists(), name
    with rasterio.open(tmp_path / "c.tif") as dst, rasterio.open(files["scene"]) as src:
        assert dst.crs == src.crs and dst.transform == src.transform
        assert set(np.unique(dst.read(1))) <= {10, 20, 30, 40}


def test_model_named_by_prompts(files, tmp_path, capsys):
    code, _, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]),
                        "--prompts", str(files["named"]), "-o", str(tmp_path / "c.tif"))
    assert code == 0, err
    assert "named by" in err and "tiny.hsigeo" in err


def test_last_trained_model_is_used(files, tmp_path, capsys):
    from hsigeo.model.modelfile import remember_model

    remember_model(files["model"])
    code, _, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]), "-o", str(tmp_path / "c.tif"))
    assert code == 0, err
    assert "most recent `hsigeo train` output" in err


def test_no_model_is_a_clear_error(files, tmp_path, capsys):
    code, _, err = _run(capsys, "classify", str(files["scene"]), "-o", str(tmp_path / "c.tif"))
    assert code == 2 and err.startswith("Error: no model to run") and "--model" in err


def test_existing_output_and_resume(files, tmp_path, capsys):
    args = ["--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
            "-o", str(tmp_path / "c.tif")]
    assert _run(capsys, *args)[0] == 0
    code, _, err = _run(capsys, *args)
    assert code == 2 and "exists" in err and "--overwrite" in err
    code, out, _ = _run(capsys, *args, "--resume")
    assert code == 0 and "Up to date" in out


def test_prompts_with_other_classes_reanchor(files, tmp_path, capsys):
    """Zero-shot: a prompts file with new classes re-anchors the model with the real text encoder."""
    from hsigeo.model.modelfile import save_model
    from hsigeo.text.prompts import PromptSet

    model = tiny_model(text_dim=384)  # the bundled MiniLM text encoder's width
    model_path = save_model(model, tmp_path / "m384.hsigeo")
    new = PromptSet.from_dict({"classes": [
        {"name": "Water", "value": 3, "prompts": ["a lake of open water"]},
        {"name": "Forest", "value": 7, "prompts": ["dense green forest canopy"]},
    ]})
    new.save_prompts(tmp_path / "new.yaml")
    code, out, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]), "--model", str(model_path),
                          "--prompts", str(tmp_path / "new.yaml"), "-o", str(tmp_path / "c.tif"))
    assert code == 0, err
    assert "re-anchored to the 2 classes" in err and "Water, Forest" in err
    with rasterio.open(tmp_path / "c.tif") as dst:
        assert set(np.unique(dst.read(1))) <= {3, 7}
    from hsigeo.io.writers import read_class_table

    assert [(e.value, e.name) for e in read_class_table(tmp_path / "c.tif")] == [(3, "Water"), (7, "Forest")]


def test_info_scene(files, capsys):
    code, out, err = _run(capsys, "info", str(files["scene"]))
    assert code == 0, err
    assert "52 x 40 pixels" in out and "12 bands" in out
    assert "EPSG:32611" in out and "nodata:       -9999" in out
    assert "450.0-2400.0 nm, 12 of 12 bands known" in out


def test_info_model(files, capsys):
    code, out, err = _run(capsys, "info", str(files["model"]))
    assert code == 0, err
    assert "classes:      4" in out and "class 3" in out and "9 x 9 pixels" in out
    assert "parameters:" in out and "trainable" in out and "stem_dim: 8" in out


def test_info_classification_and_vectorize(files, tmp_path, capsys):
    assert _run(capsys, "--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
                "-o", str(tmp_path / "c.tif"))[0] == 0
    code, out, _ = _run(capsys, "info", str(tmp_path / "c.tif"))
    assert code == 0 and "classes:      4" in out and "class 2" in out
    code, out, err = _run(capsys, "vectorize", str(tmp_path / "c.tif"), "-o", str(tmp_path / "v.gpkg"),
                          "--min-area", "8")
    assert code == 0, err
    import geopandas as gpd

    gdf = gpd.read_file(tmp_path / "v.gpkg")
    assert f"Wrote {len(gdf):,} polygons" in out and (gdf["area"] >= 8).all()
    assert _run(capsys, "vectorize", str(tmp_path / "c.tif"), "-o", str(tmp_path / "v.gpkg"))[0] == 2


def test_commands_import_light():
    """`hsigeo --help` and the command modules import neither torch nor the inference engine."""
    code = ("import sys, hsigeo_cli.main, hsigeo_cli.classify, hsigeo_cli.info, hsigeo_cli.vectorize; "
            "bad = [m for m in ('torch', 'hsigeo.inference.tiled', 'rasterio') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
