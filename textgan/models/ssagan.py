"""SSA-GAN: Text to Image Generation with Semantic-Spatial Aware GAN (Liao et al., CVPR 2022).

Original code: wtliao/text2image at 3063e27 (``model.py``: ``NetG``, ``G_Block``, ``affine``, ``NetD``,
``D_GET_LOGITS``). The repository has no LICENSE file; its README says "released for academic research use
only" (commercial use: contact the authors). The released weights carry the same terms.

SSA-GAN keeps the DF-GAN 2020 skeleton (``fc`` → seven blocks with a learnable residual scale → image head)
and changes the blocks: each of its two affines batch-normalises its input and modulates it only where a
spatial mask says so (:class:`~textgan.nn.MaskedBatchNormAffine`); the mask of each scale is predicted from
the previous stage's output (:class:`~textgan.nn.SemanticMaskPredictor`), resized bilinearly on the logits.
The discriminator is DF-GAN 2020's, key for key. Module names follow the authors' so their state dicts load
with no key map beyond the ``module.`` prefix of their DataParallel files.
"""
from __future__ import annotations

import functools
import math
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..nn import MaskedBatchNormAffine, SemanticMaskPredictor, fusion_mask
from ..nn.masks import fill_batchnorm_counters
from .dfgan import _G2020_CHANNELS, DFGAN2020Discriminator, _Configurable, _shape
from .dfgan import config_from_state_dict as _dfgan_config

__all__ = [
    "SSAGANBlock", "SSAGANGenerator", "SSAGANDiscriminator", "OptimizedSSAGANGenerator", "config_from_state_dict",
]


class SSAGANBlock(nn.Module):
    """SSA-GAN's ``G_Block`` (SSACN): ``out = shortcut(x) + γ·residual(x, y, m)``, then the next mask's logits.

    ``residual`` is ``affine0 → ReLU → Conv3x3 → affine2 → ReLU → Conv3x3`` with mask-gated batch-norm
    affines (the authors' ``affine1``/``affine3`` are commented out, hence the names). The shortcut is a
    1×1 convolution when the width changes. There is no up-sampling inside the block.

    Args:
        cond_dim: sentence width (256 in the original, hard-wired there).
        in_channels, out_channels: channel counts.
        affine_hidden: hidden width of the affine MLPs (256, hard-wired in the original).
        mask_hidden: hidden width of the mask predictor (100, hard-wired in the original).
        predict_mask: own a mask predictor applied to the block output (all blocks but the last).

    Forward: ``(x (B, in, H, W), y (B, cond_dim), mask (B, 1, H, W))`` → ``(out (B, out, H, W), mask
    logits (B, 1, H, W) or None)``, as the original.
    """

    def __init__(self, cond_dim: int, in_channels: int, out_channels: int, affine_hidden: int = 256,
                 mask_hidden: int = 100, predict_mask: bool = True) -> None:
        super().__init__()
        self.learnable_sc = in_channels != out_channels
        self.predict_mask = predict_mask
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.affine0 = MaskedBatchNormAffine(cond_dim, in_channels, affine_hidden)
        self.affine2 = MaskedBatchNormAffine(cond_dim, out_channels, affine_hidden)
        self.gamma = nn.Parameter(torch.zeros(1))
        if self.learnable_sc:
            self.c_sc = nn.Conv2d(in_channels, out_channels, 1, 1, 0)
        if predict_mask:
            self.conv_mask = SemanticMaskPredictor(out_channels, mask_hidden)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor], prefix: str = "") -> "SSAGANBlock":
        """A block with every size read off ``state_dict`` (the authors' ``G_Block`` keys), loaded strictly."""
        from ..nn.fusion import _load

        out_ch, in_ch = state_dict[prefix + "c1.weight"].shape[:2]
        hidden, cond_dim = state_dict[prefix + "affine0.fc_gamma.linear1.weight"].shape
        predict = prefix + "conv_mask.0.weight" in state_dict
        mask_hidden = state_dict[prefix + "conv_mask.0.weight"].shape[0] if predict else 100
        block = cls(cond_dim, in_ch, out_ch, hidden, mask_hidden, predict)
        return _load(block, fill_batchnorm_counters(state_dict), prefix)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        h = self.c1(F.relu_(self.affine0(x, y, mask)))
        h = self.c2(F.relu_(self.affine2(h, y, mask)))
        out = (self.c_sc(x) if self.learnable_sc else x) + self.gamma * h
        return out, (self.conv_mask(out) if self.predict_mask else None)


