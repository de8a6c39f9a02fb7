"""Two-fold checks of an ensemble on its own training pixels: which cheap member stays, and the filter.

The training pixels are split into two stratified halves (:func:`fold_assignment`, seeded by the
training seed); the ensemble's cheap members, the SVM (with the ``C`` and ``gamma`` it chose on all
pixels) and the patch CNN, are fitted on one half and map the window of the training scene that
self-training maps (:func:`~hsigeo.model.scene_members.scene_window`); the other half's pixels in it
are scored; then the halves swap (:func:`fold_maps`).  Each question is then asked of the same fold
maps with an exact one-sided McNemar (sign) test on the scored pixels where two maps disagree
(:func:`mcnemar`), so a decision needs evidence beyond the noise of a few hundred pixels:

- **members** (``member_test``, off by default; round 10 of issue 26, :func:`member_test`): is one
  cheap member alone better than the two fused?  The other is then left out of the ensemble (the
  network stays).  The members count alike everywhere, yet a weak member drags the map on some
  scenes (the SVM on the block-shaped city-like mosaic), but measured on the development scenes
  its gain fell short of what its rule asked, so it is an option, not the default;
- **filter** (``fold_test``, round 9, :func:`filter_test`): with the members that stay, are the maps
  better without the filter the ensemble's rules chose?

Measured: README, "Few labels on scenes nobody tuned on", ninth and tenth rounds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsigeo.model.classifier import standardize_block
from hsigeo.model.combined import fuse_members
from hsigeo.model.patch_cnn import PatchCNN
from hsigeo.model.scene_members import cnn_member, fit_cnn_member, scene_window, standardised_pixels, window_bands
from hsigeo.model.spatial import SpatialFilter, edge_aware_smooth
from hsigeo.model.svm import KernelSVM, fit_svm
from hsigeo.model.train_data import TrainingData
from hsigeo.model.train_options import TrainConfig

__all__ = ["FoldMaps", "fold_assignment", "fold_maps", "mcnemar", "member_test", "filter_test", "apply_fold_checks",
           "STAYING_MAP"]

#: The fold map that stands for the cheap members that stay, by the member left out (None: both stay).
STAYING_MAP: dict[str | None, str] = {None: "two", "svm": "cnn", "cnn": "svm"}


@dataclass(frozen=True)
class FoldMaps:
    """Right (True) or wrong, per scored training pixel, of each fold map.

    Attributes
    ----------
    right
        ``"two"`` (both members fused by confidence, as the ensemble fuses them) and, for the
        member check, ``"svm"`` and ``"cnn"``, unfiltered; with ``radius`` > 0 also ``"two-r"``
        (and ``"svm-r"``, ``"cnn-r"``) through the filter.
        Each ``(scored,)``: the first half's scored pixels, then the second's.
    radius
        The filter radius the maps were also scored at (0: none).
    scored
        Scored pixels (the training pixels in the mapped window of every class with two or more).
    seconds
        Time the fits and maps took.
    """

    right: dict[str, np.ndarray]
    radius: int
    scored: int
    seconds: float


def fold_assignment(y: np.ndarray, seed: int) -> np.ndarray:
    """Stratified two-fold split of pixels of class indices ``y``: 0/1, or -1 for the pixel of a class that
    has only one (trained on in both folds, scored in neither)."""
    # seeded by the training seed alone, as in the evaluation that chose the checks (round9/cvfilter.py and
    # round10/cvmembers.py call this function), so a benchmark run reproduces their decisions: which halves are drawn
    # moves a test (README, ninth round)
    rng = np.random.default_rng(seed)
    fold = np.full(y.size, -1, dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if idx.size > 1:
            idx = idx[rng.permutation(idx.size)]
            fold[idx[0::2]], fold[idx[1::2]] = 0, 1
    return fold


def fold_maps(data: TrainingData, mask: np.ndarray, cfg: TrainConfig, svm: KernelSVM, radius: int,
              mean: np.ndarray, std: np.ndarray, each: bool = True) -> FoldMaps | None:
    """The cheap members' fold maps, scored on the other half's pixels (module docstring).

    ``each``: also each member's own maps (the member check); otherwise only the fused pair's.

    Returns None where they cannot be made: fewer than 11 bands (no CNN), a half without two
    classes, no scored pixel in the mapped window.
    """
    import torch

    t0 = time.perf_counter()
    if data.arr.shape[0] < PatchCNN.MIN_COMPONENTS:
        return None
    rows, cols = np.nonzero(mask)
    y = data.class_indices(mask)  # raster order, as rows and cols
    fold = fold_assignment(y, cfg.seed)
    win_r, win_c = scene_window(data, cfg.seed)
    rc = cnn_member().radius  # the CNN member's own patch, not PatchCNN's defaults
    halo = rc + radius
    # the window's standardised bands with the CNN's and the filter's halo
    block = torch.from_numpy(window_bands(data, (win_r, win_c), halo,
                                          lambda bands, valid: standardize_block(bands, mean, std, valid)))
    guide = block[:, rc : block.shape[1] - rc, rc : block.shape[2] - rc]  # window + the filter's ring
    hn, wn = guide.shape[1], guide.shape[2]
    inside = (rows >= win_r.start) & (rows < win_r.stop) & (cols >= win_c.start) & (cols < win_c.stop)
    right: dict[str, list[np.ndarray]] = {}
    for f in (0, 1):
        fit_px, test_px = fold != f, (fold == f) & inside
        if len(np.unique(y[fit_px])) < 2 or not test_px.any():
            return None
        fit_mask = np.zeros_like(mask)
        fit_mask[rows[fit_px], cols[fit_px]] = True
        x = standardised_pixels(data, mean, std, fit_mask)
        svm_f = fit_svm(x, y[fit_px], len(data.values), seed=cfg.seed, C_grid=(svm.info["C"],),
                        gamma_factors=(svm.info["gamma"] * x.shape[1],))
        cnn_f, _ = fit_cnn_member(data, fit_mask, mean, std, cfg.seed)
        # scored pixels in window coordinates (the unfiltered maps keep the filter's ring)
        tr, tc = rows[test_px] - win_r.start + radius, cols[test_px] - win_c.start + radius
        with torch.inference_mode():
            p_svm = svm_f.proba(guide.reshape(guide.shape[0], -1).t()).t().reshape(-1, hn, wn)
            p_cnn = cnn_f.proba_tile(block, batch_size=4096)
            # the ensemble's confidence fusion of two equal-weight members
            p_two = fuse_members([(1.0, p_svm), (1.0, p_cnn)], "confidence")
            for name, p in (("svm", p_svm), ("cnn", p_cnn), ("two", p_two)) if each else (("two", p_two),):
                right.setdefault(name, []).append(p.argmax(0).numpy()[tr, tc] == y[test_px])
                if radius:
                    smooth = edge_aware_smooth(p, guide, radius, cfg.spatial.smooth_tau,
                                               groups=SpatialFilter().groups)
                    right.setdefault(f"{name}-r", []).append(smooth.argmax(0).numpy()[tr - radius, tc - radius]
                                                             == y[test_px])
    joined = {k: np.concatenate(v) for k, v in right.items()}
    return FoldMaps(joined, int(radius), int(joined["two"].size), round(time.perf_counter() - t0, 2))


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """``(wins, losses, p)``: pixels right only in ``a``, only in ``b``, and the exact one-sided p-value of
    "``a`` is right more often" (``wins`` of ``wins + losses`` under a fair coin; 1 without a disagreement)."""
    from scipy.stats import binomtest

    wins, losses = int((a & ~b).sum()), int((b & ~a).sum())
    p = float(binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue) if wins + losses else 1.0
    return wins, losses, p


def member_test(maps: FoldMaps, level: float) -> dict[str, Any]:
    """Which cheap member stays: where one member alone beats the two fused at ``p < level``, the other goes.

    If both do, the one with the smaller p-value stays.

    Returns
    -------
    dict
        ``cnn_alone`` / ``svm_alone``: ``[right only alone, right only fused]`` counts of the scored
        pixels for that member against the fusion; ``p_cnn`` / ``p_svm`` (one-sided p of "that
        member alone is better"), ``scored``, ``level`` and ``left_out`` (``"svm"``, ``"cnn"`` or
        None): the record stored as ``training.members``.
    """
    b_cnn, c_cnn, p_cnn = mcnemar(maps.right["cnn"], maps.right["two"])
    b_svm, c_svm, p_svm = mcnemar(maps.right["svm"], maps.right["two"])
    left_out = None
    if min(p_cnn, p_svm) < level:
        left_out = "svm" if p_cnn <= p_svm else "cnn"
    return {"cnn_alone": [b_cnn, c_cnn], "svm_alone": [b_svm, c_svm], "p_cnn": round(p_cnn, 6),
            "p_svm": round(p_svm, 6), "scored": maps.scored, "level": level, "left_out": left_out,
            "seconds": maps.seconds}


def filter_test(maps: FoldMaps, left_out: str | None, level: float | None) -> dict[str, Any]:
    """Are the maps of the members that stay better unfiltered than through the filter of ``maps.radius``?

    Returns
    -------
    dict
        ``radius``, ``better_unfiltered`` (b), ``better_filtered`` (c), ``p_value`` (one-sided p of
        "unfiltered is better"), ``scored``, ``level``, ``members`` (the fold map compared) and
        ``seconds``: the record stored as ``training.spatial_filter.fold_test``.
    """
    key = STAYING_MAP[left_out]
    b, c, p = mcnemar(maps.right[key], maps.right[f"{key}-r"])
    return {"radius": maps.radius, "better_unfiltered": b, "better_filtered": c, "p_value": round(p, 6),
            "scored": maps.scored, "level": level, "members": key, "seconds": maps.seconds}


def apply_fold_checks(record: dict[str, Any], data: TrainingData, mask: np.ndarray, cfg: TrainConfig,
                      svm: KernelSVM, mean: np.ndarray, std: np.ndarray) -> dict[str, Any] | None:
    """Both checks, where wanted: the member record (or None), and the filter record updated in place.

    ``record`` is the filter the ensemble's rules chose (:func:`hsigeo.model.selection._ensemble_filter`);
    where the check on the members that stay finds the maps better unfiltered at ``p < fold_test``,
    the filter goes, and the record says why.
    """
    members_level, filter_level = cfg.member_test, cfg.spatial.fold_test
    check_filter = filter_level is not None and record["radius"] > 0
    if members_level is None and not check_filter:
        return None
    maps = fold_maps(data, mask, cfg, svm, record["radius"] if check_filter else 0, mean, std,
                     each=members_level is not None)
    if maps is None:
        return None
    members = member_test(maps, members_level) if members_level is not None else None
    if check_filter:
        test = filter_test(maps, None if members is None else members["left_out"], filter_level)
        record["fold_test"] = test
        if test["p_value"] < filter_level:
            side = 2 * record["radius"] + 1
            record.update(radius=0, applied=False, read_svm_cv=False,
                          rule=f"a two-fold check on the training pixels found the maps better without the {side} x "
                               f"{side} filter: {test['better_unfiltered']} against {test['better_filtered']} of "
                               f"{test['scored']} pixels, McNemar p = {test['p_value']:.2g} (< {filter_level:g})")
    return members


def describe_members(record: dict[str, Any]) -> str:
    """One line on which members an ensemble kept and why (``hsigeo train`` prints it; ``hsigeo info`` shows it)."""
    left = record["left_out"]
    if left is None:
        return (f"network + SVM + CNN (a two-fold check on the training pixels found neither cheap member better "
                f"alone than the two together: McNemar p = {record['p_cnn']:.2g} for the CNN, {record['p_svm']:.2g} "
                f"for the SVM, of {record['scored']} pixels)")
    kept = "CNN" if left == "svm" else "SVM"
    alone, together = record["cnn_alone" if left == "svm" else "svm_alone"]
    p = record["p_cnn" if left == "svm" else "p_svm"]
    return (f"network + {kept}, the {left.upper()} left out (a two-fold check on the training pixels found the "
            f"{kept} alone better than the SVM and CNN together: right on {alone} pixels they missed, against "
            f"{together}, of {record['scored']}; McNemar p = {p:.2g} (< {record['level']:g}))")
