"""Inference-only rewrite of the StackGAN (PyTorch release) Stage-II generator: the same function, less work.

:class:`OptimizedStackGAN` computes what :class:`~textgan.models.stackgan.STAGE2_G` in eval mode computes, with
exact algebraic rewrites only (outputs differ by float32 rounding, about 1e-6 on images in [-1, 1]):

1. **Batch norms folded** into the convolution (or the Stage-I fully connected layer) before them: eval-mode
   BN is a per-channel scale and shift, so it becomes the convolution's weight scale and a bias.
2. **No up-sampled maps.** Every ``upBlock`` is nearest ×2 then a 3×3 convolution; that convolution of the
   up-sampled map is one stride-2 transposed 4×4 convolution of the input
   (:func:`textgan.optimize.upsample_conv_transpose_weight`): 16 instead of 36 multiply-adds per input pixel and
   channel pair, and the 4× larger input map is never written. The eight up blocks hold most of the FLOPs.
   Only maps of at least :data:`FOLD_MIN_SIZE` px are folded: below that (Stage-I's first two up blocks, 4 and
   8 px) the work is reading the weights, and the transposed kernel is 16/9 the size of the 3×3 one.
3. **Weights pre-packed** for oneDNN once (on CPU): the released model has 57 M parameters, and a plain
   ``conv2d`` call reorders its weight into oneDNN's blocked layout at every call, which at batch 1 costs more
   than the arithmetic of the small-map layers (Stage-I's 1536→768 convolution: 3× faster packed). The ReLU,
   tanh and residual addition after those convolutions run inside them (oneDNN post-ops). The transposed
   convolutions are not packed: packed without the input size they run several times slower, and with it no
   faster (measured).
4. **Winograd F(2×2, 3×3)** for the 3×3 convolutions on the 16 px maps (``hr_joint`` and the residual
   blocks, 768-896 channels, 7 of the 16 GMAC): the weight transform ``G w Gᵀ`` is computed once (float64,
   stored as 16 ``(Cin, Cout)`` matrices); per call the input transform is a few strided slice adds on the
   padded NHWC map straight into a ``(16, tiles, Cin)`` tensor, then ONE ``bmm`` and the output transform as
   slice adds (2.25× fewer multiply-adds; 2× faster than the packed oneDNN convolution at one image, one
   thread, measured). Exact up to float32 rounding (about 1e-5 on those activations).
   The same on the CPU replaces item 2 for the up blocks on maps of at most :data:`WINOGRAD_UP_MAX_SIZE` px
   with at least :data:`WINOGRAD_UP_MIN_CHANNELS` output channels (Stage-I's first three, Stage-II's first
   two): Winograd of the *up-sampled* map, which is never made. Its 4×4 tiles at even offsets are input rows
   ``[a, b, b, c]``, whose transform ``[a-b, 2b, 0, b-c]`` has a zero, so 9 of the 16 GEMMs remain, with one
   row per *input* pixel: 9 instead of 16 (transposed) or 36 multiply-adds per input pixel and channel pair.
   Measured at one image, one thread: Stage-I 4 px 1536→768 18 → 9 ms, 8 px 12 → 4 ms, Stage-II 16 px
   768→384 30 → 15 ms; narrower, larger maps lose to the transposed convolution and keep it.
5. **channels_last** activations, ``inference_mode``, and batches in pieces of ``chunk_size`` images (1 by
   default on CPU: batching gains nothing there and the pieces keep the working set small).

The module is a snapshot of the generator's weights at construction (non-persistent buffers);
``state_dict()`` returns the original's. ``pipe.optimize()`` builds one.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..optimize import upsample_conv_transpose_weight

__all__ = ["OptimizedStackGAN", "FOLD_MIN_SIZE", "WINOGRAD_UP_MAX_SIZE", "WINOGRAD_UP_MIN_CHANNELS"]

#: smallest input side (px) whose nearest×2 + conv3x3 runs as one transposed convolution
FOLD_MIN_SIZE = 16
#: largest input side (px) of an up block run as Winograd on the up-sampled map (CPU); larger ones fold
WINOGRAD_UP_MAX_SIZE = 32
#: fewest output channels of such an up block (narrower GEMMs lose to the transposed convolution: measured)
WINOGRAD_UP_MIN_CHANNELS = 128


def _bn_scale_shift(bn: nn.BatchNorm2d) -> Tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight.detach() / torch.sqrt(bn.running_var.detach() + bn.eps)
    return scale, bn.bias.detach() - bn.running_mean.detach() * scale


class OptimizedStackGAN(nn.Module):
    """A faster, inference-only copy of a StackGAN-Pytorch ``STAGE2_G`` (same ``forward`` and ``sample``).

    Args:
        generator: the ``STAGE2_G`` (not modified; kept as :attr:`original`).
        channels_last: NHWC activations.
        prepack: pre-pack the weights for oneDNN (CPU, float32; other devices use the plain ops).
        chunk_size: images per piece of a batch; ``None``: 1 on CPU, the whole batch elsewhere; 0: never split.
        winograd: run the 16 px 3×3 convolutions as Winograd F(2×2, 3×3) on CPU float32 (see the module docs).
    """

    def __init__(self, generator: nn.Module, channels_last: bool = True, prepack: bool = True,
                 chunk_size: Optional[int] = None, winograd: bool = True) -> None:
        super().__init__()
        if getattr(generator, "ca_variant", None) != "relu" or not hasattr(generator, "STAGE1_G"):
            raise TypeError(f"OptimizedStackGAN needs a StackGAN-Pytorch STAGE2_G, got {type(generator).__name__}")
        object.__setattr__(self, "original", generator)  # held, not registered: .to() sees only the snapshot
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.prepack, self.chunk_size, self.winograd = prepack, chunk_size, winograd
        self.config = dict(generator.config)
        self.registry_name = generator.registry_name
        self.z_dim, self.ef_dim, self.ef1_dim = generator.z_dim, generator.ef_dim, generator.STAGE1_G.ef_dim
        self.extra_noise_dim = generator.extra_noise_dim
        self._build()

    def _buf(self, name: str, t: torch.Tensor) -> None:
        t = t.detach().clone()
        if t.dim() == 4:
            t = t.contiguous(memory_format=self.fmt)
        self.register_buffer(name, t, persistent=False)

    def _conv_bn(self, name: str, conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], *, stride: int = 1,
                 padding: int = 1, up: bool = False, size: int = 0) -> None:
        """Record layer ``name``: its folded weight and bias, and how it runs (``size``: its input side)."""
        w = conv.weight.detach()
        b = torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        if bn is not None:
            scale, b = _bn_scale_shift(bn)
            w = w * scale[:, None, None, None]
        fold = up and size >= FOLD_MIN_SIZE
        if self.winograd and up and size <= WINOGRAD_UP_MAX_SIZE and w.shape[0] >= WINOGRAD_UP_MIN_CHANNELS:
            self._winograd_up.add(name)
            self._winograd_layers.add(name)
        # Winograd up blocks keep the 3x3 weight (transformed at first use; folded per call off the CPU)
        self._buf(name + "_w", upsample_conv_transpose_weight(w) if fold and name not in self._winograd_up else w)
        self._buf(name + "_b", b)
        self._layers[name] = ("convT" if fold else "conv", stride, padding, up and not fold)
        self._sizes[name] = [1, w.shape[1], size * (2 if up and not fold else 1)] if size else None

    @torch.no_grad()
    def _build(self) -> None:
        g, s1 = self.original, self.original.STAGE1_G
        self._layers: dict = {}
        self._sizes: dict = {}
        self._packed: dict = {}
        # the 3x3 convolutions on the 16 px maps: most of the arithmetic, and large enough GEMMs for Winograd
        self._winograd_layers = {"joint"} | {f"res{i}{j}" for i in range(len(g.residual)) for j in "ab"}
        # up blocks on small maps: Winograd of the up-sampled map, where 7 of 16 transformed inputs are 0
        self._winograd_up: set = set()  # filled by _conv_bn (which adds them to _winograd_layers too)
        for name, net in (("ca1", s1.ca_net), ("ca2", g.ca_net)):
            self._buf(name + "_w", net.fc.weight)
            self._buf(name + "_b", net.fc.bias)
        scale, shift = _bn_scale_shift(s1.fc[1])
        self._buf("fc_w", s1.fc[0].weight * scale[:, None])
        self._buf("fc_b", shift)
        for i in range(1, 5):
            up = getattr(s1, f"upsample{i}")
            self._conv_bn(f"s1up{i}", up[1], up[2], up=True, size=2 ** (i + 1))
            up = getattr(g, f"upsample{i}")
            self._conv_bn(f"up{i}", up[1], up[2], up=True, size=2 ** (i + 3))
        self._conv_bn("s1img", s1.img[0], None, size=64)
        self._conv_bn("enc0", g.encoder[0], None, size=64)
        self._conv_bn("enc1", g.encoder[2], g.encoder[3], stride=2, size=64)
        self._conv_bn("enc2", g.encoder[5], g.encoder[6], stride=2, size=32)
        self._conv_bn("joint", g.hr_joint[0], g.hr_joint[1], size=16)
        self.r_num = len(g.residual)
        for i, block in enumerate(g.residual):
            self._conv_bn(f"res{i}a", block.block[0], block.block[1], size=16)
            self._conv_bn(f"res{i}b", block.block[3], block.block[4], size=16)
        self._conv_bn("img", g.img[0], None, size=256)

    def refresh(self) -> "OptimizedStackGAN":
        """Rebuild the snapshot after the original's weights changed."""
        device = self.fc_w.device
        self._build()
        return self.to(device)

    def state_dict(self, *args, **kwargs):  # type: ignore[override]
        return self.original.state_dict(*args, **kwargs)

    def _use_mkldnn(self, x: torch.Tensor) -> bool:
        return (self.prepack and x.device.type == "cpu" and x.dtype == torch.float32
                and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))

    def _weight(self, name: str) -> torch.Tensor:
        """The oneDNN-packed weight of convolution ``name`` (packed once, at first use on CPU), for the layout
        oneDNN picks for a one-image input (the default piece; other batch sizes run correctly with it)."""
        if name not in self._packed:
            _, stride, padding, _ = self._layers[name]
            n, c, side = self._sizes[name]
            self._packed[name] = torch.ops.mkldnn._reorder_convolution_weight(
                getattr(self, name + "_w"), [padding] * 2, [stride] * 2, [1, 1], 1, [n, c, side, side])
            # the dense copy is not needed any more (``_apply`` rebuilds it from the original): less memory
            setattr(self, name + "_w", torch.empty(0))
        return self._packed[name]

    def _apply(self, fn, *args, **kwargs):  # .to() / .float() ...: dense weights rebuilt, packed ones when next used
        if self._packed:
            device = self.fc_w.device
            self._build()
            if device != self.fc_w.device:
                super()._apply(lambda t: t.to(device))
        return super()._apply(fn, *args, **kwargs)

    def _winograd_weight(self, name: str) -> torch.Tensor:
        """``G w Gᵀ`` of 3×3 conv ``name``: ``(16, Cin, Cout)`` (9 for up blocks); made once, dense copy dropped."""
        if name not in self._packed:
            w = getattr(self, name + "_w")
            g = torch.tensor([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], dtype=torch.float64,
                             device=w.device)
            if name in self._winograd_up:  # Bᵀ of a nearest-up-sampled tile [a, b, b, c] is [a-b, 2b, 0, b-c]
                g = g[[0, 1, 3]] * torch.tensor([[1.0], [2.0], [1.0]], dtype=g.dtype, device=g.device)
            u = w.new_empty(len(g) ** 2, w.shape[1], w.shape[0])
            for s in range(0, w.shape[0], 128):  # in float64, by slices of output channels: small temporaries
                part = torch.einsum("au,oiuv,bv->abio", g, w[s:s + 128].double(), g)
                u[:, :, s:s + 128] = part.reshape(len(g) ** 2, w.shape[1], -1)
            self._packed[name] = u
            setattr(self, name + "_w", torch.empty(0))
        return self._packed[name]

    def _use_winograd(self, name: str, x: torch.Tensor) -> bool:
        return (self.winograd and name in self._winograd_layers and x.device.type == "cpu"
                and x.dtype == torch.float32 and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0)

    def _conv_winograd_up(self, name: str, x: torch.Tensor, act: str) -> torch.Tensor:
        """Up block ``name`` (nearest ×2, 3×3 convolution) as Winograd F(2×2, 3×3) on the up-sampled map, which is
        never made: its 4×4 tiles at even offsets are rows [a, b, b, c] of the input, so with the 2 folded into
        the weights the transformed tile is [a - b, b, b - c] per axis, 9 GEMMs with one row per input pixel."""
        u = self._winograd_weight(name)
        n, c, h, w = x.shape
        cout = u.shape[2]
        p = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1, 1, 1))
        a, b, e = p[:, :h], p[:, 1:h + 1], p[:, 2:h + 2]
        t = (a - b, b, b - e)
        v = x.new_empty(3, 3, n, h, w, c)
        for k in range(3):
            a, b, e = t[k][:, :, :w], t[k][:, :, 1:w + 1], t[k][:, :, 2:w + 2]
            torch.sub(a, b, out=v[k, 0])
            v[k, 1].copy_(b)
            torch.sub(b, e, out=v[k, 2])
        m = torch.bmm(v.view(9, -1, c), u).view(3, 3, n, h, w, cout)
        r = (m[0] + m[1], m[1] - m[2])  # Aᵀ m, the zero component dropped
        y = x.new_empty(n, h, 2, w, 2, cout)
        for i in range(2):
            torch.add(r[i][0], r[i][1], out=y[:, :, i, :, 0])
            torch.sub(r[i][1], r[i][2], out=y[:, :, i, :, 1])
        y = y.view(n, 2 * h, 2 * w, cout).add_(getattr(self, name + "_b"))
        y = F.relu_(y) if act == "relu" else torch.tanh_(y) if act == "tanh" else y
        return y.permute(0, 3, 1, 2)

    def _conv_winograd(self, name: str, x: torch.Tensor, act: str, residual: Optional[torch.Tensor]):
        """3×3, stride 1, padding 1 convolution ``name`` as Winograd F(2×2, 3×3), NHWC throughout."""
        if name in self._winograd_up:
            return self._conv_winograd_up(name, x, act)
        u = self._winograd_weight(name)
        n, c, h, w = x.shape
        th, tw, cout = h // 2, w // 2, u.shape[2]
        p = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1, 1, 1))  # (n, h+2, w+2, c)
        d = [p[:, r:r + h:2] for r in range(4)]  # rows of the 4×4 tiles (stride 2): (n, th, w+2, c)
        t = (d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3])  # Bᵀ d
        v = x.new_empty(4, 4, n, th, tw, c)
        for k in range(4):  # (Bᵀ d) B, written straight into the GEMM operand
            e = [t[k][:, :, s:s + w:2] for s in range(4)]
            torch.sub(e[0], e[2], out=v[k, 0])
            torch.add(e[1], e[2], out=v[k, 1])
            torch.sub(e[2], e[1], out=v[k, 2])
            torch.sub(e[1], e[3], out=v[k, 3])
        m = torch.bmm(v.view(16, -1, c), u).view(4, 4, n, th, tw, cout)
        r = (m[0] + m[1] + m[2], m[1] - m[2] - m[3])  # Aᵀ m
        y = x.new_empty(n, th, 2, tw, 2, cout)
        for i in range(2):  # (Aᵀ m) A, into the interleaved output pixels
            torch.add(r[i][0] + r[i][1], r[i][2], out=y[:, :, i, :, 0])
            torch.sub(r[i][1] - r[i][2], r[i][3], out=y[:, :, i, :, 1])
        y = y.view(n, h, w, cout).add_(getattr(self, name + "_b"))
        if residual is not None:
            y = y.add_(residual.permute(0, 2, 3, 1))
        y = F.relu_(y) if act == "relu" else torch.tanh_(y) if act == "tanh" else y
        return y.permute(0, 3, 1, 2)  # a channels_last NCHW view

    def _conv(self, name: str, x: torch.Tensor, act: str = "none", residual: Optional[torch.Tensor] = None):
        """Layer ``name`` on ``x``, then ``act`` ("none", "relu", "tanh"), after adding ``residual`` if given."""
        if self._use_winograd(name, x):
            return self._conv_winograd(name, x, act, residual)
        kind, stride, padding, upsample = self._layers[name]
        if upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest").contiguous(memory_format=self.fmt)
        b = getattr(self, name + "_b")
        if kind == "conv" and self._use_mkldnn(x):  # transposed ones gain nothing from packing (measured)
            mk, w = torch.ops.mkldnn, self._weight(name)
            if residual is not None:
                return mk._convolution_pointwise.binary(x, residual, w, b, [padding] * 2, [stride] * 2, [1, 1], 1,
                                                        "add", None, act, [], "")
            return mk._convolution_pointwise(x, w, b, [padding] * 2, [stride] * 2, [1, 1], 1, act, [], "")
        w = getattr(self, name + "_w")
        if kind == "convT" and name in self._winograd_up:  # stored as the 3x3 weight for Winograd
            w = upsample_conv_transpose_weight(w)
        y = (F.conv_transpose2d(x, w, b, stride=2, padding=1) if kind == "convT"
             else F.conv2d(x, w, b, stride=stride, padding=padding))
        if residual is not None:
            y = y.add_(residual)
        return F.relu_(y) if act == "relu" else torch.tanh_(y) if act == "tanh" else y

    def _ca(self, name: str, text: torch.Tensor, eps: Optional[torch.Tensor], dim: int):
        x = F.relu_(F.linear(text, getattr(self, name + "_w"), getattr(self, name + "_b")))
        mu, logvar = x[:, :dim], x[:, dim:]
        if eps is None:
            eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)
        return eps.to(mu.dtype).mul(torch.exp(0.5 * logvar)).add_(mu), mu, logvar

    def _forward(self, c1: torch.Tensor, c2: torch.Tensor, noise: torch.Tensor):
        h = F.relu_(F.linear(torch.cat((noise, c1), 1), self.fc_w, self.fc_b))
        h = h.view(noise.shape[0], -1, 4, 4).contiguous(memory_format=self.fmt)
        for i in range(1, 5):
            h = self._conv(f"s1up{i}", h, "relu")
        stage1 = self._conv("s1img", h, "tanh")
        h = self._conv("enc0", stage1, "relu")
        h = self._conv("enc1", h, "relu")
        h = self._conv("enc2", h, "relu")
        c = c2[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        h = self._conv("joint", torch.cat((h, c), 1).contiguous(memory_format=self.fmt), "relu")
        for i in range(self.r_num):
            h = self._conv(f"res{i}b", self._conv(f"res{i}a", h, "relu"), "relu", residual=h)
        for i in range(1, 5):
            h = self._conv(f"up{i}", h, "relu")
        return stage1, self._conv("img", h, "tanh")

    def forward(self, text_embedding: torch.Tensor, noise: torch.Tensor, eps: Optional[torch.Tensor] = None,
                eps_stage1: Optional[torch.Tensor] = None):
        with torch.inference_mode():
            c1, _, _ = self._ca("ca1", text_embedding, eps_stage1, self.ef1_dim)
            c2, mu, logvar = self._ca("ca2", text_embedding, eps, self.ef_dim)
            chunk = self.chunk_size if self.chunk_size is not None else (1 if noise.device.type == "cpu" else 0)
            chunk = chunk or noise.shape[0]
            parts = [self._forward(c1[s:s + chunk], c2[s:s + chunk], noise[s:s + chunk])
                     for s in range(0, noise.shape[0], chunk)]
            stage1 = torch.cat([p[0] for p in parts]) if len(parts) > 1 else parts[0][0].contiguous()
            img = torch.cat([p[1] for p in parts]) if len(parts) > 1 else parts[0][1].contiguous()
            return stage1, img, mu, logvar

    def sample(self, sentence: torch.Tensor, noise: torch.Tensor, extra_noise: Optional[torch.Tensor] = None):
        eps1 = eps2 = None
        if extra_noise is not None:
            eps1, eps2 = extra_noise[:, : self.ef1_dim], extra_noise[:, self.ef1_dim:]
        return self(sentence, noise, eps2, eps1)[1]
