"""Training the SVM, the SVM + network ensemble, and choosing between them on the user's own pixels.

:func:`train_selected` is what :func:`hsigeo.model.training.train` runs for ``method`` other
than ``"net"``, on the data it has set up (:func:`~hsigeo.model.train_data.prepare_training`):

- ``"svm"``: an RBF SVM (:func:`hsigeo.model.svm.fit_svm`, ``C`` and ``gamma`` by cross-validation
  on the training pixels) on each pixel's spectrum, standardised by the scene's per-band
  statistics, then the edge-aware probability filter: a :class:`~hsigeo.model.combined.CombinedModel`;
- ``"ensemble"``: the spectral-spatial network (:class:`~hsigeo.model.trainer.NetworkTrainer`) and
  that SVM, probabilities averaged (``svm_weight`` on the SVM; with ``fusion="confidence"``, the
  default, each member's weight at a pixel scaled by its confidence there), then the filter;
- ``"auto"``: the three candidates (network, SVM, ensemble) are compared by two-fold
  cross-validation on the training pixels only (what a user can do), each fold's models scoring
  the other fold's pixels exactly as the final model would map them (filter included); the best
  is then trained on all training pixels.  To keep the cost down, the fold networks train for a
  third of the epochs (the schedule is otherwise the same).  Ties go to the ensemble, which is
  the candidate least likely to be far from the best.  The choice, with every candidate's
  cross-validated accuracy, is printed (with ``progress``) and stored in the model's report
  (``method_used``, ``selection``).

Self-training (``self_train`` > 0, the default): once the SVM (alone, or with the network in an
ensemble) is fitted, the model maps the training scene, the most confident unlabelled pixels of
each class (by the margin between the two highest filtered probabilities, at most
``self_train`` times the class's training pixels) become labels, and the SVM is refitted once on
both, with the ``C`` and ``gamma`` it chose.  Only predictions are read from those pixels, never
their labels; what was added is printed (with ``progress``) and stored in the report
(``self_training``).  See README, "Few labels on scenes nobody tuned on", for the evidence.

An ensemble with a CNN member also checks itself on its training pixels before it is finished
(:mod:`hsigeo.model.fold_check`): the filter its rules chose goes where held-out halves of them
are mapped better without it (``fold_test``), and, as an option (``member_test``), a cheap member
is left out where the other alone maps them better than the two together; both are printed and
stored (``spatial_filter``, ``members``).  The members are fitted and the scene's windows read by
:mod:`hsigeo.model.scene_members`.
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from dataclasses import replace
from typing import Any

import numpy as np

from hsigeo.device import torch_device
from hsigeo.errors import LabelError
from hsigeo.model.combined import CombinedModel
from hsigeo.model.fold_check import apply_fold_checks, describe_members
from hsigeo.model.scene_members import (
    fit_cnn_member,
    fit_svm_member,
    scene_window,
    standardised_pixels,
    window_bands,
)
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth
from hsigeo.model.svm import fit_svm
from hsigeo.model.train_data import TrainingData, scene_statistics
from hsigeo.model.train_options import TrainConfig
from hsigeo.model.trainer import NetworkTrainer, RunSettings, TrainReport

__all__ = ["train_selected", "select_method", "CANDIDATES"]

#: What ``method="auto"`` chooses from, in tie-breaking order (first wins a tie).
CANDIDATES = ("ensemble", "net", "svm")
#: The fold networks of ``method="auto"`` train for this share of the epochs.
CV_EPOCH_SHARE = 1 / 3
#: Folds of ``method="auto"``.
CV_FOLDS = 2


def _scene_probs(model: CombinedModel, data: TrainingData, window: tuple[slice, slice], device: Any = None,
                 ring: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``(C, h + 2 ring, w + 2 ring)`` of a window of the training scene and its bands.

    The window is read with the model's halo (and ``ring``), real inside the scene and reflected
    at its edge (:func:`window_bands`), normalised and run as one tile, as the engines'
    whole-scene reference does (this layer cannot import the engines).  Also returns the normalised bands of the same pixels
    (``(B', h + 2 ring, w + 2 ring)``), the guide of a filter applied afterwards.
    """
    import torch

    tile = torch.from_numpy(np.ascontiguousarray(window_bands(data, window, model.radius + ring, model.normalize)))
    m = model.radius
    return model.predict_tile(tile, device=device), tile[:, m : tile.shape[1] - m, m : tile.shape[2] - m].numpy()


