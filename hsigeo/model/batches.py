"""Training batches: patches gathered from the padded scene, and their augmentations.

Flips and transposes (the dihedral group of the square), spectral jitter and
noise, and simulated field borders; all seeded through one ``torch.Generator``.
"""

from __future__ import annotations

import torch

__all__ = ["gather_patches", "mix_borders", "augment_patches"]


def gather_patches(scene: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, s: int) -> torch.Tensor:
    """Patches ``(n, B, s, s)`` with top-left corners ``(rows, cols)`` in the padded scene ``(B, H', W')``."""
    off = torch.arange(s, device=scene.device)
    yy = (rows[:, None] + off[None, :])[:, :, None]
    xx = (cols[:, None] + off[None, :])[:, None, :]
    return scene[:, yy, xx].permute(1, 0, 2, 3)


def mix_borders(x: torch.Tensor, other: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Simulate field borders: replace the rows below a random cut with the rows of another patch.

    With probability ``p`` per patch, rows ``r + d .. 2r`` (``d`` in ``1..r``) are taken from
    ``other`` (patches cut at random places of the scene, labelled or not); the label stays the
    centre's.  Most errors of a patch classifier sit on field edges, where the patch mixes the
    field with a road, a gap or another crop that few-shot training patches never show; this
    teaches it to trust the centre.  The dihedral transform applied afterwards turns the cut
    into any of the four directions.
    """
    n, _, s, _ = x.shape
    r = (s - 1) // 2
    if r < 1:
        return x
    apply = (torch.rand(n, generator=gen) < p).to(x.device)
    cut = r + torch.randint(1, r + 1, (n,), generator=gen).to(x.device)
    rows = torch.arange(s, device=x.device)
    take = apply[:, None] & (rows[None, :] >= cut[:, None])  # (n, s): rows taken from the other patch
    return torch.where(take[:, None, :, None], other, x)


def augment_patches(x: torch.Tensor, gen: torch.Generator, *, jitter: float, noise: float,
             shift: torch.Tensor, border_mix: float = 0.0, other: torch.Tensor | None = None) -> torch.Tensor:
    """Random element of the dihedral group of the square per patch, plus spectral jitter.

    ``jitter`` scales a patch's raw spectrum by ``1 + u``, ``u ~ U(-jitter, jitter)``: in
    standardised units that is ``z (1 + u) + u mean/std`` (``shift`` = mean/std per band).
    """
    n = x.shape[0]
    if border_mix > 0 and other is not None:
        x = mix_borders(x, other, gen, border_mix)
    flips = torch.rand((n, 3), generator=gen).to(x.device) < 0.5
    x = torch.where(flips[:, 0, None, None, None], x.flip(-1), x)
    x = torch.where(flips[:, 1, None, None, None], x.flip(-2), x)
    x = torch.where(flips[:, 2, None, None, None], x.transpose(-1, -2), x)
    if jitter > 0:
        u = ((torch.rand((n, 1, 1, 1), generator=gen) * 2 - 1) * jitter).to(x.device)
        x = x * (1 + u) + u * shift[None, :, None, None]
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=gen).to(x.device)
    return x
