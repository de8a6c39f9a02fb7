"""Training on a small synthetic scene: accuracy, reproducibility, options, errors, the report."""

from __future__ import annotations

import numpy as np
import pytest
from _model_helpers import TINY, block_scene, prompt_set, text_embeddings

from hsigeo.errors import LabelError
from hsigeo.inference.core import classify_array
from hsigeo.model.training import DEFAULTS, TrainReport, scene_statistics, train
from hsigeo.sampling.splits import stratified_split


@pytest.fixture(scope="module")
def scene():
    return block_scene()


@pytest.fixture(scope="module")
def trained(scene):
    cube, labels, _ = scene
    train_mask, test_mask = stratified_split(labels, fraction=0.1, seed=0)
    model, report = train(cube, labels, prompt_set(), train_mask=train_mask, text_embeddings=text_embeddings(),
                          progress=False, seed=0, **TINY)
    return model, report, test_mask


def test_accuracy_well_above_chance(scene, trained):
    cube, labels, _ = scene
    model, report, test_mask = trained
    values, conf = classify_array(cube, model)
    oa = float(np.mean(values[test_mask] == labels[test_mask]))
    assert oa >= 0.9, oa  # chance is 0.25
    assert conf.min() > 0.25 - 1e-6 and conf.max() <= 1.0 + 1e-6
    assert set(np.unique(values)) <= {1, 2, 3, 4}


def test_report(trained):
    model, report, _ = trained
    assert isinstance(report, TrainReport)
    assert len(report.history["loss"]) == TINY["epochs"]
    assert report.history["loss"][-1] < report.history["loss"][0]
    assert report.n_parameters["trainable"] == sum(p.numel() for p in model.net.parameters())
    assert report.n_train == sum(v[0] for v in report.per_class.values())
    assert report.val_accuracy is None  # val_fraction=0
    d = report.to_dict()
    assert d["config"]["epochs"] == TINY["epochs"] and "history" in d
    assert model.report["n_train"] == report.n_train


def test_reproducible_with_seed(scene):
    cube, labels, _ = scene
    kw = dict(fraction=0.05, text_embeddings=text_embeddings(), progress=False, **{**TINY, "epochs": 2})
    m1, r1 = train(cube, labels, prompt_set(), seed=3, **kw)
    m2, r2 = train(cube, labels, prompt_set(), seed=3, **kw)
    assert r1.history["loss"] == r2.history["loss"]
    r = m1.radius
    tile = np.pad(m1.normalize(cube[:, :12, :12]), ((0, 0), (r, r), (r, r)), mode="reflect")
    assert np.array_equal(m1.predict_tile(tile), m2.predict_tile(tile))


def test_single_sample_classes_validation_and_softmax(scene):
    cube, labels, _ = scene
    # one training pixel per class; validation cannot take any of them
    mask, _ = stratified_split(labels, count=1, seed=0)
    model, report = train(cube, labels, prompt_set(), train_mask=mask, text_embeddings=text_embeddings(),
                          progress=False, loss="softmax", **{**TINY, "epochs": 2, "val_fraction": 0.5})
    assert report.n_train == 4 and report.n_val == 0
    # plenty of pixels: validation is used and the best epoch kept
    model, report = train(cube, labels, prompt_set(), fraction=0.3, text_embeddings=text_embeddings(),
                          progress=False, patience=1, **{**TINY, "epochs": 3, "val_fraction": 0.2})
    assert report.n_val > 0 and 0.0 <= report.val_accuracy <= 1.0
    assert 1 <= report.best_epoch <= len(report.history["epoch"])


def test_dataarray_input_keeps_wavelengths(scene):
    import xarray as xr

    cube, labels, wl = scene
    da = xr.DataArray(cube, dims=("band", "y", "x"), coords={"wavelength": ("band", wl)})
    lab = xr.DataArray(labels, dims=("y", "x"))
    model, _ = train(da, lab, prompt_set(), fraction=0.05, text_embeddings=text_embeddings(), progress=False,
                     **{**TINY, "epochs": 1})
    assert np.allclose(model.wavelengths, wl)
    assert model.n_bands == cube.shape[0]


