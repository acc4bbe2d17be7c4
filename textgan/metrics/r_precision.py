"""R-precision with the DAMSM encoders (AttnGAN's definition, DM-GAN's code).

For each generated image the candidates are its own caption and 99 mismatched ones (drawn from items of
another ``class_id``: another CUB class, another COCO image). Image: the DAMSM image encoder's global code
``cnn_code``; captions: the DAMSM text encoder's sentence vectors; score: cosine similarity
(``a·b / max(‖a‖‖b‖, 1e-8)``); a hit is the true caption ranking first (R@1). The hits are shuffled and split
into folds; the result is the mean ± ``np.std`` of the fold means, in percent. DM-GAN slices fold ``i`` as
``R[i·m:(i+1)·m − 1]`` (one item short); ``dmgan_slices=True`` (default) reproduces that.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import MetricInputError
from .fid import MetricResult

__all__ = ["r_precision", "r_precision_from_embeddings", "draw_mismatched"]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a (N, D)`` against ``b (N, K, D)`` → ``(N, K)`` as DM-GAN's ``cosine_similarity``."""
    num = torch.einsum("nd,nkd->nk", a, b)
    den = (a.norm(dim=1, keepdim=True) * b.norm(dim=2)).clamp_min(1e-8)
    return num / den


def _folds(hits: np.ndarray, folds: int, shuffle_seed: Optional[int], dmgan_slices: bool) -> np.ndarray:
    if shuffle_seed is not None:
        hits = hits[np.random.default_rng(shuffle_seed).permutation(len(hits))]
    size = len(hits) // folds
    if size < 1 + int(dmgan_slices):
        raise MetricInputError(f"{len(hits)} images are too few for {folds} folds")
    end = size - 1 if dmgan_slices else size
    return np.array([hits[i * size:i * size + end].mean() for i in range(folds)]) * 100


def r_precision_from_embeddings(image_codes: torch.Tensor, true_text: torch.Tensor, mismatched_text: torch.Tensor,
                                *, folds: int = 10, shuffle_seed: Optional[int] = None,
                                dmgan_slices: bool = True) -> Tuple[float, float, np.ndarray]:
    """``(mean %, std %, hits)`` from image codes ``(N, D)``, true sentence vectors ``(N, D)`` and mismatched
    sentence vectors ``(N, K, D)`` (K = 99 in the papers)."""
    if image_codes.dim() != 2 or true_text.shape != image_codes.shape or mismatched_text.dim() != 3 \
            or mismatched_text.shape[0] != image_codes.shape[0] or mismatched_text.shape[2] != image_codes.shape[1]:
        raise MetricInputError(f"shapes do not fit: image codes {tuple(image_codes.shape)}, true text "
                               f"{tuple(true_text.shape)}, mismatched {tuple(mismatched_text.shape)}; expected (N, D), "
                               "(N, D), (N, K, D)")
    candidates = torch.cat([true_text[:, None], mismatched_text], 1).double()
    sims = _cosine(image_codes.double(), candidates)
    hits = (sims.argmax(1) == 0).numpy().astype(np.float64)
    scores = _folds(hits, folds, shuffle_seed, dmgan_slices)
    return float(scores.mean()), float(scores.std()), hits


def draw_mismatched(class_ids: Sequence[int], num: int = 99,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``(N, num)`` indices of items whose class differs from item ``i``'s (DM-GAN ``get_mis_caption``)."""
    ids = torch.as_tensor(list(class_ids))
    out = torch.empty(len(ids), num, dtype=torch.long)
    for i in range(len(ids)):
        pool = torch.nonzero(ids != ids[i]).flatten()
        if len(pool) == 0:
            raise MetricInputError("every item has the same class_id, so there are no mismatched captions to draw; "
                                   "pass one class_id per image (CUB: the class, COCO: the image index)")
        out[i] = pool[torch.randint(len(pool), (num,), generator=generator)]
    return out


def r_precision(images: Any, captions: torch.Tensor, cap_lens: torch.Tensor, *, image_encoder: torch.nn.Module,
                text_encoder: torch.nn.Module, class_ids: Optional[Sequence[int]] = None,
                mismatched: Optional[torch.Tensor] = None, num_mismatched: int = 99, folds: int = 10,
                batch_size: int = 50, generator: Optional[torch.Generator] = None,
                shuffle_seed: Optional[int] = None, dmgan_slices: bool = True) -> MetricResult:
    """R-precision (R@1, %) of ``images`` (``(N, 3, H, W)`` in [-1, 1], the generator's output) against their
    captions.

    Args:
        captions, cap_lens: ``(N, T)`` word indices and lengths of each image's true caption (the vocabulary of
            the text encoder).
        image_encoder, text_encoder: :class:`~textgan.models.inception.DAMSMImageEncoder` and
            :class:`~textgan.text.DAMSMTextEncoder` (the released ``image_encoder*.pth`` / ``text_encoder*.pth``).
        class_ids: one per image; mismatched captions come from other classes (default: every image its own).
        mismatched: ``(N, K)`` indices into ``captions`` to use instead of random draws.
        generator: for the random draws.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise MetricInputError("images must be a (N, 3, H, W) tensor in [-1, 1]")
    n = images.shape[0]
    if captions.shape[0] != n or cap_lens.shape[0] != n:
        raise MetricInputError(f"{n} images but {captions.shape[0]} captions and {cap_lens.shape[0]} lengths")
    if mismatched is None:
        mismatched = draw_mismatched(class_ids if class_ids is not None else range(n), num_mismatched, generator)
    image_encoder, text_encoder = image_encoder.eval(), text_encoder.eval()
    with torch.inference_mode():
        codes = torch.cat([image_encoder(images[i:i + batch_size])[1] for i in range(0, n, batch_size)])
        sent = torch.cat([text_encoder(captions[i:i + batch_size], cap_lens[i:i + batch_size])[1]
                          for i in range(0, n, batch_size)])
    mean, std, hits = r_precision_from_embeddings(codes, sent, sent[mismatched], folds=folds,
                                                  shuffle_seed=shuffle_seed, dmgan_slices=dmgan_slices)
    # "damsm-r1-100" is the papers' protocol (1 true + 99 mismatched captions); other pool sizes say theirs
    return MetricResult("R-precision", mean, f"damsm-r1-{mismatched.shape[1] + 1}", n, None, std,
                        details={"folds": folds, "candidates": mismatched.shape[1] + 1})