def _filter_by_training(model: CombinedModel, data: TrainingData, mask: np.ndarray, cfg: TrainConfig,
                        window: tuple[slice, slice], device: Any = None
                        ) -> tuple[dict[str, Any], np.ndarray] | None:
    """The ensemble's filter radius by the ``"training"`` rule (:class:`~hsigeo.model.train_options.FilterOptions`).

    ``model`` comes without a filter.  Its map of the window (with a ring as wide as the widest
    filter) is filtered at each radius up to ``smooth_radius``; the widest radius whose map keeps
    the training pixels' accuracy within ``filter_tolerance`` points of the unfiltered map's wins.

    Returns
    -------
    (dict, ndarray) or None
        The record (as :func:`_ensemble_filter`'s, with each radius's training-pixel accuracy)
        and the window's probabilities through the chosen filter (self-training reads them), or
        None when the window holds fewer than 20 training pixels.
    """
    import torch

    rows, cols = window
    inside = mask[rows, cols] & data.valid[rows, cols]
    if inside.sum() < 20:
        return None
    top = cfg.spatial.smooth_radius
    probs, guide = _scene_probs(model, data, window, device, ring=top)
    in_window = np.zeros_like(mask)
    in_window[rows, cols] = inside
    truth = data.class_indices(in_window)  # raster order of the window's pixels, as probs[:, inside]
    n_bands = model.n_bands
    maps, accuracy = {}, {}
    with torch.inference_mode():
        for r in range(top + 1):
            o = top - r
            p = torch.from_numpy(np.ascontiguousarray(probs[:, o : probs.shape[1] - o, o : probs.shape[2] - o]))
            g = torch.from_numpy(np.ascontiguousarray(guide[:n_bands, o : guide.shape[1] - o, o : guide.shape[2] - o]))
            maps[r] = edge_aware_smooth(p, g, r, cfg.spatial.smooth_tau, groups=SpatialFilter().groups).numpy()
            accuracy[r] = float((maps[r].argmax(0)[inside] == truth).mean() * 100)
    tol = cfg.spatial.filter_tolerance
    radius = max((r for r in range(top + 1) if accuracy[0] - accuracy[r] <= tol), default=0)
    record = {"radius": int(radius), "applied": radius > 0,
              "rule": f"the widest filter that keeps the training pixels' accuracy within {tol:g} "
                      f"point{'' if tol == 1 else 's'}",
              "training_accuracy": {str(r): round(a, 2) for r, a in accuracy.items()},
              "training_pixels": int(inside.sum()), "tolerance": tol}
    return record, maps[radius]


def _pseudo_labels(probs: np.ndarray, free: np.ndarray, n_train: np.ndarray, factor: float) -> np.ndarray:
    """Class index of each chosen pixel (``-1``: not chosen): per predicted class, the ``factor x n_train``
    pixels of ``free`` with the widest margin between their two highest probabilities."""
    top2 = np.sort(probs, axis=0)[-2:]
    margin = (top2[1] - top2[0]).ravel()
    pred = probs.argmax(0).ravel()
    out = np.full(pred.size, -1, dtype=np.int64)
    free = free.ravel()
    for c in range(probs.shape[0]):
        cand = np.flatnonzero(free & (pred == c))
        k = min(cand.size, int(round(factor * n_train[c])))
        if k > 0:
            out[cand[np.argsort(-margin[cand], kind="stable")[:k]]] = c
    return out.reshape(probs.shape[1:])


