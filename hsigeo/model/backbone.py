"""Spectral-spatial transformer backbone with a shared-work (dense) and a per-patch (naive) forward.

Architecture, per pixel ``p`` and its ``S x S`` patch (``S = grid * kernel``, radius ``r = (S - 1) / 2``):

1. **Spectral stem** (per pixel): ``B -> C`` linear map (a 1x1 convolution), LayerNorm over
   channels, GELU; optionally more ``C -> C`` layers.  Per-pixel, so it is computed once per
   pixel of a tile however many patches contain that pixel.
2. **Sub-patch tokenizer**: a ``k x k`` convolution ``C -> D`` over the stem map.  In the dense
   path it runs with stride 1 (one token per tile position); a patch's ``grid x grid``
   tokens are the non-overlapping sub-patches, i.e. the token map sampled at offsets
   ``(a k, b k)`` from the patch corner, gathered by strided slicing.  The naive path runs
   the same convolution with stride ``k`` on each patch.
3. **Class-attention head** (``mixer="class"``, default; CaiT-style): only a class token is
   updated.  Keys and values of the patch tokens are LayerNorm + linear projections of the
   token *content* plus a learned per-slot positional bias, so the projections are computed
   once per tile position and shared by every patch.  The class token starts from a learned
   vector plus a projection of the centre pixel's stem feature (``center_token=True``).
   ``mixer="self"`` instead runs ordinary pre-norm ViT blocks over ``[cls] + tokens`` (more
   mixing, little shared work; kept for comparison).
4. A LayerNorm + linear projection of the class token to the joint embedding (``embed_dim``),
   L2-normalised.

No layer uses batch statistics, so a pixel's embedding does not depend on its neighbours in
a batch: ``forward_dense`` over a tile equals ``forward_patches`` over the tile's patches to
float tolerance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hsigeo.errors import InvalidInputError

__all__ = ["BackboneConfig", "SpectralSpatialBackbone"]


@dataclass(frozen=True)
class BackboneConfig:
    """Hyper-parameters of :class:`SpectralSpatialBackbone`.

    Attributes
    ----------
    n_bands
        Spectral bands ``B`` of the input (``0``: not known yet, as in a training
        configuration, which takes it from the scene; a network needs ``>= 1``).
    stem_dim
        Channels ``C`` of the per-pixel spectral stem.
    stem_layers
        Number of per-pixel ``Linear -> LayerNorm -> GELU`` layers in the stem.
    kernel
        Side ``k`` of a sub-patch (tokenizer convolution kernel).
    grid
        Sub-patches per patch side ``g``; the patch side is ``g * k`` (odd).
    width
        Token width ``D``.
    depth
        Number of attention blocks.
    heads
        Attention heads (``width`` must be divisible by it).
    mlp_ratio
        MLP hidden width as a multiple of ``width``.
    embed_dim
        Joint (vision-text) embedding size ``E``.
    mixer
        ``"class"`` (class-attention blocks, shareable) or ``"self"`` (ViT blocks).
    center_token
        Start the class token from the centre pixel's stem feature (plus a learned vector).
    center_drop
        Training only: probability of leaving the centre feature out of a sample's class
        token, so the model cannot lean on the centre spectrum alone.
    dropout
        Dropout in attention outputs and MLPs (training only).
    """

    n_bands: int = 0
    stem_dim: int = 64
    stem_layers: int = 1
    kernel: int = 5  # a 15 x 15 patch with grid 3: see hsigeo.model.training.TrainConfig
    grid: int = 3
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    embed_dim: int = 64
    mixer: str = "class"
    center_token: bool = True
    center_drop: float = 0.7
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_bands < 0:
            raise InvalidInputError(f"n_bands must be >= 0, got {self.n_bands}")
        if self.kernel < 1 or self.grid < 1:
            raise InvalidInputError("kernel and grid must be >= 1")
        if self.patch_size % 2 == 0:
            raise InvalidInputError(f"patch side grid*kernel = {self.patch_size} must be odd (a centre pixel)")
        if self.width % self.heads:
            raise InvalidInputError(f"width {self.width} is not divisible by heads {self.heads}")
        if self.mixer not in ("class", "self"):
            raise InvalidInputError(f"mixer must be 'class' or 'self', got {self.mixer!r}")
        if self.depth < 1 or self.stem_layers < 1:
            raise InvalidInputError("depth and stem_layers must be >= 1")

    @property
    def patch_size(self) -> int:
        """Side of the square patch around a pixel, ``grid * kernel``."""
        return self.grid * self.kernel

    @property
    def radius(self) -> int:
        """Halo a tile needs on each side, ``(patch_size - 1) // 2``."""
        return (self.patch_size - 1) // 2

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackboneConfig:
        """Build from a dict, ignoring unknown keys (forward compatibility of model files)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class _ClassAttentionBlock(nn.Module):
    """Pre-norm block that updates only the class token.

    Patch-token keys/values come in precomputed (shared across patches); the class token
    contributes its own key/value, so it can attend to itself.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv_cls = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, cls: torch.Tensor, k_tok: torch.Tensor, v_tok: torch.Tensor) -> torch.Tensor:
        """``cls`` (P, D); ``k_tok``, ``v_tok`` (P, T, D) -> updated ``cls`` (P, D)."""
        p, t, d = k_tok.shape
        h = self.heads
        dh = d // h
        q, k_c, v_c = self.qkv_cls(self.norm1(cls)).chunk(3, dim=-1)
        k = torch.cat([k_c.unsqueeze(1), k_tok], dim=1).view(p, t + 1, h, dh)
        v = torch.cat([v_c.unsqueeze(1), v_tok], dim=1).view(p, t + 1, h, dh)
        # one query per pixel: an einsum over T+1 keys is cheaper than a batched matmul here
        scores = torch.einsum("phd,pthd->pht", q.view(p, h, dh), k) * (1.0 / math.sqrt(dh))
        attn = scores.softmax(dim=-1)
        out = torch.einsum("pht,pthd->phd", attn, v).reshape(p, d)
        cls = cls + self.drop(self.proj(out))
        return cls + self.mlp(self.norm2(cls))


