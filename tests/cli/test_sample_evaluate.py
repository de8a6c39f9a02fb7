"""``hsigeo sample`` and ``hsigeo evaluate --design``: real GeoTIFF maps, real GeoPackage samples.

The map and its "ground truth" are small rasters in UTM (10 m pixels, 0.01 ha); the truth
labels the sample, as a person would in QGIS, by writing the ``reference`` field.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests._cli_runner import run_in_process

CLASSES = {1: "water", 2: "forest", 3: "crop", 4: "urban"}


def _grid(arr: np.ndarray) -> xr.DataArray:
    import rioxarray  # noqa: F401
    from affine import Affine

    h, w = arr.shape
    da = xr.DataArray(arr, dims=("y", "x"), coords={"y": 4_000_000 - 10 * (np.arange(h) + 0.5),
                                                    "x": 500_000 + 10 * (np.arange(w) + 0.5)})
    da = da.rio.write_crs("EPSG:32633").rio.write_transform(Affine(10, 0, 500_000, 0, -10, 4_000_000))
    return da


def make_area_scene(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Write ``classes.tif`` and ``truth.tif`` (120 x 150, UTM 33N, 10 m) into ``folder``; return both arrays.

    The map has a rare class, errors (12 % of pixels relabelled at random), a pond it misses and
    unclassified pixels in a corner.
    """
    from hsigeo.io.writers import write_classification

    rng = np.random.default_rng(1)
    truth = np.full((120, 150), 3, np.int64)
    truth[:40] = 2
    truth[:, :20] = 1
    truth[90:, 100:] = 4
    truth[60:66, 60:70] = 1  # a pond the map misses
    mapped = truth.copy()
    flip = rng.random(truth.shape) < 0.12
    mapped[flip] = rng.integers(1, 5, size=int(flip.sum()))
    mapped[:10, 140:] = 0  # unclassified
    write_classification(_grid(mapped), folder / "classes.tif", classes=CLASSES)
    write_classification(_grid(truth), folder / "truth.tif", classes=CLASSES)
    return mapped, truth


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The scene of :func:`make_area_scene` in a folder of its own."""
    folder = tmp_path_factory.mktemp("area")
    mapped, truth = make_area_scene(folder)
    return folder, mapped, truth


def _gpkg_point(blob: bytes) -> tuple[float, float]:
    """x, y of a GeoPackage point geometry blob (header, optional envelope, little/big-endian WKB)."""
    import struct

    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    wkb = blob[8 + envelope:]
    order = "<" if wkb[0] == 1 else ">"
    return struct.unpack(order + "dd", wkb[5:21])


def open_gpkg(path: Path) -> sqlite3.Connection:
    """sqlite connection to a GeoPackage with the spatial functions GDAL's R-tree triggers call (points only)."""
    db = sqlite3.connect(path)
    db.create_function("ST_IsEmpty", 1, lambda g: int(g is None))
    for name, k, pick in (("ST_MinX", 0, min), ("ST_MaxX", 0, max), ("ST_MinY", 1, min), ("ST_MaxY", 1, max)):
        db.create_function(name, 1, lambda g, k=k: None if g is None else _gpkg_point(g)[k])
    return db


def label(sample: Path, truth: np.ndarray) -> None:
    """Fill the sample's ``reference`` field from the truth raster (the labelling step)."""
    import geopandas as gpd

    from hsigeo.io.sample_layer import read_design_record

    record = read_design_record(sample)
    gdf = gpd.read_file(sample, layer=sample.stem)
    cols = np.floor((gdf.geometry.x.to_numpy() - 500_000) / 10).astype(int)
    rows = np.floor((4_000_000 - gdf.geometry.y.to_numpy()) / 10).astype(int)
    with open_gpkg(sample) as db:
        db.executemany(f'UPDATE "{sample.stem}" SET reference = ? WHERE point_id = ?',
                       [(int(truth[r, c]), int(p)) for r, c, p in zip(rows, cols, gdf["point_id"], strict=True)])
    assert read_design_record(sample) == record