def _self_train(model: CombinedModel, data: TrainingData, mask: np.ndarray, cfg: TrainConfig,
                device: Any = None, probs: np.ndarray | None = None) -> dict[str, Any]:
    """Refit ``model``'s SVM on its training pixels plus the scene's most confident predictions (in place).

    ``device``: where the scene is mapped (the training's device); ``probs``: the model's map of
    the window (:func:`scene_window`) when the caller already made it.

    Returns
    -------
    dict
        The record: factor, pixels added per class value, mapped window, seconds.
    """
    t0 = time.perf_counter()
    rows, cols = scene_window(data, cfg.seed)
    if probs is None:
        probs = _scene_probs(model, data, (rows, cols), device)[0]
    y_train = np.full(data.labels.shape, -1, dtype=np.int64)
    y_train[mask] = data.class_indices(mask)
    n_train = data.class_counts(mask)
    free = data.valid[rows, cols] & ~mask[rows, cols] & np.isfinite(probs).all(0)
    pseudo = np.full(data.labels.shape, -1, dtype=np.int64)
    pseudo[rows, cols] = _pseudo_labels(np.nan_to_num(probs), free, n_train, cfg.self_train)
    target = np.where(mask, y_train, pseudo)
    use = target >= 0
    svm = model.svm
    x = standardised_pixels(data, model.mean, model.std, use)
    # the refit keeps the C and gamma that cross-validation chose on the real labels: the
    # pseudo-labels agree with the model by construction, so a search on them would only
    # reward whatever they already say
    model.svm = fit_svm(x, target[use], len(data.values), seed=cfg.seed, C_grid=(svm.info["C"],),
                        gamma_factors=(svm.info["gamma"] * x.shape[1],))
    model.svm.info.update({k: svm.info.get(k) for k in ("cv_folds", "cv_accuracy", "C_grid", "gamma_factors")})
    added = np.bincount(pseudo[pseudo >= 0], minlength=len(data.values))
    return {"factor": float(cfg.self_train), "source": model.method, "rounds": 1,
            "added": {str(v): int(added[i]) for i, v in enumerate(data.values)}, "n_added": int(added.sum()),
            "mapped": [rows.start, rows.stop, cols.start, cols.stop], "seconds": round(time.perf_counter() - t0, 2)}


def _filter(cfg: TrainConfig) -> SpatialFilter | None:
    return SpatialFilter.optional(cfg.spatial.smooth_radius, cfg.spatial.smooth_tau)


def _ensemble_filter(cfg: TrainConfig, svm_info: dict[str, Any], counts: np.ndarray | None = None) -> dict[str, Any]:
    """The ensemble's filter radius under the ``"separable"`` and ``"dense"`` rules, and why.

    The labels are *dense* when, among the classes with training pixels (``counts`` per class),
    the median has at least ``cfg.spatial.dense_per_class`` and each at least two.  In order:
    under ``"dense"``, no filter where the labels are dense; where the SVM's cross-validated
    accuracy reaches ``separable_cv``, no filter if the labels are dense too, else the narrow
    radius (``separable_radius``); else ``smooth_radius``.

    Returns
    -------
    dict
        ``radius`` (0: no filter), ``applied`` (radius > 0), ``rule`` (why), ``svm_cv_accuracy``,
        ``threshold``, and with ``counts`` ``median_per_class`` and ``dense_per_class``: the
        record printed by ``hsigeo train`` and stored in the model file's report
        (``training.spatial_filter``).
    """
    cv, threshold, radius = svm_info.get("cv_accuracy"), cfg.spatial.separable_cv, cfg.spatial.smooth_radius
    record: dict[str, Any] = {"svm_cv_accuracy": cv, "threshold": threshold}
    dense = cfg.spatial.dense_per_class
    median, is_dense = None, False
    if counts is not None:
        counts = np.asarray(counts)[np.asarray(counts) > 0]  # a class without training pixels is not in the SVM
    if counts is not None and len(counts):
        median = float(np.median(counts))
        record.update(median_per_class=median, dense_per_class=dense)
        is_dense = dense is not None and median >= dense and int(np.min(counts)) >= 2
    dense_why = f"the median class has {median:g} training pixels (>= {dense})" if is_dense else ""
    by_cv = False  # decided by the SVM's accuracy: the printed line then shows it against the threshold
    if radius == 0:
        rule = "smooth_radius 0"
    elif is_dense and cfg.spatial.filter_rule == "dense":
        rule, radius = f"the labels are dense: {dense_why}", 0
    elif threshold is None:
        rule = "always the same (separable_cv None)"
    elif cv is None:
        rule = "no cross-validated SVM accuracy (a class with too few training pixels)"
    else:
        by_cv = True
        if cv >= threshold and is_dense:
            rule, radius = f"the spectra alone separate the training classes and the labels are dense: {dense_why}", 0
        elif cv >= threshold:
            rule, radius = "the spectra alone separate the training classes", min(radius, cfg.spatial.separable_radius)
        else:
            rule = "the spectra alone do not separate the training classes"
    record["read_svm_cv"] = by_cv
    return {"radius": int(radius), "applied": radius > 0, "rule": rule, **record}


