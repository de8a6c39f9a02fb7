"""The ``hsigeo classify``, ``hsigeo info`` and ``hsigeo vectorize`` commands."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process as _run
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


def test_classify_all_outputs(files, tmp_path, capsys):
    code, out, err = _run(
        capsys, "--progress", "plain", "classify", str(files["scene"]), "--model", str(files["model"]),
        "--prompts", str(files["same"]), "-o", str(tmp_path / "c.tif"), "--confidence", str(tmp_path / "conf.tif"),
        "--probabilities", str(tmp_path / "p.tif"), "--vector", str(tmp_path / "c.gpkg"), "--device", "cpu",
        "--tile-size", "32", "--batch-size", "512", "--margin")
    assert code == 0, err
    assert f"margin        {tmp_path / 'c_margin.tif'}" in out  # --margin alone: named after the class map
    assert f"Model: {files['model']} (--model)" in err and "re-anchored" not in err
    assert "hsigeo-progress: 100.0" in err
    assert "Classified 52 x 40 pixels" in out and "px/s" in out
    with rasterio.open(tmp_path / "c.tif") as dst, rasterio.open(files["scene"]) as src:
        assert dst.crs == src.crs and dst.transform == src.transform
        classes = dst.read(1)
        assert set(np.unique(classes)) <= {10, 20, 30, 40}
        grid = (src.crs, src.transform, src.width, src.height)
    with rasterio.open(tmp_path / "conf.tif") as conf_ds, rasterio.open(tmp_path / "p.tif") as p_ds:
        for ds in (conf_ds, p_ds):
            assert (ds.crs, ds.transform, ds.width, ds.height) == grid
        conf, probs, names = conf_ds.read(1), p_ds.read(), p_ds.descriptions
    assert probs.shape == (4, 40, 52) and names == ("class 1", "class 2", "class 3", "class 4")
    valid = classes > 0
    np.testing.assert_allclose(probs[:, valid].sum(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(conf[valid], probs[:, valid].max(axis=0), atol=1e-6)
    np.testing.assert_array_equal(np.array([10, 20, 30, 40])[probs[:, valid].argmax(axis=0)], classes[valid])
    with rasterio.open(tmp_path / "c_margin.tif") as m_ds:
        margin = m_ds.read(1)
        assert (m_ds.crs, m_ds.transform, m_ds.width, m_ds.height) == grid
    top2 = np.sort(probs[:, valid], axis=0)[-2:]
    np.testing.assert_allclose(margin[valid], top2[1] - top2[0], atol=1e-5)
    import geopandas as gpd

    polygons = gpd.read_file(tmp_path / "c.gpkg")
    assert polygons.crs == grid[0] and set(polygons["class_id"]) == set(np.unique(classes[valid]).tolist())
    assert polygons["area"].sum() == pytest.approx(4.0 * valid.sum())  # 2 m pixels
    qml = (tmp_path / "c.qml").read_text(encoding="utf-8")
    assert all(f'value="{v}"' in qml for v in (10, 20, 30, 40)) and "class 4" in qml


def test_model_named_by_prompts(files, tmp_path, capsys):
    code, _, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]),
                        "--prompts", str(files["named"]), "-o", str(tmp_path / "c.tif"))
    assert code == 0, err
    assert "named by" in err and "tiny.hsigeo" in err


def test_last_trained_model_is_used(files, tmp_path, capsys):
    from hsigeo_cli.state import remember_model

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
    from hsigeo.io.classmaps import read_class_table

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
    assert "classes:      4" in out and "class 3" in out and "9 x 9 pixels" in out and "5-pixel halo" in out
    assert "edge-aware, 3 x 3 neighbourhood" in out
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

    gdf = gpd.read_file(tmp_path / "v.gpkg", layer="v")
    assert f"Wrote {len(gdf):,} polygons" in out and (gdf["area"] >= 8).all()
    assert _run(capsys, "vectorize", str(tmp_path / "c.tif"), "-o", str(tmp_path / "v.gpkg"))[0] == 2


def test_commands_import_light():
    """`hsigeo --help` and the command modules import neither torch nor the inference engine."""
    code = ("import sys, hsigeo_cli.main, hsigeo_cli.classify, hsigeo_cli.info, hsigeo_cli.vectorize; "
            "bad = [m for m in ('torch', 'hsigeo.inference.tiled', 'rasterio') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# -------------------------------------------------------------------------------------------- #
# extent, mask, resampling
# -------------------------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def full_run(files, tmp_path_factory):
    """Classes and confidence of the whole scene (the reference for partial runs)."""
    d = tmp_path_factory.mktemp("full")
    assert main_ok("--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
                   "-o", str(d / "c.tif"), "--confidence", str(d / "conf.tif"), "--tile-size", "16")
    with rasterio.open(d / "c.tif") as c:
        return c.read(1), c.transform


def main_ok(*argv: str) -> bool:
    try:
        main(list(argv))
    except SystemExit as exc:
        return exc.code == 0
    return True


def test_extent_and_mask(files, full_run, tmp_path, capsys):
    """Outputs cover the mask's box within the extent; outside the polygon pixels are nodata; inside they equal a full run."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    full, full_transform = full_run
    # scene: 52 x 40 px of 2 m from (500000, 4000000); the extent is columns 5..24, rows 15..34, the
    # triangle's box columns 6..23, rows 16..33 (a polygon reaching past the extent is cut to it)
    extent = "500010,3999930,500050,3999970"
    triangle = Polygon([(500012, 3999932), (500048, 3999932), (500030, 3999968)])
    gpd.GeoDataFrame({"id": [1]}, geometry=[triangle], crs="EPSG:32611").to_file(tmp_path / "mask.gpkg")
    code, out, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
                          "-o", str(tmp_path / "c.tif"), "--confidence", str(tmp_path / "conf.tif"),
                          "--extent", extent, "--mask", str(tmp_path / "mask.gpkg"), "--tile-size", "16")
    assert code == 0, err
    assert "Classified 18 x 18 pixels" in out
    with rasterio.open(tmp_path / "c.tif") as c, rasterio.open(tmp_path / "conf.tif") as f:
        classes, conf, transform = c.read(1), f.read(1), c.transform
        assert (c.width, c.height) == (18, 18) and (transform.c, transform.f) == (500012, 3999968)
        assert f.transform == transform and c.crs == "EPSG:32611"
    from rasterio.features import geometry_mask

    inside = geometry_mask([triangle], out_shape=(18, 18), transform=transform, invert=True)
    assert 100 < inside.sum() < 250 and (~inside).sum() > 50
    assert (classes[~inside] == 0).all() and np.isnan(conf[~inside]).all()
    # the halo comes from the real scene around the region: the same classes as the whole-scene run
    assert np.array_equal(classes[inside], full[16:34, 6:24][inside])
    assert np.isfinite(conf[inside]).all()

    # an extent in another CRS is reprojected; one off the scene is a clear error
    code, _, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
                        "-o", str(tmp_path / "far.tif"), "--extent", "10,50,11,51,EPSG:4326")
    assert code == 2 and "does not overlap" in err and "scene bounds 500000,3999920,500104,4000000" in err


