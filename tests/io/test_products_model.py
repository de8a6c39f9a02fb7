"""A trained model (``--model``) on every product: ``hsigeo train PRODUCT`` then ``hsigeo classify PRODUCT --model``.

Each fixture (``tests/_product_fixtures.py``, built to the product's layout) holds vegetation and
bare soil in known places; labels on every other row train an SVM on the product's own bands
through the command line, and the map of the product must put every valid pixel in its class,
on the product's grid and CRS, with nodata where the product has none.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _cli_runner import run_in_process
from _product_fixtures import (
    aviris_ng_l2,
    desis_l2a,
    emit_glt,
    emit_l2a,
    emit_materials,
    enmap_l2a,
    prisma_l2d,
)

PROMPTS = """\
name: products
classes:
  - name: Vegetation
    value: 1
    prompts: ["Dense green vegetation canopy with a strong red edge."]
  - name: Bare soil
    value: 2
    prompts: ["Dry bare soil."]
"""


@pytest.fixture(autouse=True)
def _homes(tmp_path, monkeypatch):
    monkeypatch.setenv("HSIGEO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))


def _halves(h: int, w: int, nodata: tuple[int, int]) -> np.ndarray:
    """Vegetation (1) in the left half of the columns, soil (2) in the right, 0 at the nodata pixel."""
    out = np.where(np.arange(w)[None, :] < w // 2, 1, 2) * np.ones((h, 1), dtype=np.int32)
    out[nodata] = 0
    return out.astype(np.int32)


def _product(kind: str, d):
    """(what to pass, expected classes on the product's grid, EPSG code or None for EMIT's WKT)."""
    if kind == "enmap":
        return enmap_l2a(d, h=12, w=10), _halves(12, 10, (0, 0)), 32633
    if kind == "desis":
        return desis_l2a(d, h=9, w=8), _halves(9, 8, (-1, -1)), 32635
    if kind == "prisma":
        return prisma_l2d(d, rows=14, cols=12, materials=True), _halves(14, 12, (0, 0)), 32632
    if kind == "aviris-ng":
        return aviris_ng_l2(d, h=12, w=10), _halves(12, 10, (0, 0)), 32611
    nc = emit_l2a(d, down=20, cross=16, spectra=emit_materials)
    n = int(np.ceil(np.hypot(20, 16))) + 2
    gx, gy = emit_glt(n, n, 20, 16)
    # the class of a north-up pixel is its swath column's; GLT gaps and the fill pixel are nodata
    want = np.where(gx - 1 < 8, 1, 2).astype(np.int32)
    want[(gx == 0) | ((gx == 1) & (gy == 1))] = 0
    return nc, want, 4326


@pytest.mark.parametrize("kind", ["emit", "enmap", "desis", "prisma", "aviris-ng"])
def test_train_and_classify_each_product_with_a_model(tmp_path, capsys, kind):
    from hsigeo.io.raster import open_hsi
    from hsigeo.model.modelfile import read_metadata

    given, want, epsg = _product(kind, tmp_path / "dl")
    da = open_hsi(given)
    labels = np.where(np.arange(want.shape[0])[:, None] % 2 == 0, want, 0).astype(np.int32)
    with rasterio.open(tmp_path / "labels.tif", "w", driver="GTiff", height=want.shape[0], width=want.shape[1],
                       count=1, dtype="int32", nodata=0, crs=da.rio.crs, transform=da.rio.transform()) as dst:
        dst.write(labels, 1)
    (tmp_path / "p.yaml").write_text(PROMPTS)
    model = tmp_path / "m.hsigeo"
    code, _, err = run_in_process(capsys, "--progress", "none", "train", str(given),
                                  "--labels", str(tmp_path / "labels.tif"), "--prompts", str(tmp_path / "p.yaml"),
                                  "--method", "svm", "-o", str(model), "--device", "cpu", "--seed", "0")
    assert code == 0, err
    meta = read_metadata(model)
    # trained on the product's own bands, in ascending wavelength, as open_hsi reads them
    assert meta["n_bands"] == da.sizes["band"]
    np.testing.assert_allclose(meta["wavelengths"], da.coords["wavelength"].values, atol=1e-3)
    out = tmp_path / "map.tif"
    code, _, err = run_in_process(capsys, "--progress", "none", "classify", str(given), "--model", str(model),
                                  "-o", str(out))
    assert code == 0, err
    with rasterio.open(out) as src:
        classes = src.read(1)
        assert src.crs.to_epsg() == epsg and src.transform.almost_equals(da.rio.transform())
    np.testing.assert_array_equal(classes, want)
