"""AttnGAN: fine-grained text-to-image generation with attentional GANs (Xu et al., CVPR 2018).

Original code: taoxugit/AttnGAN at 0d000e6 (``code/model.py``: ``G_NET``, ``CA_NET``, ``INIT_STAGE_G``,
``NEXT_STAGE_G``, ``GET_IMAGE_G``, ``D_NET64/128/256``, ``D_GET_LOGITS``; ``code/GlobalAttention.py``). The
code and the released weights are MIT-licensed.

The generator is a tree of stages: GLU conditioning augmentation of the DAMSM sentence → a first stage
(fc → four GLU up blocks, 64 px) → next stages, each of which attends from its pixels over the DAMSM word
features (:class:`textgan.nn.WordAttention`), runs residual blocks on ``cat(h, context)`` and up-samples
×2 (128, 256 px); every stage has a 3×3 conv + tanh image head. The stage count is read off the weights
(the releases have 3). Module names are the authors', so their bare state dicts load with no key map.

Quirks kept (details in the notes): the condition goes first in ``cat(c, z)``; next stages ignore the
sentence code; the attention mask broadcast of the original (``mask_broadcast="official"``, default) —
converted pipelines switch it to ``"per_sample"`` (see :func:`textgan.convert.official.attngan_pipeline_from_official`).

Inference speed: with ``generator.fused_inference = True`` (off by default; ``generator.for_inference()``
returns such a copy), calls in ``eval()`` mode under ``no_grad``/``inference_mode`` run an algebraically
equivalent, cheaper computation: BatchNorm folded into the convolutions; each "nearest ×2 → conv3×3" done as
a 4-phase 2×2 convolution of the low-resolution map (2.25× fewer multiply-adds, no up-sampled copy); the
last stage's features kept in that phase form, its image head being a 2×2 convolution of the phases (the
largest feature map is never built); attention products laid out for a fast softmax; NHWC (channels-last)
tensors for oneDNN. Its outputs differ from the authors' by float32 rounding that this deep network
amplifies (~1e-5 for the released sizes, up to ~1e-4 on the small random parity fixture), so the default,
op-by-op path is the one that reproduces the authors' outputs to 1e-5; training and any call that records
gradients always use it. benchmarks/attngan.py measures both.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..nn.attention import MASK_BROADCASTS, WordAttention
from ..nn.conditioning import ConditioningAugmentation
from ..text.vocab import Tokenizer

__all__ = ["AttnGANGenerator", "AttnGANDiscriminator", "AttnGANLogits", "AttnGANTokenizer", "config_from_state_dict"]


def _conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)


class GLU(nn.Module):
    """First half of the channels × sigmoid(second half)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(x, dim=1)


