"""The SVM and the SVM + network ensemble (``hsigeo train --method svm|ensemble|auto``).

Real scikit-learn fits, real model files, the real engines on the session's synthetic GeoTIFF
(48 x 56 px, 40 bands, a nodata border), and an accuracy floor on Salinas-A when its files are
in the data folder.
"""

from __future__ import annotations

import copy
import sys
import warnings

import numpy as np
import pytest
import torch

EPOCHS = 2


@pytest.fixture(scope="module")
def scene(synthetic_scene):
    from hsigeo.io.labels import read_labels
    from hsigeo.io.raster import open_hsi
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    da = open_hsi(synthetic_scene.scene_path).load()
    labels = np.asarray(read_labels(synthetic_scene.labels_path, like=da).values)
    train, test = stratified_split(labels, fraction=0.1, seed=0)
    return da, labels, train, test, load_prompts(synthetic_scene.prompts_path)


@pytest.fixture(scope="module")
def models(scene):
    from hsigeo.model.training import train

    da, labels, train_mask, _, prompts = scene
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic crop has no Water pixel; sklearn's deprecation notes
        out["svm"] = train(da, labels, prompts, train_mask=train_mask, method="svm", epochs=EPOCHS, seed=0,
                           progress=False, device="cpu")[0]
        # the two-member ensemble (network + SVM: the default before round 6, --no-cnn-member)
        out["ensemble"] = train(da, labels, prompts, train_mask=train_mask, method="ensemble", epochs=EPOCHS, seed=0,
                                progress=False, device="cpu", cnn_member=False)[0]
        # the default ensemble: its third member is the patch CNN
        out["ensemble-cnn"] = train(da, labels, prompts, train_mask=train_mask, method="ensemble", epochs=EPOCHS,
                                    seed=0, progress=False, device="cpu")[0]
    return out


