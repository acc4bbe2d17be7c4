"""Batched Inception feature extraction and streaming FID statistics, one process or many (``torchrun``).

:class:`FeatureExtractor` turns images into the features of a protocol (2048-d pool3 for FID, class
probabilities for the Inception Score). :func:`feature_statistics` accumulates ``mu`` and ``sigma`` in float64
while streaming, never holding every feature.

**Speed.** The network runs under ``torch.inference_mode`` with every BatchNorm folded into the convolution
before it (``w·γ/√(σ²+ε)``, ``β − μ·γ/√(σ²+ε)``: the same function up to float32 rounding, ~1e-6
relative) and in channels-last memory format, which oneDNN runs faster on CPU. Decoding and resizing the next
batch overlaps the network through a thread pool.

**Several processes.** Under ``torch.distributed`` (``torchrun``), batch ``k`` of the global order goes to rank
``k % world_size``; after each round every rank gathers the round's features and adds them in global order,
so each rank ends with exactly the statistics one process computes (same batches through the network, same
float64 summation order).
"""
from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import CheckpointError, MetricInputError
from ._resize import load_batch, list_images, preprocess
from .inception import load_inception

__all__ = ["FeatureExtractor", "Statistics", "feature_statistics", "load_statistics", "image_batches"]

PathLike = Union[str, os.PathLike]


# ------------------------------------------------------------------ statistics files


@dataclass
class Statistics:
    """Gaussian statistics of features: ``mu (d,)``, ``sigma (d, d)`` in float64, with their provenance."""

    mu: np.ndarray
    sigma: np.ndarray
    n: Optional[int] = None
    protocol: Optional[str] = None
    source: str = field(default="", compare=False)

    def save(self, path: PathLike) -> Path:
        """Write ``.npz`` with ``mu`` and ``sigma`` (what pytorch-fid and DF-GAN read) plus ``n`` and
        ``protocol``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {}
        if self.n is not None:
            extra["n"] = np.asarray(self.n)
        if self.protocol is not None:
            extra["protocol"] = np.asarray(self.protocol)
        np.savez(path, mu=self.mu, sigma=self.sigma, **extra)
        return path

    def __repr__(self) -> str:
        return (f"Statistics(d={self.mu.shape[0]}, n={self.n}, protocol={self.protocol!r}"
                + (f", source={self.source!r})" if self.source else ")"))


def load_statistics(path: PathLike) -> Statistics:
    """Read an ``.npz`` with ``mu`` and ``sigma`` (pytorch-fid ``--save-stats``, DF-GAN's ``*_val256_FIDK0.npz``,
    DM-GAN's, textgan's). Pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such statistics file (make one with "
                                "`textgan eval fid --images DIR --save-stats OUT.npz`)")
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.keys())
            if "mu" not in keys or "sigma" not in keys:
                raise CheckpointError(
                    f"{path}: a statistics file needs arrays 'mu' and 'sigma' (pytorch-fid / DF-GAN layout), this "
                    f"one has {keys or 'none'}; recompute it with `textgan eval fid --images DIR --save-stats "
                    f"{path.name}`")
            mu, sigma = np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64)
            n = int(f["n"]) if "n" in keys else None
            protocol = str(f["protocol"]) if "protocol" in keys else None
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable .npz statistics file ({e})") from e
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise CheckpointError(f"{path}: 'mu' {mu.shape} and 'sigma' {sigma.shape} do not fit; expected (d,) and "
                              "(d, d)")
    return Statistics(mu, sigma, n, protocol, str(path))


class _Accumulator:
    """Streaming float64 mean and unbiased covariance (``np.cov(rowvar=False)``), shifted by the first
    batch's mean to avoid cancellation."""

    def __init__(self) -> None:
        self.n = 0
        self.shift: Optional[torch.Tensor] = None
        self.s1: Optional[torch.Tensor] = None
        self.s2: Optional[torch.Tensor] = None

    def update(self, feats: torch.Tensor) -> None:
        x = feats.detach().to("cpu", torch.float64)
        if x.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = x.mean(0)
            d = x.shape[1]
            self.s1 = torch.zeros(d, dtype=torch.float64)
            self.s2 = torch.zeros(d, d, dtype=torch.float64)
        x = x - self.shift
        self.s1 += x.sum(0)
        self.s2.addmm_(x.T, x)
        self.n += x.shape[0]

    def result(self) -> Tuple[np.ndarray, np.ndarray]:
        if self.n == 0:
            raise MetricInputError("no images were given, so there are no statistics")
        if self.n < 2:
            raise MetricInputError("a covariance needs at least 2 images, got 1")
        mean = self.s1 / self.n
        sigma = (self.s2 - self.n * torch.outer(mean, mean)) / (self.n - 1)
        return (mean + self.shift).numpy(), ((sigma + sigma.T) / 2).numpy()