def test_mask_skips_windows_it_misses(files, full_run, tmp_path, capsys):
    import geopandas as gpd
    from shapely.geometry import box

    # a small square in the top-left corner: the output covers only its bounding box
    square = box(500000, 3999990, 500010, 4000000)
    gpd.GeoDataFrame({"id": [1]}, geometry=[square], crs="EPSG:32611").to_file(tmp_path / "m.gpkg")
    code, out, err = _run(capsys, "--progress", "none", "classify", str(files["scene"]), "--model", str(files["model"]),
                          "-o", str(tmp_path / "c.tif"), "--mask", str(tmp_path / "m.gpkg"))
    assert code == 0, err
    with rasterio.open(tmp_path / "c.tif") as c:
        assert (c.width, c.height) == (5, 5)
        assert np.array_equal(c.read(1), full_run[0][:5, :5])


def _shifted_scene(path, shift_nm: float, wavelengths=None):
    """The test scene with other band centres (the same pixel values)."""
    from _inference_models import WAVELENGTHS

    wl = WAVELENGTHS + shift_nm if wavelengths is None else np.asarray(wavelengths)
    cube = random_cube(40, 52, seed=21)[: wl.size] if wl.size <= 12 else None
    if cube is None:
        cube = np.repeat(random_cube(40, 52, seed=21), 2, axis=0)[: wl.size]
    write_scene(path, cube)
    with rasterio.open(path, "r+") as dst:
        for b in range(wl.size):
            dst.update_tags(b + 1, wavelength=f"{wl[b]:.3f}", wavelength_units="nm")
    return path