def _fold(conv_weight: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(conv(x))`` as one convolution / linear layer (eval-mode statistics)."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (conv_weight.dim() - 1)
    return conv_weight * scale.view(shape), bn.bias - bn.running_mean * scale


class _Derived:
    """Derived inference weights of one block, recomputed only when a source tensor changed (its version,
    storage or dtype), so the fused path costs nothing per call once warm and never goes stale."""

    def __init__(self) -> None:
        self.key, self.value = None, None

    def get(self, sources, make, memory_format):
        key = tuple((id(t), t.data_ptr(), t._version, t.dtype, t.device) for t in sources) + (memory_format,)
        if key != self.key:
            with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable outside inference mode
                self.value = tuple(v.contiguous(memory_format=memory_format) if v.dim() == 4 else v.contiguous()
                                   for v in make())
            self.key = key
        return self.value


def _phase_weight(w: torch.Tensor) -> torch.Tensor:
    """(O, I, 3, 3) → (4·O, I, 2, 2): ``conv3x3(nearest×2(x))`` as four 2×2 convolutions of ``x``.

    In a nearest ×2 map, output row 2i+a sees input rows (i−1, i, i) for a = 0 and (i, i, i+1) for a = 1,
    so the three kernel rows collapse to two ([w0, w1+w2] or [w0+w1, w2]); likewise for columns. Channel
    block 2a+b holds phase (a, b); with padding 1 it lands at element (i+a, j+b) of the output.
    """
    rows = (torch.stack((w[:, :, 0], w[:, :, 1] + w[:, :, 2]), 2), torch.stack((w[:, :, 0] + w[:, :, 1], w[:, :, 2]), 2))
    out = []
    for r in rows:
        out.append(torch.stack((r[..., 0], r[..., 1] + r[..., 2]), -1))
        out.append(torch.stack((r[..., 0] + r[..., 1], r[..., 2]), -1))
    return torch.cat(out, 0)


def _phase_view(y: torch.Tensor, block: int, count: int, offset: int) -> torch.Tensor:
    """Channels ``offset .. offset+count`` of every phase block of ``y`` (B, 4·block, H+1, W+1), viewed as
    the interleaved (B, count, H, 2, W, 2) high-resolution map."""
    n, _, hy, wy = y.shape
    sn, sc, sh, sw = y.stride()
    return y.as_strided((n, count, hy - 1, 2, wy - 1, 2),
                        (sn, sc, sh, 2 * block * sc + sh, sw, block * sc + sw), y.storage_offset() + offset * sc)


class UpBlock(nn.Sequential):
    """``upBlock``: nearest ×2 → conv3×3 (in → 2·out, no bias) → BatchNorm → GLU (→ out channels)."""

    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), _conv3x3(in_planes, 2 * out_planes),
                         nn.BatchNorm2d(2 * out_planes), GLU())
        self._derived = _Derived()

    def _make(self):
        w, b = _fold(self[1].weight, self[2])
        w4, b4 = _phase_weight(w), b.repeat(4)
        # output channels reordered to [values of the 4 phases | gates of the 4 phases], so that one GLU over
        # contiguous channels gives the 4 gated phases
        o = w.shape[0] // 2
        order = torch.arange(8 * o).view(4, 2, o).transpose(0, 1).reshape(-1)
        return w4[order], b4[order]

    def _gated_phases(self, x: torch.Tensor, memory_format):
        bn = self[2]
        w4, b4 = self._derived.get((self[1].weight, bn.weight, bn.bias, bn.running_mean, bn.running_var),
                                   self._make, memory_format)
        return F.glu(F.conv2d(x, w4, b4, padding=1), dim=1), w4.shape[0] // 8  # (B, 4·out, H+1, W+1)

    def fused(self, x: torch.Tensor, memory_format=torch.contiguous_format) -> torch.Tensor:
        """Eval-mode equivalent without the up-sampled map (see the module docstring)."""
        g, out = self._gated_phases(x, memory_format)
        n, h, w = x.shape[0], x.shape[2], x.shape[3]
        res = torch.empty((n, out, 2 * h, 2 * w), dtype=g.dtype, device=g.device, memory_format=memory_format)
        res.view(n, out, h, 2, w, 2).copy_(_phase_view(g, out, out, 0))
        return res

    def fused_phases(self, x: torch.Tensor, memory_format=torch.contiguous_format) -> torch.Tensor:
        """The output as its four phases, (B, 4·out, H+1, W+1): block 2a+b holds high-resolution pixel
        (2i+a, 2j+b) at (i+a, j+b); the other border entries are 0, so a 2×2 convolution of this tensor is a
        zero-padded 3×3 convolution of the output (:meth:`ImageHead.fused_from_phases`)."""
        phases, out = self._gated_phases(x, memory_format)
        n, hy, wy = x.shape[0], phases.shape[2], phases.shape[3]
        p = phases.view(n, 2, 2, out, hy, wy)
        p[:, 0, :, :, hy - 1].zero_()  # row phase 0 ends one row early, phase 1 starts one row late
        p[:, 1, :, :, 0].zero_()
        p[:, :, 0, :, :, wy - 1].zero_()
        p[:, :, 1, :, :, 0].zero_()
        return phases