def test_sample_file_is_ready_to_label(scene, capsys):
    import geopandas as gpd

    from hsigeo.io.sample_layer import read_design_record

    folder, mapped, _ = scene
    out = folder / "s1.gpkg"
    code, stdout, err = run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(out), "--n", "300",
                                       "--min-per-class", "40", "--seed", "7")
    assert code == 0, err
    gdf = gpd.read_file(out, layer="s1")
    assert len(gdf) == 300 and list(gdf.columns[:5]) == ["point_id", "stratum", "map_class", "map_name", "reference"]
    assert gdf["reference"].isna().all()
    cols = ((gdf.geometry.x - 500_000) / 10 - 0.5).to_numpy()
    rows = ((4_000_000 - gdf.geometry.y) / 10 - 0.5).to_numpy()
    assert np.allclose(cols, np.round(cols)) and np.allclose(rows, np.round(rows))  # pixel centres
    assert (mapped[rows.round().astype(int), cols.round().astype(int)] == gdf["map_class"]).all()
    assert (gdf["map_class"] > 0).all()  # never on unclassified pixels
    assert gdf["map_name"].tolist() == [CLASSES[v] for v in gdf["map_class"]]
    counts = gdf["map_class"].value_counts().to_dict()
    assert min(counts.values()) >= 40 and sum(counts.values()) == 300
    assert str(gdf.crs) == "EPSG:32633"
    record = read_design_record(out)
    assert record["design"] == "stratified" and record["seed"] == 7 and record["n"] == 300
    assert sum(record["stratum_pixels"].values()) == int((mapped > 0).sum())
    with open_gpkg(out) as db:
        version = db.execute("PRAGMA application_id").fetchone()[0]
        qml, default = db.execute("SELECT styleQML, useAsDefault FROM layer_styles WHERE f_table_name = 's1'").fetchone()
    assert version == 0x47504B47  # "GPKG"
    assert default == 1 and 'attr="map_class"' in qml and 'editWidget type="ValueMap"' in qml
    assert 'name="forest" value="2"' in qml
    assert "Next: label the 'reference' field" in stdout
    # the same seed gives the same points; another seed others
    again = folder / "s1b.gpkg"
    assert run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(again), "--n", "300",
                          "--min-per-class", "40", "--seed", "7")[0] == 0
    assert gpd.read_file(again, layer="s1b").geometry.equals(gdf.geometry)


def test_sample_to_report_chain(scene, capsys):
    folder, mapped, truth = scene
    sample = folder / "s2.gpkg"
    assert run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(sample), "--target-se", "0.015",
                          "--seed", "3")[0] == 0
    code, _, err = run_in_process(capsys, "evaluate", str(folder / "classes.tif"), "--reference", str(sample),
                                  "-o", str(folder / "r0"))
    assert code == 2 and "none of the" in err and "label them first" in err
    label(sample, truth)
    code, stdout, err = run_in_process(capsys, "evaluate", str(folder / "classes.tif"), "--reference", str(sample),
                                       "-o", str(folder / "r1"))
    assert code == 0, err
    rep = json.loads((folder / "r1" / "report.json").read_text())
    for name in ("report.md", "report.html", "area.png", "error_matrix.png"):
        assert (folder / "r1" / name).stat().st_size > 0
    assert rep["kind"].startswith("sample-based") and rep["design"] == "stratified"
    assert rep["area_unit"] == "ha" and rep["hectares_per_pixel"] == pytest.approx(0.01)
    population = int((mapped > 0).sum())
    assert rep["population_pixels"] == population
    rows = {r["value"]: r for r in rep["classes"]}
    assert sum(r["area"]["estimate"] for r in rows.values()) == pytest.approx(population * 0.01)
    assert sum(r["mapped_area"] for r in rows.values()) == pytest.approx(population * 0.01)
    # every true area (of the mapped population) within its 95 % interval -- seed fixed, checked once
    for v, r in rows.items():
        true_area = int(((truth == v) & (mapped > 0)).sum()) * 0.01
        assert r["area"]["ci95_low"] <= true_area <= r["area"]["ci95_high"], (v, r["area"], true_area)
        assert r["mapped_area"] == pytest.approx(int((mapped == v).sum()) * 0.01)
    oa_true = float(np.mean(mapped[mapped > 0] == truth[mapped > 0]))
    assert rep["overall_accuracy"]["ci95_low"] <= oa_true <= rep["overall_accuracy"]["ci95_high"]
    assert "overall accuracy" in stdout and "Report:" in stdout
    md = (folder / "r1" / "report.md").read_text()
    assert "sample-based" in md and "| 2 forest |" in md


