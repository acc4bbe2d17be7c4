"""Up-sampling, down-sampling and residual blocks shared by the DF-GAN lineage (DF-GAN, SSA-GAN, SEMA)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fusion import DFBlock, _load

__all__ = ["ResidualDownBlock", "FusionUpBlock", "ConditionalLogitHead"]


class ResidualDownBlock(nn.Module):
    """Residual block that halves the resolution: ``avgpool2(shortcut(x)) + γ·residual(x)``.

    ``residual`` is ``Conv4x4/2 → LeakyReLU(0.2) → Conv3x3 → LeakyReLU(0.2)`` (no biases); the shortcut is a
    1×1 convolution used only when the channel count changes. γ is a learned scalar that starts at 0.
    This is DF-GAN 2022's ``D_Block`` and the ``resD`` of DF-GAN 2020, SSA-GAN and SEMA.

    Args:
        in_channels, out_channels: channel counts.
        keep_unused_shortcut: own the 1×1 shortcut convolution even when ``in == out``. The authors' code
            always creates it (so their state dicts hold ``conv_s``), hence the default.

    Examples:
        >>> from textgan.nn import ResidualDownBlock
        >>> ResidualDownBlock(8, 16)(torch.randn(2, 8, 32, 32)).shape
        torch.Size([2, 16, 16, 16])
    """

    def __init__(
        self, in_channels: int, out_channels: int, keep_unused_shortcut: bool = True
    ) -> None:
        super().__init__()
        self.learned_shortcut = in_channels != out_channels
        self.conv_r = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        )
        if self.learned_shortcut or keep_unused_shortcut:
            self.conv_s = nn.Conv2d(in_channels, out_channels, 1, 1, 0)
        self.gamma = nn.Parameter(torch.zeros(1))

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "") -> "ResidualDownBlock":
        """A block with its channel counts read off ``state_dict`` (``conv_r.0.weight``), weights loaded."""
        out_ch, in_ch = state_dict[prefix + "conv_r.0.weight"].shape[:2]
        return _load(cls(in_ch, out_ch, keep_unused_shortcut=prefix + "conv_s.weight" in state_dict),
                     state_dict, prefix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.conv_r(x)
        if self.learned_shortcut:
            x = self.conv_s(x)
        return F.avg_pool2d(x, 2) + self.gamma * res


class FusionUpBlock(nn.Module):
    """DF-GAN 2022 generator block: ``shortcut(x) + residual(x, y)`` after an optional nearest ×2 up-sampling.

    ``residual`` is ``DFBlock → Conv3x3 → DFBlock → Conv3x3``; the shortcut is a 1×1 convolution when the
    channel count changes. SEMA uses the same block with the up-sampling done outside (``upsample=False``).

    Args:
        cond_dim: width of the condition vector.
        in_channels, out_channels: channel counts.
        upsample: nearest-neighbour ×2 before both paths (DF-GAN 2022's ``G_Block(upsample=True)``).
        hidden_dim: hidden width of the affine MLPs (``None``: the channel count, as in DF-GAN 2022).

    Examples:
        >>> from textgan.nn import FusionUpBlock
        >>> FusionUpBlock(cond_dim=16, in_channels=32, out_channels=8)(torch.randn(2, 32, 8, 8), torch.randn(2, 16)).shape
        torch.Size([2, 8, 16, 16])
    """

    def __init__(
        self, cond_dim: int, in_channels: int, out_channels: int, upsample: bool = True,
        hidden_dim: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.learnable_sc = in_channels != out_channels
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.fuse1 = DFBlock(cond_dim, in_channels, hidden_dim)
        self.fuse2 = DFBlock(cond_dim, out_channels, hidden_dim)
        if self.learnable_sc:
            self.c_sc = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "", upsample: bool = True) -> "FusionUpBlock":
        """A block with sizes read off ``state_dict`` (``c1.weight``, ``fuse1.affine0...``), weights loaded.
        Whether it up-samples is not in the weights: pass ``upsample``."""
        out_ch, in_ch = state_dict[prefix + "c1.weight"].shape[:2]
        hidden, cond_dim = state_dict[prefix + "fuse1.affine0.fc_gamma.linear1.weight"].shape
        default_hidden = hidden == in_ch and state_dict[prefix + "fuse2.affine0.fc_gamma.linear1.weight"].shape[0] == out_ch
        return _load(cls(cond_dim, in_ch, out_ch, upsample, None if default_hidden else hidden), state_dict, prefix)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        shortcut = self.c_sc(x) if self.learnable_sc else x
        h = self.c2(self.fuse2(self.c1(self.fuse1(x, y)), y))
        return shortcut + h


class ConditionalLogitHead(nn.Module):
    """Matching logit from 4×4 image features and a sentence vector (DF-GAN's ``NetC`` / ``D_GET_LOGITS``).

    The sentence is tiled to the 4×4 grid and concatenated *after* the features, then
    ``Conv3x3(C + cond_dim → hidden, no bias) → LeakyReLU(0.2) → Conv4x4 valid (→ 1, no bias)``.

    Args:
        in_channels: channels of the features (DF-GAN 2022: 8·ndf, 2020: 16·ndf).
        cond_dim: sentence width.
        hidden_channels: channels of the joint convolution (2·ndf in both versions).

    Shapes: features (B, C, 4, 4), sentence (B, cond_dim) → logits (B, 1, 1, 1).

    Examples:
        >>> from textgan.nn import ConditionalLogitHead
        >>> head = ConditionalLogitHead(in_channels=64, cond_dim=16, hidden_channels=8)
        >>> head(torch.randn(2, 64, 4, 4), torch.randn(2, 16)).shape
        torch.Size([2, 1, 1, 1])
    """

    def __init__(self, in_channels: int, cond_dim: int, hidden_channels: int) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.joint_conv = nn.Sequential(
            nn.Conv2d(in_channels + cond_dim, hidden_channels, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden_channels, 1, 4, 1, 0, bias=False),
        )

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "", in_channels: int = None) -> "ConditionalLogitHead":
        """A head from ``joint_conv.{0,2}.weight``; the split of the input channels between features and
        sentence is not in the weights, so give ``in_channels`` (default: 4 × hidden, DF-GAN 2022's 8·ndf)."""
        hidden, total = state_dict[prefix + "joint_conv.0.weight"].shape[:2]
        in_channels = 4 * hidden if in_channels is None else in_channels
        return _load(cls(in_channels, total - in_channels, hidden), state_dict, prefix)

    def forward(self, features: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        if features.shape[-2:] != (4, 4):
            raise ValueError(
                f"ConditionalLogitHead needs 4x4 features, got {tuple(features.shape[-2:])}: the discriminator "
                "trunk must reduce the image to 4x4 (check imsize against the number of down blocks)"
            )
        tiled = sentence.reshape(-1, self.cond_dim, 1, 1).expand(-1, -1, 4, 4)
        return self.joint_conv(torch.cat((features, tiled), dim=1))
