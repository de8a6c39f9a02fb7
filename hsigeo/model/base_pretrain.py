"""Pretraining of the base model: the method's contrastive loss between spectra and sentences.

:func:`pretrain` aligns :class:`~hsigeo.model.base.BaseNet` with the frozen text model on
library and simulated spectra (positive + hard + semi-hard negatives,
:func:`hsigeo.model.loss.hard_negative_loss`), with augmentations (:func:`augment`) that make the
encoder indifferent to calibration and band coverage, to brightness where the albedo is not
known, and used to the adjacency effect (a share of the neighbours' signal in every pixel).  Run by
``scripts/build_base_model.py``; nothing here is needed to use the shipped model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hsigeo.model.base import BaseNet
from hsigeo.model.loss import hard_negative_loss
from hsigeo.spectra.grid import ALBEDO_CENTRE, GRID

__all__ = ["pretrain", "augment"]


# ---------------------------------------------------------------------- #
# Augmentation (torch, on a batch of grid spectra)
# ---------------------------------------------------------------------- #
_T = torch.from_numpy((GRID - GRID[0]) / (GRID[-1] - GRID[0])).float()


def _coverage_masks(n: int, g: torch.Generator) -> torch.Tensor:
    """Random band coverage: full, VNIR-only, truncated ranges, scattered dropout, gaps."""
    wl = torch.from_numpy(GRID).float()
    mode = torch.rand(n, generator=g)
    m = torch.ones(n, GRID.size, dtype=torch.bool)
    r = torch.rand(n, 4, generator=g)
    # VNIR-only sensors (e.g. 400-900/1000 nm)
    vnir = (mode >= 0.35) & (mode < 0.55)
    end = 850 + 200 * r[:, 0:1]
    start = 400 + 60 * r[:, 1:2]
    m &= ~(vnir[:, None] & ((wl[None] > end) | (wl[None] < start)))
    # truncated ends (sensors starting later / ending earlier)
    trunc = (mode >= 0.55) & (mode < 0.7)
    m &= ~(trunc[:, None] & ((wl[None] < 400 + 100 * r[:, 2:3]) | (wl[None] > 2450 - 250 * r[:, 3:4])))
    # scattered dropout (bad bands removed)
    drop = (mode >= 0.7) & (mode < 0.85)
    p = 0.1 + 0.4 * torch.rand(n, 1, generator=g)
    m &= ~(drop[:, None] & (torch.rand(n, GRID.size, generator=g) < p))
    # extra gaps at the weaker water-vapour bands, removed by some processing chains
    gaps = mode >= 0.85
    wv = ((wl > 925) & (wl < 965)) | ((wl > 1105) & (wl < 1160)) | (wl > 2400)
    m &= ~(gaps[:, None] & wv[None])
    return m


def _albedo(mean: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`hsigeo.spectra.grid.albedo_channels`: ``(N, 2)`` from means ``(N, 1)`` in reflectance."""
    k = known.float().view(-1, 1)
    return torch.cat([torch.log(mean.clamp(1e-4, 10.0) / ALBEDO_CENTRE) * k, k], dim=1)