def test_svm_matches_scikit_learn():
    """Decision values equal libsvm's; probabilities agree with predict_proba to libsvm's tolerance."""
    from sklearn.svm import SVC

    from hsigeo.model.svm import KernelSVM

    rng = np.random.default_rng(0)
    for k in (2, 4):
        y = rng.integers(0, k, 150)
        x = rng.standard_normal((150, 6)) + 1.5 * y[:, None] * (np.arange(6) == 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            svc = SVC(kernel="rbf", C=10.0, gamma=0.3, probability=True, random_state=0).fit(x, y)
            ref = svc.predict_proba(x)
        m = KernelSVM.from_sklearn(svc, k, np.arange(k), {})
        xt = torch.from_numpy(x).float()
        dec = m.decision(xt).numpy()
        want = -svc.decision_function(x)[:, None] if k == 2 else \
            svc.set_params(decision_function_shape="ovo").decision_function(x)
        np.testing.assert_allclose(dec, want, atol=1e-4)
        p = m.proba(xt).numpy()
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
        assert np.abs(p - ref).max() < 0.02
        assert (p.argmax(1) == ref.argmax(1)).mean() >= 0.97


def test_svm_maps_classes_without_pixels_to_never_winning():
    from hsigeo.model.svm import fit_svm

    rng = np.random.default_rng(1)
    y = np.repeat([0, 2, 3], 20)  # class 1 of 4 has no pixel
    x = rng.standard_normal((60, 5)) + 3.0 * y[:, None]
    m = fit_svm(x, y, 4, seed=0)
    p = m.proba(torch.from_numpy(x).float()).numpy()
    assert p.shape == (60, 4) and p[:, 1].max() < 0.05
    assert (p.argmax(1) == y).mean() > 0.95
    assert m.info["C"] in m.info["C_grid"] and m.info["cv_folds"] == 3 and m.info["cv_accuracy"] > 0.9


@pytest.mark.parametrize("method", ["svm", "ensemble", "ensemble-cnn"])
def test_model_file_round_trip_gives_identical_maps(models, scene, method, tmp_path):
    from hsigeo.inference.core import classify_array, predict_proba_array
    from hsigeo.model.modelfile import load_model, read_metadata, save_model

    da, labels, _, test, _ = scene
    model = models[method]
    save_model(model, tmp_path / "m.hsigeo")
    back = load_model(tmp_path / "m.hsigeo")
    meta = read_metadata(tmp_path / "m.hsigeo")
    kind = method.split("-")[0]
    assert meta["model_type"] == kind and back.method == kind and back.digest() == model.digest()
    assert meta["training"]["config"]["method_used"] == kind
    assert meta["svm"]["n_support"] == model.svm.support_vectors.shape[0] and meta["svm"]["info"]["C"] > 0
    assert (meta["network"] is None) == (method == "svm")
    assert (meta["cnn"] is not None) == (back.cnn is not None) == (method == "ensemble-cnn")
    cube = np.asarray(da.values)
    a = predict_proba_array(cube, model, nodata=-9999, device="cpu")
    b = predict_proba_array(cube, back, nodata=-9999, device="cpu")
    np.testing.assert_array_equal(a, b)
    classes, _ = classify_array(cube, back, nodata=-9999, device="cpu")
    mask = test & (labels > 0)
    assert (classes[mask] == labels[mask]).mean() > 0.8  # five separable classes, chance 0.2


@pytest.mark.parametrize("method", ["svm", "ensemble", "ensemble-cnn"])
def test_engines_agree(models, scene, synthetic_scene, method, tmp_path):
    """Tiled (small windows, so halos cross window edges) == whole scene == dask == predict_pixels."""
    import rasterio

    from hsigeo.inference.core import classify_array
    from hsigeo.inference.distributed import classify_dataarray
    from hsigeo.inference.tiled import classify_raster
    from hsigeo.io.raster import open_hsi

    da, labels, _, _, _ = scene
    model = models[method]
    whole, _ = classify_array(np.asarray(da.values), model, nodata=-9999, device="cpu")
    classify_raster(synthetic_scene.scene_path, model, tmp_path / "c.tif", tile_size=16, device="cpu")
    with rasterio.open(tmp_path / "c.tif") as src:
        tiled = src.read(1)
    np.testing.assert_array_equal(tiled, whole)
    lazy = open_hsi(synthetic_scene.scene_path, chunks={"band": -1, "y": 20, "x": 24})
    dask_map = np.asarray(classify_dataarray(lazy, model, device="cpu").values)
    np.testing.assert_array_equal(dask_map, whole)
    rows, cols = np.nonzero(whole > 0)
    pick = np.random.default_rng(0).choice(rows.size, 60, replace=False)
    # every valid pixel (a sample of 60 once hid the pixels beside the nodata border)
    values, conf = model.predict_pixels(np.asarray(da.values), rows, cols, nodata=-9999)
    np.testing.assert_array_equal(values, whole[rows, cols])
    values, conf = model.predict_pixels(np.asarray(da.values), rows[pick], cols[pick], nodata=-9999)
    np.testing.assert_array_equal(values, whole[rows[pick], cols[pick]])
    assert np.all((conf > 0) & (conf <= 1 + 1e-6))


def test_ensemble_radius_and_weight(models):
    ens, svm = models["ensemble"], models["svm"]
    assert svm.radius == 2 and ens.radius == ens.net.config.radius + ens.spatial.radius
    assert ens.svm_weight == 0.5 and ens.net.spatial is None
    assert ens.fusion == "confidence" and ens.report["config"]["fusion"] == "confidence"


def test_ensemble_narrows_the_filter_where_the_spectra_separate_the_classes(scene, models, capsys, tmp_path):
    """The rule (``separable_cv`` 0.9, ``separable_radius`` 1): a 3 x 3 filter instead of 5 x 5 once the SVM's
    cross-validated accuracy on the training pixels reaches 0.9; the choice is stored in the report and printed;
    ``separable_cv=None`` keeps 5 x 5, ``separable_radius=0`` drops the filter; the SVM alone is not concerned.
    Dense labels (the median class with training pixels has at least ``dense_per_class``, 50, each at least 2): no
    filter where the spectra separate the classes too (the default), or wherever (``filter_rule="dense"``)."""
    from hsigeo.model.selection import _ensemble_filter
    from hsigeo.model.train_options import TrainConfig
    from hsigeo.model.training import train
    from hsigeo.sampling.splits import stratified_split

    # 10 % of the crop leaves a class with one training pixel: no cross-validation, the filter stays 5 x 5
    ens = models["ensemble"]
    rec = ens.report["spatial_filter"]
    assert ens.svm.info["cv_accuracy"] is None and rec["svm_cv_accuracy"] is None and rec["threshold"] == 0.9
    assert rec["radius"] == 2 and ens.spatial.radius == 2
    assert models["svm"].spatial.radius == 2 and "spatial_filter" not in models["svm"].report
    # 30 %: every class cross-validated and the crop's spectra are distinct; its median class holds 64.5 training
    # pixels, so the labels are dense too: no filter. Without the dense step the filter narrows to 3 x 3
    da, labels, _, _, prompts = scene
    more, _ = stratified_split(labels, fraction=0.3, seed=0)
    counts = np.unique(labels[more & (labels > 0)], return_counts=True)[1]  # the classes with training pixels
    med = float(np.median(counts))
    assert counts.min() == 2 and med == 64.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # without the two-fold check (tested on its own below), so each rule's own choice shows
        kw = {"train_mask": more, "method": "ensemble", "epochs": EPOCHS, "seed": 0, "device": "cpu",
              "fold_test": None}
        off, _ = train(da, labels, prompts, **kw)
        narrow, _ = train(da, labels, prompts, **kw, dense_per_class=None)
        wide, _ = train(da, labels, prompts, **kw, separable_cv=None)
        none, _ = train(da, labels, prompts, **kw, dense_per_class=None, separable_radius=0, progress=False)
        dense, _ = train(da, labels, prompts, **kw, filter_rule="dense")
    cv = narrow.svm.info["cv_accuracy"]
    assert cv >= 0.9 and off.spatial is None and off.radius == off.net.config.radius
    assert off.report["spatial_filter"] == {
        "radius": 0, "applied": False, "svm_cv_accuracy": cv, "threshold": 0.9, "median_per_class": med,
        "dense_per_class": 50, "read_svm_cv": True, "rule": "the spectra alone separate the training classes and the labels are dense: "
                                      "the median class has 64.5 training pixels (>= 50)"}
    assert narrow.report["spatial_filter"] == {
        "radius": 1, "applied": True, "rule": "the spectra alone separate the training classes",
        "svm_cv_accuracy": cv, "threshold": 0.9, "median_per_class": med, "dense_per_class": None, "read_svm_cv": True}
    assert narrow.spatial.radius == 1 and narrow.radius == narrow.net.config.radius + 1
    assert wide.spatial.radius == 2 and wide.report["spatial_filter"]["rule"] == "always the same (separable_cv None)"
    assert none.spatial is None and none.radius == none.net.config.radius and not none.report["spatial_filter"]["applied"]
    assert dense.spatial is None and dense.report["spatial_filter"]["rule"] == (
        "the labels are dense: the median class has 64.5 training pixels (>= 50)")
    # the line says the SVM's accuracy only where it decided: not under "dense", nor without cross-validation
    assert not dense.report["spatial_filter"]["read_svm_cv"] and not wide.report["spatial_filter"]["read_svm_cv"]
    assert not rec["read_svm_cv"]
    err = capsys.readouterr().err
    assert "spatial filter: off (the labels are dense: the median class has 64.5 training pixels (>= 50))\n" in err
    assert (f"spatial filter: 3 x 3 (the spectra alone separate the training classes: SVM cross-validated "
            f"accuracy {100 * cv:.1f} % >= 90 %)") in err and "spatial filter: 5 x 5 (always the same" in err
    assert "spatial filter: off (the labels are dense: the median class has 64.5 training pixels (>= 50))" in err
    assert ("spatial filter: off (the spectra alone separate the training classes and the labels are dense: the "
            f"median class has 64.5 training pixels (>= 50): SVM cross-validated accuracy {100 * cv:.1f} % >= 90 %)") in err
    # `hsigeo info` says which filter the file holds, and why
    from _cli_runner import run_in_process

    from hsigeo.model.modelfile import save_model

    save_model(narrow, tmp_path / "narrow.hsigeo")
    code, text, _ = run_in_process(capsys, "info", str(tmp_path / "narrow.hsigeo"))
    assert code == 0 and ("filter:       edge-aware, 3 x 3 neighbourhood, tau 0.2, 20 band groups; the spectra "
                          f"alone separate the training classes (SVM cross-validated accuracy {100 * cv:.1f} %)") in text
    cfg = TrainConfig()
    assert _ensemble_filter(cfg, {"cv_accuracy": None})["radius"] == 2  # a class with one pixel: nothing known
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.89})["radius"] == 2
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.9})["radius"] == 1
    assert _ensemble_filter(cfg.with_options(smooth_radius=0), {"cv_accuracy": 0.5})["radius"] == 0
    # whether the SVM's accuracy decided (and is printed against the threshold)
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.89})["read_svm_cv"]
    assert not _ensemble_filter(cfg.with_options(smooth_radius=0), {"cv_accuracy": 0.5})["read_svm_cv"]
    # "dense": median class >= 50 training pixels, every class >= 2: no filter, whatever the SVM's accuracy
    dcfg = cfg.with_options(filter_rule="dense")
    assert _ensemble_filter(dcfg, {"cv_accuracy": 0.5}, np.array([200, 50, 3]))["radius"] == 0
    assert _ensemble_filter(dcfg, {"cv_accuracy": 0.95}, np.array([200, 49, 3]))["radius"] == 1  # median 49
    assert _ensemble_filter(dcfg, {"cv_accuracy": None}, np.array([200, 90, 1]))["radius"] == 2  # a class of one pixel
    assert _ensemble_filter(dcfg, {"cv_accuracy": 0.5}, np.array([200, 90, 0]))["radius"] == 0  # one without: aside
    # the default ("separable"): no filter only where the spectra separate the classes too
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.5}, np.array([200, 90, 80]))["radius"] == 2
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.9}, np.array([200, 90, 80]))["radius"] == 0
    assert _ensemble_filter(cfg, {"cv_accuracy": 0.9}, np.array([200, 49, 30]))["radius"] == 1  # median 49
    assert _ensemble_filter(cfg.with_options(dense_per_class=None), {"cv_accuracy": 0.9},
                            np.array([200, 90, 80]))["radius"] == 1


