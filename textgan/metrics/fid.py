"""Fréchet Inception Distance under a named protocol (docs/metrics.md).

========== ============================================ ================================ =====================
protocol   network (weights file)                       resize to 299                    input scale
========== ============================================ ================================ =====================
tf         pytorch-fid's port of the TF 2015-12-05      bilinear, ``align_corners=False`` [0, 1] → 2x − 1
           graph (``pt_inception-2015-12-05-6726825d``)
clean      the same network                             clean-fid: PIL bicubic per float (x − 128) / 128
                                                        channel
legacy-t2i torchvision's ImageNet Inception-v3          PIL bilinear (files) / bilinear  torchvision's
           (``inception_v3_google-0cc3c7bd``), as       (tensors)                        ``transform_input``
           DF-GAN, DM-GAN, SEMA, GALIP                                                   on [0, 1]
========== ============================================ ================================ =====================

Numbers of different protocols are not comparable (DM-GAN's table: AttnGAN CUB 23.98 legacy vs 14.01 TF).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import MetricInputError
from ._frechet import frechet_distance
from .features import FeatureExtractor, Statistics, feature_statistics, image_batches, load_statistics

__all__ = ["MetricResult", "fid", "fid_statistics", "PROTOCOLS"]

PROTOCOLS = ("tf", "legacy-t2i", "clean")


@dataclass
class MetricResult:
    """A metric value with what it depends on: ``value`` (and ``std`` over splits / folds), ``protocol``, the
    sample count ``n`` and the ``reference`` it was compared against. ``float(result)`` is the value."""

    metric: str
    value: float
    protocol: str
    n: int
    reference: Optional[str] = None
    std: Optional[float] = None
    details: Dict[str, Any] = field(default_factory=dict, repr=False)

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        pm = f" ± {self.std:.4f}" if self.std is not None else ""
        ref = f", reference {self.reference}" if self.reference else ""
        return f"{self.metric} {self.value:.4f}{pm} (protocol {self.protocol}, n={self.n}{ref})"

    def as_dict(self) -> Dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "std": self.std, "protocol": self.protocol,
                "n": self.n, "reference": self.reference, **self.details}


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise MetricInputError(f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, got {protocol!r} "
                               "(docs/metrics.md says which paper used which)")


def fid_statistics(images: Any, *, protocol: str = "tf", n: Optional[int] = None, inception_weights: Any = None,
                   batch_size: int = 50, value_range: Tuple[float, float] = (0.0, 1.0), device: Any = None,
                   progress: bool = False, extractor: Optional[FeatureExtractor] = None) -> Statistics:
    """``mu`` / ``sigma`` of the images' pool3 features under ``protocol``; ``.save(path)`` writes the ``.npz``
    that pytorch-fid, DF-GAN and :func:`fid` read. Arguments as :func:`fid`."""
    _check_protocol(protocol)
    extractor = extractor or FeatureExtractor(protocol, inception_weights, value_range=value_range, device=device)
    return feature_statistics(images, extractor, batch_size=batch_size, n=n, progress=progress)


def _reference(reference: Any, extractor_factory, **kwargs) -> Tuple[Statistics, str]:
    if isinstance(reference, Statistics):
        return reference, reference.source or "statistics"
    if isinstance(reference, tuple) and len(reference) == 2:
        return Statistics(np.asarray(reference[0], np.float64), np.asarray(reference[1], np.float64)), "(mu, sigma)"
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        if path.suffix == ".npz" or path.is_file():
            return load_statistics(path), str(path)
        return feature_statistics(path, extractor_factory(), **kwargs), str(path)
    raise TypeError(f"reference must be a .npz statistics file, an image folder, a Statistics or (mu, sigma), got "
                    f"{type(reference).__name__}")


def fid(images: Any, reference: Any, *, protocol: str = "tf", n: Optional[int] = None,
        inception_weights: Any = None, batch_size: int = 50, value_range: Tuple[float, float] = (0.0, 1.0),
        device: Any = None, progress: bool = False, reference_n: Optional[int] = None) -> MetricResult:
    """The FID between ``images`` and ``reference`` under ``protocol``.

    Args:
        images: a folder of images, a tensor ``(N, 3, H, W)`` (float in ``value_range`` or uint8), a list of
            PIL images / arrays of any sizes, an iterable of such batches (e.g. a generator sampling a
            pipeline), or a :class:`Statistics`.
        reference: a ``.npz`` with ``mu`` / ``sigma`` (pytorch-fid, DF-GAN, DM-GAN files), an image folder,
            a :class:`Statistics` or a ``(mu, sigma)`` pair. The statistics must come from the same protocol:
            a textgan ``.npz`` that records another protocol is refused.
        protocol: ``"tf"``, ``"legacy-t2i"`` or ``"clean"`` (module docstring).
        n: use the first ``n`` images (an error if there are fewer).
        inception_weights: path or state dict of the protocol's network; None downloads the original file.
        batch_size: images per network call (50 as pytorch-fid; the value does not change the result).
        value_range: range of float image tensors.
        device: where the network runs.
        progress: show a progress bar.
        reference_n: first images of a reference folder to use.

    Returns:
        :class:`MetricResult` with value, protocol, n and reference. With fewer images than feature
        dimensions (2048) the covariance is singular: a ``SingularCovarianceWarning`` is issued and the
        value, the exact distance of the degenerate Gaussians, is strongly biased.
    """
    _check_protocol(protocol)
    made: Dict[str, FeatureExtractor] = {}

    def extractor() -> FeatureExtractor:
        if "x" not in made:
            made["x"] = FeatureExtractor(protocol, inception_weights, value_range=value_range, device=device)
        return made["x"]

    if not isinstance(images, Statistics):  # check the images (list the folder) before any network runs
        images = image_batches(images, batch_size, n)
        n = None
    ref, ref_name = _reference(reference, extractor, batch_size=batch_size, n=reference_n, progress=progress)
    if ref.protocol is not None and ref.protocol != protocol:
        raise MetricInputError(f"reference {ref_name} was computed with protocol {ref.protocol!r}, not {protocol!r}; "
                               "FIDs across protocols are meaningless. Recompute it or pass protocol="
                               f"{ref.protocol!r}")
    if isinstance(images, Statistics):
        stats = images
    else:
        stats = feature_statistics(images, extractor(), batch_size=batch_size, n=n, progress=progress)
    if stats.mu.shape != ref.mu.shape:
        raise MetricInputError(f"the images give {stats.mu.shape[0]}-d features but reference {ref_name} has "
                               f"{ref.mu.shape[0]}-d statistics; use statistics of the 2048-d pool3 layer")
    value = frechet_distance(stats.mu, stats.sigma, ref.mu, ref.sigma)
    return MetricResult("FID", value, protocol, int(stats.n or 0), ref_name,
                        details={"reference_n": ref.n})
