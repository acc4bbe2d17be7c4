"""Inference-only rewrite of the DF-GAN generators: same outputs, about half the work on a CPU.

:func:`optimize_for_inference` turns a :class:`~textgan.models.DFGANGenerator` (DF-GAN 2022) or a
:class:`~textgan.models.DFGAN2020Generator` into an :class:`OptimizedDFGANGenerator`: a module with the same
call, ``gen(noise, sentence)`` → images (B, C, H, W), contiguous NCHW, that computes the same function with
exact algebraic rewrites only. Its outputs differ from the plain module by float32 rounding (a few 1e-7 on
images in [-1, 1]; the tests hold it to 1e-4, the benchmark reports the max abs diff against the authors'
``NetG``). What it does, and why each step pays off on a CPU (measured on the 256 px model, see
``benchmarks/README.md``):

1. **No up-sampled map.** Every DF-GAN up block starts with ``x = nearest×2(x)``, and everything up to the
   first 3×3 convolution commutes with that copy: the 1×1 shortcut convolution, both affines (a per-channel
   scale and shift) and the leaky ReLUs act pixel by pixel. They run at the input resolution (4× fewer
   pixels). The 3×3 convolution of the up-sampled map only ever sees 2×2 distinct input pixels per output
   pixel, so the taps that land on the same input pixel are summed once, offline, into a stride-2
   transposed convolution with a 4×4 kernel (:func:`upsample_conv_transpose_weight`): 16 instead of 36
   multiply-adds per input pixel and channel pair. The shortcut is added to the block's output through a
   broadcast view. The generator drops from 15.1 to 9.4 GFLOP per 256 px image.
2. **All conditioning in a few matmuls.** Every affine of every block reads the same condition vector
   (2022: ``cat(noise, sentence)``; 2020: the sentence). The first layers of all γ/β MLPs are stacked into
   one ``Linear`` and the second layers, grouped by shape, into one batched matmul per group, instead of
   about 100 small matmuls per forward.
3. **Fewer passes over memory.** Affines, leaky ReLUs and the residual addition run in place on buffers
   this module just allocated; DF-GAN 2020's learned residual scale is folded into its second convolution.
4. **channels_last** (default): oneDNN's convolutions take and give NHWC without reordering activations at
   every call, and the per-channel affines vectorise along the contiguous channels.
5. **Batches in pieces** (``chunk_size``): a large batch runs in pieces whose biggest map is at most
   :data:`CHUNK_BYTES`, which keeps the working set in memory the allocator reuses instead of fresh pages.
6. **inference_mode**, so no autograd bookkeeping. The outputs are inference tensors: they cannot join a
   graph that needs gradients (use the plain module to train).

Tried and left out: ``torch.compile`` (inductor works with the system gcc but compiled for 50–80 s and ran
16–39 % slower than this eager module, though 20 % faster than the plain one), oneDNN weight pre-packing
(``torch.ops.mkldnn._convolution_pointwise``: within noise), and a 4-phase 2×2 convolution interleaved by a
strided view instead of the transposed convolution (the same arithmetic; 10 % slower on the big blocks in
isolation, the same over the whole model; kept as :func:`upsample_conv_weight` and ``_UPSAMPLE_MODE``).

The returned module is a *snapshot*: the derived weights are computed once, from the generator's parameters
at call time, into non-persistent buffers (``.to(device)`` moves them; they take about as much memory as
the generator). The source generator is not modified and is kept as
:attr:`OptimizedDFGANGenerator.original`; ``state_dict()`` of the optimised module returns the original's,
key for key, and ``load_state_dict`` loads into the original and rebuilds the snapshot. Call
:meth:`~OptimizedDFGANGenerator.refresh` after changing the original's weights in place.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["optimize_for_inference", "OptimizedDFGANGenerator", "upsample_conv_transpose_weight",
           "upsample_conv_weight", "CHUNK_BYTES"]

#: automatic ``chunk_size``: a batch is run in pieces whose largest intermediate map is at most this big, so
#: the working set stays in the allocator's reusable heap (glibc serves blocks over 32 MiB with fresh
#: ``mmap`` pages, zero-filled by page faults at every call) and closer to the caches.
CHUNK_BYTES = 16 * 2 ** 20

# how a folded up-sampling convolution runs: "deconv" (one stride-2 transposed convolution) or "phase"
# (a 4-phase 2x2 convolution interleaved by a strided view); both are exact rewrites of the same sums
_UPSAMPLE_MODE = "deconv"


def upsample_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """Weights of ``conv3x3(nearest×2(x), weight, padding=1)`` as a 2×2 convolution of ``x`` with four phases.

    Args:
        weight: (O, I, 3, 3).

    Returns:
        (4·O, I, 2, 2): output channel ``(2a + b)·O + o`` holds phase (a, b), i.e. the high-resolution pixel
        (2i + a, 2j + b). ``conv2d(x, result, padding=1)`` has shape (B, 4·O, H + 1, W + 1) and phase (a, b)
        of pixel (i, j) is its element (i + a, j + b).

    A row of a nearest×2 map with zero padding repeats each input row twice, so for even output rows the
    taps (−1, 0, +1) fall on input rows (i − 1, i, i) and for odd ones on (i, i, i + 1): the 3×3 kernel
    collapses to 2 rows, ``[w₀, w₁ + w₂]`` or ``[w₀ + w₁, w₂]``, and likewise for columns.
    """
    if weight.dim() != 4 or weight.shape[-2:] != (3, 3):
        raise ValueError(f"upsample_conv_weight needs a (O, I, 3, 3) weight, got {tuple(weight.shape)}")
    w = weight
    # collapse rows: phase a=0 -> [w0, w1 + w2], a=1 -> [w0 + w1, w2]
    rows = (torch.stack((w[:, :, 0], w[:, :, 1] + w[:, :, 2]), 2), torch.stack((w[:, :, 0] + w[:, :, 1], w[:, :, 2]), 2))
    phases = []
    for r in rows:  # r: (O, I, 2, 3)
        phases.append(torch.stack((r[..., 0], r[..., 1] + r[..., 2]), -1))  # b = 0
        phases.append(torch.stack((r[..., 0] + r[..., 1], r[..., 2]), -1))  # b = 1
    return torch.cat(phases, 0)


def upsample_conv_transpose_weight(weight: torch.Tensor) -> torch.Tensor:
    """Weights of ``conv3x3(nearest×2(x), weight, padding=1)`` as one transposed convolution of ``x``.

    Args:
        weight: (O, I, 3, 3).

    Returns:
        (I, O, 4, 4) for ``conv_transpose2d(x, result, stride=2, padding=1)``, which gives the (B, O, 2H, 2W)
        map directly. Along each axis output ``2m`` takes input ``m − 1`` through tap 3 and ``m`` through tap 1,
        output ``2m + 1`` takes ``m`` through tap 2 and ``m + 1`` through tap 0, so the 4 taps are
        ``[w₂, w₁ + w₂, w₀ + w₁, w₀]``: the same 2×2 sums as :func:`upsample_conv_weight`, laid out for the
        strided transposed convolution (no interleaving pass afterwards).
    """
    if weight.dim() != 4 or weight.shape[-2:] != (3, 3):
        raise ValueError(f"upsample_conv_transpose_weight needs a (O, I, 3, 3) weight, got {tuple(weight.shape)}")
    m = weight.new_tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]])
    return torch.einsum("ad,be,oide->ioab", m, m, weight)


def _interleaved(y: torch.Tensor, out_channels: int) -> torch.Tensor:
    """View of a phase convolution's output (B, 4·O, H+1, W+1) as the (B, O, H, 2, W, 2) high-res map."""
    b, _, hy, wy = y.shape
    sn, sc, sh, sw = y.stride()
    o = out_channels
    return y.as_strided(
        (b, o, hy - 1, 2, wy - 1, 2), (sn, sc, sh, 2 * o * sc + sh, sw, o * sc + sw), y.storage_offset()
    )