class SSAGANGenerator(_Configurable):
    """SSA-GAN generator (``NetG``): ``fc`` → mask → ``block0`` (4×4) → six (nearest ×2, block) → ``conv_img``.

    Args:
        ngf: base width (64 in the released models).
        nz: noise width (100).
        cond_dim: sentence width (256; hard-wired in the original).
        affine_hidden: hidden width of the affine MLPs (256; hard-wired in the original).
        mask_hidden: hidden width of the mask predictors (100; hard-wired in the original).

    Forward: ``(noise (B, nz), sentence (B, cond_dim))`` → images (B, 3, 256, 256) in [-1, 1]; with
    ``return_masks=True`` → ``(images, masks)`` like the authors' ``NetG``, where ``masks`` lists the seven
    sigmoid masks the blocks used, at 4, 8, …, 256 px, each (B, 1, s, s). The head has a BatchNorm, so
    eval mode matters (the pipeline always runs it in eval mode).
    """

    registry_name = "ssagan"

    def __init__(self, ngf: int = 64, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256,
                 mask_hidden: int = 100) -> None:
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, cond_dim=cond_dim, affine_hidden=affine_hidden, mask_hidden=mask_hidden)
        self.ngf, self.nz, self.cond_dim = ngf, nz, cond_dim
        self.conv_mask = SemanticMaskPredictor(8 * ngf, mask_hidden)
        self.fc = nn.Linear(nz, ngf * 8 * 4 * 4)
        last = len(_G2020_CHANNELS) - 1
        for idx, (i, o) in enumerate(_G2020_CHANNELS):
            self.add_module(f"block{idx}", SSAGANBlock(cond_dim, i * ngf, o * ngf, affine_hidden, mask_hidden,
                                                       predict_mask=idx != last))
        self.conv_img = nn.Sequential(nn.BatchNorm2d(ngf), nn.LeakyReLU(0.2, inplace=True),
                                      nn.Conv2d(ngf, 3, 3, 1, 1), nn.Tanh())

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor, return_masks: bool = False
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, List[torch.Tensor]]]:
        if sentence.shape[-1] != self.cond_dim:
            raise ValueError(f"sentence: expected (B, {self.cond_dim}) embeddings, got {tuple(sentence.shape)}; "
                             "use the text encoder this generator was trained with")
        out = self.fc(noise).view(noise.shape[0], 8 * self.ngf, 4, 4)
        mask = fusion_mask(self.conv_mask(out))
        masks = [mask]
        for idx in range(len(_G2020_CHANNELS)):
            if idx:
                out = F.interpolate(out, scale_factor=2.0, mode="nearest")
                mask = fusion_mask(logits, out.shape[-2:])
                masks.append(mask)
            out, logits = getattr(self, f"block{idx}")(out, sentence, mask)
        image = self.conv_img(out)
        return (image, masks) if return_masks else image

    def optimize_for_inference(self, *, winograd: bool = True, chunk_size: int = 1) -> "OptimizedSSAGANGenerator":
        """A faster, inference-only snapshot of this generator, same call (see :class:`OptimizedSSAGANGenerator`)."""
        return OptimizedSSAGANGenerator(self, winograd=winograd, chunk_size=chunk_size)


class SSAGANDiscriminator(DFGAN2020Discriminator):
    """SSA-GAN discriminator: the DF-GAN 2020 one, key for key (trunk → (B, 16·ndf, 4, 4), ``COND_DNET``).

    ``forward(images)`` returns the features; ``COND_DNET(features, sentence)`` (or :meth:`logits`) the
    matching logits. The authors trained it with ndf 64.
    """

    registry_name = "ssagan_discriminator"

    def __init__(self, ndf: int = 64, cond_dim: int = 256) -> None:
        super().__init__(ndf, cond_dim)


# ------------------------------------------------------------------------- inference-only fast path


