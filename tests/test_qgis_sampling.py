"""QGIS algorithms "Create sample design" and "Accuracy and area report", in a real headless QGIS.

The same machinery as ``tests/test_qgis_plugin.py`` (QGIS's own Python runs
``tests/qgis/driver.py``; the real ``hsigeo`` of this venv is the CLI): draw a
sample, check that the loaded layer is styled by map class and offers the class
names to label the ``reference`` field, label it from the scene's truth, then
run the report and check its files and figures.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.test_sample_evaluate import CLASSES, label, make_area_scene
from tests.test_qgis_plugin import (  # noqa: F401 - fixtures
    HSIGEO_CLI,
    installed_plugin,
    plugin_zip,
    qgis_python,
    require_cli,
    run_qgis,
    skip_if_cli_incomplete,
)

pytestmark = pytest.mark.qgis


def test_sample_design_and_area_report_in_qgis(run_qgis, tmp_path):  # noqa: F811 - the imported fixture
    require_cli("sample", "evaluate")
    mapped, truth = make_area_scene(tmp_path)
    classes, sample = tmp_path / "classes.tif", tmp_path / "sample.gpkg"
    runs = [{"key": "sample", "algorithm": "hsigeo:sample", "load": True, "parameters": {
        "INPUT": str(classes), "N": 240, "MIN_PER_CLASS": 30, "ALLOCATION": 0, "DESIGN": 0, "SEED": 5,
        "OUTPUT": str(sample)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI, describe_after={"sample": str(sample)})
    run = report["runs"]["sample"]
    skip_if_cli_incomplete(run)
    assert run["ok"], run["error"]
    assert run["commands"][0].endswith(
        f"sample {classes} -o {sample} --n 240 --min-per-class 30 --allocation proportional --design stratified "
        "--expected-accuracy 0.85 --seed 5 --overwrite")
    for layer in (run["layers"][0], report["describe_after"]["sample"]):  # loaded by Processing, added by hand
        assert layer["feature_count"] == 240 and layer["crs"] == "EPSG:32633"
        assert layer["renderer"] == "QgsCategorizedSymbolRenderer"
        assert [c["label"] for c in layer["classes"]] == list(CLASSES.values())
        assert layer["widgets"]["reference"] == "ValueMap"
        entries = {k: v for item in layer["widget_config"]["reference"]["map"] for k, v in item.items()}
        assert {name: int(value) for name, value in entries.items() if name in CLASSES.values()} == {
            v: k for k, v in CLASSES.items()}
    label(sample, truth)
    out = tmp_path / "report"
    runs = [{"key": "report", "algorithm": "hsigeo:area_report", "parameters": {
        "INPUT": str(classes), "REFERENCE": str(sample), "OUTPUT": str(out)}}]  # fmt: skip
    report = run_qgis(runs, executable=HSIGEO_CLI)
    run = report["runs"]["report"]
    assert run["ok"], run["error"]
    assert run["commands"][0].endswith(f"evaluate {classes} --reference {sample} --label-field reference -o {out} "
                                       "--overwrite")
    for key, name in (("REPORT_HTML", "report.html"), ("REPORT_JSON", "report.json"), ("AREA_PLOT", "area.png"),
                      ("ERROR_MATRIX", "error_matrix.png")):
        assert run["results"][key] == str(out / name) and (out / name).stat().st_size > 0
    data = json.loads((out / "report.json").read_text())
    assert data["design"] == "stratified" and data["n_sample"] == 240
    oa = float(np.mean(mapped[mapped > 0] == truth[mapped > 0]))
    assert data["overall_accuracy"]["ci95_low"] <= oa <= data["overall_accuracy"]["ci95_high"]
    assert sum(r["area"]["estimate"] for r in data["classes"]) == pytest.approx(int((mapped > 0).sum()) * 0.01)