def test_census_with_fpc_is_exact(scene, capsys, tmp_path):
    """Every pixel sampled: the estimates are the truth's pixel counts, with --fpc zero-width intervals."""
    folder, mapped, truth = scene
    sample = tmp_path / "census.gpkg"
    n = int((mapped > 0).sum())
    assert run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(sample), "--n", str(n),
                          "--min-per-class", "0")[0] == 0
    label(sample, truth)
    assert run_in_process(capsys, "evaluate", str(folder / "classes.tif"), "--reference", str(sample), "--fpc",
                          "-o", str(tmp_path / "r"))[0] == 0
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["n_sample"] == n and rep["finite_population_correction"] is True
    for r in rep["classes"]:
        assert r["area"]["estimate"] == pytest.approx(int(((truth == r["value"]) & (mapped > 0)).sum()) * 0.01)
        assert r["area"]["se"] == 0 and r["users_accuracy"]["se"] == 0 and r["producers_accuracy"]["se"] == 0


@pytest.mark.parametrize("design", ["simple", "systematic"])
def test_simple_and_systematic(scene, capsys, tmp_path, design):
    import geopandas as gpd

    folder, mapped, truth = scene
    sample = tmp_path / f"{design}.gpkg"
    assert run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(sample), "--n", "900",
                          "--design", design, "--seed", "2")[0] == 0
    gdf = gpd.read_file(sample, layer=sample.stem)
    assert 800 <= len(gdf) <= 1000
    if design == "systematic":  # a regular grid: columns 4 or 5 pixels apart (step sqrt(17932 / 900) = 4.46)
        xs = np.unique(gdf.geometry.x)
        assert set(np.round(np.diff(xs))) == {40.0, 50.0}
    label(sample, truth)
    code, _, err = run_in_process(capsys, "evaluate", str(folder / "classes.tif"), "--reference", str(sample),
                                  "-o", str(tmp_path / "r"))
    assert code == 0, err
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["design"] == design and "post-stratified" in rep["design_text"]
    total = sum(r["area"]["estimate"] for r in rep["classes"])
    assert total == pytest.approx(int((mapped > 0).sum()) * 0.01)


def test_clear_messages(scene, capsys, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    folder, mapped, truth = scene
    sample = tmp_path / "s.gpkg"
    assert run_in_process(capsys, "sample", str(folder / "classes.tif"), "-o", str(sample), "--n", "200",
                          "--min-per-class", "20", "--seed", "1")[0] == 0
    label(sample, truth)
    classes = str(folder / "classes.tif")
    # unlabelled points: left out with a warning that counts them
    with open_gpkg(sample) as db:
        db.execute('UPDATE "s" SET reference = NULL WHERE point_id IN (1, 2, 3)')
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(sample), "-o", str(tmp_path / "a"))
    assert code == 0 and "Warning: 3 of 200 points have no reference label" in err
    # a label that names no class
    with open_gpkg(sample) as db:
        db.execute('UPDATE "s" SET reference = 9 WHERE point_id = 4')
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(sample), "-o", str(tmp_path / "b"))
    assert code == 2 and "reference classes [9] are not classes of classes.tif" in err
    # an empty stratum: every point mapped as urban unlabelled
    with open_gpkg(sample) as db:
        db.execute('UPDATE "s" SET reference = 2 WHERE point_id = 4')
        db.execute('UPDATE "s" SET reference = NULL WHERE map_class = 4')
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(sample), "-o", str(tmp_path / "c"))
    assert code == 2 and "map class 4 urban" in err and "no labelled sample point" in err
    # points outside the map
    gdf = gpd.read_file(sample, layer="s")
    gdf.loc[0, "geometry"] = Point(0, 0)
    gdf["reference"] = gdf["map_class"]
    moved = tmp_path / "moved.gpkg"
    gdf.to_file(moved)
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(moved), "--design", "stratified",
                                  "-o", str(tmp_path / "d"))
    assert code == 2 and "1 of 200 points lie outside classes.tif" in err and "point_id 1" in err
    # a point on an unclassified pixel
    gdf.loc[0, "geometry"] = Point(500_000 + 10 * 145 + 5, 4_000_000 - 5)
    gdf.to_file(moved)
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(moved), "--design", "stratified",
                                  "-o", str(tmp_path / "e"))
    assert code == 2 and "not part of the mapped population" in err
    # a reference class absent from the map: noted, user's accuracy undefined
    only = mapped.copy()
    only[only == 4] = 3
    from hsigeo.io.writers import write_classification

    write_classification(_grid(only), tmp_path / "no_urban.tif", classes=CLASSES)
    s2 = tmp_path / "s2.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_in_process(capsys, "sample", str(tmp_path / "no_urban.tif"), "-o", str(s2), "--n", "300",
                              "--seed", "4", "--min-per-class", "30")[0] == 0
    label(s2, truth)
    code, _, err = run_in_process(capsys, "evaluate", str(tmp_path / "no_urban.tif"), "--reference", str(s2),
                                  "-o", str(tmp_path / "f"))
    assert code == 0, err
    rep = json.loads((tmp_path / "f" / "report.json").read_text())
    urban = next(r for r in rep["classes"] if r["value"] == 4)
    assert urban["mapped_pixels"] == 0 and urban["users_accuracy"]["estimate"] is None
    assert urban["area"]["estimate"] > 0 and any("never appear on the map" in n for n in rep["notes"])