def _print_filter(record: dict[str, Any]) -> None:
    r = record["radius"]
    how = f"{2 * r + 1} x {2 * r + 1}" if r else "off"
    why = record["rule"]
    if "training_accuracy" in record:  # the "training" rule
        side = {k: "unfiltered" if k == "0" else f"{2 * int(k) + 1} x {2 * int(k) + 1}" for k in record["training_accuracy"]}
        why += ": " + ", ".join(f"{a:.1f} % {side[k]}" for k, a in record["training_accuracy"].items())
        why += f" on {record['training_pixels']} training pixels"
    else:
        cv, threshold = record["svm_cv_accuracy"], record["threshold"]
        if record.get("read_svm_cv"):
            why += f": SVM cross-validated accuracy {100 * cv:.1f} % {'>=' if cv >= threshold else '<'} {100 * threshold:g} %"
    test = record.get("fold_test")
    if test is not None and record["radius"]:  # checked, and kept
        why += (f"; a two-fold check on the training pixels did not find it worse: {test['better_unfiltered']} "
                f"pixels better without, {test['better_filtered']} with it, McNemar p = {test['p_value']:.2g}")
    print(f"spatial filter: {how} ({why})", file=sys.stderr, flush=True)


def _bare(net: Any) -> Any:
    """The network without its own filter (the combined model filters once, after averaging)."""
    bare = copy.copy(net)
    bare.spatial = None
    return bare