class _FastBlock(nn.Module):
    """Derived weights of one up block: ``shortcut(up(x)) + c2(fuse2(c1(fuse1(up(x)))))`` (``up`` optional)."""

    def __init__(
        self, c1: nn.Conv2d, c2: nn.Conv2d, c_sc: Optional[nn.Conv2d], upsample: bool, slope: float,
        residual_scale: Optional[torch.Tensor], channels_last: bool, fold_upsample: bool, mode: str = "deconv",
    ) -> None:
        super().__init__()
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.upsample, self.slope = upsample, float(slope)
        self.phase = upsample and fold_upsample and mode == "phase"
        self.deconv = upsample and fold_upsample and mode == "deconv"
        self.folded = self.phase or self.deconv
        self.out_channels = c1.out_channels
        w1, b1 = c1.weight.detach(), c1.bias.detach()
        if self.phase:
            w1, b1 = upsample_conv_weight(w1), b1.repeat(4)
        elif self.deconv:
            w1 = upsample_conv_transpose_weight(w1)
        w2, b2 = c2.weight.detach(), c2.bias.detach()
        if residual_scale is not None:  # DF-GAN 2020: shortcut + γ·c2(h) = shortcut + (γ·c2)(h)
            w2, b2 = w2 * residual_scale.detach(), b2 * residual_scale.detach()
        self.register_buffer("w1", w1.contiguous(memory_format=fmt).clone(), persistent=False)
        self.register_buffer("b1", b1.clone(), persistent=False)
        self.register_buffer("w2", w2.contiguous(memory_format=fmt).clone(), persistent=False)
        self.register_buffer("b2", b2.clone(), persistent=False)
        self.has_sc = c_sc is not None
        if c_sc is not None:
            self.register_buffer("wsc", c_sc.weight.detach().contiguous(memory_format=fmt).clone(), persistent=False)
            self.register_buffer("bsc", c_sc.bias.detach().clone(), persistent=False)
            # (C, O) for the 1x1 convolution as one matmul over NHWC pixels
            self.register_buffer("wsc_t", c_sc.weight.detach().flatten(1).t().contiguous(), persistent=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            # a 1x1 convolution of an NHWC map is a (N·H·W, C) @ (C, O) matmul; PyTorch sends small-batch 1x1
            # convolutions on one thread to its slow path, which also copies the bias into the output first
            y = torch.addmm(self.bsc, x.permute(0, 2, 3, 1).reshape(n * h * w, c), self.wsc_t)
            return y.view(n, h, w, -1).permute(0, 3, 1, 2)
        return F.conv2d(x, self.wsc, self.bsc)

    def forward(self, x: torch.Tensor, ss: Sequence[Tuple[torch.Tensor, torch.Tensor]], fmt) -> torch.Tensor:
        (g0, b0), (g1, b1), (g2, b2), (g3, b3) = ss
        slope = self.slope
        if self.upsample and not self.folded:  # reference path (fold_upsample=False)
            x = F.interpolate(x, scale_factor=2.0, mode="nearest").contiguous(memory_format=fmt)
        shortcut = self._shortcut(x) if self.has_sc else x
        # fuse1 at the input resolution (it commutes with the nearest up-sampling); x itself is kept intact
        h = torch.addcmul(b0[..., None, None], g0[..., None, None], x)
        F.leaky_relu_(h, slope)
        torch.addcmul(b1[..., None, None], g1[..., None, None], h, out=h)
        F.leaky_relu_(h, slope)
        o = self.out_channels
        if self.phase:
            y = F.conv2d(h, self.w1, self.b1, padding=1)
            n, _, hy, wy = y.shape
            hh = torch.empty((n, o, 2 * (hy - 1), 2 * (wy - 1)), dtype=y.dtype, device=y.device, memory_format=fmt)
            # first affine of fuse2 reads the four phases interleaved and writes the high-resolution map
            torch.addcmul(b2[:, :, None, None, None, None], g2[:, :, None, None, None, None], _interleaved(y, o),
                          out=hh.view(n, o, hy - 1, 2, wy - 1, 2))
            del y
        else:
            if self.deconv:
                hh = F.conv_transpose2d(h, self.w1, self.b1, stride=2, padding=1)
            else:
                hh = F.conv2d(h, self.w1, self.b1, padding=1)
            torch.addcmul(b2[..., None, None], g2[..., None, None], hh, out=hh)
        del h
        F.leaky_relu_(hh, slope)
        torch.addcmul(b3[..., None, None], g3[..., None, None], hh, out=hh)
        F.leaky_relu_(hh, slope)
        out = F.conv2d(hh, self.w2, self.b2, padding=1)
        del hh
        if self.folded:
            n, c, hs, ws = shortcut.shape
            out.view(n, c, hs, 2, ws, 2).add_(shortcut[:, :, :, None, :, None])
        else:
            out.add_(shortcut)
        return out


class _FusedConditioning(nn.Module):
    """All γ/β MLPs of a generator, ``Linear → ReLU → Linear`` each, evaluated together.

    The first layers are concatenated into one (Σhidden, cond_dim) matrix; the second layers are grouped by
    (hidden, out) shape into (n, hidden, out) stacks for one ``baddbmm`` per group.
    """

    def __init__(self, mlps: Sequence[nn.Sequential]) -> None:
        super().__init__()
        groups: dict = {}
        for idx, mlp in enumerate(mlps):
            l1, l2 = mlp.linear1, mlp.linear2
            groups.setdefault((l1.out_features, l2.out_features), []).append(idx)
        self.n = len(mlps)
        self.shapes = list(groups)
        self.members = [groups[k] for k in self.shapes]
        w1, b1 = [], []
        for key, members in zip(self.shapes, self.members):
            for idx in members:
                w1.append(mlps[idx].linear1.weight.detach())
                b1.append(mlps[idx].linear1.bias.detach())
        self.register_buffer("w1t", torch.cat(w1, 0).t().contiguous(), persistent=False)
        self.register_buffer("b1", torch.cat(b1, 0).clone(), persistent=False)
        for g, members in enumerate(self.members):
            w2t = torch.stack([mlps[i].linear2.weight.detach().t() for i in members], 0).contiguous()
            b2 = torch.stack([mlps[i].linear2.bias.detach() for i in members], 0)[:, None, :].clone()
            self.register_buffer(f"w2t_{g}", w2t, persistent=False)
            self.register_buffer(f"b2_{g}", b2, persistent=False)

    def forward(self, cond: torch.Tensor) -> List[torch.Tensor]:
        hidden = torch.addmm(self.b1, cond, self.w1t).relu_()
        out: List[Any] = [None] * self.n
        start, batch = 0, cond.shape[0]
        for g, ((hid, _), members) in enumerate(zip(self.shapes, self.members)):
            k = len(members)
            hg = hidden[:, start:start + k * hid].view(batch, k, hid).transpose(0, 1)
            start += k * hid
            res = torch.baddbmm(getattr(self, f"b2_{g}"), hg, getattr(self, f"w2t_{g}"))  # (k, B, out)
            for j, idx in enumerate(members):
                out[idx] = res[j]
        return out


def _affines_of(generator: nn.Module) -> Tuple[str, list, list, float]:
    """(kind, blocks, affines per block [4 per block], leaky slope) of a supported generator."""
    from .models.dfgan import _G2020_CHANNELS, DFGAN2020Generator, DFGANGenerator

    if isinstance(generator, DFGANGenerator):
        blocks = list(generator.GBlocks)
        affines = [[b.fuse1.affine0, b.fuse1.affine1, b.fuse2.affine0, b.fuse2.affine1] for b in blocks]
        slopes = {float(f.negative_slope) for b in blocks for f in (b.fuse1, b.fuse2)}
        if len(slopes) != 1:
            raise ValueError(f"optimize_for_inference: the blocks use different leaky slopes {sorted(slopes)}")
        return "dfgan", blocks, affines, slopes.pop()
    if isinstance(generator, DFGAN2020Generator):
        blocks = [getattr(generator, f"block{i}") for i in range(len(_G2020_CHANNELS))]
        affines = [[b.affine0, b.affine1, b.affine2, b.affine3] for b in blocks]
        return "dfgan2020", blocks, affines, 0.2
    raise TypeError(
        f"optimize_for_inference supports DFGANGenerator and DFGAN2020Generator, got {type(generator).__name__}"
    )


class OptimizedDFGANGenerator(nn.Module):
    """Inference-only DF-GAN generator built by :func:`optimize_for_inference`; see the module docstring.

    Call it as the original: ``gen(noise (B, nz), sentence (B, cond_dim))`` → images (B, C, H, W) in
    [-1, 1], contiguous NCHW, computed under :func:`torch.inference_mode`.
    """

    def __init__(self, generator: nn.Module, *, channels_last: bool = True, fold_upsample: bool = True,
                 fuse_conditioning: bool = True, chunk_size: Optional[int] = None) -> None:
        super().__init__()
        if chunk_size is not None and chunk_size < 0:
            raise ValueError(f"chunk_size must be None (automatic), 0 (never split) or positive, got {chunk_size}")
        _affines_of(generator)  # type check first
        # the original is held but not registered: .to() and parameters() of this module see only the snapshot
        object.__setattr__(self, "original", generator)
        self.channels_last, self.fold_upsample, self.fuse_conditioning = channels_last, fold_upsample, fuse_conditioning
        self._chunk_request = chunk_size
        self._mode = _UPSAMPLE_MODE
        self._build()

    @torch.no_grad()
    def _build(self) -> None:
        gen = self.original
        kind, blocks, affines, slope = _affines_of(gen)
        self.kind = kind
        self.config = dict(getattr(gen, "config", {}))
        self.ngf = gen.ngf
        self.slope = slope
        self.register_buffer("fc_w", gen.fc.weight.detach().clone(), persistent=False)
        self.register_buffer("fc_b", gen.fc.bias.detach().clone(), persistent=False)
        fast = []
        for blk in blocks:
            if kind == "dfgan":
                fast.append(_FastBlock(blk.c1, blk.c2, blk.c_sc if blk.learnable_sc else None, blk.upsample, slope,
                                       None, self.channels_last, self.fold_upsample, self._mode))
            else:
                up = len(fast) > 0  # DF-GAN 2020 up-samples before every block but the first
                fast.append(_FastBlock(blk.c1, blk.c2, blk.c_sc if blk.learnable_sc else None, up, slope,
                                       blk.gamma, self.channels_last, self.fold_upsample, self._mode))
        self.blocks = nn.ModuleList(fast)
        rgb = gen.to_rgb if kind == "dfgan" else gen.conv_img
        conv = rgb[1]
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.register_buffer("w_rgb", conv.weight.detach().contiguous(memory_format=fmt).clone(), persistent=False)
        self.register_buffer("b_rgb", conv.bias.detach().clone(), persistent=False)
        self.rgb_slope = float(rgb[0].negative_slope)
        mlps = [m for per_block in affines for a in per_block for m in (a.fc_gamma, a.fc_beta)]
        self._mlps = mlps  # live modules, used when fuse_conditioning=False
        self.cond = _FusedConditioning(mlps) if self.fuse_conditioning else None
        self.chunk_size = self._chunk_request if self._chunk_request is not None else self._auto_chunk()

    def _auto_chunk(self) -> int:
        """Largest batch whose biggest intermediate map stays within :data:`CHUNK_BYTES`."""
        size, biggest = 4, 0
        for blk in self.blocks:
            o = blk.out_channels
            if blk.upsample:
                if blk.phase:
                    biggest = max(biggest, 4 * o * (size + 1) ** 2)
                size *= 2
            biggest = max(biggest, o * size * size)
        per_sample = biggest * self.w_rgb.element_size()
        return max(1, CHUNK_BYTES // max(per_sample, 1))

    def refresh(self) -> "OptimizedDFGANGenerator":
        """Recompute the snapshot from the original's current weights (after training or loading)."""
        device = self.w_rgb.device
        self._build()
        return self.to(device)

    # state dict: the original's, so saving an optimised pipeline saves the usual keys
    def state_dict(self, *args, **kwargs):  # type: ignore[override]
        return self.original.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        result = self.original.load_state_dict(state_dict, strict=strict, assign=assign)
        self.refresh()
        return result

    def _scale_shift(self, cond: torch.Tensor) -> List[torch.Tensor]:
        if self.cond is not None:
            return self.cond(cond)
        return [mlp(cond) for mlp in self._mlps]

    def _forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        n = noise.shape[0]
        out = F.linear(noise, self.fc_w, self.fc_b).view(n, 8 * self.ngf, 4, 4).contiguous(memory_format=fmt)
        cond = torch.cat((noise, sentence), 1) if self.kind == "dfgan" else sentence
        ss = self._scale_shift(cond)  # [γ, β] × 4 affines per block, in block order
        for i, blk in enumerate(self.blocks):
            s = ss[8 * i:8 * i + 8]
            out = blk(out, [(s[0], s[1]), (s[2], s[3]), (s[4], s[5]), (s[6], s[7])], fmt)
        F.leaky_relu_(out, self.rgb_slope)
        img = F.conv2d(out, self.w_rgb, self.b_rgb, padding=1)
        return img.tanh_().contiguous()

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            n, step = noise.shape[0], self.chunk_size
            if self._chunk_request is None and noise.device.type != "cpu":
                step = 0  # the automatic pieces are a CPU allocator matter; a GPU wants the whole batch
            if not step or n <= step:
                return self._forward(noise, sentence)
            first = self._forward(noise[:step], sentence[:step])
            out = first.new_empty((n,) + tuple(first.shape[1:]))
            out[:step] = first
            for i in range(step, n, step):
                out[i:i + step] = self._forward(noise[i:i + step], sentence[i:i + step])
            return out

    def extra_repr(self) -> str:
        return (f"kind={self.kind}, config={self.config}, channels_last={self.channels_last}, "
                f"fold_upsample={self.fold_upsample}, fuse_conditioning={self.fuse_conditioning}, "
                f"chunk_size={self.chunk_size}")


def optimize_for_inference(
    generator: nn.Module, *, channels_last: bool = True, fold_upsample: bool = True,
    fuse_conditioning: bool = True, chunk_size: Optional[int] = None,
) -> OptimizedDFGANGenerator:
    """A faster, inference-only copy of a DF-GAN generator with the same call and outputs (to 1e-5).

    Args:
        generator: a :class:`~textgan.models.DFGANGenerator` (any ``ngf``, ``nz``, ``cond_dim``, ``imsize``)
            or a :class:`~textgan.models.DFGAN2020Generator`. It is not modified. Any other module that has
            an ``optimize_for_inference()`` method of its own (SSA-GAN's generator) gets that method's result,
            so :meth:`TextToImagePipeline.optimize` works for every family that offers one; other modules
            raise ``TypeError``.
        channels_last: run the convolutions on NHWC tensors (faster with oneDNN on CPU; the returned images
            are NCHW-contiguous either way).
        fold_upsample: compute each block's shortcut and first fusion block at the input resolution and its
            first convolution as one stride-2 transposed convolution of the input, so no up-sampled map is
            built (2.25× fewer FLOPs in that convolution).
        fuse_conditioning: evaluate every γ/β MLP of every block in one matmul plus one batched matmul per
            shape group, once per forward.
        chunk_size: run larger batches in pieces of this many samples (the samples are independent, so the
            images are the same). ``None`` (default) picks, on CPU, the largest piece whose biggest
            intermediate map fits in :data:`CHUNK_BYTES` (1 for the 256 px model, 30 at 64 px) and does not
            split on other devices; ``0`` never splits.

    Returns:
        For DF-GAN, an :class:`OptimizedDFGANGenerator` holding a snapshot of the weights (see :meth:`~OptimizedDFGANGenerator.refresh`);
        its ``state_dict()`` is the original's.

    Example::

        gen = textgan.create_model("dfgan")          # or pipe.generator
        fast = textgan.optimize.optimize_for_inference(gen)
        images = fast(noise, sentence)               # same as gen(noise, sentence) to ~1e-6
    """
    from .models.dfgan import DFGAN2020Generator, DFGANGenerator

    own = getattr(generator, "optimize_for_inference", None)
    if not isinstance(generator, (DFGANGenerator, DFGAN2020Generator)) and callable(own):
        # families with their own inference rewrite (e.g. SSA-GAN) provide it as a method
        if not (channels_last and fold_upsample and fuse_conditioning and chunk_size is None):
            raise TypeError(f"optimize_for_inference: the options are DF-GAN's; {type(generator).__name__} has its "
                            "own optimize_for_inference() method, call it directly to pass options")
        return own()
    return OptimizedDFGANGenerator(generator, channels_last=channels_last, fold_upsample=fold_upsample,
                                   fuse_conditioning=fuse_conditioning, chunk_size=chunk_size)
