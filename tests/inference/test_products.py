"""hsigeo.inference.products: output products as data, the run's plan, and the reader pool."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _inference_models import NODATA, random_cube, tiny_model, write_scene

from hsigeo.errors import HsigeoError, InvalidInputError
from hsigeo.inference.core import predict_proba_array
from hsigeo.inference.products import CLASSES, PRODUCTS, RUN_TAG, OutputPlan, TileResult
from hsigeo.inference.tiled import RunOptions, classify_raster, default_readers

H, W = 97, 131


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def cube():
    c = random_cube(H, W, seed=3)
    c[:, 40:44, 50:60] = NODATA
    return c


@pytest.fixture(scope="module")
def scene(tmp_path_factory, cube):
    return write_scene(tmp_path_factory.mktemp("scene") / "scene.tif", cube)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(), src.tags(), src.descriptions


def test_plan_from_request(tmp_path):
    plan = OutputPlan.build(tmp_path / "c.tif", confidence=tmp_path / "conf.tif", probabilities=None,
                            vector=tmp_path / "c.gpkg")
    assert list(plan.rasters) == [CLASSES, "confidence"]
    assert plan.class_map == tmp_path / "c.tif" and plan.vector == tmp_path / "c.gpkg"
    assert plan.paths() == [tmp_path / "c.tif", tmp_path / "conf.tif", tmp_path / "c.gpkg"]
    assert not plan.needs_probabilities  # confidence comes without the full probabilities
    assert OutputPlan.build(tmp_path / "c.tif", margin=tmp_path / "m.tif").needs_probabilities


def test_plan_refuses_unknown_products_and_collisions(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown output product.*entropy"):
        OutputPlan.build(tmp_path / "c.tif", entropy=tmp_path / "e.tif")
    with pytest.raises(InvalidInputError, match="class map"):
        OutputPlan({"confidence": tmp_path / "conf.tif"})
    plan = OutputPlan.build(tmp_path / "c.tif", confidence=tmp_path / "c.tif")
    with pytest.raises(HsigeoError, match="must differ"):
        plan.check_distinct(tmp_path / "scene.tif")
    with pytest.raises(HsigeoError, match="is the input scene"):
        OutputPlan.build(tmp_path / "s.tif").check_distinct(tmp_path / "s.tif")


def test_margin_is_best_minus_second_best():
    probs = np.array([[[0.7, np.nan]], [[0.2, np.nan]], [[0.1, np.nan]]], dtype=np.float32)
    result = TileResult((0, 0, 1, 2), np.array([[1, 0]]), np.array([[0.7, np.nan]], dtype=np.float32), probs)
    margin = PRODUCTS["margin"].compute(result)
    assert margin.shape == (1, 1, 2)
    assert margin[0, 0, 0] == pytest.approx(0.5)
    assert np.isnan(margin[0, 0, 1])  # nodata stays NaN


def test_every_product_in_one_run(tmp_path, scene, cube, model):
    """Each product written is what its definition computes from the whole-scene probabilities."""
    result = classify_raster(scene, model, tmp_path / "c.tif", confidence_path=tmp_path / "conf.tif",
                             probabilities_path=tmp_path / "p.tif", products={"margin": tmp_path / "m.tif"},
                             tile_size=48, device="cpu", progress=False)
    assert set(result.products) == {CLASSES, "confidence", "probabilities", "margin"}
    ref = predict_proba_array(cube, model, nodata=NODATA)
    margin, tags, names = _read(tmp_path / "m.tif")
    assert names == ("margin",) and RUN_TAG in tags
    srt = np.sort(ref, axis=0)
    want = srt[-1] - srt[-2]
    ok = np.isfinite(want)
    np.testing.assert_allclose(margin[0][ok], want[ok], atol=1e-5)
    assert np.isnan(margin[0][~ok]).all() and (~ok).sum() == 40  # the nodata block
    conf, _, _ = _read(tmp_path / "conf.tif")
    np.testing.assert_allclose(conf[0][ok], srt[-1][ok], atol=1e-5)


@pytest.mark.parametrize(("readers", "model_workers"), [(2, 1), (5, 1), (2, 3)])
def test_reader_pool_gives_the_same_outputs(tmp_path, scene, model, readers, model_workers):
    one = classify_raster(scene, model, tmp_path / "one.tif", confidence_path=tmp_path / "one_conf.tif",
                          tile_size=32, device="cpu", progress=False, readers=1, threads=1)
    many = classify_raster(scene, model, tmp_path / "many.tif", confidence_path=tmp_path / "many_conf.tif",
                           tile_size=32, device="cpu", progress=False, readers=readers, threads=1,
                           model_workers=model_workers)
    assert many.n_windows == one.n_windows == 5 * 4 and many.class_counts == one.class_counts
    for a, b in (("one.tif", "many.tif"), ("one_conf.tif", "many_conf.tif")):
        np.testing.assert_array_equal(_read(tmp_path / a)[0], _read(tmp_path / b)[0])


def test_reader_pool_failure_leaves_nothing(tmp_path, model):
    """A window that cannot be read stops every reader; no output or temporary is left."""
    cube = random_cube(64, 64, seed=4)
    scene = write_scene(tmp_path / "s.tif", cube)
    data = bytearray(scene.read_bytes())
    # cut the file: the last blocks are gone, the header still opens
    scene.write_bytes(bytes(data[: len(data) * 2 // 3]))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(HsigeoError):
        classify_raster(scene, model, out / "c.tif", tile_size=16, device="cpu", progress=False, readers=4,
                        model_workers=2)
    assert list(out.iterdir()) == []


def test_run_options_defaults():
    assert default_readers("cpu") == 1
    assert 1 <= default_readers("cuda:0") <= 8
    opts = RunOptions.for_device("cpu")
    assert (opts.tile_size, opts.batch_size, opts.readers) == (256, 2048, 1)
    assert RunOptions.for_device("auto").batch_size is None  # a cluster: each worker picks
    with pytest.raises(InvalidInputError, match="readers"):
        RunOptions.for_device("cpu", readers=0)
    with pytest.raises(InvalidInputError, match="model_workers"):
        RunOptions.for_device("cpu", model_workers=0)
    with pytest.raises(InvalidInputError, match="tile_size"):
        RunOptions.for_device("cpu", tile_size=0)
