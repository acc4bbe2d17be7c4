"""The Fréchet distance between two Gaussians, in float64, through eigenvalues (no scipy).

``d² = ‖μ1 − μ2‖² + Tr Σ1 + Tr Σ2 − 2 Tr √(Σ1 Σ2)``. The reference implementations (pytorch-fid, clean-fid,
DF-GAN, DM-GAN) take ``Tr scipy.linalg.sqrtm(Σ1 Σ2)``, a Schur-decomposition square root of a non-symmetric
matrix that takes seconds at 2048 dimensions. Only its trace is needed, and the eigenvalues of ``Σ1 Σ2`` are
those of the symmetric positive semi-definite ``Lᵀ Σ2 L`` when ``Σ1 = L Lᵀ``, so

    Tr √(Σ1 Σ2) = Σ √λᵢ(Lᵀ Σ2 L)

with one Cholesky factorisation, two matrix products and one symmetric eigenvalue problem. When ``Σ1`` is
singular (fewer samples than dimensions) the Cholesky factor does not exist and ``L = V √max(w, 0)`` from the
eigendecomposition ``Σ1 = V diag(w) Vᵀ`` takes its place (the same identity, slower). Eigenvalues that are
negative by round-off are clipped to 0, where sqrtm would return a small imaginary part that the reference
code discards.
"""
from __future__ import annotations

import warnings
from typing import Tuple

import numpy as np
import torch

from ..errors import MetricInputError

__all__ = ["frechet_distance", "trace_sqrt_product", "SingularCovarianceWarning"]


class SingularCovarianceWarning(UserWarning):
    """A covariance matrix is singular, usually because fewer samples than feature dimensions were used."""


def _as_float64(x, name: str, ndim: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(torch.float64)
    if ndim == 2:
        t = torch.atleast_2d(t)
    else:
        t = torch.atleast_1d(t)
    if t.dim() != ndim:
        raise MetricInputError(f"{name} must be a {ndim}-d array, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise MetricInputError(f"{name} contains NaN or infinite values; the features it came from are not finite")
    return t


def _factor(sigma: torch.Tensor) -> Tuple[torch.Tensor, bool]:
    """``L`` with ``L Lᵀ = sigma`` and whether ``sigma`` was numerically positive definite."""
    L, info = torch.linalg.cholesky_ex(sigma)
    if int(info) == 0:
        return L, True
    w, v = torch.linalg.eigh(sigma)
    return v * w.clamp_min(0).sqrt(), False


def trace_sqrt_product(sigma1, sigma2) -> float:
    """``Tr √(Σ1 Σ2)`` for symmetric positive semi-definite ``Σ1``, ``Σ2`` (float64)."""
    s1 = _as_float64(sigma1, "sigma1", 2)
    s2 = _as_float64(sigma2, "sigma2", 2)
    L, _ = _factor(s1)
    m = L.T @ s2 @ L
    m = (m + m.T) * 0.5  # exact symmetry for the symmetric solver
    return float(torch.linalg.eigvalsh(m).clamp_min(0).sqrt().sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, *, warn_singular: bool = True) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (numpy arrays or tensors).

    Computed in float64 with the eigenvalue method of the module docstring; agrees with the scipy-based
    ``calculate_frechet_distance`` of pytorch-fid to ~1e-9 relative on full-rank statistics.

    Singular covariances (``n`` samples ≤ dimensions) do not stop the computation: the value is the exact
    Fréchet distance of the two degenerate Gaussians (pytorch-fid instead adds 1e-6·I when sqrtm fails,
    which changes the value by about ``1e-6·d``). A :class:`SingularCovarianceWarning` says that such a value
    is dominated by the sample count and not comparable with published numbers.

    Raises:
        ValueError: shapes that do not match, or values that are not finite.
    """
    m1, m2 = _as_float64(mu1, "mu1", 1), _as_float64(mu2, "mu2", 1)
    s1, s2 = _as_float64(sigma1, "sigma1", 2), _as_float64(sigma2, "sigma2", 2)
    d = m1.shape[0]
    if m2.shape != m1.shape or s1.shape != (d, d) or s2.shape != (d, d):
        raise MetricInputError(f"statistics of different sizes: mu1 {tuple(m1.shape)}, sigma1 {tuple(s1.shape)}, "
                               f"mu2 {tuple(m2.shape)}, sigma2 {tuple(s2.shape)}; both must come from the same feature "
                               "layer (2048-d pool3 for FID)")
    L, definite = _factor(s1)
    if not definite and warn_singular:
        warnings.warn(f"the first covariance ({d}x{d}) is singular, usually because fewer than {d + 1} images "
                      "were used; the FID is computed exactly for the degenerate Gaussian but is strongly biased "
                      "by the sample count (use >= 10,000 images to compare with papers)",
                      SingularCovarianceWarning, stacklevel=2)
    m = L.T @ s2 @ L
    m = (m + m.T) * 0.5
    eig = torch.linalg.eigvalsh(m)
    if definite and warn_singular and float(eig[0]) <= 1e-12 * float(eig[-1].abs().clamp_min(1e-300)):
        # Σ1 is fine, so Lᵀ Σ2 L is singular exactly when Σ2 is (no second factorisation needed)
        warnings.warn(f"the second (reference) covariance ({d}x{d}) is singular; it was computed from too few "
                      "images", SingularCovarianceWarning, stacklevel=2)
    tr_covmean = eig.clamp_min(0).sqrt().sum()
    diff = m1 - m2
    value = diff.dot(diff) + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean
    return float(value)
