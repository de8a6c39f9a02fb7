"""hsigeo.model.prior / training with ``init="base"``: the base model's embedding as input channels."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from _inference_models import NODATA, write_scene
from _model_helpers import TINY, block_scene, prompt_set, text_embeddings

from hsigeo.errors import HsigeoError
from hsigeo.inference.core import predict_proba_array
from hsigeo.model.modelfile import load_model, read_metadata, save_model
from hsigeo.model.prior import base_prior
from hsigeo.model.training import train


@pytest.fixture(scope="module")
def data():
    """A 36 x 36 four-class scene on a 24-band 400-2500 nm sensor, with wavelengths, and a nodata corner."""
    cube, labels, wl = block_scene(bands=24, size=36, seed=3)
    cube[:, -3:, -3:] = NODATA
    labels[-3:, -3:] = 0
    da = xr.DataArray(cube, dims=("band", "y", "x"), coords={"band": np.arange(1, 25), "wavelength": ("band", wl)})
    return da, labels


@pytest.fixture(scope="module")
def trained(base, data):
    da, labels = data
    da = da.rio.write_nodata(NODATA)
    model, report = train(da, labels, prompt_set(), text_embeddings=text_embeddings(), init="base", seed=0,
                          device="cpu", progress=False, **{**TINY, "epochs": 4})
    return model, report


def test_prior_channels_are_the_base_embedding(base, data):
    da, _ = data
    prior = base_prior(da, base=base)
    got = prior(da.values, max_pixels=100)  # strips of 2 rows: strip-wise equals whole
    want = base.for_scene(da, prompt_set(), text_embeddings=np.zeros((4, 384), np.float32),
                          smooth_radius=0).embed_tile(da.values)
    assert got.shape == (64, 36, 36) and prior.dim == 64 and prior.n_bands == 24
    # an ensemble's embedding is its members' unit vectors over sqrt(k), one after another: the channels are
    # the first member's
    k = len(getattr(base.net, "members", [base.net]))
    assert want.shape[0] == 64 * k
    want = want[:64] * np.sqrt(k)
    ok = np.isfinite(want).all(0)
    assert not ok[-3:, -3:].any() and ok[:-3].all()  # the nodata corner is the only unusable place
    np.testing.assert_allclose(got[:, ok], want[:, ok], atol=1e-6)
    assert (got[:, ~ok] == 0).all()
    np.testing.assert_allclose(np.linalg.norm(got[:, ok], axis=0), 1.0, atol=1e-5)


def test_init_base_model_reads_scene_bands_and_keeps_the_prior_frozen(base, trained):
    model, report = trained
    assert model.n_bands == 24 and model.config.n_bands == 24 + 64
    counts = model.n_parameters()
    assert counts["prior"] == sum(p.numel() for p in base.net.encoder.parameters()) > 100_000
    assert counts["total"] == counts["trainable"] + counts["text_model"] + counts["prior"]
    assert not any(p.requires_grad for p in model.prior.encoder.parameters())
    assert report.config["init"] == "base"


def test_init_base_file_round_trip_gives_the_same_map(base, data, trained, tmp_path):
    da, _ = data
    model, _ = trained
    path = save_model(model, tmp_path / "m.hsigeo")
    meta = read_metadata(path)
    assert meta["prior"]["source"]["weights_sha256"] == base.meta["weights_sha256"]
    assert meta["prior"]["binding"]["n_bands"] == 24 and len(meta["normalization"]["mean"]) == 88
    again = load_model(path)
    assert again.digest() == model.digest()
    want = predict_proba_array(da.values, model, nodata=NODATA, device="cpu")
    np.testing.assert_array_equal(predict_proba_array(da.values, again, nodata=NODATA, device="cpu"), want)
    assert np.isnan(want[:, -1, -1]).all() and np.isfinite(want[:, :-3]).all()


def test_tiled_engine_equals_whole_scene_with_a_prior(data, trained, tmp_path):
    from hsigeo.inference.tiled import classify_raster

    da, _ = data
    model, _ = trained
    scene = write_scene(tmp_path / "s.tif", da.values)
    want = predict_proba_array(da.values, model, nodata=NODATA, device="cpu")
    classify_raster(scene, model, tmp_path / "c.tif", probabilities_path=tmp_path / "p.tif", tile_size=16,
                    device="cpu", progress=False)
    with rasterio.open(tmp_path / "p.tif") as src:
        np.testing.assert_allclose(src.read(), want, atol=1e-5, equal_nan=True)


def test_predict_pixels_matches_the_map(data, trained):
    da, _ = data
    model, _ = trained
    rows, cols = np.array([0, 7, 20, 32]), np.array([0, 30, 11, 5])
    values, _ = model.predict_pixels(da.values, rows, cols)
    probs = predict_proba_array(da.values, model, device="cpu")
    np.testing.assert_array_equal(values, model.class_values[probs[:, rows, cols].argmax(0)])


def test_init_base_without_wavelengths_says_how_to_supply_them(base, data):
    da, labels = data
    with pytest.raises(HsigeoError, match="no band wavelengths.*assign_coords"):
        train(da.values, labels, prompt_set(), text_embeddings=text_embeddings(), init="base", device="cpu",
              progress=False, **{**TINY, "epochs": 1})


def test_unknown_init_is_refused(data):
    da, labels = data
    with pytest.raises(ValueError, match="init must be one of"):
        train(da, labels, prompt_set(), text_embeddings=text_embeddings(), init="imagenet", progress=False,
              **{**TINY, "epochs": 1})


def test_auto_uses_the_base_model_only_where_the_grid_covers_the_bands(base, data):
    da, labels = data
    kw = dict(text_embeddings=text_embeddings(), device="cpu", progress=False, **{**TINY, "epochs": 1})
    with_wl, report = train(da, labels, prompt_set(), **kw)  # init="auto" is the default
    assert with_wl.prior is not None and report.config["init_used"] == "base"
    no_wl, report = train(da.values, labels, prompt_set(), **kw)
    assert no_wl.prior is None and report.config["init_used"] == "scratch" and no_wl.config.n_bands == 24
    thermal = da.assign_coords(wavelength=("band", np.linspace(8000.0, 12000.0, 24)))
    lwir, report = train(thermal, labels, prompt_set(), **kw)
    assert lwir.prior is None and report.config["init_used"] == "scratch"


def test_reading_side_gives_bands_only_and_the_model_step_adds_the_prior(data, trained):
    """Issue 22: normalize() only scales and masks; the prior's channels are computed in the model step, and a
    tile that already holds them (as training builds them on the CPU) gives the same probabilities."""
    import torch

    da, _ = data
    model, _ = trained
    raw = np.asarray(da.values, dtype=np.float32)
    valid = ~(raw == NODATA).all(0)
    bands = model.normalize(raw, valid)
    assert bands.shape == (24, 36, 36)
    std = np.where(model.std > 0, model.std, 1.0)
    full = np.concatenate([raw, model.prior(raw)])
    full = ((full - model.mean[:, None, None]) / std[:, None, None]).astype(np.float32)
    full[:, ~valid] = 0.0
    with torch.inference_mode():
        added = model._with_prior(torch.from_numpy(bands)).numpy()
    np.testing.assert_allclose(added, full, atol=2e-4)
    np.testing.assert_allclose(model.predict_tile(bands), model.predict_tile(full), atol=1e-4)
