"""Three small scenes of one flight, a model file, and the CLI as a subprocess (cluster and batch tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from _inference_models import NODATA, random_cube, tiny_model, write_scene

HSIGEO = str(Path(sys.executable).with_name("hsigeo"))
HEIGHT, WIDTH = 40, 50
N_SCENES = 3
# 16-pixel windows: 12 windows (tasks) per scene
TILE = "16"


def make_flight(d: Path) -> dict[str, Path]:
    """``flight/scene_{0,1,2}.tif`` (seeded, one with a nodata patch at an edge) and ``tiny.hsigeo``."""
    from hsigeo.model.modelfile import save_model

    (d / "flight").mkdir(parents=True)
    for i in range(N_SCENES):
        cube = random_cube(HEIGHT, WIDTH, seed=100 + i)
        if i == 1:
            cube[:, 0:4, 20:30] = NODATA
        write_scene(d / "flight" / f"scene_{i}.tif", cube)
    return {"flight": d / "flight", "model": save_model(tiny_model(), d / "tiny.hsigeo")}


def run_cli(*args: str, home: Path, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``hsigeo --progress plain ARGS`` in a fresh process, bounded in time."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "HSIGEO_HOME": str(home), **(env or {})}
    return subprocess.run([HSIGEO, "--progress", "plain", *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def classify_args(flight: dict[str, Path], out: Path, *extra: str) -> list[str]:
    """Classify the whole flight (a glob) with every extra output."""
    return ["classify", str(flight["flight"] / "scene_*.tif"), "--model", str(flight["model"]), "-o", str(out),
            "--confidence", "--probabilities", "--vector", "--tile-size", TILE, *extra]


def assert_same_outputs(got: Path, want: Path, flight: Path) -> None:
    """Every raster of ``want`` is in ``got`` with equal pixels, CRS and transform (the scene's)."""
    import geopandas as gpd

    rasters = sorted(p.name for p in want.glob("*.tif"))
    assert rasters == sorted(p.name for p in got.glob("*.tif")) and len(rasters) == 3 * N_SCENES
    for name in rasters:
        scene = flight / (name.rsplit("_", 1)[0] + ".tif")
        with rasterio.open(got / name) as g, rasterio.open(want / name) as w, rasterio.open(scene) as s:
            assert g.crs == w.crs == s.crs and g.transform == w.transform == s.transform, name
            assert g.dtypes == w.dtypes and g.count == w.count, name
            np.testing.assert_array_equal(g.read(), w.read(), err_msg=name)
    for name in sorted(p.name for p in want.glob("*.gpkg")):
        g, w = gpd.read_file(got / name), gpd.read_file(want / name)
        assert len(g) == len(w) > 0, name
        assert sorted(zip(g["class_id"], g["area"])) == sorted(zip(w["class_id"], w["area"])), name


def no_partial_files(folder: Path) -> list[str]:
    """Names of temporary (``.part``) files left in ``folder``."""
    return [p.name for p in folder.iterdir() if ".part" in p.name] if folder.exists() else []
