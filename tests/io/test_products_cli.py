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
