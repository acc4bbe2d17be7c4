"""Spatial masks that gate text modulation: SSA-GAN's mask predictor and its mask-gated batch-norm affine.

SSA-GAN (Liao et al., CVPR 2022) predicts, at every scale, where on the feature map the text should act,
and lets the sentence modulate the batch-normalised features only there. The two pieces are usable on
their own; ``textgan.models.ssagan`` wires them the way the authors did (wtliao/text2image, ``model.py``).
Child names follow the authors' (``conv_mask.{0,1,3}``, ``batch_norm2d``, ``fc_gamma``, ``fc_beta``) so
their state dicts load with no key map.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fusion import Affine, _load

__all__ = ["SemanticMaskPredictor", "MaskedBatchNormAffine", "fusion_mask", "fill_batchnorm_counters"]


class SemanticMaskPredictor(nn.Sequential):
    """Mask logits from a feature map: ``Conv3x3(C → hidden) → BatchNorm → ReLU → Conv1x1(hidden → 1)``.

    SSA-GAN's ``conv_mask`` (its children are ``0``, ``1`` and ``3``; ``2`` is the ReLU). It returns raw
    logits, (B, 1, H, W); :func:`fusion_mask` turns them into the mask of the next, larger, scale.

    Args:
        in_channels: channels of the feature map.
        hidden_channels: width of the hidden convolution (the authors hard-wire 100).
        eps, momentum: of the BatchNorm (SSA-GAN's synchronised BN: 1e-5, 0.1).

    Examples:
        >>> from textgan.nn import SemanticMaskPredictor
        >>> SemanticMaskPredictor(32, hidden_channels=8)(torch.randn(2, 32, 8, 8)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, in_channels: int, hidden_channels: int = 100, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, hidden_channels, 3, 1, 1),
            nn.BatchNorm2d(hidden_channels, eps=eps, momentum=momentum),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, 1, 1, 1, 0),
        )
        self.in_channels, self.hidden_channels = in_channels, hidden_channels

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "") -> "SemanticMaskPredictor":
        """A predictor with its widths read off ``state_dict`` (``0.weight``), weights loaded strictly."""
        hidden, in_ch = state_dict[prefix + "0.weight"].shape[:2]
        return _load(cls(in_ch, hidden), fill_batchnorm_counters(state_dict), prefix)


def fusion_mask(logits: torch.Tensor, size: Optional[Sequence[int]] = None) -> torch.Tensor:
    """The mask a stage hands to the next: logits resized bilinearly (``align_corners=True``), then sigmoid.

    The resize happens on the logits, before the sigmoid, as in SSA-GAN; ``size=None`` keeps the size.

    Examples:
        >>> from textgan.nn import fusion_mask
        >>> mask = fusion_mask(torch.randn(2, 1, 8, 8), size=(16, 16))
        >>> mask.shape, bool(((mask > 0) & (mask < 1)).all())
        (torch.Size([2, 1, 16, 16]), True)
    """
    if size is not None and tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=True)
    return torch.sigmoid(logits)


class MaskedBatchNormAffine(Affine):
    """Semantic-spatial modulation: ``(1 + m·γ(y))·BN(x) + m·β(y)`` with a spatial mask ``m`` in (0, 1).

    The BatchNorm has no learnable scale or shift (running statistics only); γ and β are the two-layer MLPs
    of :class:`~textgan.nn.Affine`. Where the mask is 0 the features are only normalised; where it is 1 the
    sentence modulates them fully. At initialisation γ and β are 0 (both output layers zeroed, as in
    SSA-GAN), so the block starts as a plain BatchNorm. SSA-GAN's ``affine``.

    Args:
        cond_dim: width of the condition ``y`` (SSA-GAN: the 256-d sentence embedding).
        num_features: channels ``C`` of the feature map.
        hidden_dim: hidden width of the MLPs (``None``: ``num_features``; SSA-GAN hard-wires 256).
        eps, momentum: of the BatchNorm.

    Shapes: ``x`` (B, C, H, W), ``y`` (B, cond_dim), ``mask`` (B, 1, H, W) → (B, C, H, W).

    Examples:
        >>> from textgan.nn import MaskedBatchNormAffine
        >>> block = MaskedBatchNormAffine(cond_dim=16, num_features=32)
        >>> block(torch.randn(2, 32, 8, 8), torch.randn(2, 16), torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 32, 8, 8])
    """

    def __init__(self, cond_dim: int, num_features: int, hidden_dim: Optional[int] = None, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__(cond_dim, num_features, hidden_dim)
        self.batch_norm2d = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "") -> "MaskedBatchNormAffine":
        return super().from_state_dict(fill_batchnorm_counters(state_dict), prefix)

    def reset_parameters(self) -> None:
        """SSA-GAN's initialisation: both output layers zero, so γ = β = 0 and the block is a plain BN."""
        for mlp in (self.fc_gamma, self.fc_beta):
            nn.init.zeros_(mlp.linear2.weight)
            nn.init.zeros_(mlp.linear2.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.batch_norm2d(x)
        gamma, beta = self.scale_shift(y)
        # x̂ + m·(γ·x̂ + β) equals (1 + m·γ)·x̂ + m·β and needs one full-size temporary instead of four
        return torch.addcmul(beta, gamma, x).mul_(mask).add_(x)


def fill_batchnorm_counters(state_dict):
    """A copy of ``state_dict`` with every missing BatchNorm ``num_batches_tracked`` set to 0.

    Files saved by PyTorch < 0.4.1 have no such counter; in eval mode (and with a fixed momentum, as in
    SSA-GAN) it changes nothing, so it is filled in rather than reported as a missing key.
    """
    missing = [k[: -len("running_mean")] for k in state_dict
               if k.endswith("running_mean") and k[: -len("running_mean")] + "num_batches_tracked" not in state_dict]
    if not missing:
        return state_dict
    out = dict(state_dict)
    for stem in missing:
        out[stem + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out
