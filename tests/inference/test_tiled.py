"""hsigeo.inference.tiled: windowed streaming classification equals whole-scene inference."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import rasterio
from _inference_models import NODATA, assert_same_classes, random_cube, tiny_model, write_scene

from hsigeo.errors import BandMismatchError, OutputExistsError, RasterReadError
from hsigeo.inference.core import class_values, predict_proba_array, to_class_map
from hsigeo.inference.tiled import RUN_TAG, classify_raster
from hsigeo.sampling.windows import plan_windows, reflect_indices

H, W = 157, 203  # not a multiple of the tile size


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def cube():
    c = random_cube(H, W, seed=1)
    c[:, 10:14, 20:31] = NODATA  # a nodata patch
    c[5, 100, 150] = NODATA  # one band's nodata makes the pixel nodata
    c[:, :, 0] = NODATA  # a nodata column on the scene edge (reflection must copy it)
    return c


@pytest.fixture(scope="module")
def scene(tmp_path_factory, cube):
    return write_scene(tmp_path_factory.mktemp("scene") / "scene.tif", cube)


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    """A quick scene for tests about files rather than values."""
    return write_scene(tmp_path_factory.mktemp("small") / "small.tif", random_cube(40, 48, seed=6))


@pytest.fixture(scope="module")
def reference(cube, model):
    """Whole-scene in-memory probabilities (NaN at nodata)."""
    return predict_proba_array(cube, model, nodata=NODATA)


@pytest.fixture(scope="module")
def tiled_run(tmp_path_factory, scene, model):
    out = tmp_path_factory.mktemp("tiled")
    result = classify_raster(scene, model, out / "classes.tif", confidence_path=out / "conf.tif",
                             probabilities_path=out / "probs.tif", tile_size=64, device="cpu", progress=False)
    return result, out


def _read(path):
    with rasterio.open(path) as src:
        return src.read(), src.profile, src


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
def test_reflect_indices_match_numpy_reflect(n):
    pad = 9  # wider than small axes: numpy reflects repeatedly, so must we
    want = np.pad(np.arange(n), pad, mode="reflect") if n > 1 else np.zeros(n + 2 * pad, dtype=int)
    np.testing.assert_array_equal(reflect_indices(-pad, n + pad, n), want)


def test_windows_cover_scene_once():
    wins = plan_windows(H, W, 64)
    cover = np.zeros((H, W), int)
    for r, c, h, w in wins:
        cover[r:r + h, c:c + w] += 1
    assert (cover == 1).all() and len(wins) == 3 * 4


def test_tiled_equals_whole_scene(tiled_run, reference, model):
    result, out = tiled_run
    want_classes, want_conf = to_class_map(reference, class_values(model), dtype=np.uint8)
    (classes,), prof, _ = _read(out / "classes.tif")
    assert_same_classes(classes, want_classes, reference)
    probs, _, _ = _read(out / "probs.tif")
    np.testing.assert_allclose(probs, reference, atol=1e-5, equal_nan=True)
    (conf,), _, _ = _read(out / "conf.tif")
    np.testing.assert_allclose(conf, want_conf, atol=1e-5, equal_nan=True)
    assert len(np.unique(classes)) > 2  # the check means something only when classes vary
    assert result.n_windows == 12 and (result.width, result.height) == (W, H)
    assert result.n_valid == int((classes != 0).sum()) == sum(result.class_counts.values())


def test_tile_size_does_not_change_result(tmp_path, small_scene, model):
    with rasterio.open(small_scene) as src:
        want = predict_proba_array(src.read(), model, nodata=NODATA)
    for tile in (7, 16, 100):
        classify_raster(small_scene, model, tmp_path / f"c{tile}.tif", probabilities_path=tmp_path / f"p{tile}.tif",
                        tile_size=tile, progress=False)
        got, _, _ = _read(tmp_path / f"p{tile}.tif")
        np.testing.assert_allclose(got, want, atol=1e-5, equal_nan=True)


def test_nodata_stays_nodata(tiled_run, cube):
    _, out = tiled_run
    invalid = (cube == NODATA).any(axis=0)
    (classes,), prof, _ = _read(out / "classes.tif")
    (conf,), cprof, _ = _read(out / "conf.tif")
    probs, pprof, _ = _read(out / "probs.tif")
    assert prof["nodata"] == 0 and np.isnan(cprof["nodata"]) and np.isnan(pprof["nodata"])
    np.testing.assert_array_equal(classes == 0, invalid)
    np.testing.assert_array_equal(np.isnan(conf), invalid)
    assert np.isnan(probs[:, invalid]).all() and np.isfinite(probs[:, ~invalid]).all()


def test_nan_and_inf_pixels_are_nodata(tmp_path, model):
    cube = random_cube(40, 50, seed=3).astype(np.float32)
    cube[2, 5, 6] = np.nan
    cube[7, 30, 40] = np.inf
    cube[:, 20, 20] = -1.0  # the float scene's nodata value
    scene = write_scene(tmp_path / "float.tif", cube, nodata=-1.0)
    classify_raster(scene, model, tmp_path / "c.tif", confidence_path=tmp_path / "conf.tif", tile_size=16,
                    progress=False)
    (classes,), _, _ = _read(tmp_path / "c.tif")
    (conf,), _, _ = _read(tmp_path / "conf.tif")
    bad = [(5, 6), (30, 40), (20, 20)]
    for y, x in bad:
        assert classes[y, x] == 0 and np.isnan(conf[y, x])
    assert (classes != 0).sum() == 40 * 50 - len(bad)


def test_outputs_georeferenced_and_described(tiled_run, scene, model):
    _, out = tiled_run
    with rasterio.open(scene) as src:
        crs, transform = src.crs, src.transform
    for name in ("classes.tif", "conf.tif", "probs.tif"):
        with rasterio.open(out / name) as dst:
            assert dst.crs == crs and dst.transform == transform and (dst.width, dst.height) == (W, H)
            assert dst.profile["tiled"]
            assert RUN_TAG in dst.tags()
    with rasterio.open(out / "classes.tif") as dst:
        assert dst.dtypes[0] == "uint8"
        assert dst.colormap(1)[10][:3] == model.classes[0].colour
    with rasterio.open(out / "probs.tif") as dst:
        assert dst.descriptions == tuple(c.name for c in model.classes) and dst.dtypes[0] == "float32"
    qml = (out / "classes.qml").read_text(encoding="utf-8")  # QGIS style beside the class map
    for c in model.classes:
        assert f'<paletteEntry value="{c.value}" color="#{bytes(c.colour).hex()}"' in qml and c.name in qml


def test_dense_matches_naive(tmp_path, model):
    cube = random_cube(37, 45, seed=2)
    scene = write_scene(tmp_path / "s.tif", cube)
    for naive in (False, True):
        classify_raster(scene, model, tmp_path / f"c{naive}.tif", probabilities_path=tmp_path / f"p{naive}.tif",
                        tile_size=20, naive=naive, progress=False)
    dense, _, _ = _read(tmp_path / "pFalse.tif")
    naive_p, _, _ = _read(tmp_path / "pTrue.tif")
    np.testing.assert_allclose(dense, naive_p, atol=1e-4)
    (cd,), _, _ = _read(tmp_path / "cFalse.tif")
    (cn,), _, _ = _read(tmp_path / "cTrue.tif")
    assert_same_classes(cd, cn, dense, tie=1e-4)


def test_scene_smaller_than_patch(tmp_path, model):
    cube = random_cube(3, 5, seed=4)  # 3 x 5 pixels, patch 9 x 9: reflected several times
    scene = write_scene(tmp_path / "tiny.tif", cube, blocksize=16)
    classify_raster(scene, model, tmp_path / "c.tif", probabilities_path=tmp_path / "p.tif", tile_size=2,
                    progress=False)
    probs, _, _ = _read(tmp_path / "p.tif")
    np.testing.assert_allclose(probs, predict_proba_array(cube, model, nodata=NODATA), atol=1e-5)


def test_vector_output(tmp_path, small_scene, model):
    import geopandas as gpd

    res = classify_raster(small_scene, model, tmp_path / "c.tif", vector_path=tmp_path / "c.gpkg", tile_size=64,
                          progress=False)
    gdf = gpd.read_file(res.vector_path, layer="c")
    assert len(gdf) > 0 and set(gdf["class_name"]) <= {c.name for c in model.classes}
    with rasterio.open(small_scene) as src:
        assert gdf.crs == src.crs


class _Interrupting:
    """The tiny model, raising ``exc`` at the ``after``-th tile (like Ctrl-C mid-run)."""

    def __init__(self, model, after, exc):
        self._model, self._after, self._exc, self.calls = model, after, exc, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def predict_tile(self, tile, **kwargs):
        self.calls += 1
        if self.calls > self._after:
            raise self._exc
        return self._model.predict_tile(tile, **kwargs)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("model failed")])
def test_interrupted_run_leaves_no_file(tmp_path, small_scene, model, exc):
    scene = small_scene
    out = tmp_path / "out"
    out.mkdir()
    flaky = _Interrupting(model, after=3, exc=exc)
    with pytest.raises(type(exc)):
        classify_raster(scene, flaky, out / "c.tif", confidence_path=out / "conf.tif",
                        probabilities_path=out / "p.tif", vector_path=out / "v.gpkg", tile_size=8, progress=False)
    assert flaky.calls == 4
    assert os.listdir(out) == []  # no output, no temporary, no sidecar


def test_rerun_needs_overwrite_and_resume_skips(tmp_path, small_scene, model):
    scene = small_scene
    target = tmp_path / "c.tif"
    first = classify_raster(scene, model, target, confidence_path=tmp_path / "conf.tif", tile_size=64,
                            progress=False)
    with pytest.raises(OutputExistsError):
        classify_raster(scene, model, target, tile_size=64, progress=False)
    mtime = target.stat().st_mtime_ns
    again = classify_raster(scene, _Interrupting(model, after=0, exc=AssertionError("recomputed")), target,
                            confidence_path=tmp_path / "conf.tif", vector_path=tmp_path / "v.gpkg", resume=True,
                            tile_size=64, progress=False)
    assert again.skipped and target.stat().st_mtime_ns == mtime
    assert again.class_counts == first.class_counts
    import geopandas as gpd

    polygons = gpd.read_file(tmp_path / "v.gpkg")  # a missing extra is made, from the existing class map
    with rasterio.open(target) as dst:
        classified = dst.read(1)
        assert polygons.crs == dst.crs
    counts = {int(v): int(n) for v, n in zip(*np.unique(classified[classified > 0], return_counts=True), strict=True)}
    areas = polygons.groupby("class_id")["area"].sum()
    assert {int(v): round(a / 4.0) for v, a in areas.items()} == counts  # 2 m pixels: 4 m² each
    # another model's output is never taken as done
    with pytest.raises(OutputExistsError):
        classify_raster(scene, tiny_model(seed=5), target, resume=True, tile_size=64, progress=False)
    redo = classify_raster(scene, model, target, overwrite=True, tile_size=64, progress=False)
    assert not redo.skipped


def test_corrupt_block_raises_read_error(tmp_path, scene, model):
    bad = tmp_path / "corrupt.tif"
    shutil.copy(scene, bad)
    size = os.path.getsize(bad)
    with open(bad, "r+b") as f:
        # garbage over the middle third of the compressed tiles; the directory (at the end) survives
        f.seek(size // 3)
        f.write(b"\xff" * (size // 3))
    with pytest.raises(RasterReadError) as err:
        classify_raster(bad, model, tmp_path / "c.tif", tile_size=64, progress=False)
    msg = str(err.value)
    assert str(bad) in msg and "rows" in msg and "columns" in msg and "window at row" in msg
    assert not (tmp_path / "c.tif").exists() and sorted(os.listdir(tmp_path)) == ["corrupt.tif"]


def test_band_mismatch(tmp_path, model):
    scene = write_scene(tmp_path / "s.tif", random_cube(20, 20, bands=7))
    with pytest.raises(BandMismatchError):
        classify_raster(scene, model, tmp_path / "c.tif", progress=False)
    assert not (tmp_path / "c.tif").exists()


def test_plain_progress_lines(tmp_path, small_scene, model, capsys):
    from hsigeo import progress

    progress.set_mode("plain")
    try:
        classify_raster(small_scene, model, tmp_path / "c.tif", tile_size=16, progress=True)
    finally:
        progress.set_mode(None)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("hsigeo-progress:")]
    assert lines and lines[-1].split()[1] == "100.0"


def test_device_choice_is_explicit():
    import torch

    from hsigeo.device import resolve_device
    from hsigeo.errors import HsigeoError
    from hsigeo.inference.core import default_batch_size, default_tile_size

    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
        assert default_batch_size("cuda") > default_batch_size("cpu")
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(HsigeoError, match="sees no CUDA GPU"):
            resolve_device("cuda")
    assert default_tile_size("cpu") == 256
    with pytest.raises(HsigeoError, match="unknown device"):
        resolve_device("tpu")