def test_fold_assignment_and_reflection():
    """Stratified halves (a one-pixel class in neither), seeded; window indices mirror as np.pad's "reflect"."""
    from hsigeo.model.fold_check import fold_assignment
    from hsigeo.model.scene_members import reflect_index

    y = np.array([0] * 5 + [1] * 4 + [2])
    fold = fold_assignment(y, seed=0)
    assert fold[y == 2].tolist() == [-1]  # the class of one pixel
    assert sorted(np.bincount(fold[y == 0])) == [2, 3] and np.bincount(fold[y == 1]).tolist() == [2, 2]
    assert np.array_equal(fold, fold_assignment(y, seed=0))
    a = np.arange(7)
    assert np.array_equal(a[reflect_index(np.arange(-4, 11), 7)], np.pad(a, 4, mode="reflect"))
    # a ring wider than the scene reflects again, as np.pad does
    assert np.array_equal(a[:3][reflect_index(np.arange(-8, 11), 3)], np.pad(a[:3], 8, mode="reflect"))


def _fold_maps(**wrong):
    """Fold maps of 80 scored pixels, each map wrong on the pixels given (``svm=range(12)``, ``two_r=[3]``: the
    filtered map), right on every other."""
    from hsigeo.model.fold_check import FoldMaps

    right = {k: np.ones(80, dtype=bool) for k in ("svm", "cnn", "two", "svm-r", "cnn-r", "two-r")}
    for name, idx in wrong.items():
        right[name.replace("_r", "-r")][list(idx)] = False
    return FoldMaps(right, 2, 80, 1.0)


