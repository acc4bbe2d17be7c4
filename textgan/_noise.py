"""Noise sampling that depends only on the seed and the position of a sample.

Draws are taken as uniforms, which PyTorch's CPU generator produces element by element, and mapped through
the inverse normal CDF. So the first rows of a draw do not change when more rows are drawn, and a sample's
noise never depends on the batch it is generated in.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

__all__ = ["standard_normal", "truncated_normal", "uniform", "normal_from_uniform", "truncated_from_uniform"]


def uniform(shape, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """U(0, 1) in float64, drawn element by element (so a row never depends on how many rows follow)."""
    return _uniform(shape, generator)


def normal_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """Map U(0, 1) draws to N(0, 1) (inverse CDF), float32."""
    return _ndtri(u.clamp(1e-12, 1 - 1e-12)).float()


def truncated_from_uniform(u: torch.Tensor, low: float = -2.0, high: float = 2.0, scale: float = 1.0) -> torch.Tensor:
    """Map U(0, 1) draws to ``scale ×`` N(0, 1) truncated to [low, high] (inverse CDF), float32."""
    if not low < high:
        raise ValueError(f"truncation bounds must satisfy low < high, got [{low}, {high}]")
    cdf = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    lo, hi = cdf(low), cdf(high)
    return (scale * _ndtri(lo + (hi - lo) * u).clamp_(low, high)).float()


def _uniform(shape, generator: Optional[torch.Generator]) -> torch.Tensor:
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=device, dtype=torch.float64)


def _ndtri(p: torch.Tensor) -> torch.Tensor:
    return math.sqrt(2.0) * torch.special.erfinv(2.0 * p - 1.0)


def standard_normal(shape, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """N(0, 1) samples, float32."""
    return normal_from_uniform(_uniform(shape, generator))


def truncated_normal(shape, generator: Optional[torch.Generator] = None, low: float = -2.0, high: float = 2.0,
                     scale: float = 1.0) -> torch.Tensor:
    """``scale ×`` a standard normal truncated to ``[low, high]`` (DF-GAN: 0.88 × truncnorm(−2, 2)), float32.

    Same distribution as ``scipy.stats.truncnorm(low, high)`` (inverse-CDF method), without scipy.
    """
    return truncated_from_uniform(_uniform(shape, generator), low, high, scale)
