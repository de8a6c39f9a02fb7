"""Training batches: gathered patches are the scene's windows, and the augmentations are seeded and dihedral."""

from __future__ import annotations

import torch

from hsigeo.model.batches import augment_patches, gather_patches


def test_gathered_patches_are_the_scene_windows():
    g = torch.Generator().manual_seed(0)
    scene = torch.randn(7, 30, 26, generator=g)
    rows, cols = torch.tensor([0, 15, 3, 15]), torch.tensor([0, 11, 20, 11])
    patches = gather_patches(scene, rows, cols, 5)
    assert patches.shape == (4, 7, 5, 5)
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        assert torch.equal(patches[i], scene[:, r:r + 5, c:c + 5])
    assert gather_patches(scene, rows[:0], cols[:0], 5).shape == (0, 7, 5, 5)


def test_augmentations_are_seeded_and_dihedral():
    x = torch.arange(2 * 3 * 3, dtype=torch.float32).reshape(1, 2, 3, 3).repeat(64, 1, 1, 1)
    shift = torch.zeros(2)
    a = augment_patches(x, torch.Generator().manual_seed(5), jitter=0.0, noise=0.0, shift=shift)
    b = augment_patches(x, torch.Generator().manual_seed(5), jitter=0.0, noise=0.0, shift=shift)
    assert torch.equal(a, b)
    # without jitter or noise every patch is a flip / transpose of the original: same values, same centre
    assert torch.equal(a.flatten(2).sort(-1).values, x.flatten(2).sort(-1).values)
    assert torch.equal(a[:, :, 1, 1], x[:, :, 1, 1])
    assert len({tuple(p.flatten().tolist()) for p in a}) > 1