def test_fold_checks_decide_only_when_significant(scene, models, capsys, monkeypatch):
    """The two-fold checks: the filter's record is consistent (McNemar's exact one-sided p of the discordant
    counts, every training pixel of a class with two or more scored once) and deterministic; a member goes, and the
    filter goes, only at p below their levels; the filter is checked on the members that stay; the outcomes are
    printed and stored."""
    from scipy.stats import binomtest

    import hsigeo.model.fold_check as fc
    import hsigeo.model.selection as sel
    from hsigeo.model.train_options import TrainConfig

    ens = models["ensemble-cnn"]
    rec = ens.report["spatial_filter"]
    test = rec["fold_test"]  # 10 % of the crop: a class with one pixel, no SVM CV, so the 5 x 5 filter was checked
    b, c = test["better_unfiltered"], test["better_filtered"]
    assert test["radius"] == 2 and test["level"] == 0.05 and b + c <= test["scored"] and test["members"] == "two"
    _, labels, train_mask, _, _ = scene
    counts = np.unique(labels[train_mask & (labels > 0)], return_counts=True)[1]
    assert test["scored"] == int(counts[counts > 1].sum())
    assert test["p_value"] == pytest.approx(binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0,
                                            abs=1e-6)
    assert (rec["radius"] == 0) == (test["p_value"] < 0.05)
    cfg = TrainConfig().with_options(member_test=0.05)  # the member check is an option (off by default)
    outcomes = [
        # (fold maps, member left out, filter radius after the check, the filter's counts)
        (_fold_maps(two_r=range(9), two=[9, 10]), None, 0, (9, 2)),  # p 0.033: unfiltered
        (_fold_maps(two_r=range(6), two=range(6, 11), svm=range(6, 11), cnn=range(6, 11)), None, 2, (6, 5)),  # p 0.5
        # the CNN alone beats the pair (12 against 1, p 0.0017): the SVM goes, and the filter is checked on the
        # CNN's maps alone (1 against 1: it stays), not on the pair's (8 against 0)
        (_fold_maps(two=range(12), svm=range(12), cnn=[12], cnn_r=[13], two_r=range(20)), "svm", 2, (1, 1)),
        (_fold_maps(two=range(12), cnn=range(12), svm=[12], svm_r=range(20, 30)), "cnn", 0, (10, 1)),
        (_fold_maps(two=range(7), svm=range(7), cnn=range(7, 11)), None, 2, (0, 7)),  # CNN 7 against 4: p 0.27
    ]
    for maps, left_out, radius, counts_ in outcomes:
        monkeypatch.setattr(fc, "fold_maps", lambda *a, m=maps, **k: m)
        record = sel._ensemble_filter(cfg, {"cv_accuracy": 0.8}, np.array([40, 30, 10]))
        members = fc.apply_fold_checks(record, None, None, cfg, None, None, None)
        assert members["left_out"] == left_out and record["radius"] == radius
        got = record["fold_test"]
        assert (got["better_unfiltered"], got["better_filtered"]) == counts_
        assert got["members"] == fc.STAYING_MAP[left_out]
        assert members["p_cnn"] == pytest.approx(fc.mcnemar(maps.right["cnn"], maps.right["two"])[2], abs=1e-6)
        sel._print_filter(record)
        print(fc.describe_members(members), file=sys.stderr)
    err = capsys.readouterr().err
    assert ("spatial filter: off (a two-fold check on the training pixels found the maps better without the 5 x 5 "
            "filter: 9 against 2 of 80 pixels, McNemar p = 0.033 (< 0.05))") in err
    assert ("spatial filter: 5 x 5 (the spectra alone do not separate the training classes: SVM cross-validated "
            "accuracy 80.0 % < 90 %; a two-fold check on the training pixels did not find it worse: 6 pixels better "
            "without, 5 with it, McNemar p = 0.5)") in err
    assert ("network + CNN, the SVM left out (a two-fold check on the training pixels found the CNN alone better "
            "than the SVM and CNN together: right on 12 pixels they missed, against 1, of 80; McNemar p = 0.0017 "
            "(< 0.05))") in err
    assert "network + SVM, the CNN left out" in err and "found neither cheap member better alone" in err
    # either level None: that check is not made; both None: no fold maps at all
    monkeypatch.setattr(fc, "fold_maps", lambda *a, **k: _fold_maps(two=range(12), svm=range(12), cnn=[12],
                                                                    two_r=range(21)))
    for options, left, radius in (({"member_test": None}, None, 0), ({"fold_test": None}, "svm", 2)):
        c2 = cfg.with_options(**options)
        record = sel._ensemble_filter(c2, {"cv_accuracy": 0.8})
        members = fc.apply_fold_checks(record, None, None, c2, None, None, None)
        assert (members is None if left is None else members["left_out"] == left) and record["radius"] == radius
    monkeypatch.setattr(fc, "fold_maps", lambda *a, **k: pytest.fail("no check wanted"))
    c3 = cfg.with_options(member_test=None, fold_test=None)
    none = sel._ensemble_filter(c3, {"cv_accuracy": 0.8})
    assert fc.apply_fold_checks(none, None, None, c3, None, None, None) is None
    assert none["radius"] == 2 and "fold_test" not in none


