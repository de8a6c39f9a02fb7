"""Backbone: dense (shared-work) and naive (per-patch) forwards agree; shapes; configuration checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsigeo.model.backbone import BackboneConfig, SpectralSpatialBackbone


def _patches(tile: torch.Tensor, r: int) -> torch.Tensor:
    """All (2r+1)^2 patches of a (N, B, H+2r, W+2r) tile, row-major, as (N*H*W, B, S, S)."""
    s = 2 * r + 1
    win = tile.unfold(2, s, 1).unfold(3, s, 1)  # (N, B, H, W, S, S)
    return win.permute(0, 2, 3, 1, 4, 5).reshape(-1, tile.shape[1], s, s)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"mixer": "self"},
        {"grid": 5, "kernel": 1, "center_token": False},
        {"kernel": 5, "grid": 1, "depth": 1, "stem_layers": 2},
        {"kernel": 5},
    ],
)
def test_dense_equals_naive(kw):
    torch.manual_seed(0)
    cfg = BackboneConfig(n_bands=12, stem_dim=16, width=16, heads=2, embed_dim=8, **kw)
    net = SpectralSpatialBackbone(cfg).eval()
    # break the near-zero init symmetry so the comparison is not trivially passed
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    r = cfg.radius
    tile = torch.randn(2, 12, 7 + 2 * r, 9 + 2 * r)
    with torch.inference_mode():
        dense = net.forward_dense(tile, max_pixels=25)  # chunked head
        whole = net.forward_dense(tile)
        naive = net.forward_patches(_patches(tile, r)).view(2, 7, 9, -1).permute(0, 3, 1, 2)
    assert dense.shape == (2, 8, 7, 9)
    assert torch.allclose(dense, whole, atol=1e-6)
    assert torch.allclose(dense, naive, atol=1e-5)
    assert dense.std(dim=(2, 3)).mean() > 1e-3  # pixels really differ
    assert torch.allclose(dense.norm(dim=1), torch.ones(2, 7, 9), atol=1e-5)


def test_radius_and_patch_size():
    cfg = BackboneConfig(n_bands=3)
    assert (cfg.patch_size, cfg.radius) == (15, 7)  # the default: 3 x 3 sub-patches of 5 x 5 pixels
    assert (BackboneConfig(n_bands=3, kernel=3).patch_size, BackboneConfig(n_bands=3, kernel=3).radius) == (9, 4)
    assert BackboneConfig(n_bands=3, kernel=3, grid=5).radius == 7
    assert BackboneConfig.from_dict({**cfg.to_dict(), "future_key": 1}) == cfg


@pytest.mark.parametrize("bad", [{"grid": 2, "kernel": 2}, {"width": 30, "heads": 4}, {"mixer": "x"}, {"n_bands": -1}])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        BackboneConfig(**{"n_bands": 4, **bad})


def test_band_count_is_needed_for_a_network():
    """n_bands=0 is a shape without a sensor (a training configuration); a network refuses it."""
    assert BackboneConfig().n_bands == 0
    with pytest.raises(ValueError, match="n_bands >= 1"):
        SpectralSpatialBackbone(BackboneConfig())


def test_wrong_input_shapes():
    net = SpectralSpatialBackbone(BackboneConfig(n_bands=4, stem_dim=8, width=8, heads=2))
    with pytest.raises(ValueError):
        net.forward_patches(torch.zeros(3, 4, 7, 7))
    with pytest.raises(ValueError):
        net.forward_dense(torch.zeros(1, 4, 8, 8))  # smaller than one 9x9 patch
    with pytest.raises(ValueError):
        net.forward_dense(torch.zeros(1, 5, 12, 12))


def test_default_size_is_small():
    n = SpectralSpatialBackbone(BackboneConfig(n_bands=204)).n_parameters()
    assert 50_000 < n < 300_000


def test_patch_embedding_depends_only_on_its_patch():
    torch.manual_seed(1)
    cfg = BackboneConfig(n_bands=6, stem_dim=8, width=8, heads=2)
    net = SpectralSpatialBackbone(cfg).eval()
    r = cfg.radius
    tile = torch.randn(1, 6, 5 + 2 * r, 5 + 2 * r)
    other = tile.clone()
    other[..., -1] += 5.0  # changes only the last column, outside the patch of output pixel (0, 0)
    with torch.inference_mode():
        a, b = net.forward_dense(tile), net.forward_dense(other)
    assert torch.allclose(a[..., 0], b[..., 0], atol=1e-6)
    assert not torch.allclose(a[..., -1], b[..., -1])
    assert np.isfinite(a.numpy()).all()