class _SelfAttentionBlock(nn.Module):
    """Ordinary pre-norm ViT block over all tokens."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class SpectralSpatialBackbone(nn.Module):
    """Patch-based spectral-spatial transformer producing one embedding per pixel.

    Parameters
    ----------
    config
        The hyper-parameters (see :class:`BackboneConfig`).

    Notes
    -----
    Inputs must already be normalised (per-band standardisation, invalid pixels 0).
    Use :meth:`forward_dense` for tiles (work shared between overlapping patches) and
    :meth:`forward_patches` for independent patches (training, sparse pixels).
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.config = config
        c, d = config.stem_dim, config.width
        layers: list[nn.Module] = []
        n_in = config.n_bands
        if n_in < 1:
            raise InvalidInputError(f"a backbone needs n_bands >= 1, got {n_in}")
        for _ in range(config.stem_layers):
            layers += [nn.Linear(n_in, c), nn.LayerNorm(c), nn.GELU()]
            n_in = c
        self.stem = nn.Sequential(*layers)
        self.tokenizer = nn.Conv2d(c, d, kernel_size=config.kernel)
        n_tok = config.grid**2
        self.cls = nn.Parameter(torch.zeros(d))
        self.center = nn.Linear(c, d) if config.center_token else None
        if config.mixer == "class":
            self.kv_norm = nn.LayerNorm(d)
            # keys and values of every block from one matmul per tile position
            self.kv = nn.Linear(d, 2 * d * config.depth)
            self.kv_pos = nn.Parameter(torch.zeros(config.depth, 2, n_tok, d))
            self.blocks = nn.ModuleList(
                _ClassAttentionBlock(d, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.depth)
            )
        else:
            self.pos = nn.Parameter(torch.zeros(n_tok + 1, d))
            self.blocks = nn.ModuleList(
                _SelfAttentionBlock(d, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.depth)
            )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.embed_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.cls, std=0.02)
        for name in ("kv_pos", "pos"):
            if hasattr(self, name):
                nn.init.normal_(getattr(self, name), std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # the stem sees ~200 standardised bands: a fan-in scaled init keeps its output O(1)
        for m in self.stem:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5))

    @property
    def radius(self) -> int:
        """Patch radius: the halo a tile needs on each side."""
        return self.config.radius

    # ------------------------------------------------------------------ #
    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        """(N, B, H, W) -> (N, C, H, W), per pixel."""
        y = self.stem(x.permute(0, 2, 3, 1))
        return y.permute(0, 3, 1, 2)

    def _start_token(self, center: torch.Tensor) -> torch.Tensor:
        """Initial class token (P, D): learned vector, plus the centre pixel's feature if configured."""
        cls = self.cls.expand(center.shape[0], -1)
        if self.center is None:
            return cls
        c = self.center(center)
        if self.training and self.config.center_drop > 0:
            keep = torch.rand(c.shape[0], 1, device=c.device) >= self.config.center_drop
            c = c * keep
        return cls + c

    def _head(self, tokens: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        """Self-attention head: tokens (P, T, D), centre stem features (P, C) -> (P, E)."""
        cls = self._start_token(center)
        x = torch.cat([cls.unsqueeze(1), tokens], dim=1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return F.normalize(self.head(self.norm(x[:, 0])), dim=-1)

    def _class_head(self, kv: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        """Class-attention head: per-slot projected tokens (P, T, 2*D*depth), centre (P, C) -> (P, E)."""
        p, t, _ = kv.shape
        d, depth = self.config.width, self.config.depth
        kv = kv.view(p, t, depth, 2, d)
        cls = self._start_token(center)
        for i, blk in enumerate(self.blocks):
            k = kv[:, :, i, 0] + self.kv_pos[i, 0]
            v = kv[:, :, i, 1] + self.kv_pos[i, 1]
            cls = blk(cls, k, v)
        return F.normalize(self.head(self.norm(cls)), dim=-1)

    def _project_tokens(self, tok: torch.Tensor) -> torch.Tensor:
        """Per-token features the head consumes: K/V projections (class mixer) or the tokens."""
        if self.config.mixer == "class":
            return self.kv(self.kv_norm(tok))
        return tok

    def _run_head(self, feats: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        if self.config.mixer == "class":
            return self._class_head(feats, center)
        return self._head(feats, center)

    # ------------------------------------------------------------------ #
    def forward_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """Embed independent patches (the naive path, also used for training).

        Parameters
        ----------
        patches
            ``(P, B, S, S)`` normalised patches, ``S = 2 * radius + 1``, centred on the pixels.

        Returns
        -------
        torch.Tensor
            ``(P, E)`` L2-normalised embeddings.
        """
        cfg = self.config
        s = cfg.patch_size
        if patches.ndim != 4 or patches.shape[-2:] != (s, s) or patches.shape[1] != cfg.n_bands:
            raise InvalidInputError(f"patches must be (P, {cfg.n_bands}, {s}, {s}), got {tuple(patches.shape)}")
        stem = self._stem(patches)
        # stride k = the g x g non-overlapping sub-patches of each patch
        tok = F.conv2d(stem, self.tokenizer.weight, self.tokenizer.bias, stride=cfg.kernel)
        tok = tok.flatten(2).transpose(1, 2)  # (P, g*g, D), row-major slots
        r = cfg.radius
        return self._run_head(self._project_tokens(tok), stem[:, :, r, r])

    def forward_dense(self, tile: torch.Tensor, *, max_pixels: int | None = None) -> torch.Tensor:
        """Embed every pixel of a tile, sharing work between overlapping patches.

        Parameters
        ----------
        tile
            ``(N, B, H + 2r, W + 2r)`` normalised tiles including their halo of ``r = radius``.
        max_pixels
            Run the per-pixel head over at most this many pixels at once (memory bound);
            ``None`` = all at once.

        Returns
        -------
        torch.Tensor
            ``(N, E, H, W)`` L2-normalised embeddings.
        """
        cfg = self.config
        r, k, g = cfg.radius, cfg.kernel, cfg.grid
        if tile.ndim != 4 or tile.shape[1] != cfg.n_bands:
            raise InvalidInputError(f"tile must be (N, {cfg.n_bands}, H+2r, W+2r), got {tuple(tile.shape)}")
        n, _, hp, wp = tile.shape
        h, w = hp - 2 * r, wp - 2 * r
        if h < 1 or w < 1:
            raise InvalidInputError(f"tile {hp}x{wp} is smaller than one patch ({2 * r + 1}x{2 * r + 1})")
        stem = self._stem(tile)  # once per pixel
        tok = self.tokenizer(stem)  # once per tile position: (N, D, hp-k+1, wp-k+1)
        feats = self._project_tokens(tok.permute(0, 2, 3, 1))  # (N, h', w', F), once per position
        center_map = stem[:, :, r : r + h, r : r + w].permute(0, 2, 3, 1)  # (N, h, w, C)
        # rows per head call, so the gathered (pixels, g*g, F) block stays bounded in memory
        rows = h if not max_pixels else max(1, min(h, int(max_pixels) // max(1, n * w)))
        out = []
        for y0 in range(0, h, rows):
            y1 = min(h, y0 + rows)
            # slot (a, b) of the patch whose corner is (y, x) is the token at (y + a k, x + b k)
            slots = [feats[:, a * k + y0 : a * k + y1, b * k : b * k + w] for a in range(g) for b in range(g)]
            gathered = torch.stack(slots, dim=3).reshape(n * (y1 - y0) * w, g * g, feats.shape[-1])
            center = center_map[:, y0:y1].reshape(n * (y1 - y0) * w, -1)
            out.append(self._run_head(gathered, center).view(n, y1 - y0, w, -1))
        return torch.cat(out, dim=1).permute(0, 3, 1, 2)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`forward_patches`."""
        return self.forward_patches(patches)

    def n_parameters(self) -> int:
        """Number of parameters."""
        return int(sum(p.numel() for p in self.parameters()))
