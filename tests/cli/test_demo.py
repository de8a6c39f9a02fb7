"""The main job end to end: `hsigeo demo` on the synthetic scene writes georeferenced outputs."""

import geopandas as gpd
import numpy as np
import rasterio
from hsigeo_cli.demo_chain import run_demo
from hsigeo_cli.main import main

from hsigeo.text.prompts import load_prompts


def test_demo_chain_outputs(tmp_path):
    result = run_demo(tmp_path / "demo", size=(72, 90), bands=60, epochs=4, device="cpu")
    prompts = load_prompts(result.prompts)
    with rasterio.open(result.scene) as scene, rasterio.open(result.classes) as classes:
        assert classes.crs == scene.crs and classes.crs.to_epsg() == 32611
        assert classes.transform == scene.transform and classes.shape == scene.shape
        values = np.unique(classes.read(1))
        assert set(values.tolist()) <= {0, *prompts.values}
        cmap = classes.colormap(1)
        for c in prompts.classes:
            assert cmap[c.value][:3] == c.colour
    polygons = gpd.read_file(result.polygons, layer=result.polygons.stem)
    assert len(polygons) == result.n_polygons > 0
    assert set(polygons["class_name"]) <= set(prompts.names)
    assert polygons.crs.to_epsg() == 32611
    assert result.overall_accuracy > 0.9  # six well-separated classes: far above chance (1/6)
    import json

    report = json.loads((result.report_dir / "report.json").read_text(encoding="utf-8"))
    assert report["overall_accuracy"] == result.overall_accuracy and report["kappa"] == result.kappa
    cm = np.asarray(report["confusion_matrix"]["counts"])
    assert report["overall_accuracy"] == np.trace(cm[:, : cm.shape[0]]) / cm.sum()
    for name in ("confusion.png", "classmap.png", "training_curve.png"):
        assert (result.report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # prompt-only step: the shipped base model on class spectra held out of its pretraining
    assert result.zero_shot_accuracy is not None and result.zero_shot_accuracy > 0.8
    assert result.zero_shot_classes.is_file()


def test_demo_cli_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "d"
    (out / "scene").mkdir(parents=True)
    (out / "scene" / "scene.tif").write_bytes(b"x")
    for extra in ([], ["--overwrite"]):  # a folder hsigeo did not write is never used, even with --overwrite
        try:
            main(["--progress", "none", "demo", "--out", str(out), "--epochs", "1", *extra])
        except SystemExit as exc:
            assert exc.code == 2
        err = capsys.readouterr().err
        assert "Error:" in err and str(out) in err and "did not write" in err and "overwrite" in err
        assert (out / "scene" / "scene.tif").read_bytes() == b"x"
