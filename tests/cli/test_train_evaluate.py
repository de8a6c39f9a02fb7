"""``hsigeo train`` and ``hsigeo evaluate`` end to end, without QGIS.

The session's synthetic GeoTIFF scene (48 x 56 px, 40 bands, 5 classes, UTM 11N), its label
raster and prompts; a short training run; then classify and evaluate its output.
"""

from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from hsigeo_cli.main import main

EPOCHS = 3


def _run(capsys, *argv):
    return run_in_process(capsys, "--progress", "none", *argv)


def _kappa(cm: np.ndarray) -> float:
    """Cohen's kappa from a confusion matrix (rows reference, columns predicted, then an 'other' column)."""
    c, n = cm.shape[0], cm.sum()
    po = np.trace(cm[:, :c]) / n
    pe = float((cm.sum(axis=1) * cm[:, :c].sum(axis=0)).sum()) / n**2
    return (po - pe) / (1 - pe)


def _check_report(report: dict) -> np.ndarray:
    """OA, AA and kappa of a report.json agree with its own confusion matrix; returns the matrix."""
    cm = np.asarray(report["confusion_matrix"]["counts"], dtype=np.int64)
    c = len(report["classes"])
    assert cm.shape == (c, c + 1) and cm.sum() == report["n_samples"]
    assert report["overall_accuracy"] == pytest.approx(np.trace(cm[:, :c]) / cm.sum())
    assert report["kappa"] == pytest.approx(_kappa(cm))
    recall = [cm[i, i] / cm[i].sum() for i in range(c) if cm[i].sum()]
    assert report["average_accuracy"] == pytest.approx(np.mean(recall))
    assert [row["support"] for row in report["classes"]] == cm.sum(axis=1).tolist()
    return cm


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _isolated_home(home, monkeypatch):
    monkeypatch.setenv("HSIGEO_HOME", str(home))
    yield
    from hsigeo import progress

    progress.set_mode(None)


@pytest.fixture(scope="module")
def trained(synthetic_scene, tmp_path_factory, home):
    """`hsigeo train` on 30 % of the labels (the rest scores the report)."""
    d = tmp_path_factory.mktemp("train")
    # the synthetic crop has no labelled Water pixel: training says so and goes on
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setenv("HSIGEO_HOME", str(home))
        main(["--progress", "none", "train", str(synthetic_scene.scene_path),
              "--labels", str(synthetic_scene.labels_path), "--prompts", str(synthetic_scene.prompts_path),
              "-o", str(d / "m.hsigeo"), "--train-fraction", "0.3", "--epochs", str(EPOCHS), "--seed", "0",
              "--device", "cpu"])
    # the CLI shows warnings as one `Warning:` line
    assert re.search(r"Warning: .*class\(es\) \['Water'\]", err.getvalue())
    return d


def test_train_writes_model_with_the_scene_classes_and_bands(trained, synthetic_scene, synthetic_scene_kw):
    from hsigeo.model.modelfile import read_metadata

    meta = read_metadata(trained / "m.hsigeo")
    assert [(c["value"], c["name"]) for c in meta["classes"]] == [(c.value, c.name) for c in synthetic_scene.classes]
    assert [tuple(c["colour"]) for c in meta["classes"]] == [tuple(c.colour) for c in synthetic_scene.classes]
    assert meta["n_bands"] == synthetic_scene_kw["bands"]
    np.testing.assert_allclose(meta["wavelengths"], synthetic_scene.wavelengths, atol=1e-3)
    cfg = meta["training"]["config"]
    assert cfg["epochs"] == EPOCHS and cfg["seed"] == 0 and meta["training"]["epochs_run"] == EPOCHS
    # hsigeo train's default: the network and the SVM, averaged (the network's own metadata inside)
    assert meta["model_type"] == "ensemble" and cfg["method"] == cfg["method_used"] == "ensemble"
    net = meta["network"]
    assert meta["svm"]["n_support"] > 0 and meta["svm_weight"] == 0.5 and net["spatial_filter"] is None
    # the scene has wavelengths: --init auto added the base model's 64 input channels
    assert cfg["init"] == "auto" and cfg["init_used"] == "base" and net["prior"]["dim"] == 64
    assert net["backbone"]["n_bands"] == synthetic_scene_kw["bands"] + 64 and net["backbone"]["width"] == cfg["width"]


def test_train_report_is_consistent(trained, synthetic_scene):
    from hsigeo.io.labels import read_labels
    from hsigeo.io.raster import open_hsi
    from hsigeo.model.modelfile import read_metadata
    from hsigeo.sampling.splits import stratified_split

    report = json.loads((trained / "m_report" / "report.json").read_text(encoding="utf-8"))
    _check_report(report)
    labels = read_labels(synthetic_scene.labels_path, like=open_hsi(synthetic_scene.scene_path)).values
    train_mask, test_mask = stratified_split(labels, fraction=0.3, seed=0)
    extra = report["extra"]
    assert extra["train_pixels"] == int(train_mask.sum()) and extra["test_pixels"] == int(test_mask.sum())
    assert report["n_samples"] == int(test_mask.sum())  # held-out pixels only
    training = read_metadata(trained / "m.hsigeo")["training"]
    assert training["n_train"] + training["n_val"] == int(train_mask.sum())
    # validation (10 %) is all or nothing: held out only when every class gives >= 10 pixels
    per_class = np.bincount(labels[train_mask])
    every_class_validates = all(round(0.1 * n) >= 10 for n in per_class[per_class > 0])
    assert (training["n_val"] > 0) == every_class_validates
    assert report["overall_accuracy"] > 0.5  # five classes: chance is 0.2
    for name in ("report.md", "confusion.png", "classmap.png", "training_curve.png"):
        assert (trained / "m_report" / name).stat().st_size > 100, name


