"""Contrastive losses between pixel embeddings and class text anchors.

Both losses take the scaled cosine similarities ``logits (P, C)`` of ``P`` pixels against the
``C`` class anchors and the index of each pixel's true class.

- :func:`hard_negative_loss`: cross-entropy over the positive anchor, the ``k`` hardest wrong
  classes of each pixel (highest current similarity) and ``m`` semi-hard distractors drawn
  uniformly, without replacement, from the remaining wrong classes.
- :func:`softmax_loss`: cross-entropy over all classes (the usual CLIP-style classifier loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hsigeo.errors import InvalidInputError

__all__ = ["negative_counts", "select_negatives", "hard_negative_loss", "softmax_loss", "contrastive_loss", "LOSSES"]

LOSSES = ("hard_negative", "softmax")


def negative_counts(n_classes: int, k_hard: int, m_semi: int) -> tuple[int, int]:
    """Numbers of hard and semi-hard negatives that ``n_classes`` allow.

    ``k = min(k_hard, C - 1)`` and ``m = min(m_semi, C - 1 - k)``: there are only ``C - 1`` wrong
    classes, hard negatives are taken first.
    """
    if k_hard < 0 or m_semi < 0:
        raise InvalidInputError("k_hard and m_semi must be >= 0")
    k = min(int(k_hard), max(n_classes - 1, 0))
    m = min(int(m_semi), max(n_classes - 1 - k, 0))
    return k, m


def select_negatives(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    k_hard: int = 4,
    m_semi: int = 4,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick each sample's hard and semi-hard negative classes.

    Parameters
    ----------
    logits
        ``(P, C)`` similarities (only their order matters; gradients are not used).
    targets
        ``(P,)`` true class indices.
    k_hard, m_semi
        Requested counts, capped by :func:`negative_counts`.
    generator
        CPU random generator for the semi-hard draw (reproducibility).

    Returns
    -------
    hard, semi : torch.Tensor
        ``(P, k)`` and ``(P, m)`` class indices (int64, on ``logits.device``).  ``hard`` holds
        the ``k`` wrong classes with the highest similarity, in decreasing order; ``semi`` is
        disjoint from ``hard`` and from the positive.
    """
    p, c = logits.shape
    k, m = negative_counts(c, k_hard, m_semi)
    rows = torch.arange(p, device=logits.device)
    sim = logits.detach().float().clone()
    sim[rows, targets] = float("-inf")  # the positive is never a negative
    hard = sim.topk(k, dim=1).indices if k else torch.zeros((p, 0), dtype=torch.long, device=logits.device)
    if m == 0:
        return hard, torch.zeros((p, 0), dtype=torch.long, device=logits.device)
    # uniform draw without replacement among the rest: top-m of i.i.d. uniform keys
    keys = torch.rand((p, c), generator=generator).to(logits.device)
    keys[rows, targets] = -1.0
    if k:
        keys.scatter_(1, hard, -1.0)
    semi = keys.topk(m, dim=1).indices
    return hard, semi


def hard_negative_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    k_hard: int = 4,
    m_semi: int = 4,
    generator: torch.Generator | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of each positive against its hard and semi-hard negatives.

    Parameters
    ----------
    logits
        ``(P, C)`` scaled similarities.
    targets
        ``(P,)`` true class indices.
    k_hard, m_semi
        Hard and semi-hard negatives per sample (capped by the class count).
    generator
        CPU random generator for the semi-hard draw.
    label_smoothing
        Label smoothing over the ``1 + k + m`` logits of a sample.

    Returns
    -------
    torch.Tensor
        Scalar mean loss.
    """
    targets = targets.long()
    hard, semi = select_negatives(logits, targets, k_hard=k_hard, m_semi=m_semi, generator=generator)
    idx = torch.cat([targets[:, None], hard, semi], dim=1)
    picked = logits.gather(1, idx)  # positive first
    zero = torch.zeros(len(targets), dtype=torch.long, device=logits.device)
    return F.cross_entropy(picked.float(), zero, label_smoothing=label_smoothing)


def softmax_loss(logits: torch.Tensor, targets: torch.Tensor, *, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over all classes: ``(P, C)`` logits, ``(P,)`` targets -> scalar mean."""
    return F.cross_entropy(logits.float(), targets.long(), label_smoothing=label_smoothing)


def contrastive_loss(
    name: str,
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    k_hard: int = 4,
    m_semi: int = 4,
    generator: torch.Generator | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Dispatch to :func:`hard_negative_loss` (``"hard_negative"``) or :func:`softmax_loss` (``"softmax"``)."""
    if name == "hard_negative":
        return hard_negative_loss(logits, targets, k_hard=k_hard, m_semi=m_semi, generator=generator,
                                  label_smoothing=label_smoothing)
    if name == "softmax":
        return softmax_loss(logits, targets, label_smoothing=label_smoothing)
    raise InvalidInputError(f"loss must be one of {LOSSES}, got {name!r}")