def _bn_fold(bn: nn.BatchNorm2d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as a per-channel ``a·x + b`` (float64)."""
    a = torch.rsqrt(bn.running_var.double() + bn.eps)
    b = -bn.running_mean.double() * a
    if bn.affine:
        a, b = a * bn.weight.double(), b * bn.weight.double() + bn.bias.double()
    return a, b


@functools.lru_cache(maxsize=None)
def _winograd_matrices(points: Tuple[float, ...], m: int = 4, r: int = 3):
    """Aᵀ (m×n), G (n×r), Bᵀ (n×n) of Winograd's F(m, r) for the finite ``points`` plus ∞ (Cook–Toom)."""
    n = m + r - 1
    p = torch.tensor(points, dtype=torch.float64)
    at, g = torch.zeros(m, n, dtype=torch.float64), torch.zeros(n, r, dtype=torch.float64)
    for j in range(n - 1):
        at[:, j] = p[j] ** torch.arange(m)
        g[j] = p[j] ** torch.arange(r) / torch.prod(torch.stack([p[j] - p[k] for k in range(n - 1) if k != j]))
    at[m - 1, n - 1] = g[n - 1, r - 1] = 1.0
    # Bᵀ is what makes Aᵀ[(G·w) ⊙ (Bᵀ·d)] the correlation of w and d: solve that linear system exactly
    lhs = torch.einsum("ij,jk->ikj", at, g).reshape(m * r, n)
    rhs = torch.tensor([[float(col == i + k) for col in range(n)] for i in range(m) for k in range(r)],
                       dtype=torch.float64)
    return at, g, torch.linalg.lstsq(lhs, rhs).solution


class _Workspace:
    """Flat buffers reused across calls, grown to the largest request; ``get`` hands out views.

    A name's buffer holds one live value at a time: the caller makes sure a value is consumed before the
    same name is requested again. Fresh maps of tens of MB would otherwise be faulted in on every call.
    """

    def __init__(self) -> None:
        self.buffers: Dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: Tuple[int, ...]) -> torch.Tensor:
        size = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.numel() < size:
            buf = self.buffers[name] = torch.empty(size)
        return buf[:size].view(shape)

    def padded(self, name: str, b: int, h: int, w: int, c: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """A (b, 4⌈h/4⌉+2, 4⌈w/4⌉+2, c) map with a zero border and its (b, h, w, c) interior view."""
        hp, wp = 4 * -(-h // 4) + 2, 4 * -(-w // 4) + 2
        full = self.get(name, (b, hp, wp, c))
        full[:, 0].zero_(), full[:, h + 1:].zero_(), full[:, :, 0].zero_(), full[:, :, w + 1:].zero_()
        return full, full[:, 1:h + 1, 1:w + 1]


class _Conv:
    """``scale·(conv(x, weight) + bias) + shift`` of (B, H, W, C)-contiguous maps: 3×3 (padding 1) or 1×1.

    Direct 3×3 convolutions run through oneDNN: small weights folded with ``scale`` into a channels_last
    copy, large ones used as they are (no copy) on an NCHW copy of the (small) map, ``scale``/``shift``
    then costing one pass over the output. Winograd F(4×4, 3×3) does 36 matrix products (tiles × C) @
    (C × O) per 4×4 output tile instead of 9·16 multiply-adds per pixel pair (4× fewer), with float32 errors
    about 5× those of a direct convolution (≈1e-5 relative); its transformed weights are kept
    (``precompute``: 4× the weight's size) or rebuilt from the weight at each call (cheap unless the layer is
    wide and small), and ``scale`` is applied with the bias as the tiles are written back.
    """

    POINTS = (0.0, 1.0, -1.0, 0.5, -0.5)  # ±1/2 instead of ±2: smaller transform constants, smaller errors
    SMALL = 2 ** 20  # weights up to this many elements are copied (folded, channels_last)

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, scale: Optional[torch.Tensor] = None,
                 shift: Optional[torch.Tensor] = None, winograd: bool = False, precompute: bool = False) -> None:
        out_ch, in_ch, k = weight.shape[:3]
        self.k, self.winograd = k, winograd and k == 3
        self.nchw = k == 3 and not self.winograd and weight.numel() > self.SMALL
        w = weight.detach().view(out_ch, in_ch) if k == 1 else weight.detach()
        fold = scale is not None and not self.winograd and not self.nchw
        if fold or (k == 3 and not self.winograd and not self.nchw):
            s = scale.double().view(-1, *[1] * (w.dim() - 1)) if fold else 1.0
            fmt = torch.channels_last if k == 3 else torch.contiguous_format
            w = (w.double() * s).float().contiguous(memory_format=fmt)
        self.weight = w
        scale64 = None if scale is None else scale.double()
        b = bias.double() if scale is None else bias.double() * scale64
        b = b if shift is None else b + shift.double()
        if self.winograd:
            self.bias, self.scale, self.post = b.float(), None if scale is None else scale.float(), None
            at, g, bt = _winograd_matrices(self.POINTS)
            self.kw, self.kb, self.ka = torch.kron(g, g).float(), torch.kron(bt, bt).float(), torch.kron(at, at).float()
            self.u = self._transformed(torch.empty(36, out_ch * in_ch)) if precompute else None
            if self.u is not None and self.scale is not None:  # kept: the scale goes into it once
                self.u.mul_(self.scale[None, :, None])
                self.scale = None
        elif fold or scale is None:
            self.bias, self.post = b.float(), None
        else:  # a large weight is not copied: scale and shift follow the convolution
            self.bias = bias.detach()
            self.post = (scale.float(), torch.zeros(out_ch) if shift is None else shift.float())

    def _transformed(self, out: torch.Tensor) -> torch.Tensor:  # (36, O, C): G·w·Gᵀ for every (o, c)
        out_ch, in_ch = self.weight.shape[:2]
        return torch.matmul(self.kw, self.weight.reshape(out_ch * in_ch, 9).t(), out=out).view(36, out_ch, in_ch)

    def __call__(self, x: torch.Tensor, ws: _Workspace, padded: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``padded``: for Winograd, the zero-bordered map whose interior ``x`` is (saves a copy)."""
        if self.winograd:
            return self._winograd(x, ws, padded)
        if self.k == 1:
            y = F.linear(x, self.weight, self.bias)
        elif self.nchw:
            y = F.conv2d(x.permute(0, 3, 1, 2).contiguous(), self.weight, self.bias, padding=1)
            y = y.permute(0, 2, 3, 1).contiguous()
        else:
            y = F.conv2d(x.permute(0, 3, 1, 2), self.weight, self.bias, padding=1).permute(0, 2, 3, 1)
        return y if self.post is None else torch.addcmul(self.post[1], self.post[0], y, out=y)

    def _winograd(self, x: torch.Tensor, ws: _Workspace, xp: Optional[torch.Tensor]) -> torch.Tensor:
        b, h, w, c = x.shape
        o, th, tw = self.weight.shape[0], -(-h // 4), -(-w // 4)
        n = b * th * tw
        u = self.u if self.u is not None else self._transformed(ws.get("u", (36, o * c)))
        if xp is None:
            xp, inner = ws.padded("pad", b, h, w, c)
            inner.copy_(x)
        st = xp.stride()
        tiles = ws.get("a", (6, 6, b, th, tw, c))
        tiles.copy_(xp.as_strided((6, 6, b, th, tw, c), (st[1], st[2], st[0], 4 * st[1], 4 * st[2], 1)))
        v = torch.matmul(self.kb, tiles.view(36, -1), out=ws.get("b", (36, n * c)))  # Bᵀ·d·B per tile
        m = torch.bmm(v.view(36, n, c), u.transpose(1, 2), out=ws.get("a", (36, n, o)))  # tiles are consumed
        y = torch.matmul(self.ka, m.view(36, -1), out=ws.get("b", (16, n * o)))  # Aᵀ·m·A
        y = y.view(4, 4, b, th, tw, o).permute(2, 3, 0, 4, 1, 5)
        out = torch.empty(b, 4 * th, 4 * tw, o)  # fresh: the result must not alias a buffer
        if self.scale is None:
            torch.add(y, self.bias, out=out.view(b, th, 4, tw, 4, o))
        else:
            torch.addcmul(self.bias, self.scale, y, out=out.view(b, th, 4, tw, 4, o))
        return out if (4 * th, 4 * tw) == (h, w) else out[:, :h, :w].contiguous()


class OptimizedSSAGANGenerator(nn.Module):
    """Inference-only SSA-GAN generator: same call and outputs as :class:`SSAGANGenerator` in eval mode.

    Built by :meth:`SSAGANGenerator.optimize_for_inference`, for float32 on the CPU. Exact rewrites only,
    except Winograd (``winograd=False`` gives plain convolutions): images differ from the plain module's by
    about 1e-5 (1e-6 without Winograd). What it does:

    * Maps are (B, H, W, C)-contiguous (oneDNN's fast layout); the mask broadcast runs along C.
    * Nothing is up-sampled: the nearest ×2 copy of a block's input feeds only the first affine (computed at
      the input resolution and broadcast into the one full-size map it writes) and the shortcut (the 1×1
      convolution runs at the input resolution and is broadcast-added, scaled by the residual γ on the way).
    * Eval-mode BatchNorms become per-channel affines, folded into Winograd weights or neighbouring ops.
    * Winograd F(4×4, 3×3) for the 3×3 convolutions with ≥ 100 input and output channels at 32-128 px.
    * The first layers of all 28 γ/β MLPs are one matmul.
    * Batches run ``chunk_size`` samples at a time (they are independent), so the large maps can live in
      buffers that are reused from call to call instead of being faulted in by the kernel every time. The
      default, 1, needs the least memory and is as fast as larger pieces on one thread or on idle cores; with
      several threads on oversubscribed cores, larger pieces (16) lose less time to threads waiting for each
      other, at the cost of buffers 16× larger.

    Memory (ngf 64): the large convolution weights are the original's (not copied); Winograd-transformed
    weights are kept only for the two 32 px 512-channel layers (75 MB), and about 130 MB of buffers are reused
    from call to call (:meth:`free_buffers` releases them). Everything else is a snapshot: after changing
    the original's weights, call :meth:`refresh`. A module instance must not run in two threads at once.
    """

    def __init__(self, generator: SSAGANGenerator, *, winograd: bool = True, chunk_size: int = 1) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in generator.parameters()):
            raise ValueError("optimize_for_inference: this rewrite is for float32 generators on the CPU; on other "
                             "devices or dtypes use the generator itself")
        self.__dict__["original"] = generator  # not a submodule: state_dict() is the original's
        self.winograd, self.chunk_size, self.config = winograd, chunk_size, dict(generator.config)
        self._ws = _Workspace()
        self.refresh()

    def state_dict(self, *args, **kwargs):  # type: ignore[override]
        return self.original.state_dict(*args, **kwargs)

    def free_buffers(self) -> None:
        """Release the reused buffers (they come back, at the cost of page faults, at the next call)."""
        self._ws = _Workspace()

    @torch.no_grad()
    def refresh(self) -> "OptimizedSSAGANGenerator":
        """Recompute everything derived from the original generator's current weights."""
        g = self.original
        self.ngf, self.fc = g.ngf, (g.fc.weight.detach().clone(), g.fc.bias.detach().clone())
        self.mask0, lin1, self.lin2, self.blocks = self._predictor(g.conv_mask, 4), [], [], []
        last = len(_G2020_CHANNELS) - 1
        for idx in range(last + 1):
            blk, size = getattr(g, f"block{idx}"), 4 * 2 ** idx
            e = {"bn0": tuple(t.float() for t in _bn_fold(blk.affine0.batch_norm2d)), "alpha": float(blk.gamma)}
            e["c1"] = self._conv(blk.c1, size, *_bn_fold(blk.affine2.batch_norm2d))  # = affine2's BN of c1
            sc = blk.c_sc if blk.learnable_sc else None
            if idx == last:  # the head's BatchNorm, folded into the last block's output a·(sc + γ·c2) + b
                assert sc is not None, "the last SSA-GAN block always changes the width"
                a, b = _bn_fold(g.conv_img[0])
                e["c2"] = self._conv(blk.c2, size, a * e["alpha"], b)
                e["sc"], e["alpha"] = _Conv(sc.weight, sc.bias, a), 1.0
            else:
                e["c2"], e["sc"] = self._conv(blk.c2, size), None if sc is None else _Conv(sc.weight, sc.bias)
            e["mask"] = self._predictor(blk.conv_mask, size) if blk.predict_mask else None
            for mlp in (blk.affine0.fc_gamma, blk.affine0.fc_beta, blk.affine2.fc_gamma, blk.affine2.fc_beta):
                lin1.append(mlp.linear1)
                self.lin2.append((mlp.linear2.weight.detach().clone(), mlp.linear2.bias.detach().clone()))
            self.blocks.append(e)
        self.lin1 = (torch.cat([m.weight.detach() for m in lin1]), torch.cat([m.bias.detach() for m in lin1]))
        self.hidden, self.slope = lin1[0].out_features, float(g.conv_img[1].negative_slope)
        self.head = _Conv(g.conv_img[2].weight, g.conv_img[2].bias)
        return self

    def _conv(self, conv: nn.Conv2d, size: int, scale=None, shift=None) -> _Conv:
        # Winograd where its matmuls dominate its transforms (measured on one CPU core: 1.1-3×); its
        # transformed weights are kept where rebuilding them would cost a sizeable part of the layer
        wino = self.winograd and min(conv.weight.shape[:2]) >= 100 and 32 <= size <= 128
        keep = wino and size <= 32 and conv.weight.shape[0] * conv.weight.shape[1] > 2 ** 17
        return _Conv(conv.weight, conv.bias, scale, shift, winograd=wino, precompute=keep)

    def _predictor(self, seq: SemanticMaskPredictor, size: int):
        return self._conv(seq[0], size, *_bn_fold(seq[1])), _Conv(seq[3].weight, seq[3].bias)

    def _logits(self, predictor, x):  # (B, H, W, C) -> mask logits (B, 1, H, W)
        return predictor[1](predictor[0](x, self._ws).relu_(), self._ws).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return f"ngf={self.ngf}, winograd={self.winograd}, chunk_size={self.chunk_size}"

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor, return_masks: bool = False):
        """As :meth:`SSAGANGenerator.forward`; runs under :func:`torch.inference_mode` (no gradients)."""
        if sentence.shape[-1] != self.config["cond_dim"] or noise.shape[-1] != self.config["nz"]:
            raise ValueError(f"expected noise (B, {self.config['nz']}) and sentence (B, {self.config['cond_dim']}), "
                             f"got {tuple(noise.shape)} and {tuple(sentence.shape)}")
        with torch.inference_mode():
            parts = [self._run(noise[i:i + self.chunk_size], sentence[i:i + self.chunk_size])
                     for i in range(0, noise.shape[0], self.chunk_size)]
        image = torch.cat([p[0] for p in parts])
        return (image, [torch.cat(ms) for ms in zip(*[p[1] for p in parts])]) if return_masks else image

    def _run(self, noise: torch.Tensor, sentence: torch.Tensor):
        bsz, ws = noise.shape[0], self._ws
        x = F.linear(noise, *self.fc).view(bsz, 8 * self.ngf, 4, 4).permute(0, 2, 3, 1).contiguous()
        hid = F.linear(sentence, *self.lin1).relu_()
        cond = [F.linear(hid[:, i * self.hidden:(i + 1) * self.hidden], *wb)[:, None, None, :]
                for i, wb in enumerate(self.lin2)]
        logits, masks = self._logits(self.mask0, x), []
        for idx, e in enumerate(self.blocks):
            g0, beta0, g2, beta2 = cond[4 * idx: 4 * idx + 4]
            h, w, c = x.shape[1:]
            up = 2 if idx else 1
            if idx:
                logits = F.interpolate(logits.contiguous(), scale_factor=2.0, mode="bilinear", align_corners=True)
            masks.append(torch.sigmoid(logits))
            m = masks[-1].view(bsz, h, up, w, up, 1)
            xh = torch.addcmul(e["bn0"][1], e["bn0"][0], x)  # affine0's BN and modulation at the input size
            u = torch.addcmul(beta0, g0, xh)
            if e["c1"].winograd:  # written straight into the zero-bordered map Winograd reads
                h0p, h0 = ws.padded("h0", bsz, h * up, w * up, c)
            else:
                h0p, h0 = None, ws.get("h0", (bsz, h * up, w * up, c))
            torch.addcmul(xh.view(bsz, h, 1, w, 1, c), m, u.view(bsz, h, 1, w, 1, c),
                          out=h0.view(bsz, h, up, w, up, c)).relu_()
            h1 = e["c1"](h0, ws, h0p)
            m = m.reshape(bsz, h * up, w * up, 1)
            h1.addcmul_(torch.addcmul(beta2, g2, h1, out=ws.get("a", h1.shape)), m).relu_()
            out = e["c2"](h1, ws)
            sc = x if e["sc"] is None else e["sc"](x, ws)
            view = out.view(bsz, h, up, w, up, -1)
            torch.add(sc.view(bsz, h, 1, w, 1, -1), view, alpha=e["alpha"], out=view)  # shortcut + γ·residual
            if e["mask"] is not None:
                logits = self._logits(e["mask"], out)
            x = out
        image = self.head(F.leaky_relu_(x, self.slope), ws).tanh_()
        return image.permute(0, 3, 1, 2).contiguous(), masks


# ------------------------------------------------------------------------------------ conversion


def config_from_state_dict(model: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of SSA-GAN model ``model`` read off a (prefix-free) state dict."""
    if model == "ssagan":
        what = "SSA-GAN generator"
        fc = _shape(sd, "fc.weight", what)
        mask = _shape(sd, "conv_mask.0.weight", what)
        lin1 = _shape(sd, "block0.affine0.fc_gamma.linear1.weight", what)
        return dict(ngf=fc[0] // 128, nz=fc[1], cond_dim=lin1[1], affine_hidden=lin1[0], mask_hidden=mask[0])
    if model == "ssagan_discriminator":
        return _dfgan_config("dfgan2020_discriminator", sd)
    raise KeyError(model)


# ------------------------------------------------------------------------------- registered models


@register_model("ssagan")
def ssagan(*, ngf: int = 64, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256,
           mask_hidden: int = 100) -> SSAGANGenerator:
    """SSA-GAN generator (released models: ngf 64, 256 px)."""
    return SSAGANGenerator(ngf, nz, cond_dim, affine_hidden, mask_hidden)


@register_model("ssagan")
def ssagan_discriminator(*, ndf: int = 64, cond_dim: int = 256) -> SSAGANDiscriminator:
    """SSA-GAN discriminator with its ``COND_DNET`` head (the DF-GAN 2020 layout)."""
    return SSAGANDiscriminator(ndf, cond_dim)


_LICENSE = "academic research use only (wtliao/text2image README; the repository has no LICENSE file)"
_PAPER = "Liao, Hu, Yang, Rosenhahn, Text to Image Generation with Semantic-Spatial Aware GAN, CVPR 2022"
_ONEDRIVE = "https://1drv.ms/u/s!At2RxWvE6z1zgvEoglA1flTSnHZqHg?e=TtJNEW"
_README = "wtliao/text2image README (figures/results.png)"
_FORMAT = ("bare NetG state dict saved from DataParallelWithCallback(NetG): every key starts with 'module.'; "
           "BatchNorm buffers included")
_NOTES = ("Sample with plain N(0, 1) noise (no truncation), as the authors' sampling does. Generators saved by "
          "main_finetune.py come with their own fine-tuned text encoder (text_encoder_XXX.pth next to "
          "netG_XXX.pth): convert with that one, not the original DAMSM encoder.")

register_pretrained(PretrainedTag(
    tag="ssagan-birds", family="ssagan", dataset="CUB-200-2011", resolution=256, text_encoder="damsm-birds",
    license=_LICENSE, paper=_PAPER, original_url=_ONEDRIVE, original_filename="netG_550.pth",
    file_format=_FORMAT, converter="ssagan", hub_id="textgan/ssagan-birds",
    parts={"ssagan": "model.safetensors", "damsm_text_encoder": "text_encoder.safetensors"},
    text_encoder_url="https://drive.google.com/open?id=1GNUKjVeyWYBJ8hEU-yrfYQpDOkxEyP3V (AttnGAN DAMSM, birds)",
    metrics=(Metric("IS", 5.17, "IS.py in the SSA-GAN repository (improved-GAN Inception, 3 splits by default); "
                    "which scorer produced the number is not stated", _README),
             Metric("FID", 15.61, "TTUR (TF Inception), test captions", _README)),
    notes=_NOTES,
))
register_pretrained(PretrainedTag(
    tag="ssagan-coco", family="ssagan", dataset="COCO-2014", resolution=256, text_encoder="damsm-coco",
    license=_LICENSE, paper=_PAPER, original_url=_ONEDRIVE, original_filename="netG_120.pth",
    file_format=_FORMAT, converter="ssagan", hub_id="textgan/ssagan-coco",
    parts={"ssagan": "model.safetensors", "damsm_text_encoder": "text_encoder.safetensors"},
    text_encoder_url=("https://drive.google.com/open?id=1zIrXCE9F6yfbEJIbNP5-YrEe2pZcPSGJ (AttnGAN DAMSM, coco), "
                      "or the fine-tuned text_encoder_XXX.pth in the OneDrive folder"),
    metrics=(Metric("FID", 19.37, "TTUR (TF Inception), test captions", _README),),
    notes=_NOTES,
))