def test_train_refuses_existing_output(trained, synthetic_scene, capsys):
    code, _, err = _run(capsys, "train", str(synthetic_scene.scene_path), "--labels", str(synthetic_scene.labels_path),
                        "--prompts", str(synthetic_scene.prompts_path), "-o", str(trained / "m.hsigeo"))
    assert code == 2 and err.startswith("Error: ") and "m.hsigeo" in err and "--overwrite" in err


def test_classify_last_model_then_evaluate(trained, synthetic_scene, tmp_path, capsys):
    from hsigeo_cli.state import last_model_path

    assert last_model_path() == (trained / "m.hsigeo").resolve()  # train remembered it
    code, _, err = _run(capsys, "classify", str(synthetic_scene.scene_path), "-o", str(tmp_path / "c.tif"),
                        "--device", "cpu")
    assert code == 0, err
    assert "most recent `hsigeo train` output" in err
    with rasterio.open(tmp_path / "c.tif") as dst, rasterio.open(synthetic_scene.scene_path) as src:
        assert dst.crs == src.crs and dst.crs.to_epsg() == 32611 and dst.transform == src.transform
        pred = dst.read(1)
    with rasterio.open(synthetic_scene.labels_path) as lab:
        ref = lab.read(1)

    code, out, err = _run(capsys, "evaluate", str(tmp_path / "c.tif"), "--reference",
                          str(synthetic_scene.labels_path), "-o", str(tmp_path / "report"))
    assert code == 0, err
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    cm = _check_report(report)
    scored = ref > 0
    assert report["n_samples"] == int(scored.sum())
    assert report["overall_accuracy"] == pytest.approx(np.mean(pred[scored] == ref[scored]))
    assert [row["value"] for row in report["classes"]] == [c.value for c in synthetic_scene.classes]
    assert f"{report['n_samples']:,} reference pixels: OA {100 * report['overall_accuracy']:.2f} %" in out
    assert f"kappa {report['kappa']:.4f}" in out
    for i, c in enumerate(synthetic_scene.classes):
        assert cm[i].sum() == int((ref == c.value).sum())

    code, _, err = _run(capsys, "evaluate", str(tmp_path / "c.tif"), "--reference",
                        str(synthetic_scene.labels_path), "-o", str(tmp_path / "report"))
    assert code == 2 and "exists" in err and "--overwrite" in err


def test_train_init_base_adds_the_base_embedding_and_info_says_so(synthetic_scene, synthetic_scene_kw, tmp_path,
                                                                   capsys):
    from hsigeo.model.base import shipped_base_path
    from hsigeo.model.modelfile import read_metadata

    if not shipped_base_path().is_file():
        pytest.skip("base model not built (python scripts/build_base_model.py)")
    out = tmp_path / "b.hsigeo"
    code, _, err = _run(capsys, "train", str(synthetic_scene.scene_path), "--labels", str(synthetic_scene.labels_path),
                        "--prompts", str(synthetic_scene.prompts_path), "-o", str(out), "--train-fraction", "0.3",
                        "--epochs", "2", "--init", "base", "--method", "net", "--device", "cpu")
    assert code == 0, err
    meta = read_metadata(out)
    bands = synthetic_scene_kw["bands"]
    assert meta["n_bands"] == bands and meta["backbone"]["n_bands"] == bands + 64
    assert meta["training"]["config"]["init"] == "base" and meta["prior"]["binding"]["n_bands"] == bands
    code, text, _ = _run(capsys, "info", str(out))
    assert code == 0 and "64 channels of the base model's embedding" in text


def test_evaluate_on_unknown_drop_leaves_out_classes_not_in_the_table(trained, synthetic_scene, tmp_path, capsys):
    import geopandas as gpd
    from shapely.geometry import box

    code, _, err = _run(capsys, "classify", str(synthetic_scene.scene_path), "--model", str(trained / "m.hsigeo"),
                        "-o", str(tmp_path / "c.tif"), "--device", "cpu")
    assert code == 0, err
    with rasterio.open(tmp_path / "c.tif") as src:
        left, bottom, right, top = src.bounds
        res = src.res[0]
    known = synthetic_scene.classes[0].name
    # two reference polygons of 10 x 10 pixels on the pixel grid: a class of the table and one it lacks
    cells = [box(left + 10 * res, top - 20 * res, left + 20 * res, top - 10 * res),
             box(left + 30 * res, top - 20 * res, left + 40 * res, top - 10 * res)]
    reference = tmp_path / "reference.gpkg"
    gpd.GeoDataFrame({"crop": [known, "Asphalt"]}, geometry=cells, crs=src.crs).to_file(reference, layer="reference")

    argv = ["evaluate", str(tmp_path / "c.tif"), "--reference", str(reference), "--label-field", "crop"]
    code, _, err = _run(capsys, *argv, "-o", str(tmp_path / "strict"))
    assert code == 2 and "'Asphalt'" in err and "--on-unknown drop" in err
    assert not (tmp_path / "strict").exists()

    code, out, err = _run(capsys, *argv, "--on-unknown", "drop", "-o", str(tmp_path / "report"))
    assert code == 0, err
    assert "Left out the reference pixels of 1 class(es) not in the class table: 'Asphalt'" in err
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["n_samples"] == 100  # the known polygon only