def _candidates(data: TrainingData, cfg: TrainConfig, mask: np.ndarray, which: tuple[str, ...], *,
                settings: RunSettings, epochs: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the models of ``which`` on the pixels of ``mask`` (a subset of ``data.pool``); returns (models, facts)."""
    facts: dict[str, Any] = {}
    net = None
    if "net" in which or "ensemble" in which:
        ncfg = cfg if epochs is None else cfg.with_options(epochs=epochs)
        t0 = time.perf_counter()
        net, report = NetworkTrainer(ncfg, settings).fit(replace(data, pool=mask))
        facts["net_report"] = report
        facts["net_seconds"] = time.perf_counter() - t0
        mean, std = net.mean[: net.n_bands], net.std[: net.n_bands]
    else:
        mean, std = scene_statistics(data.arr, data.valid)
    models: dict[str, Any] = {}
    filtered: dict[str, np.ndarray] = {}  # a model's map of the self-training window, when already made
    if "svm" in which or "ensemble" in which:
        t0 = time.perf_counter()
        svm = fit_svm_member(data, mask, mean, std, cfg.seed)
        facts["svm_seconds"] = time.perf_counter() - t0
        facts["svm"] = svm.info
        common = {"classes": list(data.prompt_set.classes), "mean": mean, "std": std,
                  "wavelengths": data.wavelengths}
        if "svm" in which:
            models["svm"] = CombinedModel(svm, spatial=_filter(cfg), **common)
        if "ensemble" in which:
            cnn = None
            if cfg.cnn_member:
                cnn, facts["cnn"] = fit_cnn_member(data, mask, mean, std, cfg.seed)
            ens = CombinedModel(svm, net=_bare(net), svm_weight=cfg.svm_weight, fusion=cfg.fusion, cnn=cnn, **common)
            chosen = None
            if cfg.spatial.filter_rule == "training":
                chosen = _filter_by_training(ens, data, mask, cfg, scene_window(data, cfg.seed),
                                             torch_device(settings.device))
            # decided before self-training, so its pseudo-labels come from the map the model will make
            facts["spatial_filter"] = chosen[0] if chosen is not None else _ensemble_filter(
                cfg, svm.info, data.class_counts(mask))
            if chosen is None and cnn is not None:
                members = apply_fold_checks(facts["spatial_filter"], data, mask, cfg, svm, mean, std)
                if members is not None:
                    facts["members"] = members
                    if members["left_out"] == "svm":  # the network and the CNN, alike
                        ens.svm_weight, ens.cnn_weight = 0.0, 1.0
                    elif members["left_out"] == "cnn":
                        ens.cnn = None
                        facts["cnn"] = {**facts["cnn"], "used": False,
                                        "why": "left out by the member check (training.members)"}
            ens.spatial = SpatialFilter.optional(facts["spatial_filter"]["radius"], cfg.spatial.smooth_tau)
            if chosen is not None:
                filtered["ensemble"] = chosen[1]
            models["ensemble"] = ens
        if cfg.self_train > 0:
            device = torch_device(settings.device)  # map the scene where the network trained
            for name in ("svm", "ensemble"):
                # an ensemble without its SVM (the member check) has nothing to refit
                if name in models and (name == "svm" or models[name].svm_weight > 0):
                    facts.setdefault("self_training", {})[name] = _self_train(models[name], data, mask, cfg, device,
                                                                             filtered.get(name))
    if "net" in which:
        models["net"] = net
    return models, facts


def _folds(data: TrainingData, seed: int, k: int) -> list[np.ndarray]:
    """``k`` disjoint masks splitting each class's training pixels as evenly as possible."""
    rng = np.random.default_rng(seed + 7919)  # not the split's or the training's own stream
    rows, cols = np.nonzero(data.pool)
    lab = data.labels[rows, cols]
    fold_of = np.empty(rows.size, dtype=np.int64)
    start = 0
    for v in np.unique(lab):
        idx = np.flatnonzero(lab == v)
        idx = idx[rng.permutation(idx.size)]
        fold_of[idx] = (np.arange(idx.size) + start) % k  # round robin, offset so 1-pixel classes spread
        start += idx.size
    masks = []
    for f in range(k):
        m = np.zeros_like(data.pool)
        m[rows[fold_of == f], cols[fold_of == f]] = True
        masks.append(m)
    return masks


def select_method(data: TrainingData, cfg: TrainConfig, *, settings: RunSettings,
                  log: Any = None) -> dict[str, Any]:
    """Cross-validate the :data:`CANDIDATES` on the training pixels; the record of the choice.

    Returns
    -------
    dict
        ``chosen``, ``cv_accuracy`` per candidate, ``folds``, ``cv_epochs``, ``n_scored``,
        ``seconds``.
    """
    t0 = time.perf_counter()
    folds = _folds(data, cfg.seed, CV_FOLDS)
    epochs = max(1, round(cfg.optim.epochs * CV_EPOCH_SHARE))
    correct = {c: 0 for c in CANDIDATES}
    scored = 0
    for f, test in enumerate(folds):
        fit = data.pool & ~test
        if not test.any() or len(np.unique(data.labels[fit])) < 2:
            continue  # a fold without two classes to learn from says nothing
        models, _ = _candidates(data, replace(cfg, seed=cfg.seed + 1 + f), fit, CANDIDATES, settings=settings,
                                epochs=epochs)
        rows, cols = np.nonzero(test)
        truth = data.labels[rows, cols]
        for name, model in models.items():
            pred, _ = model.predict_pixels(data.arr, rows, cols, nodata=data.nodata)
            correct[name] += int((pred == truth).sum())
        scored += rows.size
    acc = {c: (correct[c] / scored if scored else None) for c in CANDIDATES}
    chosen = max(CANDIDATES, key=lambda c: (acc[c] if acc[c] is not None else -1.0, -CANDIDATES.index(c)))
    record = {"chosen": chosen, "cv_accuracy": acc, "folds": CV_FOLDS, "cv_epochs": epochs, "n_scored": scored,
              "seconds": round(time.perf_counter() - t0, 2),
              "rule": f"{CV_FOLDS}-fold cross-validation on the training pixels (fold networks: {epochs} epochs); "
                      "highest accuracy, ties to the ensemble"}
    if log is not None:
        log(record)
    return record


def _print_choice(record: dict[str, Any]) -> None:
    acc = ", ".join(f"{k} {v * 100:.1f} %" if v is not None else f"{k} n/a" for k, v in record["cv_accuracy"].items())
    print(f"method auto: chose {record['chosen']} ({record['folds']}-fold cross-validation on the "
          f"{record['n_scored']} training pixels: {acc})", file=sys.stderr, flush=True)


def _print_self_training(record: dict[str, Any]) -> None:
    added = ", ".join(f"{v}: {n}" for v, n in record["added"].items())
    print(f"self-training: the SVM refitted with {record['n_added']} confidently mapped pixels of the scene "
          f"(at most {record['factor']:g}x each class's training pixels; by class value {added})",
          file=sys.stderr, flush=True)


def _print_cnn(record: dict[str, Any]) -> None:
    if record["used"]:
        text = (f"CNN member: {record['patch']} x {record['patch']} patches of {record['n_components']} PCA components, "
                f"{record['n_trainable']:,} parameters, {record['seconds']:.1f} s")
    else:
        text = f"CNN member left out: {record['why']}"
    print(text, file=sys.stderr, flush=True)


def train_selected(data: TrainingData, cfg: TrainConfig, settings: RunSettings) -> tuple[Any, TrainReport]:
    """Train ``cfg.method`` (``"svm"``, ``"ensemble"`` or ``"auto"``) on ``data``'s training pixels.

    Parameters
    ----------
    data
        The scene, labels and training pixels (:func:`~hsigeo.model.train_data.prepare_training`).
    cfg
        The options (:class:`~hsigeo.model.train_options.TrainConfig`).
    settings
        Text anchors, device and progress of the network fits.

    Returns
    -------
    model : CombinedModel or HsigeoModel
        The trained model (the network alone when it was chosen, or when one class has pixels).
    report : TrainReport
        The network's report (SVM alone: counts only), with the method used and the choice.

    Raises
    ------
    LabelError
        ``method="svm"`` with training pixels of one class only.
    """
    t_start = time.perf_counter()
    method = cfg.method
    if len(np.unique(data.labels[data.pool])) < 2:
        if method == "svm":
            raise LabelError("method svm needs training pixels of at least two classes; label more, or use "
                             "--method net.")
        # an SVM needs two classes; the network learns one against the prompts of the others
        warnings.warn(f"only one class has training pixels: --method {method} trains the network alone.",
                      stacklevel=3)
        method = "net"
    selection = None
    if method == "auto":
        fold_settings = replace(settings, progress=False)
        text_model = settings.text_model
        if settings.text_embeddings is None and text_model is not None:  # encode the prompts once, not once per fit
            from hsigeo.text.encoder import TextEncoder

            if not isinstance(text_model, TextEncoder):
                fold_settings = replace(fold_settings, text_model=TextEncoder(text_model))
        selection = select_method(data, cfg, settings=fold_settings, log=_print_choice if settings.progress else None)
        method = selection["chosen"]
        settings = replace(settings, text_model=fold_settings.text_model)
    models, facts = _candidates(data, cfg, data.pool, (method,), settings=settings)
    model = models[method]
    net_report: TrainReport | None = facts.get("net_report")
    extra = {"method": cfg.method, "method_used": method, "svm_weight": cfg.svm_weight if method == "ensemble" else None,
             "fusion": cfg.fusion if method == "ensemble" else None,
             "self_train": cfg.self_train if method in ("svm", "ensemble") else None,
             "fraction": data.fraction, "count": data.count}
    if net_report is not None:
        report = net_report
        report.config = {**report.config, **extra}
    else:
        values = data.values
        n = data.class_counts()
        report = TrainReport(config={**cfg.options(), **extra}, n_parameters=model.n_parameters(),
                             n_train=int(data.pool.sum()),
                             per_class={values[c]: [int(n[c]), 0] for c in range(len(values))}, device="cpu")
    report.train_seconds = data.seconds + time.perf_counter() - t_start
    report.n_parameters = model.n_parameters()
    summary = report.summary()
    if "svm" in facts:
        summary["svm"] = facts["svm"]
    if selection is not None:
        summary["selection"] = selection
    if method == "ensemble" and "spatial_filter" in facts:
        summary["spatial_filter"] = facts["spatial_filter"]
        if settings.progress:
            _print_filter(summary["spatial_filter"])
    if method == "ensemble" and "cnn" in facts:
        summary["cnn"] = facts["cnn"]
        if settings.progress:
            _print_cnn(summary["cnn"])
    if method == "ensemble" and "members" in facts:
        summary["members"] = facts["members"]
        if settings.progress:
            print(f"members: {describe_members(summary['members'])}", file=sys.stderr, flush=True)
    if method in facts.get("self_training", {}):
        summary["self_training"] = facts["self_training"][method]
        if settings.progress:
            _print_self_training(summary["self_training"])
    model.report = summary
    return model, report
