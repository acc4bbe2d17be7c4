"""Conditioning augmentation (Zhang et al., StackGAN, ICCV 2017): a sentence → a Gaussian → a sampled condition.

A linear layer maps the sentence embedding to the mean and log-variance of a diagonal Gaussian, and the
condition is drawn from it with the reparameterisation ``c = μ + ε·exp(logvar / 2)``, ``ε ~ N(0, I)``. The
authors draw ε inside the module on every call, in training and in evaluation alike; here ε comes from an
explicit tensor or from a ``torch.Generator`` so that a seed reproduces an image.

Variants differ only in what sits between the linear layer and the split into (μ, logvar); they are
listed in :data:`CA_VARIANTS`, and adding one is adding an entry there:

* ``"glu"``: AttnGAN / StackGAN++ (``CA_NET`` of taoxugit/AttnGAN and hanzhanggit/StackGAN-v2): the layer has
  ``4·C`` outputs and a GLU halves them, so μ and logvar can be negative.
* ``"relu"``: StackGAN v1 (``CA_NET`` of hanzhanggit/StackGAN-Pytorch): ``2·C`` outputs and a ReLU on all of
  them before the split, so μ ≥ 0 and logvar ≥ 0 (a quirk of that code, kept).
* ``"tf"``: StackGAN TensorFlow (``generate_condition`` of hanzhanggit/StackGAN): ``2·C`` outputs, a leaky
  ReLU (slope 0.2) before the split, and the second half is ``log σ``, so ``std = exp(log σ)`` (not
  ``exp(logvar / 2)``); drawn ε is truncated to ±2 (``tf.truncated_normal``). The KL term is
  :func:`textgan.losses.kl_loss` ``(mu, 2·log_sigma)``, which equals the TF code's ``KL_loss``.

The parameter names (``fc.weight``, ``fc.bias``) are the authors', so their ``ca_net.*`` weights load as they are.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ConditioningAugmentation", "CA_VARIANTS", "reparametrize"]

# variant -> (fc outputs per condition channel, activation between the fc layer and the (μ, logvar) split)
CA_VARIANTS: Dict[str, Tuple[int, Callable[[torch.Tensor], torch.Tensor]]] = {
    "glu": (4, lambda x: F.glu(x, dim=1)),  # first half · sigmoid(second half)
    "relu": (2, F.relu),
    "tf": (2, lambda x: F.leaky_relu(x, 0.2)),
}
# variant -> s in std = exp(s · second half): the PyTorch codes hold log-variances, the TF code log σ
_STD_SCALE = {"glu": 0.5, "relu": 0.5, "tf": 1.0}


def reparametrize(mu: torch.Tensor, logvar: torch.Tensor, eps: Optional[torch.Tensor] = None,
                  generator: Optional[torch.Generator] = None, std_scale: float = 0.5,
                  truncate: bool = False) -> torch.Tensor:
    """``μ + ε·exp(std_scale · logvar)`` with ``ε`` given (same shape as ``mu``) or drawn from ``generator``
    (N(0, 1), or truncated to ±2 with ``truncate``, as ``tf.truncated_normal``).

    The product is formed as the authors do (``eps.mul(std).add_(mu)``), so an injected ε gives their bits.
    """
    std = torch.exp(std_scale * logvar) if std_scale != 1.0 else torch.exp(logvar)
    if eps is None and truncate:
        from .._noise import truncated_normal

        eps = truncated_normal(tuple(mu.shape), generator).to(mu.device)
    elif eps is None:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    elif tuple(eps.shape) != tuple(mu.shape):
        raise ValueError(f"eps must have the shape of the condition {tuple(mu.shape)}, got {tuple(eps.shape)}")
    return eps.to(mu.dtype).mul(std).add_(mu)


class ConditioningAugmentation(nn.Module):
    """Sentence embedding → (condition c, μ, logvar), c sampled with the reparameterisation trick.

    Args:
        in_dim: sentence embedding width (AttnGAN: the 256-d DAMSM sentence; StackGAN: 1024-d char-CNN-RNN).
        cond_dim: width ``C`` of the condition (AttnGAN and StackGAN: 100 and 128).
        variant: ``"glu"`` (AttnGAN, StackGAN++), ``"relu"`` (StackGAN v1 PyTorch) or ``"tf"`` (StackGAN v1
            TensorFlow, whose ``logvar`` output is log σ); see :data:`CA_VARIANTS`.

    Forward: ``(text_embedding (B, in_dim), eps=None (B, C), generator=None)`` → ``(c, mu, logvar)``, each
    (B, C). Without ``eps``, ε ~ N(0, 1) is drawn from ``generator`` (or the global RNG when ``None``) on the
    module's device, in evaluation mode too, as the authors' code does. The KL term of the papers is
    :func:`textgan.losses.kl_loss` ``(mu, logvar)``.

    Examples:
        >>> from textgan.nn import ConditioningAugmentation
        >>> ca = ConditioningAugmentation(in_dim=256, cond_dim=100)
        >>> c, mu, logvar = ca(torch.randn(2, 256), generator=torch.Generator().manual_seed(0))
        >>> c.shape, mu.shape
        (torch.Size([2, 100]), torch.Size([2, 100]))
    """

    def __init__(self, in_dim: int, cond_dim: int, variant: str = "glu") -> None:
        super().__init__()
        if variant not in CA_VARIANTS:
            raise ValueError(f"variant must be one of {sorted(CA_VARIANTS)}, got {variant!r}")
        self.in_dim, self.cond_dim, self.variant = in_dim, cond_dim, variant
        per_channel, self._activation = CA_VARIANTS[variant]
        self.fc = nn.Linear(in_dim, per_channel * cond_dim, bias=True)

    @classmethod
    def infer_sizes(cls, fc_weight_shape, variant: str = "glu") -> Tuple[int, int]:
        """``(in_dim, cond_dim)`` of a variant from the shape of its ``fc.weight``."""
        per_channel = CA_VARIANTS[variant][0]
        out_dim, in_dim = fc_weight_shape
        if out_dim % per_channel:
            raise ValueError(f"fc.weight has {out_dim} outputs, not a multiple of {per_channel} (variant {variant!r})")
        return int(in_dim), int(out_dim) // per_channel

    def encode(self, text_embedding: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of the condition distribution."""
        if text_embedding.dim() != 2 or text_embedding.shape[1] != self.in_dim:
            raise ValueError(f"text_embedding must be (batch, {self.in_dim}), got {tuple(text_embedding.shape)}")
        x = self._activation(self.fc(text_embedding))
        return x[:, : self.cond_dim], x[:, self.cond_dim:]

    def forward(self, text_embedding: torch.Tensor, eps: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(text_embedding)
        return reparametrize(mu, logvar, eps, generator, _STD_SCALE[self.variant], self.variant == "tf"), mu, logvar

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, cond_dim={self.cond_dim}, variant={self.variant!r}"