def test_errors(scene):
    cube, labels, _ = scene
    bad = labels.copy()
    bad[5, 5] = 9
    with pytest.raises(LabelError, match="9"):
        train(cube, bad, prompt_set(), text_embeddings=text_embeddings(), progress=False, epochs=1)
    with pytest.raises(LabelError):
        train(cube, np.zeros_like(labels), prompt_set(), text_embeddings=text_embeddings(), progress=False)
    with pytest.raises(TypeError, match="unknown training option"):
        train(cube, labels, prompt_set(), text_embeddings=text_embeddings(), progress=False, epoch=3)
    with pytest.raises(ValueError):
        train(cube, labels, prompt_set(), text_embeddings=text_embeddings(), progress=False, loss="nope")


def test_scene_statistics_constant_band_and_nodata():
    cube = np.ones((3, 4, 4), np.float32)
    cube[1] = np.arange(16).reshape(4, 4)
    valid = np.ones((4, 4), bool)
    valid[0, 0] = False
    mean, std = scene_statistics(cube, valid)
    assert std[0] == 1.0 and std[1] > 0
    assert mean[1] == pytest.approx(np.arange(1, 16).mean())


def test_defaults_documented():
    assert DEFAULTS["loss"] == "hard_negative" and DEFAULTS["k_hard"] == 4 and DEFAULTS["m_semi"] == 4
    assert DEFAULTS["lr"] == 1e-3 and DEFAULTS["weight_decay"] == 1e-4


def test_train_config_holds_a_backbone_config():
    """Flat options split into training fields and one BackboneConfig; the flat form round-trips."""
    from hsigeo.errors import InvalidTypeError
    from hsigeo.model.backbone import BackboneConfig
    from hsigeo.model.training import TrainConfig

    cfg = TrainConfig.from_options(epochs=3, width=32, heads=2)
    assert cfg.optim.epochs == 3 and cfg.backbone == BackboneConfig(width=32, heads=2)
    assert cfg.backbone.n_bands == 0  # set from the scene when training
    assert TrainConfig.from_options(**cfg.options()) == cfg
    assert set(cfg.options()) == set(DEFAULTS) and "n_bands" not in DEFAULTS and "combine" not in DEFAULTS
    nested = TrainConfig.from_options(backbone={"width": 16, "heads": 2, "n_bands": 0}, depth=3)
    assert (nested.backbone.width, nested.backbone.depth) == (16, 3)  # flat fields override the given backbone
    with pytest.raises(InvalidTypeError, match="combine"):
        TrainConfig.from_options(combine="mean")
    with pytest.raises(ValueError, match="divisible"):
        TrainConfig.from_options(width=30, heads=4)


def test_default_patch_is_15_pixels():
    assert DEFAULTS["kernel"] * DEFAULTS["grid"] == 15  # 15 x 15 patches (see TrainConfig)


def test_validation_is_all_or_nothing():
    from hsigeo.model.trainer import _split_validation

    rng = np.random.default_rng(0)
    big = {0: np.arange(200), 1: np.arange(200, 400)}
    train_by, val_by = _split_validation(big, 0.1, 10, rng)
    assert [v.size for v in val_by.values()] == [20, 20]
    assert sorted(np.concatenate([*train_by.values(), *val_by.values()])) == list(range(400))
    # one class too small to validate: no class validates (a partial set rewards neglecting classes)
    train_by, val_by = _split_validation({**big, 2: np.arange(400, 430)}, 0.1, 10, rng)
    assert all(v.size == 0 for v in val_by.values()) and sum(t.size for t in train_by.values()) == 430
    # classes without any training pixel do not block validation
    _, val_by = _split_validation({**big, 2: np.arange(0)}, 0.1, 10, rng)
    assert [v.size for v in val_by.values()] == [20, 20, 0]
