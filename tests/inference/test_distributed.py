"""hsigeo.inference.distributed: lazy dask inference equals whole-scene inference."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _inference_models import NODATA, assert_same_classes, random_cube, tiny_model, write_scene

import hsigeo  # noqa: F401 - registers the .hsi accessor
from hsigeo.inference.core import class_values, embed_array, predict_proba_array, to_class_map
from hsigeo.inference.distributed import ModelRef, classify_dataarray, embed_dataarray

H, W = 61, 77


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    cube = random_cube(H, W, seed=11)
    cube[:, 0:3, 30:40] = NODATA  # nodata touching the top edge
    cube[4, 50, 60] = NODATA
    return write_scene(tmp_path_factory.mktemp("dist") / "scene.tif", cube)


@pytest.fixture(scope="module")
def da(scene):
    from hsigeo.io.raster import open_hsi

    return open_hsi(scene, chunks={"band": -1, "y": 32, "x": 32})


@pytest.fixture(scope="module")
def reference(da, model):
    return predict_proba_array(da.values, model, nodata=NODATA)


def test_dask_reflect_is_not_numpy_reflect():
    """Why the engine pads itself: dask's "reflect" repeats the edge pixel (numpy's "symmetric")."""
    import dask.array as dsa

    x = np.arange(6)
    dask_reflect = dsa.overlap.overlap(dsa.from_array(x, chunks=3), depth=2, boundary="reflect").compute()
    assert dask_reflect[:2].tolist() == np.pad(x, 2, mode="symmetric")[:2].tolist() == [1, 0]
    assert np.pad(x, 2, mode="reflect")[:2].tolist() == [2, 1]


@pytest.mark.parametrize("chunks", [{"y": 32, "x": 32}, {"y": 10, "x": 25}, {"y": 3, "x": 2}, {"y": -1, "x": -1}])
def test_classes_equal_whole_scene(da, model, reference, chunks):
    out = classify_dataarray(da.chunk(chunks), model, probabilities=True, confidence=True)
    res = out.compute(scheduler="threads")
    want, want_conf = to_class_map(reference, class_values(model), dtype=np.uint8)
    assert_same_classes(res["classes"].values, want, reference)
    np.testing.assert_allclose(res["probabilities"].values, reference, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(res["confidence"].values, want_conf, atol=1e-5, equal_nan=True)


def test_lazy_georeferenced_and_described(da, model):
    calls = []

    class Counting:
        def __getattr__(self, name):
            return getattr(model, name)

        def predict_tile(self, tile, **kw):
            calls.append(tile.shape)
            return model.predict_tile(tile, **kw)

    counting = Counting()
    classes = classify_dataarray(da, counting)
    assert calls == [] and classes.chunks is not None  # nothing ran yet
    assert classes.dims == ("y", "x") and classes.name == "classes"
    assert classes.rio.crs == da.rio.crs and classes.rio.transform() == da.rio.transform()
    np.testing.assert_array_equal(classes.x.values, da.x.values)
    np.testing.assert_array_equal(classes.y.values, da.y.values)
    assert classes.rio.nodata == 0 and classes.dtype == np.uint8
    assert classes.attrs["class_names"] == {c.value: c.name for c in model.classes}
    assert classes.attrs["class_colours"][10] == "#{:02x}{:02x}{:02x}".format(*model.classes[0].colour)
    classes.compute(scheduler="sync")
    assert len(calls) == 2 * 3  # one model call per chunk (61 x 77 in 32 x 32 chunks)


def test_nodata_stays_nodata(da, model):
    res = classify_dataarray(da, model, confidence=True).compute(scheduler="threads")
    invalid = (da.values == NODATA).any(axis=0)
    np.testing.assert_array_equal(res["classes"].values == 0, invalid)
    np.testing.assert_array_equal(np.isnan(res["confidence"].values), invalid)


def test_numpy_backed_input(da, model, reference):
    res = classify_dataarray(da.load(), model).compute()
    want, _ = to_class_map(reference, class_values(model), dtype=np.uint8)
    assert_same_classes(res.values, want, reference)


def test_embed_equals_whole_scene(da, model):
    emb = embed_dataarray(da.chunk({"y": 20, "x": 40}), model)
    assert emb.dims == ("embedding", "y", "x") and emb.sizes["embedding"] == model.config.embed_dim
    want = embed_array(da.values, model, nodata=NODATA)
    np.testing.assert_allclose(emb.compute(scheduler="threads").values, want, atol=1e-5, equal_nan=True)
    assert emb.rio.crs == da.rio.crs


def test_accessor_delegates(da, model):
    via_accessor = da.hsi.classify(model)
    assert isinstance(via_accessor, xr.DataArray)
    np.testing.assert_array_equal(via_accessor.values, classify_dataarray(da, model).values)


def test_model_ref_ships_model_file_bytes(model):
    import pickle

    ref = ModelRef(model)
    assert ref.get() is model
    clone = pickle.loads(pickle.dumps(ref))  # what dask does between processes
    assert clone.digest == ref.digest
    loaded = clone.get()
    assert loaded is not model and loaded.digest() == model.digest()


def test_local_cluster_equals_whole_scene(da, model, reference):
    distributed = pytest.importorskip("distributed")

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        out = classify_dataarray(da.chunk({"y": 32, "x": 40}), model, probabilities=True)
        res = client.compute(out).result()
        # both workers took part
        assert len(client.scheduler_info()["workers"]) == 2
    want, _ = to_class_map(reference, class_values(model), dtype=np.uint8)
    assert_same_classes(res["classes"].values, want, reference)
    np.testing.assert_allclose(res["probabilities"].values, reference, atol=1e-5, equal_nan=True)