def test_resample_shifted_band_centres(files, tmp_path, capsys):
    """Band centres 60 nm off: refused without --resample; with it, tiled equals in-memory resampling."""
    from hsigeo.inference.core import classify_array
    from hsigeo.io.raster import open_hsi
    from hsigeo.model.modelfile import load_model

    scene = _shifted_scene(tmp_path / "shifted.tif", 60.0)
    args = ["--progress", "none", "classify", str(scene), "--model", str(files["model"]), "--tile-size", "16"]
    code, _, err = _run(capsys, *args, "-o", str(tmp_path / "no.tif"))
    assert code == 2 and "differ from the model's by up to 60.0 nm" in err and "--resample" in err
    assert "model.resample_to_model" not in err

    code, out, err = _run(capsys, *args, "-o", str(tmp_path / "c.tif"), "--resample")
    assert code == 0, err
    assert "not covered" not in err  # a 60 nm shift of 177 nm bands: every model band is covered
    model = load_model(files["model"])
    resampled = model.resample_to_model(open_hsi(scene))
    want, _ = classify_array(resampled.values, model)
    with rasterio.open(tmp_path / "c.tif") as c:
        got = c.read(1)
    assert np.array_equal(got, want)
    with rasterio.open(tmp_path / "c.tif") as c:
        assert '"resampled": true' in c.tags()["HSIGEO_RUN"]


def test_resample_partial_coverage_warns_and_rgb_is_refused(files, tmp_path, capsys):
    from _inference_models import WAVELENGTHS

    # the first 8 of the 12 model bands (450-1690 nm): the top 4 are beyond reach
    partial = _shifted_scene(tmp_path / "partial.tif", 0.0, wavelengths=WAVELENGTHS[:8])
    code, out, err = _run(capsys, "--progress", "none", "classify", str(partial), "--model",
                          str(files["model"]), "-o", str(tmp_path / "p.tif"), "--resample")
    assert code == 0, err
    # the CLI shows warnings as one `Warning:` line each
    message = "\n".join(line for line in err.splitlines() if line.startswith("Warning: "))
    # bands within one model band step (177 nm) of the scene's last band count; beyond, not
    assert "covers 67% of the model's 12 bands (450-2400 nm) from 8 scene bands (450-1691 nm)" in message
    assert "not covered: 1868-2400 nm" in message
    with rasterio.open(tmp_path / "p.tif") as c:
        assert set(np.unique(c.read(1))) <= {10, 20, 30, 40}

    rgb = _shifted_scene(tmp_path / "rgb.tif", 0.0, wavelengths=[480.0, 560.0, 660.0])
    code, _, err = _run(capsys, "--progress", "none", "classify", str(rgb), "--model", str(files["model"]),
                        "-o", str(tmp_path / "rgb_classes.tif"), "--resample")
    error = err.splitlines()[-1]
    assert code == 2 and error.startswith("Error: ") and "rgb.tif" in error
    assert "cover only 25% of the model's 12 bands" in err and "at least 50%" in err
    assert not (tmp_path / "rgb_classes.tif").exists()