class ResBlock(nn.Module):
    """``block`` = conv3×3 (C → 2C) → BN → GLU → conv3×3 (C → C) → BN; output ``block(x) + x`` (no activation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(_conv3x3(channels, 2 * channels), nn.BatchNorm2d(2 * channels), GLU(),
                                   _conv3x3(channels, channels), nn.BatchNorm2d(channels))
        self._derived = _Derived()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x

    def fused(self, x: torch.Tensor, memory_format=torch.contiguous_format) -> torch.Tensor:
        b = self.block
        sources = [b[0].weight, b[3].weight] + [t for i in (1, 4) for t in
                                                (b[i].weight, b[i].bias, b[i].running_mean, b[i].running_var)]
        w0, b0, w3, b3 = self._derived.get(sources, lambda: _fold(b[0].weight, b[1]) + _fold(b[3].weight, b[4]),
                                           memory_format)
        h = F.glu(F.conv2d(x, w0, b0, padding=1), dim=1)
        return F.conv2d(h, w3, b3, padding=1).add_(x)


class InitStage(nn.Module):
    """``INIT_STAGE_G``: ``cat(c, z)`` → fc (no bias) → BN1d → GLU → (16·ngf, 4, 4) → four up blocks → 64 px."""

    def __init__(self, ngf16: int, nz: int, ca_dim: int) -> None:
        super().__init__()
        self.gf_dim = ngf16
        self.fc = nn.Sequential(nn.Linear(nz + ca_dim, ngf16 * 4 * 4 * 2, bias=False), nn.BatchNorm1d(ngf16 * 4 * 4 * 2),
                                GLU())
        self.upsample1 = UpBlock(ngf16, ngf16 // 2)
        self.upsample2 = UpBlock(ngf16 // 2, ngf16 // 4)
        self.upsample3 = UpBlock(ngf16 // 4, ngf16 // 8)
        self.upsample4 = UpBlock(ngf16 // 8, ngf16 // 16)
        self._derived = _Derived()

    def forward(self, z_code: torch.Tensor, c_code: torch.Tensor) -> torch.Tensor:
        out = self.fc(torch.cat((c_code, z_code), 1)).view(-1, self.gf_dim, 4, 4)
        for up in (self.upsample1, self.upsample2, self.upsample3, self.upsample4):
            out = up(out)
        return out

    def fused(self, z_code: torch.Tensor, c_code: torch.Tensor, memory_format, phases: bool = False) -> torch.Tensor:
        bn = self.fc[1]
        w, b = self._derived.get((self.fc[0].weight, bn.weight, bn.bias, bn.running_mean, bn.running_var),
                                 lambda: _fold(self.fc[0].weight, bn), memory_format)
        out = F.glu(F.linear(torch.cat((c_code, z_code), 1), w, b), dim=1).view(-1, self.gf_dim, 4, 4)
        out = out.contiguous(memory_format=memory_format)
        for up in (self.upsample1, self.upsample2, self.upsample3):
            out = up.fused(out, memory_format)
        return (self.upsample4.fused_phases if phases else self.upsample4.fused)(out, memory_format)


class NextStage(nn.Module):
    """``NEXT_STAGE_G``: word attention, ``cat(h, context)``, residual blocks, up block (2·ngf → ngf)."""

    def __init__(self, ngf: int, nef: int, r_num: int, mask_broadcast: str = "official") -> None:
        super().__init__()
        self.att = WordAttention(ngf, nef, mask_broadcast)
        self.residual = nn.Sequential(*[ResBlock(2 * ngf) for _ in range(r_num)])
        self.upsample = UpBlock(2 * ngf, ngf)

    def forward(self, h_code: torch.Tensor, word_embs: torch.Tensor, mask: Optional[torch.Tensor] = None,
                mask_broadcast: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        context, att = self.att(h_code, word_embs, mask, mask_broadcast)
        return self.upsample(self.residual(torch.cat((h_code, context), 1))), att

    def fused(self, h_code, word_embs, mask, mask_broadcast, memory_format, phases: bool = False):
        context, att = self.att(h_code, word_embs, mask, mask_broadcast, exact=False)
        out = torch.cat((h_code, context), 1)
        for block in self.residual:
            out = block.fused(out, memory_format)
        return (self.upsample.fused_phases if phases else self.upsample.fused)(out, memory_format), att


def _phase_head_weight(w: torch.Tensor) -> torch.Tensor:
    """(O, C, 3, 3) → (4·O, 4·C, 2, 2): a zero-padded 3×3 convolution of a map given as its four phases
    (:meth:`UpBlock.fused_phases`), one output phase per block. High-resolution row 2i+a+dy lies in phase
    p = (a+dy) mod 2 at phase-tensor row i + (a+dy+p)/2, an offset of 0 or 1 (likewise for columns)."""
    o, c = w.shape[:2]
    k = w.new_zeros(2, 2, o, 2, 2, c, 2, 2)  # (a, b, o, p, r, c, u, v)
    for a in range(2):
        for dy in (-1, 0, 1):
            p = (a + dy) % 2
            u = (a + dy + p) // 2
            for b in range(2):
                for dx in (-1, 0, 1):
                    r = (b + dx) % 2
                    v = (b + dx + r) // 2
                    k[a, b, :, p, r, :, u, v] += w[:, :, dy + 1, dx + 1]
    return k.reshape(4 * o, 4 * c, 2, 2)


class ImageHead(nn.Module):
    """``GET_IMAGE_G``: conv3×3 (ngf → 3, no bias) → tanh."""

    def __init__(self, ngf: int) -> None:
        super().__init__()
        self.img = nn.Sequential(_conv3x3(ngf, 3), nn.Tanh())
        self._derived = _Derived()

    def forward(self, h_code: torch.Tensor) -> torch.Tensor:
        return self.img(h_code)

    def fused(self, h_code: torch.Tensor) -> torch.Tensor:
        return F.conv2d(h_code, self.img[0].weight, padding=1).tanh_().contiguous()

    def fused_from_phases(self, phases: torch.Tensor) -> torch.Tensor:
        """The image from :meth:`UpBlock.fused_phases`, without building the high-resolution feature map:
        the 3×3 convolution becomes one 2×2 convolution of the four phases with four output phases."""
        weight = self.img[0].weight
        nhwc = phases.is_contiguous(memory_format=torch.channels_last) and not phases.is_contiguous()
        k, = self._derived.get((weight,), lambda: (_phase_head_weight(weight),),
                               torch.channels_last if nhwc else torch.contiguous_format)
        y = F.conv2d(phases, k)  # (B, 4·3, H, W), block 2a+b = output phase (a, b)
        n, h, w = y.shape[0], y.shape[2], y.shape[3]
        out = y.view(n, 2, 2, 3, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, 3, 2 * h, 2 * w)
        return out.tanh_()


class AttnGANGenerator(nn.Module):
    """AttnGAN generator (``G_NET``): sentence + words + noise → one image per stage (64, 128, 256 px, ...).

    Args:
        ngf: base width (``GAN.GF_DIM``: 32 birds, 48 COCO); the first stage is 16·ngf wide.
        nz: noise width (100).
        cond_dim: DAMSM sentence and word width (``TEXT.EMBEDDING_DIM``, 256).
        ca_dim: conditioning-augmentation width (``GAN.CONDITION_DIM``, 100).
        r_num: residual blocks per next stage (``GAN.R_NUM``: 2 birds, 3 COCO).
        branch_num: number of stages (``TREE.BRANCH_NUM``, 3); stage k makes 64·2^(k−1) px images.
        mask_broadcast: ``"official"`` (the authors' attention-mask broadcast; default, what the released
            weights were trained with) or ``"per_sample"``; see :mod:`textgan.nn.attention`.

    Forward (the authors' order, plus the CA noise): ``(noise (B, nz), sentence (B, cond_dim),
    words (B, cond_dim, L), word_mask=None (B, L) bool True at padding, ca_noise=None (B, ca_dim))`` →
    ``(images: list of (B, 3, S, S) in [-1, 1] per stage, attention: list of (B, L, S/2, S/2) per next
    stage, mu, logvar)``. Without ``ca_noise`` the CA ε is drawn from ``generator=`` (a torch.Generator) or
    the global RNG, as the authors draw it on every call. ``mask_broadcast=`` overrides the mode per call.
    """

    registry_name = "attngan"
    pipeline_inputs = ("noise", "sentence", "words", "word_mask", "extra_noise")

    def __init__(self, ngf: int = 32, nz: int = 100, cond_dim: int = 256, ca_dim: int = 100, r_num: int = 2,
                 branch_num: int = 3, mask_broadcast: str = "official") -> None:
        super().__init__()
        if branch_num < 1:
            raise ValueError(f"branch_num must be at least 1, got {branch_num}")
        if mask_broadcast not in MASK_BROADCASTS:
            raise ValueError(f"mask_broadcast must be one of {MASK_BROADCASTS}, got {mask_broadcast!r}")
        self.config = dict(ngf=ngf, nz=nz, cond_dim=cond_dim, ca_dim=ca_dim, r_num=r_num, branch_num=branch_num,
                           mask_broadcast=mask_broadcast)
        self.fused_inference = False  # opt-in fast eval path (module docstring); not part of the config
        self.channels_last = True
        self.ca_net = ConditioningAugmentation(cond_dim, ca_dim, variant="glu")
        self.h_net1 = InitStage(ngf * 16, nz, ca_dim)
        self.img_net1 = ImageHead(ngf)
        for k in range(2, branch_num + 1):
            self.add_module(f"h_net{k}", NextStage(ngf, cond_dim, r_num, mask_broadcast))
            self.add_module(f"img_net{k}", ImageHead(ngf))

    @property
    def extra_noise_dim(self) -> int:
        """Width of the CA ε the pipeline draws per image (``ca_dim``)."""
        return int(self.config["ca_dim"])

    @property
    def mask_broadcast(self) -> str:
        return self.config["mask_broadcast"]

    @mask_broadcast.setter
    def mask_broadcast(self, value: str) -> None:
        if value not in MASK_BROADCASTS:
            raise ValueError(f"mask_broadcast must be one of {MASK_BROADCASTS}, got {value!r}")
        self.config["mask_broadcast"] = value
        for stage in self._next_stages():
            stage.att.mask_broadcast = value

    def for_inference(self, channels_last: bool = True) -> "AttnGANGenerator":
        """A copy in eval mode with the fused inference path on (same weights and state dict keys):
        ``pipe.generator = pipe.generator.for_inference()``. This module is left unchanged."""
        import copy

        fast = copy.deepcopy(self).eval()
        fast.fused_inference, fast.channels_last = True, channels_last
        return fast

    def _next_stages(self) -> List[NextStage]:
        return [getattr(self, f"h_net{k}") for k in range(2, self.config["branch_num"] + 1)]

    def _check(self, noise, sentence, words, word_mask, ca_noise) -> None:
        c = self.config
        b = noise.shape[0] if noise.dim() == 2 else -1
        if noise.dim() != 2 or noise.shape[1] != c["nz"]:
            raise ValueError(f"noise must be (batch, nz={c['nz']}), got {tuple(noise.shape)}")
        if tuple(sentence.shape) != (b, c["cond_dim"]):
            raise ValueError(f"sentence must be (batch={b}, {c['cond_dim']}) DAMSM sentence features, got "
                             f"{tuple(sentence.shape)}: is the text encoder the one this generator was trained with?")
        if words.dim() != 3 or tuple(words.shape[:2]) != (b, c["cond_dim"]):
            raise ValueError(f"words must be (batch={b}, {c['cond_dim']}, length) DAMSM word features, got "
                             f"{tuple(words.shape)}")
        if word_mask is not None and tuple(word_mask.shape) != (b, words.shape[2]):
            raise ValueError(f"word_mask must be (batch={b}, length={words.shape[2]}), got {tuple(word_mask.shape)}")
        if ca_noise is not None and tuple(ca_noise.shape) != (b, c["ca_dim"]):
            raise ValueError(f"ca_noise must be (batch={b}, ca_dim={c['ca_dim']}), got {tuple(ca_noise.shape)}")

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor,
                word_mask: Optional[torch.Tensor] = None, ca_noise: Optional[torch.Tensor] = None, *,
                generator: Optional[torch.Generator] = None, mask_broadcast: Optional[str] = None,
                ) -> Tuple[List[torch.Tensor], List[torch.Tensor], torch.Tensor, torch.Tensor]:
        self._check(noise, sentence, words, word_mask, ca_noise)
        c_code, mu, logvar = self.ca_net(sentence, ca_noise, generator)
        stages = self._next_stages()
        if self.fused_inference and not self.training and not torch.is_grad_enabled():
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            # the last stage's features only feed its image head: they stay in phase form (no full-size map)
            last = len(stages) + 1
            h = self.h_net1.fused(noise, c_code, fmt, phases=last == 1)
            images, maps = [self.img_net1.fused_from_phases(h) if last == 1 else self.img_net1.fused(h)], []
            for k, stage in enumerate(stages, start=2):
                h, att = stage.fused(h, words, word_mask, mask_broadcast, fmt, phases=k == last)
                head = getattr(self, f"img_net{k}")
                images.append(head.fused_from_phases(h) if k == last else head.fused(h))
                maps.append(att)
            return images, maps, mu, logvar
        h = self.h_net1(noise, c_code)
        images, maps = [self.img_net1(h)], []
        for k, stage in enumerate(stages, start=2):
            h, att = stage(h, words, word_mask, mask_broadcast)
            images.append(getattr(self, f"img_net{k}")(h))
            maps.append(att)
        return images, maps, mu, logvar


# ------------------------------------------------------------------------------------- discriminators


def _down_block(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 4, 2, 1, bias=False), nn.BatchNorm2d(out_planes),
                         nn.LeakyReLU(0.2, inplace=True))


def _block3x3_lrelu(in_planes: int, out_planes: int) -> nn.Sequential:
    return nn.Sequential(_conv3x3(in_planes, out_planes), nn.BatchNorm2d(out_planes), nn.LeakyReLU(0.2, inplace=True))


# D_NET64/128/256's image trunk after img_code_s16, in registration (= state-dict) order; StackGAN-v2's
# discriminators have the same trunk under the same names
_IMAGE_CODE_LAYERS = {64: (), 128: ("img_code_s32", "img_code_s32_1"),
                      256: ("img_code_s32", "img_code_s64", "img_code_s64_1", "img_code_s64_2")}


def _add_image_code(module: nn.Module, ndf: int, imsize: int) -> None:
    """Give ``module`` the (B, 3, imsize, imsize) -> (B, 8 ndf, 4, 4) image trunk of D_NET{imsize}."""
    module.img_code_s16 = _encode_by_16(ndf)
    if imsize >= 128:
        module.img_code_s32 = _down_block(ndf * 8, ndf * 16)
    if imsize == 128:
        module.img_code_s32_1 = _block3x3_lrelu(ndf * 16, ndf * 8)
    elif imsize == 256:
        module.img_code_s64 = _down_block(ndf * 16, ndf * 32)
        module.img_code_s64_1 = _block3x3_lrelu(ndf * 32, ndf * 16)
        module.img_code_s64_2 = _block3x3_lrelu(ndf * 16, ndf * 8)


def _image_code(module: nn.Module, images: torch.Tensor, imsize: int) -> torch.Tensor:
    x = module.img_code_s16(images)
    for name in _IMAGE_CODE_LAYERS[imsize]:
        x = getattr(module, name)(x)
    return x


def _encode_by_16(ndf: int) -> nn.Sequential:
    layers = [nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for i in range(3):
        layers += list(_down_block(ndf * 2 ** i, ndf * 2 ** (i + 1)))
    return nn.Sequential(*layers)


class AttnGANLogits(nn.Module):
    """``D_GET_LOGITS``: (code (B, 8·ndf, 4, 4)[, sentence (B, nef)]) → probabilities (B,) (sigmoid inside).

    Conditional: tile the sentence to 4×4, ``cat(h, c)`` → conv3×3 + BN + LeakyReLU (``jointConv``) →
    conv4×4 stride 4 with bias (``outlogits.0``) → sigmoid. Unconditional: ``outlogits`` only.
    """

    def __init__(self, ndf: int, nef: int, condition: bool) -> None:
        super().__init__()
        self.df_dim, self.ef_dim, self.bcondition = ndf, nef, condition
        if condition:
            self.jointConv = _block3x3_lrelu(ndf * 8 + nef, ndf * 8)
        self.outlogits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), nn.Sigmoid())

    def forward(self, h_code: torch.Tensor, c_code: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.bcondition:
            if c_code is None:
                raise ValueError("the conditional head needs the sentence embedding c_code")
            c = c_code.view(-1, self.ef_dim, 1, 1).expand(-1, -1, h_code.shape[2], h_code.shape[3])
            h_code = self.jointConv(torch.cat((h_code, c), 1))
        return self.outlogits(h_code).view(-1)


class AttnGANDiscriminator(nn.Module):
    """AttnGAN discriminator ``D_NET64`` / ``D_NET128`` / ``D_NET256`` with its two heads.

    Args:
        ndf: base width (``GAN.DF_DIM``: 64 birds, 96 COCO).
        cond_dim: sentence width of the conditional head (the DAMSM 256).
        imsize: 64, 128 or 256 (which of the three discriminators).
        uncond: build the unconditional head ``UNCOND_DNET`` (the authors' ``b_jcu``, default True).

    ``forward(images)`` returns the (B, 8·ndf, 4, 4) code, as the original; :meth:`cond_logits`
    (``COND_DNET``) and :meth:`uncond_logits` (``UNCOND_DNET``) give sigmoid probabilities (B,).
    """

    registry_name = "attngan_discriminator"

    def __init__(self, ndf: int = 64, cond_dim: int = 256, imsize: int = 64, uncond: bool = True) -> None:
        super().__init__()
        if imsize not in (64, 128, 256):
            raise ValueError(f"imsize must be 64, 128 or 256 (D_NET64/128/256), got {imsize}")
        self.config = dict(ndf=ndf, cond_dim=cond_dim, imsize=imsize, uncond=uncond)
        _add_image_code(self, ndf, imsize)
        self.UNCOND_DNET = AttnGANLogits(ndf, cond_dim, condition=False) if uncond else None
        self.COND_DNET = AttnGANLogits(ndf, cond_dim, condition=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config["imsize"]
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise ValueError(f"images must be (batch, 3, {size}, {size}), got {tuple(images.shape)}")
        return _image_code(self, images, size)

    def cond_logits(self, code: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        return self.COND_DNET(code, sentence)

    def uncond_logits(self, code: torch.Tensor) -> torch.Tensor:
        if self.UNCOND_DNET is None:
            raise ValueError("this discriminator was built with uncond=False (no UNCOND_DNET)")
        return self.UNCOND_DNET(code)


# ------------------------------------------------------------------------------------ conversion


def _need(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    from ..errors import ArchitectureMismatchError

    if key not in sd:
        raise ArchitectureMismatchError(f"{what}: key {key!r} is missing, so these weights are not a {what} "
                                        f"(first keys: {', '.join(list(sd)[:5])})")
    return sd[key].shape


def config_from_state_dict(model: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """Constructor arguments of registered AttnGAN model ``model`` read off a (prefix-free) state dict."""
    if model == "attngan":
        what = "AttnGAN generator (G_NET)"
        ca = _need(sd, "ca_net.fc.weight", what)
        fc = _need(sd, "h_net1.fc.0.weight", what)
        cond_dim, ca_dim = ConditioningAugmentation.infer_sizes(ca, "glu")
        branch_num = 1
        while f"h_net{branch_num + 1}.upsample.1.weight" in sd:
            branch_num += 1
        r_num = len({k.split(".")[2] for k in sd if k.startswith("h_net2.residual.")}) if branch_num > 1 else 2
        return dict(ngf=fc[0] // (16 * 32), nz=fc[1] - ca_dim, cond_dim=cond_dim, ca_dim=ca_dim, r_num=r_num,
                    branch_num=branch_num)
    if model == "attngan_discriminator":
        what = "AttnGAN discriminator (D_NET64/128/256)"
        ndf = _need(sd, "img_code_s16.0.weight", what)[0]
        joint = _need(sd, "COND_DNET.jointConv.0.weight", what)
        imsize = 256 if "img_code_s64.0.weight" in sd else 128 if "img_code_s32_1.0.weight" in sd else 64
        return dict(ndf=ndf, cond_dim=joint[1] - 8 * ndf, imsize=imsize, uncond="UNCOND_DNET.outlogits.0.weight" in sd)
    raise KeyError(model)


# --------------------------------------------------------------------------------------- tokenizer


class AttnGANTokenizer(Tokenizer):
    """:class:`textgan.text.Tokenizer` that warns when a prompt has more known words than ``max_words``.

    Only the first ``max_words`` (18, the released ``WORDS_NUM``) known words are kept; the rest are dropped
    with a ``UserWarning`` naming the prompt. (The authors' ``gen_example`` keeps every word; their training
    loader keeps a random ordered subset of 18.) Pass ``max_words=None`` to keep all.
    """

    type_name = "attngan-words"

    def __call__(self, texts, **kwargs):
        batch = [texts] if isinstance(texts, str) else texts
        if self.max_words is not None and isinstance(batch, (list, tuple)):
            for i, text in enumerate(batch):
                if isinstance(text, str):
                    known = [t for t in self.tokenize(text) if t in self.vocab]
                    if len(known) > self.max_words:
                        warnings.warn(f"prompt {i} has {len(known)} known words; AttnGAN pipelines keep the first "
                                      f"{self.max_words} (dropped: {' '.join(known[self.max_words:])!r})",
                                      UserWarning, stacklevel=3)
        return super().__call__(texts, **kwargs)


def _register_tokenizer() -> None:
    from ..text import TOKENIZER_TYPES

    TOKENIZER_TYPES.setdefault(AttnGANTokenizer.type_name, AttnGANTokenizer)


_register_tokenizer()


# ------------------------------------------------------------------------------- registered models


@register_model("attngan")
def attngan(*, ngf: int = 32, nz: int = 100, cond_dim: int = 256, ca_dim: int = 100, r_num: int = 2,
            branch_num: int = 3, mask_broadcast: str = "official") -> AttnGANGenerator:
    """AttnGAN generator (defaults: the birds release, ``eval_bird.yml``; COCO: ngf 48, r_num 3)."""
    return AttnGANGenerator(ngf, nz, cond_dim, ca_dim, r_num, branch_num, mask_broadcast)


@register_model("attngan")
def attngan_discriminator(*, ndf: int = 64, cond_dim: int = 256, imsize: int = 64, uncond: bool = True
                          ) -> AttnGANDiscriminator:
    """AttnGAN discriminator D_NET64/128/256 (``imsize``) with its conditional and unconditional heads."""
    return AttnGANDiscriminator(ndf, cond_dim, imsize, uncond)


_LICENSE = "MIT (taoxugit/AttnGAN)"
_PAPER = ("Xu et al., AttnGAN: Fine-Grained Text to Image Generation with Attentional Generative Adversarial "
          "Networks, CVPR 2018")
_IS_BIRDS = ("StackGAN fine-tuned Inception-v3 (TF, birds_valid299), 10 splits, samples from the test captions "
             "(30,000 in DM-GAN's evaluation)")
_IS_COCO = "improved-GAN TF Inception (inception-2015-12-05), 10 splits, samples from the COCO val captions"
_RPREC = "AttnGAN definition: R@1 of the true caption among 100 (99 mismatched), DAMSM encoders, 10 folds"
_SRC = "AttnGAN paper (CVPR 2018), as tabulated in the DM-GAN README"
_PARTS = {"attngan": "model.safetensors", "damsm_text_encoder": "text_encoder.safetensors"}
_FORMAT = ("bare G_NET state dict (torch.save of state_dict(), Python 2 / torch 0.3 legacy pickle, no "
           "'module.' prefix, no num_batches_tracked; EMA parameters with the live BN buffers)")

register_pretrained(PretrainedTag(
    tag="attngan-birds", family="attngan", dataset="CUB-200-2011", resolution=256, text_encoder="damsm-birds",
    license=_LICENSE, paper=_PAPER,
    original_url="https://drive.google.com/open?id=1lqNG75suOuR_8gjoEPYNp8VyT_ufPPig",
    original_filename="bird_AttnGAN2.pth", file_format=_FORMAT, converter="attngan", hub_id="textgan/attngan-birds",
    parts=_PARTS,
    text_encoder_url="https://drive.google.com/open?id=1GNUKjVeyWYBJ8hEU-yrfYQpDOkxEyP3V (text_encoder200.pth)",
    metrics=(Metric("IS", 4.36, _IS_BIRDS + "; ±0.03", _SRC),
             Metric("R-precision", 67.82, _RPREC + "; ±4.43", _SRC)),
    notes=("config eval_bird.yml: GF_DIM 32, R_NUM 2, 3 stages; vocabulary of 5450 words (data/birds captions.pickle). "
           "Users re-running the released model report IS 4.15-4.17 (taoxugit/AttnGAN #17, #44, #46)."),
))
register_pretrained(PretrainedTag(
    tag="attngan-coco", family="attngan", dataset="COCO-2014", resolution=256, text_encoder="damsm-coco",
    license=_LICENSE, paper=_PAPER,
    original_url="https://drive.google.com/open?id=1i9Xkg9nU74RAvkcqKE-rJYhjvzKAMnCi",
    original_filename="coco_AttnGAN2.pth", file_format=_FORMAT, converter="attngan", hub_id="textgan/attngan-coco",
    parts=_PARTS,
    text_encoder_url="https://drive.google.com/open?id=1zIrXCE9F6yfbEJIbNP5-YrEe2pZcPSGJ (text_encoder100.pth)",
    metrics=(Metric("IS", 25.89, _IS_COCO + "; ±0.47", _SRC),
             Metric("R-precision", 85.47, _RPREC + "; ±3.69", _SRC)),
    notes=("config eval_coco.yml: GF_DIM 48, R_NUM 3, 3 stages; vocabulary of 27297 words (data/coco captions.pickle). "
           "Users re-running the released model report IS 23.5-23.9 (taoxugit/AttnGAN #17, #44, #46)."),
))
