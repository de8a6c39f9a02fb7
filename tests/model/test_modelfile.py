"""Model files: round trip with identical predictions, corrupt/foreign files, band checks, resampling, prompts."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import xarray as xr
from _model_helpers import block_scene, prompt_set, text_embeddings

from hsigeo.classes import ClassInfo
from hsigeo.errors import BandMismatchError, ModelFileError, OutputExistsError
from hsigeo.inference.core import classify_array
from hsigeo.model.backbone import BackboneConfig
from hsigeo.model.classifier import HsigeoModel, HsigeoNet
from hsigeo.model.modelfile import load_model, model_bytes, read_metadata, save_model
from hsigeo.model.spatial import SpatialFilter


@pytest.fixture(scope="module")
def model() -> HsigeoModel:
    import torch

    torch.manual_seed(0)
    cfg = BackboneConfig(n_bands=24, stem_dim=16, kernel=3, width=16, heads=2, embed_dim=16)
    net = HsigeoNet(cfg, 32)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    _, _, wl = block_scene()
    classes = [ClassInfo(c.value, c.name, c.colour, c.prompts) for c in prompt_set().classes]
    rng = np.random.default_rng(0)
    return HsigeoModel(net, cfg, mean=rng.random(24) * 1000, std=rng.random(24) * 100 + 1, classes=classes,
                       text_embeddings=text_embeddings(), wavelengths=wl,
                       text_model={"id": "test", "dim": 32, "n_parameters": 1000}, report={"n_train": 5},
                       spatial=SpatialFilter(2, 0.2))


def test_round_trip_identical_predictions(model, tmp_path):
    cube, _, _ = block_scene()
    path = save_model(model, tmp_path / "m.hsigeo")
    loaded = load_model(path)
    a, ca = classify_array(cube, model)
    b, cb = classify_array(cube, loaded)
    assert np.array_equal(a, b) and np.array_equal(ca, cb)
    assert loaded.classes == model.classes
    assert loaded.radius == model.radius == 4 + 2 and loaded.n_bands == 24
    assert loaded.spatial == model.spatial
    assert np.array_equal(loaded.mean, model.mean) and np.array_equal(loaded.std, model.std)
    assert np.allclose(loaded.wavelengths, model.wavelengths)
    assert loaded.digest() == model.digest()
    assert loaded.report["n_train"] == 5
    meta = read_metadata(path)
    assert meta["format_version"] == 1 and meta["n_bands"] == 24 and len(meta["classes"]) == 4
    assert set(zipfile.ZipFile(path).namelist()) == {"metadata.json", "weights.safetensors"}
    with pytest.raises(OutputExistsError):
        save_model(model, path)
    save_model(model, path, overwrite=True)
    assert load_model(path).digest() == model.digest()
    # the in-memory form is the same file
    (tmp_path / "b.hsigeo").write_bytes(model_bytes(model))
    assert load_model(tmp_path / "b.hsigeo").digest() == model.digest()


def test_dense_equals_naive_and_embeddings(model):
    cube, _, _ = block_scene()
    r = model.radius
    tile = np.pad(model.normalize(cube[:, :20, :16]), ((0, 0), (r, r), (r, r)), mode="reflect")
    dense = model.predict_tile(tile, batch_size=50)
    naive = model.predict_tile(tile, naive=True, batch_size=37)
    assert dense.shape == (4, 20, 16)
    assert np.allclose(dense, naive, atol=1e-5)
    assert np.allclose(dense.sum(axis=0), 1.0, atol=1e-5)
    emb = model.embed_tile(tile)
    assert emb.shape == (16, 20, 16) and np.allclose(np.linalg.norm(emb, axis=0), 1.0, atol=1e-5)
    vals, conf = model.predict_pixels(cube, np.array([0, 5, 35]), np.array([0, 7, 35]))
    full, fconf = classify_array(cube, model)
    assert np.array_equal(vals, full[[0, 5, 35], [0, 7, 35]])
    assert np.allclose(conf, fconf[[0, 5, 35], [0, 7, 35]], atol=1e-5)


def test_corrupt_and_foreign_files(model, tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.hsigeo")
    junk = tmp_path / "junk.hsigeo"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError, match="junk.hsigeo"):
        load_model(junk)
    foreign = tmp_path / "foreign.hsigeo"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"format": "something-else"}))
        zf.writestr("weights.safetensors", b"")
    with pytest.raises(ModelFileError, match="hsigeo model"):
        load_model(foreign)
    good = save_model(model, tmp_path / "good.hsigeo")
    with zipfile.ZipFile(good) as zf:
        meta, weights = zf.read("metadata.json"), zf.read("weights.safetensors")
    damaged = tmp_path / "damaged.hsigeo"
    with zipfile.ZipFile(damaged, "w") as zf:
        zf.writestr("metadata.json", meta)
        zf.writestr("weights.safetensors", weights[:-10] + b"0123456789")
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(damaged)
    newer = tmp_path / "newer.hsigeo"
    m = json.loads(meta)
    m["format_version"] = 99
    with zipfile.ZipFile(newer, "w") as zf:
        zf.writestr("metadata.json", json.dumps(m))
        zf.writestr("weights.safetensors", weights)
    with pytest.raises(ModelFileError, match="newer"):
        load_model(newer)
    # a pickle is never loaded: weights that are not safetensors fail cleanly
    m = json.loads(meta)
    del m["weights_sha256"]
    pickled = tmp_path / "pickled.hsigeo"
    with zipfile.ZipFile(pickled, "w") as zf:
        zf.writestr("metadata.json", json.dumps(m))
        zf.writestr("weights.safetensors", b"\x80\x04\x95" + b"\x00" * 40)
    with pytest.raises(ModelFileError, match="safetensors"):
        load_model(pickled)


def test_folder_layout(model, tmp_path):
    path = save_model(model, tmp_path / "m.hsigeo")
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(path).extractall(folder)
    assert load_model(folder).digest() == model.digest()


def test_check_bands_and_resample(model):
    cube, _, wl = block_scene()
    da = xr.DataArray(cube, dims=("band", "y", "x"), coords={"wavelength": ("band", wl)}, attrs={"source": "s.tif"})
    model.check_bands(da)  # same bands: fine
    model.check_bands(cube)
    fewer = da.isel(band=slice(0, 20))
    with pytest.raises(BandMismatchError, match="resample") as err:
        model.check_bands(fewer)
    assert "s.tif" in str(err.value) and "24" in str(err.value)
    shifted = da.assign_coords(wavelength=("band", wl + 40.0))
    with pytest.raises(BandMismatchError, match="differ"):
        model.check_bands(shifted)
    no_wl = xr.DataArray(cube[:20], dims=("band", "y", "x"))
    with pytest.raises(BandMismatchError) as err:
        model.check_bands(no_wl)
    assert "resample_to_model" not in str(err.value)
    # a finer sensor (twice the bands, same range) resampled onto the model's wavelengths
    fine_wl = np.linspace(wl[0], wl[-1], 47)
    slope = np.linspace(0, 1, 47)[:, None, None] * np.ones((1, 5, 6))
    fine = xr.DataArray(100 + 50 * slope, dims=("band", "y", "x"), coords={"wavelength": ("band", fine_wl)})
    res = model.resample_to_model(fine)
    model.check_bands(res)
    assert res.sizes["band"] == 24 and res.dtype == np.float32
    expect = 100 + 50 * (wl - wl[0]) / (wl[-1] - wl[0])  # linear spectra are reproduced exactly
    assert np.allclose(res.values[:, 2, 3], expect, atol=1e-3)
    with pytest.raises(BandMismatchError):
        model.resample_to_model(no_wl)


def test_with_prompts_changes_anchors_only(model):
    class FakeEncoder:
        dim = 32
        model_id = "test"
        model_path = "fake"

        def encode(self, texts):
            rng = np.random.default_rng(len(texts))
            e = rng.standard_normal((len(texts), 32)).astype(np.float32)
            return e / np.linalg.norm(e, axis=1, keepdims=True)

        @property
        def n_parameters(self):
            return 0

    from hsigeo.text.prompts import PromptSet

    ps = PromptSet.from_dict({"classes": [{"name": "wet", "value": 7, "prompts": ["open water"]},
                                          {"name": "dry", "value": 9, "prompts": ["dry soil", "sand"]}]})
    new = model.with_prompts(ps, FakeEncoder())
    assert [c.value for c in new.classes] == [7, 9] and new.n_classes == 2
    assert [c.value for c in model.classes] == [1, 2, 3, 4]  # original untouched
    cube, _, _ = block_scene()
    vals, _ = classify_array(cube, new)
    assert set(np.unique(vals)) <= {7, 9}
    assert new.prompts.classes[1].prompts == ("dry soil", "sand")
    bad = FakeEncoder()
    bad.dim = 8
    with pytest.raises(ModelFileError, match="32-d"):
        model.with_prompts(ps, bad)

