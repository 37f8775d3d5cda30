"""DINOv2 ViT-S/14 and ViT-B/14 with the official key names, so Meta's hub files load strictly.

The files `dinov2_vits14_pretrain.pth` / `dinov2_vitb14_pretrain.pth` (facebookresearch/dinov2) hold
`cls_token` (1, 1, D), `pos_embed` (1, 1 + 37*37, D) (trained at 518 px), `mask_token` (1, D),
`patch_embed.proj.*` (14x14/14 conv), `blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
mlp.fc2, ls2.gamma}` and the final `norm`: plain pre-norm transformer blocks with LayerScale, LayerNorm
eps 1e-6, exact GELU, no registers. `mask_token` is only used in training; it is kept so the file fits.

Any input size works: an input side that is not a multiple of 14 is first resized (bilinear) to the
nearest multiple (256 -> 252, so 18x18 patches), and the positional embedding is resized (bicubic) to
the patch grid the way the official code does it. Working sizes that are multiples of 112 (224, 336,
448: multiples of both goldenshot's 16 and the patch's 14) skip the image resize.

Stages pass tokens [B, 1 + h*w, D] (CLS first), not maps; `tap_readout()` gives the module `Backbone`
applies to a tapped block's tokens: the final norm (as the official `get_intermediate_layers(norm=True)`
feature path does for every layer it returns), CLS dropped, patches laid out as a [B, D, h, w] map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PATCH = 14
_TRAIN_GRID = 37  # 518 / 14: the grid pos_embed was trained on
_EPS = 1e-6


def patch_grid(height: int, width: int) -> tuple[int, int]:
    """Patches per side for an input of that size: each side to the nearest multiple of 14 (at least one patch)."""
    return max(1, int(height / PATCH + 0.5)), max(1, int(width / PATCH + 0.5))


class PatchEmbed(nn.Module):
    """[B, 3, 14h, 14w] -> [B, h*w, D] patch tokens (`proj` is the official key)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, PATCH)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a fused `qkv` projection and an output `proj`."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class LayerScale(nn.Module):
    """Per-channel scale of a residual branch (`gamma`)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2, hidden width 4 D."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1(x))), then + ls2(mlp(norm2(x)))."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=_EPS)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=_EPS)
        self.mlp = Mlp(dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class Embedding(nn.Module):
    """Image -> tokens: resize to whole patches, patchify, prepend CLS, add the resized positional embedding.

    It shares the network's parameters instead of owning them, so the network's keys stay the
    checkpoint's top-level `cls_token` / `pos_embed` / `patch_embed.*`.
    """

    def __init__(self, net: DinoVisionTransformer) -> None:
        super().__init__()
        self.patch_embed = net.patch_embed
        self.cls_token = net.cls_token
        self.pos_embed = net.pos_embed

    def positions(self, grid: tuple[int, int]) -> Tensor:
        """pos_embed for an h x w grid: the CLS entry as is, the 37x37 patch entries resized bicubically.

        As the official `interpolate_pos_encoding`: the scale factor carries a 0.1 offset (so the
        output size floors to the grid exactly), which also fixes the sampling positions.
        """
        if grid == (_TRAIN_GRID, _TRAIN_GRID):
            return self.pos_embed
        pos = self.pos_embed.float()
        dim = pos.shape[-1]
        patches = pos[:, 1:].reshape(1, _TRAIN_GRID, _TRAIN_GRID, dim).permute(0, 3, 1, 2)
        scale = ((grid[0] + 0.1) / _TRAIN_GRID, (grid[1] + 0.1) / _TRAIN_GRID)
        patches = F.interpolate(patches, scale_factor=scale, mode="bicubic")
        patches = patches.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], dim)
        return torch.cat((pos[:, :1], patches), dim=1).to(self.pos_embed.dtype)

    def forward(self, x: Tensor) -> Tensor:
        grid = patch_grid(*x.shape[-2:])
        size = (grid[0] * PATCH, grid[1] * PATCH)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        return tokens + self.positions(grid)


class TokenMaps(nn.Module):
    """A tapped block's tokens [B, 1 + h*w, D] -> final norm, CLS dropped -> patch map [B, D, h, w].

    `input_size` is the image's (H, W), from which the patch grid follows as in `Embedding`.
    """

    def __init__(self, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, tokens: Tensor, input_size: tuple[int, int]) -> Tensor:
        h, w = patch_grid(*input_size)
        patches = self.norm(tokens)[:, 1:]
        return patches.reshape(patches.shape[0], h, w, patches.shape[-1]).permute(0, 3, 1, 2)


class DinoVisionTransformer(nn.Module):
    """DINOv2 ViT/14 backbone (no classifier: the official files hold none). `stages()`: `embed`, `blocks.0..N-1`."""

    # A probe side that is a multiple of 14 and 16: Backbone measures stride 14 exactly, without a resize.
    probe_side = 112

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + _TRAIN_GRID**2, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=_EPS)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Embedding then each block, as (dotted name, module); applied in order they give the last block's tokens."""
        return [("embed", Embedding(self)), *((f"blocks.{i}", b) for i, b in enumerate(self.blocks))]

    def tap_readout(self) -> TokenMaps:
        """What turns a tapped stage's tokens into a feature map (shares `norm`)."""
        return TokenMaps(self.norm)

    def forward(self, x: Tensor) -> Tensor:
        """[B, 3, H, W] -> the last block's normed patch tokens as a map [B, D, h, w] (official `x_norm_patchtokens`)."""
        size = tuple(x.shape[-2:])
        for _, module in self.stages():
            x = module(x)
        return self.tap_readout()(x, size)


def dinov2_vits14() -> DinoVisionTransformer:
    """ViT-S/14: D=384, 12 blocks, 6 heads (22,056,576 parameters)."""
    return DinoVisionTransformer(384, 12, 6)


def dinov2_vitb14() -> DinoVisionTransformer:
    """ViT-B/14: D=768, 12 blocks, 12 heads."""
    return DinoVisionTransformer(768, 12, 12)