def test_member_check_is_an_option_that_leaves_a_member_out(scene, models):
    """``member_test``: the record agrees with McNemar's test on the fold maps, the member left out has no weight in
    the map (the SVM: network and CNN alike, no self-training; the CNN: gone); an ensemble without its SVM maps as the
    network and the CNN fused alike and never runs the SVM."""
    from hsigeo.model.combined import CombinedModel, fuse_members
    from hsigeo.model.training import train

    da, labels, train_mask, _, prompts = scene
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train(da, labels, prompts, train_mask=train_mask, method="ensemble", epochs=EPOCHS, seed=0,
                         progress=False, device="cpu", member_test=0.05)
    rec = model.report["members"]
    assert rec["level"] == 0.05 and "members" not in models["ensemble-cnn"].report  # an option, off by default
    from scipy.stats import binomtest

    for who in ("cnn", "svm"):
        b, c = rec[f"{who}_alone"]
        assert b + c <= rec["scored"] and rec[f"p_{who}"] == pytest.approx(
            binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0, abs=1e-6)
    p_cnn, p_svm = rec["p_cnn"], rec["p_svm"]
    assert rec["left_out"] == (None if min(p_cnn, p_svm) >= 0.05 else "svm" if p_cnn <= p_svm else "cnn")
    if rec["left_out"] == "svm":
        assert model.svm_weight == 0 and model.cnn_weight == 1 and "self_training" not in model.report
    elif rec["left_out"] == "cnn":
        assert model.cnn is None and not model.report["cnn"]["used"] and "member check" in model.report["cnn"]["why"]
    # an ensemble without its SVM maps as the network and the CNN fused alike, and never runs the SVM
    ens = models["ensemble-cnn"]
    tile = ens.normalize(np.pad(np.asarray(da.values, np.float32)[:, :20, :20], ((0, 0), (ens.radius,) * 2,
                                                                                (ens.radius,) * 2), mode="reflect"))
    no_svm = CombinedModel(ens.svm, ens.classes, ens.mean, ens.std, net=ens.net, svm_weight=0.0, fusion=ens.fusion,
                           cnn=ens.cnn, cnn_weight=1.0)
    calls = []
    no_svm.svm = copy.copy(ens.svm)
    no_svm.svm.proba = lambda *a, **k: calls.append(1)  # the SVM must not run
    t = torch.as_tensor(tile)
    r, rc, rn = no_svm.member_radius, ens.cnn.radius, ens.net.config.radius
    h = t.shape[1] - 2 * r
    p_net = torch.as_tensor(ens.net.predict_tile(t[:, r - rn : r + h + rn, r - rn : r + h + rn]))
    p_cnn = ens.cnn.proba_tile(t[: ens.n_bands, r - rc : r + h + rc, r - rc : r + h + rc])
    want = fuse_members([(1.0, p_net), (1.0, p_cnn)], ens.fusion)
    torch.testing.assert_close(torch.as_tensor(no_svm.predict_tile(t)), want, rtol=1e-5, atol=1e-6)
    assert not calls


def test_confidence_fusion_lets_the_sure_member_decide():
    """Where one member is sure and the other hesitates, the sure one wins; equal confidence is the mean."""
    from hsigeo.model.combined import CombinedModel

    ens = CombinedModel.__new__(CombinedModel)  # fuse reads only the weight and the rule
    ens.svm_weight, ens.fusion = 0.5, "confidence"
    p_net = torch.tensor([[0.9, 0.5], [0.1, 0.5]])  # pixel 0: sure of class 0; pixel 1: undecided
    p_svm = torch.tensor([[0.35, 0.2], [0.65, 0.8]])  # pixel 0: leans to class 1; pixel 1: sure of class 1
    p = ens.fuse(p_net, p_svm)
    torch.testing.assert_close(p.sum(0), torch.ones(2))
    assert p.argmax(0).tolist() == [0, 1]
    mean = 0.5 * p_net + 0.5 * p_svm
    assert p[0, 0] > mean[0, 0] and p[1, 1] > mean[1, 1]  # the surer member pulls harder than in the mean
    same = torch.tensor([[0.7, 0.3], [0.3, 0.7]])
    torch.testing.assert_close(ens.fuse(same, same.flip(0)), 0.5 * same + 0.5 * same.flip(0))
    ens.fusion = "mean"
    torch.testing.assert_close(ens.fuse(p_net, p_svm), mean)


def test_self_training_is_recorded_and_reads_no_label_outside_the_training_pixels(scene, models):
    """The SVM is refitted on pseudo-labels the model predicted; the labels of other pixels are never read."""
    from hsigeo.model.training import train

    da, labels, train_mask, _, prompts = scene
    ens = models["ensemble"]
    rec = ens.report["self_training"]
    n_train = int((train_mask & (labels > 0)).sum())
    assert rec["source"] == "ensemble" and rec["factor"] == 3.0 and rec["n_added"] > 0
    assert sum(rec["added"].values()) == rec["n_added"] <= 3 * n_train
    assert ens.svm.info["n_train"] == n_train + rec["n_added"]
    # the labels outside the training pixels shuffled among their classes: the same SVM
    scrambled = labels.copy()
    out = ~train_mask & (labels > 0)
    scrambled[out] = np.random.default_rng(0).permutation(labels[out])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svm, _ = train(da, scrambled, prompts, train_mask=train_mask, method="svm", seed=0, progress=False,
                       device="cpu")
    np.testing.assert_array_equal(svm.svm.support_vectors, models["svm"].svm.support_vectors)
    assert svm.report["self_training"] == {**models["svm"].report["self_training"],
                                           "seconds": svm.report["self_training"]["seconds"]}