def test_small_stratum_warning_mask_and_strata(scene, capsys, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    folder, mapped, truth = scene
    classes = str(folder / "classes.tif")
    # a minimum the rarest stratum cannot reach
    code, _, err = run_in_process(capsys, "sample", classes, "-o", str(tmp_path / "big.gpkg"), "--n", "400",
                                  "--min-per-class", "5000")
    assert code == 0 and "Warning:" in err and "fewer than the minimum of 5000" in err
    # a target SE of each user's accuracy raises the minimum: 0.9 * 0.1 / 0.05^2 = 36 points a class at least
    out = tmp_path / "ua.gpkg"
    assert run_in_process(capsys, "sample", classes, "-o", str(out), "--n", "100", "--min-per-class", "0",
                          "--ua-se", "0.05", "--expected-accuracy", "0.9")[0] == 0
    counts = gpd.read_file(out, layer="ua")["map_class"].value_counts()
    assert counts.min() >= 36 and len(counts) == 4
    # a mask: points only inside, and the evaluation wants the same mask
    mask = tmp_path / "mask.gpkg"
    gpd.GeoDataFrame(geometry=[box(500_000, 4_000_000 - 600, 500_000 + 800, 4_000_000)], crs="EPSG:32633").to_file(mask)
    sample = tmp_path / "masked.gpkg"
    assert run_in_process(capsys, "sample", classes, "-o", str(sample), "--n", "200", "--mask", str(mask),
                          "--min-per-class", "10")[0] == 0
    gdf = gpd.read_file(sample, layer="masked")
    assert (gdf.geometry.x < 500_800).all() and (gdf.geometry.y > 4_000_000 - 600).all()
    label(sample, truth)
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(sample), "-o", str(tmp_path / "r"))
    assert code == 2 and "give the same mask with --mask" in err
    assert run_in_process(capsys, "evaluate", classes, "--reference", str(sample), "--mask", str(mask),
                          "-o", str(tmp_path / "r"))[0] == 0
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["population_pixels"] == int((mapped[:60, :80] > 0).sum())
    # strata from another raster (two halves of the scene)
    from hsigeo.io.writers import write_classification

    halves = np.where(np.arange(150)[None, :] < 75, 1, 2) * np.ones((120, 1), np.int64)
    write_classification(_grid(halves), tmp_path / "halves.tif", classes={1: "west", 2: "east"})
    s3 = tmp_path / "by_halves.gpkg"
    assert run_in_process(capsys, "sample", classes, "-o", str(s3), "--n", "400", "--strata",
                          str(tmp_path / "halves.tif"), "--min-per-class", "0")[0] == 0
    assert set(gpd.read_file(s3, layer="by_halves")["stratum"]) == {1, 2}
    label(s3, truth)
    code, _, err = run_in_process(capsys, "evaluate", classes, "--reference", str(s3), "-o", str(tmp_path / "h"))
    assert code == 2 and "--strata" in err
    assert run_in_process(capsys, "evaluate", classes, "--reference", str(s3), "--strata",
                          str(tmp_path / "halves.tif"), "-o", str(tmp_path / "h"))[0] == 0
    rep = json.loads((tmp_path / "h" / "report.json").read_text())
    assert rep["strata"][0]["value"] == 1 and rep["strata"][0]["pixels"] == int((mapped[:, :75] > 0).sum())
    # the sample may not be written over the map
    code, _, err = run_in_process(capsys, "sample", classes, "-o", classes, "--overwrite")
    assert code == 2


def test_pixel_level_report_says_its_kind(scene, capsys, tmp_path):
    folder, _, _ = scene
    code, _, err = run_in_process(capsys, "evaluate", str(folder / "classes.tif"), "--reference",
                                  str(folder / "truth.tif"), "-o", str(tmp_path / "px"))
    assert code == 0, err
    rep = json.loads((tmp_path / "px" / "report.json").read_text())
    assert rep["kind"].startswith("pixel-level")
    assert "pixel-level" in (tmp_path / "px" / "report.md").read_text()
