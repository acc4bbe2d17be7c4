"""Inception Score, ``exp(E_x KL(p(y|x) ‖ p(y)))``, mean ± std over splits, under a named protocol.

* ``"coco"`` (improved-gan's scorer, used for COCO by StackGAN, AttnGAN, DM-GAN; torch-fidelity's ``isc``):
  the TF 2015-12-05 Inception (pytorch-fid's port), softmax of the 1008 logits ``pool3 · W`` **without the
  bias**; images resized to 299 with PIL bilinear on uint8 (``scipy.misc.imresize``) and scaled
  ``(x − 128) / 128`` as the graph does.
* ``"birds"`` / ``"flowers"`` (StackGAN-inception-model, used by StackGAN, AttnGAN, DM-GAN, DF-GAN): the
  Inception-v3 fine-tuned on the test classes, read from its TF checkpoint; softmax over the 50 (20) class
  logits after dropping the background logit 0; ``imresize`` bilinear, ``x / 127.5 − 1``; batches of 64 and
  only whole batches (``drop_last``), as the original.

``p(y)`` is the mean of ``p(y|x)`` inside each split; split ``i`` is ``preds[i·N//S : (i+1)·N//S]``; the std
is numpy's (``ddof=0``). The original StackGAN scorer shuffles the images (unseeded) before batching; pass
``shuffle_seed`` to do the same reproducibly. The original also ``np.resize``-tiles grayscale arrays (a bug);
textgan replicates the channel instead.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

from ..errors import MetricInputError
from ._resize import SIZE, _uint8_rgb, to_float_image, _is_float
from .features import FeatureExtractor, fold_batch_norm
from .fid import MetricResult
from .inception import load_inception

__all__ = ["inception_score", "inception_score_from_probs", "IS_PROTOCOLS"]

IS_PROTOCOLS = {"coco": (1008, 10), "birds": (51, 10), "flowers": (21, 10)}


def inception_score_from_probs(probs: np.ndarray, splits: int = 10) -> Tuple[float, float]:
    """Mean and std of the split scores of class probabilities ``(N, classes)`` (float64)."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[0] < splits:
        raise MetricInputError(f"need at least splits={splits} images of class probabilities, got {probs.shape}")
    scores = []
    for i in range(splits):
        part = probs[i * probs.shape[0] // splits:(i + 1) * probs.shape[0] // splits]
        py = part.mean(0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0)
        scores.append(np.exp(kl.sum(1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


class _ScoreExtractor(FeatureExtractor):
    """Images → class probabilities of an IS protocol (reuses FeatureExtractor's batching and torchrun logic)."""

    def __init__(self, protocol: str, weights: Any, value_range: Tuple[float, float], device: Any) -> None:
        self.protocol, self.value_range = protocol, value_range
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        net = load_inception("fid" if protocol == "coco" else "stackgan", weights)
        classes = int(net.fc.weight.shape[0])
        if protocol == "coco" and classes != 1008:
            raise MetricInputError(f"the COCO Inception Score needs the 1008-class FID Inception, got {classes} "
                                   "classes")
        self.model, self._fc, self._channels_last = net.eval(), None, True
        self.output = "probs"
        self._run = fold_batch_norm(net).to(self.device, memory_format=torch.channels_last)
        self._classes = classes - 1 if protocol != "coco" else classes

    @property
    def dims(self) -> int:
        return self._classes

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        items = list(images.unbind(0)) if isinstance(images, torch.Tensor) else list(images)
        out = []
        for im in items:
            if _is_float(im):  # generator output: quantised to uint8 as the saved images the scorers read
                im = (to_float_image(im, self.value_range).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            pil = Image.fromarray(_uint8_rgb(im))
            if pil.size != (SIZE, SIZE):
                pil = pil.resize((SIZE, SIZE), resample=Image.BILINEAR)
            out.append(torch.from_numpy(np.asarray(pil, dtype=np.float32).copy()).permute(2, 0, 1))
        x = torch.stack(out)
        return (x - 128) / 128 if self.protocol == "coco" else x / 127.5 - 1

    @torch.inference_mode()
    def forward_input(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        pooled = self._run.features(x)
        if self.protocol == "coco":
            logits = pooled @ self._run.fc.weight.T  # no bias: improved-gan's softmax/logits/MatMul
        else:
            logits = self._run.fc(pooled)[:, 1:]  # drop the background class
        return torch.softmax(logits.double(), dim=1).float().cpu()


def inception_score(images: Any, *, protocol: str = "coco", splits: Optional[int] = None, n: Optional[int] = None,
                    inception_weights: Any = None, batch_size: Optional[int] = None,
                    drop_last: Optional[bool] = None, shuffle_seed: Optional[int] = None,
                    value_range: Tuple[float, float] = (0.0, 1.0), device: Any = None,
                    progress: bool = False) -> MetricResult:
    """Inception Score of ``images`` (a folder, tensor, list or iterable of batches, as :func:`fid`).

    Args:
        protocol: ``"coco"`` (ImageNet 1008-way, no bias), ``"birds"`` or ``"flowers"`` (StackGAN fine-tuned
            Inception: ``inception_weights`` must be its TF checkpoint prefix ``.../model.ckpt-5000``).
        splits: number of splits (10 in every protocol).
        batch_size: 64 for birds / flowers as the original (with ``drop_last``), 50 for coco.
        drop_last: score only whole batches (default True for birds / flowers, as the original).
        shuffle_seed: shuffle the images' order before splitting (the original shuffles unseeded).
    Returns:
        :class:`MetricResult` ``IS`` with ``value`` (mean), ``std`` over splits and ``n`` images scored.
    """
    if protocol not in IS_PROTOCOLS:
        raise MetricInputError(f"protocol must be one of {', '.join(map(repr, IS_PROTOCOLS))}, got {protocol!r}")
    splits = splits or IS_PROTOCOLS[protocol][1]
    stackgan = protocol != "coco"
    batch_size = batch_size or (64 if stackgan else 50)
    drop_last = stackgan if drop_last is None else drop_last
    extractor = _ScoreExtractor(protocol, inception_weights, value_range, device)
    probs = torch.cat(list(extractor.iter_features(images, batch_size=batch_size, n=n, progress=progress))).numpy()
    total = probs.shape[0]
    if shuffle_seed is not None:
        probs = probs[np.random.default_rng(shuffle_seed).permutation(total)]
    if drop_last:
        probs = probs[: total // batch_size * batch_size]
        if probs.shape[0] == 0:
            raise MetricInputError(f"{total} images are fewer than one batch of {batch_size}; with drop_last=True (the "
                                   "StackGAN scorer) nothing would be scored: give more images or drop_last=False")
    mean, std = inception_score_from_probs(probs, splits)
    return MetricResult("IS", mean, protocol, int(probs.shape[0]), None, std,
                        details={"splits": splits, "images_given": total})
