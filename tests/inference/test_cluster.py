"""hsigeo.inference.cluster and ``hsigeo classify --scheduler / --workers`` on real dask clusters.

The clusters are real: ``dask scheduler`` and ``dask worker`` processes on
127.0.0.1 with free ports (what a user starts on a cluster), or the
``LocalCluster`` that ``--workers`` starts.  Every run is a subprocess with a
timeout, and the cluster processes are killed when the test ends.
"""

from __future__ import annotations

import pickle
import pickletools
from pathlib import Path

import pytest
from _batch_scenes import assert_same_outputs, classify_args, make_flight, no_partial_files, run_cli
from _dask_processes import dask_processes
from _die_at_task import EXIT_CODE

PRELOAD = str(Path(__file__).resolve().parent.parent / "_die_at_task.py")


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    """The flight and its outputs from the in-process engine (the reference)."""
    d = tmp_path_factory.mktemp("cluster")
    files = make_flight(d)
    res = run_cli(*classify_args(files, d / "reference"), home=d / "home")
    assert res.returncode == 0, res.stderr
    return {**files, "reference": d / "reference", "dir": d}


def test_model_travels_as_model_file_bytes():
    """What dask pickles for the workers holds no torch object, only the model file's bytes."""
    from _inference_models import tiny_model

    from hsigeo.inference.distributed import ModelRef

    ref = ModelRef(tiny_model())
    ref.get()  # the live torch model is attached to the client's handle
    data = pickle.dumps(ref)
    modules = {arg.split()[0] for op, arg, _ in pickletools.genops(data)
               if op.name in ("GLOBAL", "STACK_GLOBAL") and isinstance(arg, str)}
    strings = [arg for op, arg, _ in pickletools.genops(data) if isinstance(arg, str)]
    assert not any(s.startswith("torch") for s in [*modules, *strings])
    payload = pickle.loads(data)._payload
    assert payload[:2] == b"PK" and b"weights.safetensors" in payload and b"metadata.json" in payload


def test_scheduler_and_workers_equal_in_process(flight, tmp_path):
    """``dask scheduler`` + two ``dask worker`` processes: outputs equal the in-process ones pixel for pixel."""
    with dask_processes(tmp_path, [{}, {}]) as cluster:
        res = run_cli(*classify_args(flight, tmp_path / "out", "--scheduler", cluster.address), home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"Cluster: 2 workers, 2 threads at {cluster.address}" in res.stderr
    assert "hsigeo-progress: 100.0 scenes" in res.stderr and "hsigeo-progress: 100.0 classify scene_0.tif" in res.stderr
    assert_same_outputs(tmp_path / "out", flight["reference"], flight["flight"])
    assert "| all " in res.stdout


def test_local_workers_equal_in_process(flight, tmp_path):
    """``--workers 2`` (a LocalCluster of two processes) gives the same outputs."""
    res = run_cli(*classify_args(flight, tmp_path / "out", "--workers", "2"), home=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Cluster: 2 workers, 2 threads" in res.stderr
    assert_same_outputs(tmp_path / "out", flight["reference"], flight["flight"])


def test_worker_dies_mid_run_result_complete(flight, tmp_path):
    """One of two workers dies as its second window starts: dask reruns its work, the result is whole and equal."""
    with dask_processes(tmp_path, [{"HSIGEO_TEST_DIE_AT_TASK": "2"}, {}], preload=PRELOAD) as cluster:
        res = run_cli(*classify_args(flight, tmp_path / "out", "--scheduler", cluster.address), home=tmp_path)
        dying = cluster.workers[0]
        dying.wait(timeout=30)
    assert dying.returncode == EXIT_CODE  # it really died mid-run
    assert res.returncode == 0, res.stderr
    assert_same_outputs(tmp_path / "out", flight["reference"], flight["flight"])
    assert no_partial_files(tmp_path / "out") == []


def test_workers_keep_dying_clean_failure(flight, tmp_path):
    """Every worker dies at its first window: the run fails with one clear error and writes nothing."""
    env = {"DASK_DISTRIBUTED__WORKER__PRELOAD": f'["{PRELOAD}"]', "HSIGEO_TEST_DIE_AT_TASK": "1",
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    res = run_cli(*classify_args(flight, tmp_path / "out", "--workers", "2"), home=tmp_path, env=env)
    assert res.returncode == 2, res.stderr
    error = [line for line in res.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and "scene_0.tif: dask workers died" in error[0] and "--resume" in error[0]
    out = tmp_path / "out"
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


def test_local_workers_with_mask_equal_in_process(flight, tmp_path):
    """A polygon mask (windows outside it are not read) gives the in-process outputs on the cluster too."""
    import geopandas as gpd
    import numpy as np
    import rasterio
    from shapely.geometry import Polygon

    mask = tmp_path / "field.gpkg"
    gpd.GeoDataFrame(geometry=[Polygon([(500004, 3999996), (500096, 3999996), (500004, 3999924)])],
                     crs="EPSG:32611").to_file(mask)
    args = ["classify", str(flight["flight"] / "scene_1.tif"), "--model", str(flight["model"]), "--mask", str(mask),
            "--tile-size", "16", "--probabilities"]
    want = run_cli(*args, "-o", str(tmp_path / "want.tif"), home=tmp_path)
    got = run_cli(*args, "-o", str(tmp_path / "got.tif"), "--workers", "2", home=tmp_path)
    assert want.returncode == 0 and got.returncode == 0, got.stderr
    for a, b in (("want.tif", "got.tif"), ("want_probabilities.tif", "got_probabilities.tif")):
        with rasterio.open(tmp_path / a) as w, rasterio.open(tmp_path / b) as g:
            assert g.transform == w.transform and g.shape == w.shape == (36, 46)
            np.testing.assert_array_equal(g.read(), w.read())
    with rasterio.open(tmp_path / "got.tif") as g:
        classes = g.read(1)
    assert 0 < (classes > 0).sum() < classes.size  # the triangle: some pixels classified, the rest nodata