def test_files_without_fusion_are_mean_ensembles(models, tmp_path):
    """Ensembles written before ``fusion`` existed load as the plain average they were."""
    import json
    import zipfile

    from hsigeo.model.modelfile import load_model, save_model

    save_model(models["ensemble"], tmp_path / "new.hsigeo")
    with zipfile.ZipFile(tmp_path / "new.hsigeo") as src, zipfile.ZipFile(tmp_path / "old.hsigeo", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "metadata.json":
                meta = json.loads(data)
                assert meta.pop("fusion") == "confidence"
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    old = load_model(tmp_path / "old.hsigeo")
    assert old.fusion == "mean" and load_model(tmp_path / "new.hsigeo").fusion == "confidence"


def test_auto_prints_and_stores_its_choice(synthetic_scene, tmp_path, capsys, monkeypatch):
    from _cli_runner import run_in_process

    from hsigeo.model.modelfile import read_metadata

    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    code, out, err = run_in_process(
        capsys, "--progress", "none", "train", str(synthetic_scene.scene_path), "--labels",
        str(synthetic_scene.labels_path), "--prompts", str(synthetic_scene.prompts_path), "-o", str(tmp_path / "m.hsigeo"),
        "--train-fraction", "0.1", "--epochs", str(EPOCHS), "--method", "auto", "--device", "cpu")
    assert code == 0, err
    meta = read_metadata(tmp_path / "m.hsigeo")
    sel = meta["training"]["selection"]
    assert sel["chosen"] in ("net", "svm", "ensemble") and set(sel["cv_accuracy"]) == {"net", "svm", "ensemble"}
    assert sel["chosen"] == max(sel["cv_accuracy"], key=lambda k: sel["cv_accuracy"][k])
    assert meta["training"]["config"]["method"] == "auto"
    assert meta["training"]["config"]["method_used"] == sel["chosen"] == (meta.get("model_type") or "net")
    assert f"method auto: chose {sel['chosen']}" in err  # as the choice is made
    assert f"Method: {sel['chosen']} (chosen by --method auto: 2-fold cross-validation" in out  # in the summary
    import json

    report = json.loads((tmp_path / "m_report" / "report.json").read_text(encoding="utf-8"))
    assert report["extra"]["method"] == sel["chosen"] and report["extra"]["method_selection"]["chosen"] == sel["chosen"]


def test_cli_method_svm(synthetic_scene, tmp_path, capsys, monkeypatch):
    from _cli_runner import run_in_process

    from hsigeo.model.modelfile import read_metadata

    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    code, out, err = run_in_process(
        capsys, "--progress", "none", "train", str(synthetic_scene.scene_path), "--labels",
        str(synthetic_scene.labels_path), "--prompts", str(synthetic_scene.prompts_path), "-o", str(tmp_path / "s.hsigeo"),
        "--train-fraction", "0.1", "--method", "svm")
    assert code == 0, err
    assert "Method: svm" in out
    assert read_metadata(tmp_path / "s.hsigeo")["model_type"] == "svm"
    code, _, err = run_in_process(capsys, "--progress", "none", "classify", str(synthetic_scene.scene_path),
                                  "--model", str(tmp_path / "s.hsigeo"), "-o", str(tmp_path / "c.tif"))
    assert code == 0, err
    code, text, err = run_in_process(capsys, "info", str(tmp_path / "s.hsigeo"))
    assert code == 0, err
    assert "svm: RBF SVM (" in text and "tiles need a 2-pixel halo" in text
    assert "self-trained: the SVM refitted with" in text and "Method: svm; SVM self-trained with" in out


def test_cli_cnn_member_and_training_filter_rule(synthetic_scene, tmp_path, capsys, monkeypatch):
    """``hsigeo train --cnn-member --filter-rule training``: both reach the model file, the summary and the report."""
    import json

    from _cli_runner import run_in_process

    from hsigeo.model.modelfile import read_metadata

    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    code, out, err = run_in_process(
        capsys, "--progress", "none", "train", str(synthetic_scene.scene_path), "--labels",
        str(synthetic_scene.labels_path), "--prompts", str(synthetic_scene.prompts_path), "-o", str(tmp_path / "e.hsigeo"),
        "--train-fraction", "0.1", "--epochs", "2", "--cnn-member", "--filter-rule", "training")
    assert code == 0, err
    assert "Method: ensemble; confidence fusion; with a patch CNN member" in out
    meta = read_metadata(tmp_path / "e.hsigeo")
    assert meta["cnn"]["patch"] == 9 and meta["training"]["spatial_filter"]["rule"].startswith("the widest filter")
    report = json.loads((tmp_path / "e_report" / "report.json").read_text())["extra"]
    assert report["cnn_member"]["used"] and "training_accuracy" in report["spatial_filter"]


def test_cli_no_fold_check(synthetic_scene, tmp_path, capsys, monkeypatch):
    """``hsigeo train --no-fold-check --member-check``: the ensemble keeps the filter its rule chose, unchecked, and
    says so in the model file (``fold_test`` None in the options, no ``fold_test`` record); the member check, asked
    for, ran on the same fold maps and is stored (``members``) and printed."""
    from _cli_runner import run_in_process

    from hsigeo.model.modelfile import read_metadata

    monkeypatch.setenv("HSIGEO_HOME", str(tmp_path / "home"))
    code, _, err = run_in_process(
        capsys, "--progress", "none", "train", str(synthetic_scene.scene_path), "--labels",
        str(synthetic_scene.labels_path), "--prompts", str(synthetic_scene.prompts_path), "-o", str(tmp_path / "n.hsigeo"),
        "--train-fraction", "0.1", "--epochs", "2", "--no-fold-check", "--member-check")
    assert code == 0, err
    training = read_metadata(tmp_path / "n.hsigeo")["training"]
    assert training["config"]["fold_test"] is None and "fold_test" not in training["spatial_filter"]
    assert training["spatial_filter"]["radius"] == 2 and "found the maps better without" not in err
    assert training["config"]["member_test"] == 0.05 and training["members"]["level"] == 0.05
    assert "members: network + " in err
    code, out, err = run_in_process(capsys, "info", str(tmp_path / "n.hsigeo"))
    assert code == 0, err
    assert "members" in out and "a two-fold check on the training pixels found" in out


def test_svm_accuracy_floor_on_salinas_a():
    """Salinas-A at 5 % (seed 0): the SVM with the filter stays above the benchmark's plain SVM range."""
    from hsigeo.datasets.scenes import find_data_dir, load_dataset
    from hsigeo.errors import DatasetError
    from hsigeo.inference.core import classify_array
    from hsigeo.model.training import train
    from hsigeo.sampling.splits import stratified_split
    from hsigeo.text.prompts import load_prompts

    try:
        ds = load_dataset("salinas-a", data_dir=find_data_dir())
    except DatasetError as exc:
        pytest.skip(f"Salinas-A not available: {exc}")
    labels = np.asarray(ds.labels.values)
    train_mask, test = stratified_split(labels, fraction=0.05, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train(ds.cube, labels, load_prompts(ds.prompts_path), train_mask=train_mask, method="svm", seed=0,
                         progress=False, device="cpu")
    classes, _ = classify_array(np.asarray(ds.cube.values), model, device="cpu")
    m = test & (labels > 0)
    assert (classes[m] == labels[m]).mean() >= 0.97


def test_self_trained_svm_accuracy_floor_on_the_synthetic_scene():
    """The benchmark's synthetic scene at 1 % (40 pixels, seed 0): the self-trained SVM with its filter
    keeps the per-pixel SVM's accuracy (99.1-99.4 % measured on seeds 0-2), far above chance (1/6)."""
    from hsigeo.evaluation.benchmark_config import BenchmarkConfig, Protocol
    from hsigeo.evaluation.runner import load_scene
    from hsigeo.inference.core import classify_array
    from hsigeo.model.training import train

    scene = load_scene("synthetic", BenchmarkConfig())
    train_mask, test = Protocol("stratified", 0.01).split(scene.labels, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train(scene.cube, scene.labels, scene.prompts, train_mask=train_mask, method="svm", seed=0,
                         progress=False, device="cpu")
    rec = model.report["self_training"]
    assert rec["n_added"] > 0 and rec["source"] == "svm"
    classes, _ = classify_array(np.asarray(scene.cube.values), model, device="cpu")
    m = test & (scene.labels > 0)
    assert (classes[m] == scene.labels[m]).mean() >= 0.985


def test_fusion_and_self_train_options_are_checked():
    """A misspelt fusion or a negative self-training factor fails when the configuration is built."""
    from hsigeo.errors import InvalidInputError
    from hsigeo.model.training import DEFAULTS, TrainConfig

    assert DEFAULTS["fusion"] == "confidence" and DEFAULTS["self_train"] == 3.0 and DEFAULTS["method"] == "net"
    for bad in ({"fusion": "median"}, {"self_train": -1.0}, {"svm_weight": 1.5}, {"separable_cv": 1.5}):
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            TrainConfig.from_options(**bad).validate()
    assert TrainConfig.from_options(fusion="mean", self_train=0.0).validate().self_train == 0.0


def test_self_training_maps_a_window_of_a_large_scene(scene, models):
    """Past the pixel budget one window is mapped, with its real halo: inside, the whole-scene map's values."""
    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.scene_members import scene_window
    from hsigeo.model.selection import _scene_probs
    from hsigeo.model.training import prepare_training

    da, labels, train_mask, _, prompts = scene
    data = prepare_training(da, labels, prompts, train_mask=train_mask)
    model = models["ensemble"]
    rows, cols = scene_window(data, seed=0, max_pixels=400)
    probs, guide = _scene_probs(model, data, (rows, cols))
    assert guide.shape[1:] == probs.shape[1:]
    assert probs.shape[1:] == (20, 20) and (rows.stop - rows.start, cols.stop - cols.start) == (20, 20)
    whole = predict_proba_array(np.asarray(da.values), model, nodata=-9999, device="cpu")[:, rows, cols]
    ok = np.isfinite(whole).all(0)
    np.testing.assert_allclose(probs[:, ok], whole[:, ok], atol=1e-5)


def test_cnn_member_is_fused_recorded_and_checked(models, scene, tmp_path, capsys):
    """The third member: its report, its share of the fused map, ``hsigeo info``, and a hostile file."""
    import json
    import zipfile

    from hsigeo.errors import HsigeoError
    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.modelfile import load_model, save_model

    da, labels, _, test, _ = scene
    ens = models["ensemble-cnn"]
    rec = ens.report["cnn"]
    assert rec["used"] and rec["patch"] == 9 and rec["n_components"] == 15 and rec["n_trainable"] == ens.cnn.n_trainable
    assert ens.radius == max(ens.net.config.radius, 4) + ens.spatial.radius  # the network's 15 x 15 is the widest
    assert ens.n_parameters()["cnn"] == ens.cnn.n_trainable > 10_000
    # the fused map differs from the two-member one built from the same network and SVM
    two = models["ensemble"].__class__(ens.svm, classes=ens.classes, mean=ens.mean, std=ens.std, net=ens.net,
                                       svm_weight=ens.svm_weight, fusion=ens.fusion, spatial=ens.spatial)
    cube = np.asarray(da.values)
    p3 = predict_proba_array(cube, ens, nodata=-9999, device="cpu")
    p2 = predict_proba_array(cube, two, nodata=-9999, device="cpu")
    valid = np.isfinite(p3).all(0)
    assert np.abs(p3 - p2)[:, valid].max() > 1e-3
    np.testing.assert_allclose(p3[:, valid].sum(0), 1.0, atol=1e-4)
    # hsigeo info names the member
    from click.testing import CliRunner

    from cli.main import cli

    save_model(ens, tmp_path / "m.hsigeo")
    out = CliRunner().invoke(cli, ["info", str(tmp_path / "m.hsigeo")]).output
    assert "CNN member" in out and "9 x 9 patches of 15 PCA components" in out
    # a file whose CNN settings lie is refused with a clear error, before any allocation
    for key, value in (("patch", 8), ("n_components", 5000), ("hidden", 10**9), ("n_classes", 99),
                       ("label_smoothing", "0.1; import os"), ("steps", -1)):
        with zipfile.ZipFile(tmp_path / "m.hsigeo") as src, zipfile.ZipFile(tmp_path / f"bad_{key}.hsigeo", "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["cnn"][key] = value
                    data = json.dumps(meta).encode()
                dst.writestr(item, data)
        with pytest.raises(HsigeoError, match="cnn|CNN"):
            load_model(tmp_path / f"bad_{key}.hsigeo")


def test_cnn_member_needs_eleven_bands(scene):
    """A scene of fewer bands than the CNN's spectral kernels need trains the two-member ensemble, and says so."""
    from hsigeo.model.training import train

    da, labels, train_mask, _, prompts = scene
    few = da.isel(band=slice(0, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train(few, labels, prompts, train_mask=train_mask, method="ensemble", epochs=1, seed=0,
                         progress=False, device="cpu", cnn_member=True)
    assert model.cnn is None and model.report["cnn"] == {"used": False, "why": "8 bands; the CNN needs at least 11"}


def test_the_training_rule_filters_as_the_labels_allow(scene, capsys):
    """``filter_rule="training"``: the widest filter within the tolerance of the training pixels'
    accuracy; its record is stored and printed, the map it chose equals the final model's, and a
    tolerance of 0 points keeps only filters that relabel no training pixel."""
    from hsigeo.inference.core import predict_proba_array
    from hsigeo.model.scene_members import scene_window
    from hsigeo.model.selection import _filter_by_training
    from hsigeo.model.train_options import TrainConfig
    from hsigeo.model.training import prepare_training, train

    da, labels, train_mask, _, prompts = scene
    kw = {"train_mask": train_mask, "method": "ensemble", "epochs": EPOCHS, "seed": 0, "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = train(da, labels, prompts, **kw, filter_rule="training", progress=True)
    rec = model.report["spatial_filter"]
    acc = rec["training_accuracy"]
    assert set(acc) == {"0", "1", "2"} and rec["training_pixels"] == int((train_mask & (labels > 0)).sum())
    assert rec["radius"] == max(int(r) for r in acc if acc["0"] - acc[r] <= 1.0)
    assert (model.spatial.radius if model.spatial else 0) == rec["radius"]
    assert "spatial filter:" in capsys.readouterr().err
    # the map the rule chose (self-training reads it) is the final model's map before self-training
    data = prepare_training(da, labels, prompts, train_mask=train_mask)
    cfg = TrainConfig.from_options(filter_rule="training", filter_tolerance=0.0)
    bare = model.without_filter()
    window = scene_window(data, 0)
    record, chosen = _filter_by_training(bare, data, data.pool, cfg, window)
    assert all(acc_r == record["training_accuracy"]["0"] or int(r) > record["radius"]
               for r, acc_r in record["training_accuracy"].items())
    final = bare.__class__(**{**bare.__dict__, "spatial": None})
    final.spatial = model.spatial.__class__(radius=record["radius"]) if record["radius"] else None
    whole = predict_proba_array(np.asarray(da.values), final, nodata=-9999, device="cpu")
    ok = np.isfinite(whole).all(0)
    np.testing.assert_allclose(chosen[:, ok], whole[:, ok], atol=1e-5)
