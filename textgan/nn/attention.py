"""Word attention of AttnGAN (Xu et al., CVPR 2018): image regions attend over the words of their caption.

:class:`WordAttention` is AttnGAN's ``GlobalAttentionGeneral`` (taoxugit/AttnGAN ``code/GlobalAttention.py``):
queries are the image features (one per pixel), keys and values are the word features projected to the
image width by a 1×1 convolution without bias (``conv_context``, the authors' name, so their weights load).
Logits are plain dot products (no 1/√d scaling) and the softmax runs over the words of each pixel.

**The mask broadcast quirk.** The authors expand the (B, L) padding mask to the (B·Q, L) rows of the logits
with ``mask.repeat(Q, 1)``, whose row order is [mask[0], ..., mask[B-1], mask[0], ...], while the logit rows
are ordered ``b·Q + q``. Pixel q of sample b is therefore masked with the padding of sample
``(b·Q + q) mod B``: words of short captions are hidden from pixels of other samples and padded words of a
short caption receive attention (taoxugit/AttnGAN#93). Their released generators were trained that way,
so ``mask_broadcast="official"`` (the default) reproduces it; ``mask_broadcast="per_sample"`` masks each
sample with its own padding. The two agree whenever the batch has one sample or its captions all have
the same length. In "official" mode a sample's output depends on the other captions of its batch.

:func:`damsm_attention` is the DAMSM word→region attention (``func_attention``) used by the DAMSM word loss.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn

__all__ = ["WordAttention", "damsm_attention", "MASK_BROADCASTS", "expand_word_mask"]

#: accepted values of ``mask_broadcast``
MASK_BROADCASTS = ("official", "per_sample")


def expand_word_mask(mask: torch.Tensor, queries: int, mask_broadcast: str = "official") -> torch.Tensor:
    """The (B, Q, L) mask each pixel's softmax uses, from a (B, L) padding mask (True = padding).

    ``"official"``: pixel q of sample b gets ``mask[(b·Q + q) mod B]`` (the authors' ``repeat`` broadcast);
    ``"per_sample"``: pixel q of sample b gets ``mask[b]``.
    """
    if mask_broadcast not in MASK_BROADCASTS:
        raise ValueError(f"mask_broadcast must be one of {MASK_BROADCASTS}, got {mask_broadcast!r}")
    batch, length = mask.shape
    if mask_broadcast == "per_sample" or batch == 1:
        return mask[:, None, :].expand(batch, queries, length)
    rows = (torch.arange(batch, device=mask.device)[:, None] * queries
            + torch.arange(queries, device=mask.device)[None]) % batch  # (B, Q)
    return mask[rows]


class WordAttention(nn.Module):
    """Attention of image features over word features (AttnGAN's ``GlobalAttentionGeneral``).

    Args:
        query_dim: channels of the image features (``idf``; AttnGAN: ``ngf``, 32 birds / 48 COCO).
        context_dim: width of the word features (``cdf``; the DAMSM 256).
        mask_broadcast: ``"official"`` (default; the authors' broadcast, see the module docstring) or
            ``"per_sample"`` (each sample masked with its own padding). A forward argument overrides it.

    Forward: ``(query (B, idf, H, W), context (B, cdf, L), mask=None (B, L) bool, True at padding)`` →
    ``(weighted context (B, idf, H, W), attention (B, L, H, W))``; the attention sums to 1 over L at
    every pixel. Masked logits are set to −inf before the softmax, as in the original.
    ``exact=False`` computes the same with fewer copies (matrix products, no transposed copies; the attention
    comes back as a strided view): faster, equal up to float32 rounding; the default follows the authors'
    order of operations step by step.

    Examples:
        >>> from textgan.nn import WordAttention
        >>> attention = WordAttention(query_dim=32, context_dim=16)
        >>> weighted, attn = attention(torch.randn(2, 32, 8, 8), torch.randn(2, 16, 5))   # 5 words
        >>> weighted.shape, attn.shape
        (torch.Size([2, 32, 8, 8]), torch.Size([2, 5, 8, 8]))
        >>> bool(torch.allclose(attn.sum(1), torch.ones(2, 8, 8)))   # a distribution over the words at every pixel
        True
    """

    def __init__(self, query_dim: int, context_dim: int, mask_broadcast: str = "official") -> None:
        super().__init__()
        if mask_broadcast not in MASK_BROADCASTS:
            raise ValueError(f"mask_broadcast must be one of {MASK_BROADCASTS}, got {mask_broadcast!r}")
        self.query_dim, self.context_dim, self.mask_broadcast = query_dim, context_dim, mask_broadcast
        self.conv_context = nn.Conv2d(context_dim, query_dim, kernel_size=1, stride=1, padding=0, bias=False)

    def forward(self, query: torch.Tensor, context: torch.Tensor, mask: Optional[torch.Tensor] = None,
                mask_broadcast: Optional[str] = None, *, exact: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        batch, channels, height, width = query.shape
        if context.dim() != 3 or context.shape[0] != batch or context.shape[1] != self.context_dim:
            raise ValueError(f"context must be (batch={batch}, {self.context_dim}, words), got {tuple(context.shape)}")
        if channels != self.query_dim:
            raise ValueError(f"query has {channels} channels, this attention expects {self.query_dim}")
        length, queries = context.shape[2], height * width
        if mask is not None:
            if tuple(mask.shape) != (batch, length):
                raise ValueError(f"mask must be (batch={batch}, words={length}), got {tuple(mask.shape)}")
            mask = mask.to(device=query.device, dtype=torch.bool)
            if bool(mask.all(dim=1).any()):
                raise ValueError("mask: some caption is all padding (True everywhere); each needs at least one word")
            mask = expand_word_mask(mask, queries, mask_broadcast or self.mask_broadcast)  # (B, Q, L)
        if not exact:
            source = torch.matmul(self.conv_context.weight.flatten(1), context)  # (B, idf, L)
            channels_last = query.is_contiguous(memory_format=torch.channels_last) and not query.is_contiguous()
            # (B, idf, Q) without a copy in either memory format
            flat = (query.permute(0, 2, 3, 1).reshape(batch, queries, channels).transpose(1, 2) if channels_last
                    else query.reshape(batch, channels, queries))
            # logits (B, L, Q): the softmax over the few words then runs along contiguous pixels (fast)
            logits = torch.bmm(source.transpose(1, 2), flat)
            if mask is not None:
                logits = logits.masked_fill_(mask.transpose(1, 2), float("-inf"))
            attn = torch.softmax(logits, dim=1)
            if channels_last:  # the context comes out (B, Q, idf), i.e. channels-last, as the query
                weighted = torch.bmm(attn.transpose(1, 2), source.transpose(1, 2))
                weighted = weighted.view(batch, height, width, channels).permute(0, 3, 1, 2)
            else:
                weighted = torch.bmm(source, attn).view(batch, channels, height, width)
            return weighted, attn.view(batch, length, height, width)
        # the authors' order of operations, step for step: this network amplifies rounding differences
        source = self.conv_context(context.unsqueeze(3)).squeeze(3)  # (B, idf, L)
        target_t = query.reshape(batch, channels, queries).transpose(1, 2).contiguous()  # (B, Q, idf)
        attn = torch.bmm(target_t, source).view(batch * queries, length)
        if mask is not None:
            attn = attn.masked_fill(mask.reshape(batch * queries, length), float("-inf"))
        attn = torch.softmax(attn, dim=1).view(batch, queries, length).transpose(1, 2).contiguous()  # (B, L, Q)
        weighted = torch.bmm(source, attn).view(batch, channels, height, width)
        return weighted, attn.view(batch, length, height, width)

    def extra_repr(self) -> str:
        return f"query_dim={self.query_dim}, context_dim={self.context_dim}, mask_broadcast={self.mask_broadcast!r}"


def damsm_attention(words: torch.Tensor, regions: torch.Tensor, gamma1: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """DAMSM word→region attention (AttnGAN ``func_attention``), two softmaxes in a row.

    Args:
        words: (B, D, n) word features (the queries).
        regions: (B, D, H, W) image region features (the context; 17×17 in DAMSM).
        gamma1: sharpness of the softmax over regions (``TRAIN.SMOOTH.GAMMA1``, 4 in the released configs).

    Returns ``(region context per word (B, D, n), attention (B, n, H, W))``. The scores
    ``regionsᵀ·words`` are first normalised over the **words** of each region, then scaled by ``gamma1`` and
    normalised over the **regions** of each word (the original's two softmaxes, not a single one).

    Examples:
        >>> from textgan.nn import damsm_attention
        >>> context, attn = damsm_attention(torch.randn(2, 16, 5), torch.randn(2, 16, 17, 17), gamma1=4.0)
        >>> context.shape, attn.shape
        (torch.Size([2, 16, 5]), torch.Size([2, 5, 17, 17]))
    """
    batch, dim, n = words.shape
    height, width = regions.shape[2], regions.shape[3]
    context = regions.reshape(batch, dim, height * width)
    scores = torch.bmm(context.transpose(1, 2), words)  # (B, HW, n)
    attn = torch.softmax(scores, dim=2).transpose(1, 2)  # over words, then (B, n, HW)
    attn = torch.softmax(attn * gamma1, dim=2)  # over regions
    weighted = torch.bmm(context, attn.transpose(1, 2))  # (B, D, n)
    return weighted, attn.reshape(batch, n, height, width)
