"""``hsigeo classify <product> --prompts p.yaml`` and ``hsigeo info <product>`` end to end, through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from _product_fixtures import ENMAP_STEM, emit_glt, emit_l2a, enmap_l2a

PROMPTS = """\
name: products
classes:
  - name: Vegetation
    value: 1
    colour: "#2ca02c"
    prompts:
      - "Dense green vegetation canopy with a strong red edge and a high near-infrared plateau."
  - name: Bare soil
    value: 2
    colour: "#8c564b"
    prompts:
      - "Dry bare soil whose reflectance rises smoothly from the visible to the shortwave infrared."
"""


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_CACHE_DIR", str(tmp_path / "cache"))


def test_classify_enmap_product_folder_with_prompts(tmp_path, capsys):
    folder = enmap_l2a(tmp_path / "dl", h=24, w=20)
    (tmp_path / "p.yaml").write_text(PROMPTS)
    out = tmp_path / "enmap_classes.tif"
    code, _, err = run_in_process(capsys, "classify", str(folder), "--prompts", str(tmp_path / "p.yaml"),
                                  "-o", str(out))
    assert code == 0, err
    with rasterio.open(out) as src, rasterio.open(folder / f"{ENMAP_STEM}-SPECTRAL_IMAGE.TIF") as img:
        classes = src.read(1)
        assert src.crs == img.crs and src.transform == img.transform and src.shape == img.shape
    assert classes[0, 0] == 0  # the product's nodata pixel
    assert set(np.unique(classes)) <= {0, 1, 2}
    code, text, err = run_in_process(capsys, "info", str(folder))
    assert code == 0, err
    assert "EnMAP L2A" in text and "METADATA.XML" in text and "reflectance 0-1" in text
    assert "cloud, shadow, defective (mask them with --product-mask)" in text


def test_classify_emit_granule_with_prompts(tmp_path, capsys):
    nc = emit_l2a(tmp_path / "dl", down=40, cross=32)
    (tmp_path / "p.yaml").write_text(PROMPTS)
    out = tmp_path / "emit_classes.tif"
    # forced choice: this test is about reading the granule, not the unknown outcome (on a reflectance scene the
    # map is adapted, and its calibrated unknown leaves the fixture's near-identical spectra partly unknown)
    code, _, err = run_in_process(capsys, "classify", str(nc), "--prompts", str(tmp_path / "p.yaml"), "-o", str(out),
                                  "--threshold", "0")
    assert code == 0, err
    n = int(np.ceil(np.hypot(40, 32))) + 2
    gx, gy = emit_glt(n, n, 40, 32)
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert src.crs.to_epsg() == 4326 and src.shape == (n, n)
        assert src.transform.c == pytest.approx(30.0) and src.transform.a == pytest.approx(0.000542232520256)
    # north-up pixels the GLT leaves empty are nodata (class 0); the swath's vegetation is classified
    assert (classes[gx == 0] == 0).all()
    filled = (gx > 0) & ~((gx == 1) & (gy == 1))
    assert (classes[filled] != 0).mean() > 0.9
    code, text, _ = run_in_process(capsys, "info", str(nc))
    assert code == 0 and "EMIT L2A" in text and "glt" in text.lower()


@pytest.mark.parametrize("kind", ["desis", "prisma"])
def test_classify_desis_and_prisma_with_prompts(tmp_path, capsys, kind):
    from _product_fixtures import DESIS_STEM, desis_l2a, prisma_l2d

    if kind == "desis":
        given = desis_l2a(tmp_path / "dl", h=16, w=14) / f"{DESIS_STEM}-METADATA.xml"
        shape, epsg, nodata_px = (16, 14), 32635, (-1, -1)
    else:
        given = prisma_l2d(tmp_path / "dl", rows=16, cols=14, zip_it=True)
        shape, epsg, nodata_px = (16, 14), 32632, (0, 0)
    (tmp_path / "p.yaml").write_text(PROMPTS)
    out = tmp_path / f"{kind}.tif"
    code, _, err = run_in_process(capsys, "classify", str(given), "--prompts", str(tmp_path / "p.yaml"), "-o", str(out))
    assert code == 0, err
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert src.shape == shape and src.crs.to_epsg() == epsg
    # the product's nodata pixel is class 0 (nodata); the rest is a class or unknown (0), never anything else
    assert classes[nodata_px] == 0 and set(np.unique(classes)) <= {0, 1, 2}


# --------------------------------------------------------------------------- #
# Many products, one pattern: each product is one scene
# --------------------------------------------------------------------------- #
ENMAP_STEM_B = ENMAP_STEM.replace("DT0000001867", "DT0000001999")


def _tiny_model_file(path, n_bands: int):
    """An (untrained) tiny model for ``n_bands`` 0-1 reflectance bands: these tests are about which scenes run."""
    from _inference_models import tiny_model

    from hsigeo.model.modelfile import save_model

    model = tiny_model(n_bands=n_bands)
    model.mean, model.std = np.full(n_bands, 0.2), np.full(n_bands, 0.1)
    return save_model(model, path)


@pytest.mark.parametrize("pattern", ["dl/*/", "dl/*", "dl/*/*-METADATA.XML", "dl/*/*", "dl/**/*.TIF"])
def test_glob_over_enmap_products_gives_each_product_once(tmp_path, monkeypatch, pattern):
    from hsigeo_cli.batch import expand_scenes, scene_name

    enmap_l2a(tmp_path / "dl", stem=ENMAP_STEM)
    enmap_l2a(tmp_path / "dl", stem=ENMAP_STEM_B)
    monkeypatch.chdir(tmp_path)
    scenes = expand_scenes([pattern])
    # neither the TIF and the XML of one product twice, nor its QL_QUALITY_CLOUD.TIF as a scene
    assert [scene_name(s) for s in scenes] == [ENMAP_STEM, ENMAP_STEM_B]
    assert not any("QL_" in s.name for s in scenes)


def test_glob_over_a_download_folder_of_mixed_products(tmp_path, monkeypatch):
    from _product_fixtures import DESIS_STEM, EMIT_NAME, PRISMA_NAME, desis_l2a, prisma_l2d
    from hsigeo_cli.batch import expand_scenes, scene_name

    dl = tmp_path / "dl"
    emit_l2a(dl)
    # the granule's MASK file (same orbit and scene number) and DESIS's quality layer lie beside them
    (dl / EMIT_NAME.replace("_RFL_", "_MASK_")).write_bytes(b"")
    desis_l2a(dl)
    (dl / f"{DESIS_STEM}-QL_QUALITY-2.tif").write_bytes(b"")
    prisma_l2d(dl)
    (dl / "notes.txt").write_text("downloaded 2026-12-06")
    monkeypatch.chdir(tmp_path)
    assert [scene_name(s) for s in expand_scenes(["dl/*"])] == [DESIS_STEM, EMIT_NAME[:-3], PRISMA_NAME[:-4]]
    assert [s.name for s in expand_scenes(["dl/*.nc"])] == [EMIT_NAME]
    # the same product given twice (its XML, then its image) is one scene
    assert len(expand_scenes([f"dl/{DESIS_STEM}-METADATA.xml", f"dl/{DESIS_STEM}-SPECTRAL_IMAGE.tif"])) == 1


def test_classify_a_glob_of_product_files_classifies_each_product_once(tmp_path, capsys):
    enmap_l2a(tmp_path / "dl", stem=ENMAP_STEM)
    enmap_l2a(tmp_path / "dl", stem=ENMAP_STEM_B)
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 224)
    out = tmp_path / "out"
    code, text, err = run_in_process(capsys, "--progress", "none", "classify", str(tmp_path / "dl" / "*" / "*"),
                                     "--model", str(model), "-o", f"{out}/")
    assert code == 0, err
    assert "Classified 2 scenes" in text
    assert sorted(p.name for p in out.glob("*.tif")) == [f"{ENMAP_STEM}_classes.tif", f"{ENMAP_STEM_B}_classes.tif"]
    with rasterio.open(out / f"{ENMAP_STEM}_classes.tif") as src:
        assert src.crs.to_epsg() == 32633 and src.shape == (12, 10)
        assert src.read(1)[0, 0] == 0  # the product's nodata pixel


# --------------------------------------------------------------------------- #
# --product-mask: the product's own quality layers as nodata
# --------------------------------------------------------------------------- #
def _classify(capsys, scene, model, out, *extra):
    code, _, err = run_in_process(capsys, "--progress", "none", "classify", str(scene), "--model", str(model),
                                  "-o", str(out), *extra)
    assert code == 0, err
    with rasterio.open(out) as src:
        return src.read(1), src.tags().get("HSIGEO_RUN", "")


def test_classify_enmap_with_its_cloud_and_shadow_layers(tmp_path, capsys):
    from _product_fixtures import ENMAP_CLOUD, ENMAP_SHADOW

    folder = enmap_l2a(tmp_path / "dl")
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 224)
    plain, _ = _classify(capsys, folder, model, tmp_path / "plain.tif")
    masked, run = _classify(capsys, folder, model, tmp_path / "masked.tif", "--product-mask", "cloud,shadow")
    flagged = np.zeros(plain.shape, dtype=bool)
    flagged[ENMAP_CLOUD] = flagged[ENMAP_SHADOW] = True
    valid = np.ones(plain.shape, dtype=bool)
    valid[0, 0] = False  # the product's nodata pixel
    assert (plain[valid] != 0).all()  # a trained model gives every valid pixel a class
    assert (masked[flagged] == 0).all() and (masked[valid & ~flagged] != 0).all()
    assert '"product_mask": ["cloud", "shadow"]' in run  # the run record says what was masked


def test_classify_emit_with_its_mask_granule(tmp_path, capsys):
    from _product_fixtures import EMIT_CLOUD_ROWS

    nc = emit_l2a(tmp_path / "dl", mask=True)
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 285)
    classes, _ = _classify(capsys, nc, model, tmp_path / "emit.tif", "--product-mask", "cloud")
    n = int(np.ceil(np.hypot(20, 16))) + 2
    gx, gy = emit_glt(n, n, 20, 16)
    cloud = (gx > 0) & np.isin(gy - 1, list(EMIT_CLOUD_ROWS))
    clear = (gx > 0) & ~cloud & ~((gx == 1) & (gy == 1))  # swath pixel (0, 0) is fill
    assert cloud.sum() > 10 and (classes[cloud] == 0).all() and (classes[clear] != 0).all()


def test_product_mask_errors_are_one_line_naming_the_file(tmp_path, capsys):
    from _product_fixtures import prisma_l2d

    he5 = prisma_l2d(tmp_path / "dl")
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 200)
    code, _, err = run_in_process(capsys, "classify", str(he5), "--model", str(model), "-o", str(tmp_path / "o.tif"),
                                  "--product-mask", "cloud")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"Error: PRISMA L2D product {he5}: has no cloud quality layer")
    code, _, err = run_in_process(capsys, "classify", str(he5), "--model", str(model), "-o", str(tmp_path / "o.tif"),
                                  "--product-mask", "cloud,fog")
    assert code == 2 and "Error: --product-mask 'fog': not a quality flag" in err
    assert not (tmp_path / "o.tif").exists()


def test_product_mask_with_an_extent_masks_the_same_map_pixels(tmp_path, capsys):
    from _product_fixtures import ENMAP_CLOUD

    folder = enmap_l2a(tmp_path / "dl")
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 224)
    # scene columns 5-9, rows 2-11
    classes, _ = _classify(capsys, folder, model, tmp_path / "part.tif", "--product-mask", "cloud",
                           "--extent", "383150,5819640,383300,5819940")
    assert classes.shape == (10, 5)
    cloud = np.zeros((12, 10), dtype=bool)
    cloud[ENMAP_CLOUD] = True
    cloud = cloud[2:12, 5:10]
    assert cloud.sum() == 9 and (classes[cloud] == 0).all() and (classes[~cloud] != 0).all()


def test_product_mask_on_a_dask_cluster(tmp_path, capsys):
    """The cluster engine gets the quality layers with the region: the same map as in process."""
    folder = enmap_l2a(tmp_path / "dl")
    model = _tiny_model_file(tmp_path / "tiny.hsigeo", 224)
    local, _ = _classify(capsys, folder, model, tmp_path / "local.tif", "--product-mask", "cloud,shadow")
    cluster, _ = _classify(capsys, folder, model, tmp_path / "cluster.tif", "--product-mask", "cloud,shadow",
                           "--workers", "1", "--tile-size", "16")
    np.testing.assert_array_equal(cluster, local)