# ------------------------------------------------------------------ the networks, made fast


class _FusedConv(nn.Module):
    def __init__(self, conv: nn.Conv2d, bias: torch.Tensor) -> None:
        super().__init__()
        self.conv = conv
        self.conv.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval semantics) with every ``BasicConv2d``'s BatchNorm folded into its conv."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__ == "BasicConv2d":
                bn, conv = child.bn, child.conv
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                  conv.padding, bias=False).to(conv.weight)
                fused.weight = nn.Parameter((conv.weight * scale.view(-1, 1, 1, 1)).detach(), requires_grad=False)
                setattr(parent, name, _FusedConv(fused, (bn.bias - bn.running_mean * scale).detach()))
    return model


# ------------------------------------------------------------------ sources


def _dist() -> Tuple[int, int, Any]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size(), torch.distributed
    return 0, 1, None


class _Batches:
    """A sequence of batches: ``len`` and ``batch(k)`` (loads only what is asked for)."""

    def __init__(self, count: int, get: Callable[[int], Sequence[Any]], total: Optional[int]) -> None:
        self.count, self.get, self.total = count, get, total

    def __len__(self) -> int:
        return self.count


def image_batches(source: Any, batch_size: int = 50, n: Optional[int] = None) -> Union[_Batches, Iterable]:
    """Batches of images from a folder, a tensor ``(N, 3, H, W)``, a list of images, or an iterable of batches
    (each a tensor or a list); ``n`` keeps the first ``n`` images."""
    if batch_size < 1:
        raise MetricInputError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(source, _Batches):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix == ".npz":
            raise MetricInputError(f"{path}: is a statistics file; pass it as reference=, not as the images")
        files = list_images(path)
        if n is not None:
            if n > len(files):
                raise MetricInputError(f"{path}: n={n} images asked for but the folder has {len(files)}")
            files = files[:n]
        return _Batches(-(-len(files) // batch_size), lambda k: load_batch(files[k * batch_size:(k + 1) * batch_size]),
                        len(files))
    if isinstance(source, torch.Tensor) or isinstance(source, (list, tuple)):
        if isinstance(source, torch.Tensor) and source.dim() != 4:
            raise MetricInputError(f"an image tensor must be (N, C, H, W), got shape {tuple(source.shape)}")
        items = source[:n] if n is not None else source
        if n is not None and len(items) < n:
            raise MetricInputError(f"n={n} images asked for but only {len(items)} were given")
        return _Batches(-(-len(items) // batch_size), lambda k: items[k * batch_size:(k + 1) * batch_size], len(items))
    if hasattr(source, "__iter__"):
        return _limit(source, n)
    raise TypeError(f"images must be a folder, a tensor (N, 3, H, W), a list of images or an iterable of batches, "
                    f"got {type(source).__name__}")


def _limit(batches: Iterable, n: Optional[int]) -> Iterator:
    seen = 0
    for batch in batches:
        if n is not None and seen + len(batch) > n:
            batch = batch[: n - seen]
        if len(batch):
            yield batch
        seen += len(batch)
        if n is not None and seen >= n:
            return
    if n is not None and seen < n:
        raise MetricInputError(f"n={n} images asked for but the source gave only {seen}")


# ------------------------------------------------------------------ the extractor


_NETWORK = {"tf": "fid", "clean": "fid", "legacy-t2i": "torchvision"}


class FeatureExtractor:
    """Images → features of a protocol.

    Args:
        protocol: ``"tf"``, ``"clean"`` or ``"legacy-t2i"`` (docs/metrics.md).
        weights: the network's weights (path or state dict); None downloads the original file.
        output: ``"pool3"`` (2048-d, FID) or ``"logits_unbiased"`` (1008-d, the COCO Inception Score).
        value_range: range of float image tensors ((0, 1), or (-1, 1) for generator output).
        device: where the network runs (default: CPU).
        optimize: fold BatchNorm and use channels-last (see the module docstring).
        model: an already loaded network instead of ``weights``.
    """

    def __init__(self, protocol: str = "tf", weights: Any = None, *, output: str = "pool3",
                 value_range: Tuple[float, float] = (0.0, 1.0), device: Union[str, torch.device, None] = None,
                 optimize: bool = True, model: Optional[nn.Module] = None) -> None:
        if protocol not in _NETWORK:
            raise MetricInputError(f"protocol must be one of {', '.join(map(repr, _NETWORK))}, got {protocol!r}")
        if output not in ("pool3", "logits_unbiased"):
            raise MetricInputError(f"output must be 'pool3' or 'logits_unbiased', got {output!r}")
        self.protocol, self.output, self.value_range = protocol, output, value_range
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        net = model if model is not None else load_inception(_NETWORK[protocol], weights)
        if output == "logits_unbiased" and not hasattr(net, "logits_unbiased"):
            raise MetricInputError("logits_unbiased needs the FID Inception (protocol 'tf' or 'clean')")
        self.model = net.eval()
        self._fc = net.fc.weight.detach().to(self.device) if output == "logits_unbiased" else None
        run = fold_batch_norm(net) if optimize else net
        self._channels_last = optimize
        self._run = run.to(self.device, memory_format=torch.channels_last if optimize else torch.preserve_format)

    @property
    def dims(self) -> int:
        return int(self._fc.shape[0]) if self._fc is not None else int(self.model.fc.weight.shape[1])

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """A batch (tensor or list of images of any sizes) → the network input ``(B, 3, 299, 299)``."""
        items = list(images.unbind(0)) if isinstance(images, torch.Tensor) else list(images)
        return preprocess(items, self.protocol, self.value_range)

    @torch.inference_mode()
    def forward_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats = self._run.features(x)
        if self._fc is not None:
            feats = feats @ self._fc.T
        return feats.float().cpu()

    def __call__(self, images: Sequence[Any]) -> torch.Tensor:
        """A batch of images → ``(B, dims)`` float32 features."""
        return self.forward_input(self.preprocess(images))

    def iter_features(self, source: Any, *, batch_size: int = 50, n: Optional[int] = None,
                      progress: bool = False) -> Iterator[torch.Tensor]:
        """Features of every batch of ``source`` in the global order (on every rank when distributed)."""
        batches = image_batches(source, batch_size, n)
        rank, world, dist = _dist()
        bar = _progress(progress, getattr(batches, "total", None))
        with ThreadPoolExecutor(max_workers=1) as pool:
            if isinstance(batches, _Batches):
                mine = list(range(rank, len(batches), world))
                pending = pool.submit(lambda k: self.preprocess(batches.get(k)), mine[0]) if mine else None
                for i in range(-(-len(batches) // world)):
                    own = i * world + rank
                    feats = None
                    if own < len(batches):
                        x = pending.result()
                        nxt = own + world
                        pending = (pool.submit(lambda k: self.preprocess(batches.get(k)), nxt)
                                   if nxt < len(batches) else None)
                        feats = self.forward_input(x)
                    for f in _gather_round(feats, dist, world, self.dims):
                        bar.update(f.shape[0])
                        yield f
            else:  # a plain iterable: every rank walks it and runs its share of each round
                feats, k = None, -1
                for k, batch in enumerate(batches):
                    if k % world == rank:
                        feats = self(batch)
                    if k % world == world - 1:
                        for f in _gather_round(feats, dist, world, self.dims):
                            bar.update(f.shape[0])
                            yield f
                        feats = None
                if (k + 1) % world:
                    raise RuntimeError("under torch.distributed an iterable source must give a multiple of "
                                       "world_size batches; pass a folder, a tensor or a list instead")
        bar.close()


def _gather_round(feats: Optional[torch.Tensor], dist: Any, world: int, dims: int) -> List[torch.Tensor]:
    """This round's features of every rank, in rank order (= global batch order)."""
    if dist is None:
        return [feats] if feats is not None else []
    count = torch.tensor([0 if feats is None else feats.shape[0]], dtype=torch.long)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    size = int(max(c.item() for c in counts))
    if size == 0:
        return []
    padded = torch.zeros(size, dims)
    if feats is not None:
        padded[: feats.shape[0]] = feats
    out = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(out, padded)
    return [o[: int(c.item())] for o, c in zip(out, counts) if int(c.item())]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool, total: Optional[int]):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="Inception features")


def feature_statistics(source: Any, extractor: FeatureExtractor, *, batch_size: int = 50, n: Optional[int] = None,
                       progress: bool = False) -> Statistics:
    """Streaming ``mu`` / ``sigma`` (float64, ``np.cov`` convention) of the extractor's features of ``source``."""
    acc = _Accumulator()
    for feats in extractor.iter_features(source, batch_size=batch_size, n=n, progress=progress):
        acc.update(feats)
    mu, sigma = acc.result()
    return Statistics(mu, sigma, acc.n, extractor.protocol, str(source) if isinstance(source, (str, Path)) else "")
