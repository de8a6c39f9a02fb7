"""Contrastive losses: negative selection (hard = top-k wrong, semi-hard disjoint), caps, values, seeds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hsigeo.model.loss import contrastive_loss, hard_negative_loss, negative_counts, select_negatives, softmax_loss

# 3 samples x 8 classes; distinct values so the ranking is unambiguous
LOGITS = torch.tensor(
    [
        [0.9, 0.1, 0.8, 0.3, 0.7, 0.2, 0.6, 0.05],
        [0.1, 0.95, 0.2, 0.85, 0.3, 0.75, 0.4, 0.5],
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, 0.99],
    ]
)
TARGETS = torch.tensor([0, 3, 7])


def test_hard_negatives_are_top_k_wrong_classes():
    hard, semi = select_negatives(LOGITS, TARGETS, k_hard=3, m_semi=2, generator=torch.Generator().manual_seed(0))
    # sample 0 (true 0): wrong classes by similarity 2 (0.8), 4 (0.7), 6 (0.6)
    assert hard[0].tolist() == [2, 4, 6]
    # sample 1 (true 3, 0.85): wrong 1 (0.95), 5 (0.75), 7 (0.5)
    assert hard[1].tolist() == [1, 5, 7]
    # sample 2 (true 7): 0, 1, 2
    assert hard[2].tolist() == [0, 1, 2]
    for i, t in enumerate(TARGETS.tolist()):
        assert t not in hard[i].tolist() and t not in semi[i].tolist()
        assert not set(hard[i].tolist()) & set(semi[i].tolist())
        assert len(set(semi[i].tolist())) == semi.shape[1]  # without replacement


def test_semi_hard_cover_the_rest_uniformly():
    gen = torch.Generator().manual_seed(1)
    counts = torch.zeros(8)
    for _ in range(400):
        _, semi = select_negatives(LOGITS[:1], TARGETS[:1], k_hard=3, m_semi=2, generator=gen)
        counts[semi[0]] += 1
    # class 0 is the positive, 2/4/6 hard: only 1, 3, 5, 7 are drawn, each about 400*2/4 = 200 times
    assert counts[[0, 2, 4, 6]].sum() == 0
    assert ((counts[[1, 3, 5, 7]] - 200).abs() < 50).all()


def test_caps():
    assert negative_counts(6, 4, 4) == (4, 1)
    assert negative_counts(3, 4, 4) == (2, 0)
    assert negative_counts(20, 4, 4) == (4, 4)
    assert negative_counts(1, 4, 4) == (0, 0)
    hard, semi = select_negatives(LOGITS[:, :3], torch.tensor([0, 1, 2]), k_hard=4, m_semi=4)
    assert hard.shape == (3, 2) and semi.shape == (3, 0)
    with pytest.raises(ValueError):
        negative_counts(5, -1, 0)


def test_loss_equals_hand_computed_ce():
    hard, semi = select_negatives(LOGITS, TARGETS, k_hard=2, m_semi=1, generator=torch.Generator().manual_seed(5))
    loss = hard_negative_loss(LOGITS, TARGETS, k_hard=2, m_semi=1, generator=torch.Generator().manual_seed(5))
    expect = 0.0
    for i, t in enumerate(TARGETS.tolist()):
        pos = LOGITS[i, t].item()
        negs = [LOGITS[i, j].item() for j in hard[i].tolist() + semi[i].tolist()]
        expect += -pos + math.log(math.exp(pos) + sum(math.exp(v) for v in negs))
    assert loss.item() == pytest.approx(expect / 3, rel=1e-6)


def test_full_negatives_equal_softmax():
    # with k + m covering every wrong class, the hard-negative loss is the full softmax CE
    a = hard_negative_loss(LOGITS * 10, TARGETS, k_hard=4, m_semi=3)
    b = softmax_loss(LOGITS * 10, TARGETS)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    assert b.item() == pytest.approx(F.cross_entropy(LOGITS * 10, TARGETS).item())


def test_seed_reproducible_and_gradient():
    x = LOGITS.clone().requires_grad_(True)
    l1 = contrastive_loss("hard_negative", x, TARGETS, k_hard=1, m_semi=2, generator=torch.Generator().manual_seed(3))
    l2 = contrastive_loss("hard_negative", x, TARGETS, k_hard=1, m_semi=2, generator=torch.Generator().manual_seed(3))
    assert l1.item() == l2.item()
    l1.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # unselected classes get no gradient
    hard, semi = select_negatives(LOGITS, TARGETS, k_hard=1, m_semi=2, generator=torch.Generator().manual_seed(3))
    used = torch.zeros_like(LOGITS, dtype=torch.bool)
    used[torch.arange(3), TARGETS] = True
    used.scatter_(1, torch.cat([hard, semi], 1), True)
    assert (x.grad[~used] == 0).all()


def test_label_smoothing_and_unknown_loss():
    plain = softmax_loss(LOGITS, TARGETS)
    smooth = softmax_loss(LOGITS, TARGETS, label_smoothing=0.1)
    assert smooth.item() != plain.item()
    with pytest.raises(ValueError):
        contrastive_loss("triplet", LOGITS, TARGETS)
