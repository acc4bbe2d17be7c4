"""Text-conditioned channel modulation: the affine fusion of DF-GAN and the DF block that pairs two of them.

These blocks keep the authors' child names (``fc_gamma.linear1``, ``affine0``, ...) so that official state
dicts load with no key map.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Affine", "DFBlock"]


def _mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            [
                ("linear1", nn.Linear(in_dim, hidden_dim)),
                ("relu1", nn.ReLU(inplace=True)),
                ("linear2", nn.Linear(hidden_dim, out_dim)),
            ]
        )
    )


class Affine(nn.Module):
    """Channel-wise scale and shift predicted from a condition vector: ``γ(y)·x + β(y)``.

    γ and β are two-layer MLPs ``Linear(cond_dim, hidden) → ReLU → Linear(hidden, C)``. DF-GAN 2022 uses
    ``hidden = C`` (the default); DF-GAN 2020 and SEMA use a fixed ``hidden = 256``. At initialisation the
    block is the identity (γ's last layer has weight 0 and bias 1, β's is all zeros), as in the papers.

    Args:
        cond_dim: width of the condition ``y`` (DF-GAN 2022: noise + sentence, 2020: sentence).
        num_features: channels ``C`` of the feature map.
        hidden_dim: hidden width of both MLPs; ``None`` means ``num_features``.

    Shapes: ``x`` (B, C, H, W), ``y`` (B, cond_dim) → (B, C, H, W).

    Examples:
        >>> from textgan.nn import Affine
        >>> affine = Affine(cond_dim=16, num_features=32)
        >>> x = torch.randn(2, 32, 8, 8)
        >>> bool(torch.equal(affine(x, torch.randn(2, 16)), x))   # the identity at initialisation
        True
    """

    def __init__(self, cond_dim: int, num_features: int, hidden_dim: Optional[int] = None) -> None:
        super().__init__()
        hidden_dim = num_features if hidden_dim is None else hidden_dim
        self.cond_dim, self.num_features, self.hidden_dim = cond_dim, num_features, hidden_dim
        self.fc_gamma = _mlp(cond_dim, hidden_dim, num_features)
        self.fc_beta = _mlp(cond_dim, hidden_dim, num_features)
        self.reset_parameters()

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "") -> "Affine":
        """An Affine with sizes read off ``state_dict`` (keys ``fc_gamma.linear1.weight``, ...), weights loaded."""
        hidden, cond_dim = state_dict[prefix + "fc_gamma.linear1.weight"].shape
        num_features = state_dict[prefix + "fc_gamma.linear2.weight"].shape[0]
        return _load(cls(cond_dim, num_features, hidden), state_dict, prefix)

    def reset_parameters(self) -> None:
        """Identity initialisation of the output layers (the first layers keep PyTorch's default)."""
        nn.init.zeros_(self.fc_gamma.linear2.weight)
        nn.init.ones_(self.fc_gamma.linear2.bias)
        nn.init.zeros_(self.fc_beta.linear2.weight)
        nn.init.zeros_(self.fc_beta.linear2.bias)

    def scale_shift(self, y: torch.Tensor) -> tuple:
        """The per-sample (γ, β), each (B, C, 1, 1), without applying them."""
        gamma = self.fc_gamma(y)
        beta = self.fc_beta(y)
        return gamma[:, :, None, None], beta[:, :, None, None]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.scale_shift(y)
        return torch.addcmul(beta, gamma, x)

    def extra_repr(self) -> str:
        return f"cond_dim={self.cond_dim}, num_features={self.num_features}, hidden_dim={self.hidden_dim}"


class DFBlock(nn.Module):
    """DF-GAN's deep fusion block: ``Affine → LeakyReLU(0.2) → Affine → LeakyReLU(0.2)``.

    Called ``DFBLK`` in DF-GAN 2022 and ``DFBlock`` in SEMA; its children are ``affine0`` and ``affine1``.

    Args:
        cond_dim: width of the condition vector.
        num_features: channels of the feature map.
        hidden_dim: hidden width of the affine MLPs (``None``: ``num_features``, as in DF-GAN 2022).
        negative_slope: slope of the leaky ReLUs.

    Examples:
        >>> from textgan.nn import DFBlock
        >>> DFBlock(cond_dim=16, num_features=32)(torch.randn(2, 32, 8, 8), torch.randn(2, 16)).shape
        torch.Size([2, 32, 8, 8])
    """

    def __init__(
        self, cond_dim: int, num_features: int, hidden_dim: Optional[int] = None, negative_slope: float = 0.2
    ) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.affine0 = Affine(cond_dim, num_features, hidden_dim)
        self.affine1 = Affine(cond_dim, num_features, hidden_dim)

    @classmethod
    def from_state_dict(cls, state_dict, prefix: str = "") -> "DFBlock":
        """A DFBlock with sizes read off ``state_dict`` (keys ``affine0.fc_gamma.linear1.weight``, ...)."""
        hidden, cond_dim = state_dict[prefix + "affine0.fc_gamma.linear1.weight"].shape
        num_features = state_dict[prefix + "affine0.fc_gamma.linear2.weight"].shape[0]
        return _load(cls(cond_dim, num_features, hidden), state_dict, prefix)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # in place on fresh tensors only: the caller's x is never modified
        h = F.leaky_relu_(self.affine0(x, y), self.negative_slope)
        return F.leaky_relu_(self.affine1(h, y), self.negative_slope)


def _load(module: nn.Module, state_dict, prefix: str) -> nn.Module:
    from .._weights import load_strict

    own = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return load_strict(module, own, f"{type(module).__name__} weights").eval()