def augment(x: torch.Tensor, mask: torch.Tensor, g: torch.Generator, *, path_residual: float = 0.15,
            albedo: bool = False, p_albedo: float = 0.6, adjacency: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch of grid reflectance spectra, return ``(features (N, 2G [+ 2]), mask)``.

    Adjacency (up to ``adjacency`` of another spectrum of the batch added, for half of it),
    a smooth calibration gain (+-10 %), a blue-weighted additive residual of path radiance,
    sensor noise, occasional smoothing (coarser sensors), random coverage and brightness;
    finally the per-spectrum brightness normalisation used at inference.  With ``albedo``, a
    share ``p_albedo`` of the batch keeps its albedo (brightness changed by +-25 % only:
    illumination, slope, calibration) and says so in the flag; the rest is scaled by
    0.2-5 and its albedo channel left empty, as for a scene of unknown scale.
    ``path_residual`` is the largest blue-weighted additive residual, as a share of the
    spectrum's mean (what a scene-level radiometric correction may leave behind).
    """
    n = x.shape[0]
    t = _T[None]
    if adjacency > 0:
        other = torch.randperm(n, generator=g)
        share = torch.rand(n, 1, generator=g) * adjacency * (torch.rand(n, 1, generator=g) < 0.5)
        x = torch.where(mask[other], (1 - share) * x + share * x[other], x)
    known = (torch.rand(n, generator=g) < p_albedo) if albedo else torch.zeros(n, dtype=torch.bool)
    wide = torch.exp((torch.rand(n, 1, generator=g) * 2 - 1) * float(np.log(5)))
    narrow = torch.exp((torch.rand(n, 1, generator=g) * 2 - 1) * 0.25)
    scale = torch.where(known[:, None], narrow, wide)
    a = torch.randn(n, 3, generator=g) * 0.04
    ph = torch.rand(n, 3, generator=g) * 2 * np.pi
    k = torch.arange(1, 4).float()[None, :, None]
    gain = torch.exp((a[..., None] * torch.cos(np.pi * k * t[:, None] + ph[..., None])).sum(1))
    level = (x * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1)
    path = (torch.rand(n, 1, generator=g) * (path_residual + 0.05) - 0.05) * level * torch.exp(-t / 0.15)
    y = x * gain + path
    y = y + torch.randn(y.shape, generator=g) * level * (0.002 + 0.02 * torch.rand(n, 1, generator=g))
    # smoothing along wavelength for a third of the batch (a 3-band box blur)
    sm = torch.rand(n, generator=g) < 0.33
    if sm.any():
        z = y[sm][:, None]
        y[sm] = F.avg_pool1d(F.pad(z, (1, 1), mode="replicate"), 3, stride=1)[:, 0]
    y = y.clamp(min=0) * scale
    m = mask & _coverage_masks(n, g)
    cnt = m.sum(1, keepdim=True).clamp(min=1)
    mean = (y * m).sum(1, keepdim=True) / cnt
    yn = torch.where(m, y / mean.clamp(min=1e-6), torch.zeros_like(y))
    parts = [yn, m.float()] + ([_albedo(mean, known)] if albedo else [])
    return torch.cat(parts, dim=1), m


# ---------------------------------------------------------------------- #
# Pretraining
# ---------------------------------------------------------------------- #
def pretrain(corpus: Any, sentence_embeddings: list[np.ndarray], *, seed: int = 0, steps: int = 3000,
             batch_size: int = 512, lr: float = 2e-3, k_hard: int = 4, m_semi: int = 4, val_fraction: float = 0.1,
             path_residual: float = 0.15, albedo: bool = False, adjacency: float = 0.0,
             log: Any = None) -> tuple[BaseNet, dict[str, Any]]:
    """Train :class:`BaseNet` on a :class:`~hsigeo.speclib.corpus.Corpus`.

    Parameters
    ----------
    corpus
        Spectra, masks and concept indices.
    sentence_embeddings
        Per concept, ``(S_c, T)`` frozen text embeddings of its sentences; each step uses
        one random sentence per concept as that concept's anchor.
    seed, steps, batch_size, lr
        Seeded AdamW with a cosine schedule; batches draw concepts uniformly (balanced),
        then a spectrum of the concept.
    k_hard, m_semi
        Hard and semi-hard negatives of the method's loss.
    val_fraction
        Share of spectra kept for validation (accuracy with full and VNIR-only coverage).
    path_residual, adjacency
        See :func:`augment`.
    albedo
        Build an encoder that reads the albedo channels (:func:`augment`).

    Returns
    -------
    net, report
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(corpus.concept)
    c = len(corpus.keys)
    is_val = rng.random(n) < val_fraction
    x_all = torch.from_numpy(corpus.spectra)
    m_all = torch.from_numpy(corpus.mask)
    y_all = torch.from_numpy(corpus.concept)
    by_concept = [np.flatnonzero((corpus.concept == k) & ~is_val) for k in range(c)]
    by_concept = [ix if ix.size else np.flatnonzero(corpus.concept == k) for k, ix in enumerate(by_concept)]
    sent = [torch.from_numpy(np.asarray(s, dtype=np.float32)) for s in sentence_embeddings]
    text_dim = sent[0].shape[1]
    net = BaseNet(GRID.size, text_dim, albedo=albedo)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / steps))))
    t0 = time.time()
    losses = []
    for step in range(steps):
        ks = rng.integers(0, c, batch_size)
        idx = np.array([by_concept[k][rng.integers(by_concept[k].size)] for k in ks])
        feats, _ = augment(x_all[idx].clone(), m_all[idx], g, path_residual=path_residual, albedo=albedo,
                           adjacency=adjacency)
        pick = [int(torch.randint(s.shape[0], (1,), generator=g)) for s in sent]
        text = torch.stack([s[i] for s, i in zip(sent, pick, strict=True)])
        net.train()
        logits = net.logits(net.embed(feats), net.anchors(text))
        loss = hard_negative_loss(logits, torch.from_numpy(ks), k_hard=k_hard, m_semi=m_semi, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log is not None and (step + 1) % max(1, steps // 10) == 0:
            log(f"step {step + 1}/{steps}  loss {np.mean(losses[-100:]):.3f}  {time.time() - t0:.0f}s")
    net.eval()
    report = {"steps": steps, "batch_size": batch_size, "lr": lr, "k_hard": k_hard, "m_semi": m_semi,
              "path_residual": path_residual, "albedo": albedo, "adjacency": adjacency,
              "seed": seed, "final_loss": float(np.mean(losses[-100:])), "train_seconds": round(time.time() - t0, 1)}
    # validation: concept accuracy against the mean sentence anchor of each concept
    vi = np.flatnonzero(is_val)
    if vi.size:
        mean_text = torch.stack([F.normalize(s.mean(0), dim=0) for s in sent])
        with torch.inference_mode():
            anchors = net.anchors(mean_text)
            for name, fn in (("full", None), ("vnir", (400.0, 900.0))):
                m = m_all[vi].clone()
                if fn is not None:
                    wl = torch.from_numpy(GRID)
                    m &= ((wl >= fn[0]) & (wl <= fn[1]))[None]
                x = x_all[vi]
                cnt = m.sum(1, keepdim=True).clamp(min=1)
                mean = (x * m).sum(1, keepdim=True) / cnt
                xn = torch.where(m, x / mean.clamp(min=1e-6), torch.zeros_like(x))
                parts = [xn, m.float()] + ([_albedo(mean, torch.ones(len(vi), dtype=torch.bool))] if albedo else [])
                pred = (net.embed(torch.cat(parts, 1)) @ anchors.t()).argmax(1)
                report[f"val_accuracy_{name}"] = round(float((pred == y_all[vi]).float().mean()), 4)
    return net, report
