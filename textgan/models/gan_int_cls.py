"""GAN-INT-CLS: Generative Adversarial Text-to-Image Synthesis (Reed et al., ICML 2016).

Two lineages, which are *different networks*:

* **The authors' Lua networks** (reedscot/icml2016 ``main_cls_int.lua``; ``main_cls.lua`` for COCO GAN-CLS;
  MIT). Generator: ``fcG`` = Linear(1024 → 128) + LeakyReLU(0.2) (no BatchNorm), joined as **[noise, text]**,
  then full convolutions with BatchNorm and a residual block after the first two (``x + BN(conv3x3(ReLU(BN(
  conv3x3(ReLU(BN(conv1x1 x)))))))``, then ReLU), 64×64 output. Discriminator: convolutions with a residual
  block, the text branch Linear + **BatchNorm1d** (GAN-INT-CLS only) + LeakyReLU replicated to 4×4, a 1×1
  fusion convolution and a 4×4 convolution + sigmoid. Convolutions have biases; Lua training zeroes them before
  every step but saves what the last Adam step left, and the demo uses them as saved, as does textgan.
  Released as bare ``nn.Sequential`` ``.t7`` files: :func:`model_from_torch7` reads them.
* **The PyTorch ports** (aelnouby/Text-to-Image-Synthesis ``models/gan_cls.py`` and bojito/text-to-image-synthesis
  ``models/gan_model.py``, identical, MIT): a plain DCGAN generator on cat(**[text, noise]**) with a
  BatchNorm1d in the projection and no residual blocks or biases, called ``G(embed, z)``; the discriminator
  returns ``(score, features)``. aelnouby's checkpoints carry a ``module.`` prefix (``from_official`` strips
  it). No weights were released.

GAN-INT (training on interpolated text embeddings) is :func:`interpolate_text` / :func:`gan_int_batch`.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import PretrainedTag, register_model, register_pretrained
from ..errors import ArchitectureMismatchError

__all__ = [
    "GANINTCLSGenerator", "GANINTCLSDiscriminator", "GANINTCLSLuaGenerator", "GANINTCLSLuaDiscriminator",
    "ReedResidualBlock", "interpolate_text", "gan_int_batch", "average_captions", "config_from_state_dict",
    "model_from_torch7",
]


def _noise4d(noise: torch.Tensor, nz: int) -> torch.Tensor:
    if noise.dim() == 2:
        noise = noise[:, :, None, None]
    if noise.dim() != 4 or noise.shape[1:] != (nz, 1, 1):
        raise ValueError(f"noise must be (B, {nz}) or (B, {nz}, 1, 1), got {tuple(noise.shape)}")
    return noise


# ------------------------------------------------------------------------------------- PyTorch ports


class GANINTCLSGenerator(nn.Module):
    """The PyTorch ports' generator (``generator`` of aelnouby / bojito), sizes as constructor arguments.

    Forward: ``(embed (B, embed_dim), z (B, nz) or (B, nz, 1, 1))`` → images (B, nc, 64, 64) in [-1, 1].
    ``pipeline_inputs`` keeps that (text, noise) order for :class:`~textgan.pipelines.TextToImagePipeline`.
    """

    registry_name = "gan_int_cls"
    pipeline_inputs = ("sentence", "noise")

    def __init__(self, ngf: int = 64, nz: int = 100, embed_dim: int = 1024, projected_dim: int = 128, nc: int = 3):
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, embed_dim=embed_dim, projected_dim=projected_dim, nc=nc)
        self.projection = nn.Sequential(nn.Linear(embed_dim, projected_dim), nn.BatchNorm1d(projected_dim),
                                        nn.LeakyReLU(0.2, inplace=True))
        layers: List[nn.Module] = []
        chans = [nz + projected_dim, ngf * 8, ngf * 4, ngf * 2, ngf]
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.netG = nn.Sequential(*layers)

    def forward(self, embed: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        text = self.projection(embed)[:, :, None, None]
        return self.netG(torch.cat([text, _noise4d(z, self.config["nz"])], 1))


class _ConcatEmbed(nn.Module):
    """The ports' ``Concat_embed``: projected text tiled to 4×4 and appended to the image features."""

    def __init__(self, embed_dim: int, projected_dim: int):
        super().__init__()
        self.projection = nn.Sequential(nn.Linear(embed_dim, projected_dim), nn.BatchNorm1d(projected_dim),
                                        nn.LeakyReLU(0.2, inplace=True))

    def forward(self, features: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
        text = self.projection(embed)[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return torch.cat([features, text], 1)


class GANINTCLSDiscriminator(nn.Module):
    """The PyTorch ports' discriminator: ``(image (B, nc, 64, 64), embed)`` → ``(score (B,), features
    (B, 8·ndf, 4, 4))``, the sigmoid score and the features their feature-matching loss uses."""

    registry_name = "gan_int_cls_discriminator"

    def __init__(self, ndf: int = 64, embed_dim: int = 1024, projected_dim: int = 128, nc: int = 3):
        super().__init__()
        self.config = dict(ndf=ndf, embed_dim=embed_dim, projected_dim=projected_dim, nc=nc)
        layers: List[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in ((ndf, ndf * 2), (ndf * 2, ndf * 4), (ndf * 4, ndf * 8)):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        self.netD_1 = nn.Sequential(*layers)
        self.projector = _ConcatEmbed(embed_dim, projected_dim)
        self.netD_2 = nn.Sequential(nn.Conv2d(ndf * 8 + projected_dim, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, image: torch.Tensor, embed: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = self.netD_1(image)
        score = self.netD_2(self.projector(features, embed))
        return score.reshape(-1), features


# ------------------------------------------------------------------------------------- Reed's Lua networks


class ReedResidualBlock(nn.Module):
    """``x + BN(conv3x3(act(BN(conv3x3(act(BN(conv1x1(x))))))))`` (``nn.ConcatTable{Identity, ...}`` +
    ``CAddTable`` in icml2016); ``act`` is ReLU in the generator, LeakyReLU(0.2) in the discriminator."""

    def __init__(self, channels: int, bottleneck: int, leaky: bool = False):
        super().__init__()
        self.leaky = leaky
        self.conv1, self.bn1 = nn.Conv2d(channels, bottleneck, 1), nn.BatchNorm2d(bottleneck)
        self.conv2, self.bn2 = nn.Conv2d(bottleneck, bottleneck, 3, 1, 1), nn.BatchNorm2d(bottleneck)
        self.conv3, self.bn3 = nn.Conv2d(bottleneck, channels, 3, 1, 1), nn.BatchNorm2d(channels)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2) if self.leaky else F.relu(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._act(self.bn1(self.conv1(x)))
        h = self._act(self.bn2(self.conv2(h)))
        return x + self.bn3(self.conv3(h))


class GANINTCLSLuaGenerator(nn.Module):
    """Reed's generator (``netG`` of icml2016 ``main_cls_int.lua``).

    Args:
        ngf: base width (128 in the released CUB and flowers models, 196 for COCO).
        nz: noise width (100). txt_dim: text embedding width (1024). nt: projected text width (128).
        nc: image channels. res_blocks: residual blocks after each of the first two stages (1; 2 is
            ``main_cls.lua`` with ``large=1``).

    Forward: ``(noise (B, nz) or (B, nz, 1, 1), text (B, txt_dim))`` → (B, nc, 64, 64) in [-1, 1], noise first
    as in Lua's ``net_gen:forward{noise, text}``.
    """

    registry_name = "gan_int_cls_lua"

    def __init__(self, ngf: int = 128, nz: int = 100, txt_dim: int = 1024, nt: int = 128, nc: int = 3,
                 res_blocks: int = 1):
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, txt_dim=txt_dim, nt=nt, nc=nc, res_blocks=res_blocks)
        self.fcG = nn.Linear(txt_dim, nt)
        self.deconv1, self.bn1 = nn.ConvTranspose2d(nz + nt, ngf * 8, 4), nn.BatchNorm2d(ngf * 8)
        self.res1 = nn.ModuleList(ReedResidualBlock(ngf * 8, ngf * 2) for _ in range(res_blocks))
        self.deconv2, self.bn2 = nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1), nn.BatchNorm2d(ngf * 4)
        self.res2 = nn.ModuleList(ReedResidualBlock(ngf * 4, ngf) for _ in range(res_blocks))
        self.deconv3, self.bn3 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1), nn.BatchNorm2d(ngf * 2)
        self.deconv4, self.bn4 = nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1), nn.BatchNorm2d(ngf)
        self.deconv5 = nn.ConvTranspose2d(ngf, nc, 4, 2, 1)

    def forward(self, noise: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        t = F.leaky_relu(self.fcG(text), 0.2)[:, :, None, None]
        x = self.bn1(self.deconv1(torch.cat([_noise4d(noise, self.config["nz"]), t], 1)))
        for block in self.res1:
            x = block(x)
        x = self.bn2(self.deconv2(F.relu(x)))
        for block in self.res2:
            x = block(x)
        x = F.relu(self.bn3(self.deconv3(F.relu(x))))
        x = F.relu(self.bn4(self.deconv4(x)))
        return torch.tanh(self.deconv5(x))


class GANINTCLSLuaDiscriminator(nn.Module):
    """Reed's discriminator (``netD`` of ``main_cls_int.lua``; ``text_bn=False, act3=True`` is ``main_cls.lua``).

    Args:
        ndf: base width (64 CUB, 128 flowers, 196 COCO). txt_dim, nt, nc: as the generator.
        res_blocks: residual blocks at 4×4 (1).
        text_bn: BatchNorm1d in the text branch (GAN-INT-CLS; not in GAN-CLS ``main_cls.lua``).
        act3: LeakyReLU after the third convolution (``main_cls.lua``; ``main_cls_int.lua`` has none).

    Forward: ``(image (B, nc, 64, 64), text (B, txt_dim))`` → sigmoid score (B,) (Lua's ``View(1)`` gives
    the same numbers as (B, 1)).
    """

    registry_name = "gan_int_cls_lua_discriminator"

    def __init__(self, ndf: int = 64, txt_dim: int = 1024, nt: int = 128, nc: int = 3, res_blocks: int = 1,
                 text_bn: bool = True, act3: bool = False):
        super().__init__()
        self.config = dict(ndf=ndf, txt_dim=txt_dim, nt=nt, nc=nc, res_blocks=res_blocks, text_bn=text_bn, act3=act3)
        self.conv1 = nn.Conv2d(nc, ndf, 4, 2, 1)
        self.conv2, self.bn2 = nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.BatchNorm2d(ndf * 2)
        self.conv3, self.bn3 = nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.BatchNorm2d(ndf * 4)
        self.conv4, self.bn4 = nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1), nn.BatchNorm2d(ndf * 8)
        self.res = nn.ModuleList(ReedResidualBlock(ndf * 8, ndf * 2, leaky=True) for _ in range(res_blocks))
        self.fcD = nn.Linear(txt_dim, nt)
        self.fcD_bn = nn.BatchNorm1d(nt) if text_bn else None
        self.conv5, self.bn5 = nn.Conv2d(ndf * 8 + nt, ndf * 8, 1), nn.BatchNorm2d(ndf * 8)
        self.conv6 = nn.Conv2d(ndf * 8, 1, 4)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(image), 0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        x = self.bn3(self.conv3(x))
        x = F.leaky_relu(x, 0.2) if self.config["act3"] else x
        x = self.bn4(self.conv4(x))
        for block in self.res:
            x = block(x)
        x = F.leaky_relu(x, 0.2)
        t = self.fcD(text)
        t = F.leaky_relu(self.fcD_bn(t) if self.fcD_bn is not None else t, 0.2)
        if x.shape[2:] != (4, 4):
            raise ValueError(f"the image features are {tuple(x.shape[2:])}, not 4x4: the images must be 64x64")
        h = torch.cat([x, t[:, :, None, None].expand(-1, -1, 4, 4)], 1)  # Replicate(4, 3), Replicate(4, 4)
        h = F.leaky_relu(self.bn5(self.conv5(h)), 0.2)
        return torch.sigmoid(self.conv6(h)).reshape(-1)


# ------------------------------------------------------------------------------------------- GAN-INT


def interpolate_text(a: torch.Tensor, b: torch.Tensor, weights: Union[int, Sequence[float], torch.Tensor]) -> torch.Tensor:
    """Embeddings on the line from ``a`` to ``b`` (each (D,) or (B, D)): ``(1 − w)·a + w·b`` for each weight
    (``weights`` = an int n gives n evenly spaced weights from 0 to 1). Returns (len(weights), [B,] D)."""
    if isinstance(weights, int):
        if weights < 1:
            raise ValueError(f"weights: need at least one point, got {weights}")
        weights = torch.linspace(0, 1, weights) if weights > 1 else torch.zeros(1)
    w = torch.as_tensor(weights, dtype=a.dtype, device=a.device).reshape(-1, *([1] * a.dim()))
    return (1 - w) * a + w * b


def gan_int_batch(text: torch.Tensor, weight: float = 0.5) -> torch.Tensor:
    """GAN-INT's generator batch (``main_cls_int.lua``, ``interp_type=1``): the B embeddings followed by B/2
    interpolations between the first and second halves, ``(1 − w)·t[:B/2] + w·t[B/2:]`` (Lua: w = 0.5)."""
    if text.shape[0] % 2:
        raise ValueError(f"GAN-INT needs an even batch (first and second halves are paired), got {text.shape[0]}")
    half = text.shape[0] // 2
    return torch.cat([text, (1 - weight) * text[:half] + weight * text[half:]])


def average_captions(embeddings: torch.Tensor) -> torch.Tensor:
    """(B, k, D) → (B, D): Lua's ``netR``, the mean of an image's k caption embeddings (k = 4 for CUB)."""
    return embeddings.mean(1)


# ------------------------------------------------------------------------------------ PyTorch-port files

OFFICIAL_KINDS = ("gan_int_cls", "gan_int_cls_discriminator")
_CLASSES = {"gan_int_cls": GANINTCLSGenerator, "gan_int_cls_discriminator": GANINTCLSDiscriminator}
_WHAT = {"gan_int_cls": "GAN-INT-CLS PyTorch-port generator (aelnouby/bojito `generator`)",
         "gan_int_cls_discriminator": "GAN-INT-CLS PyTorch-port discriminator (aelnouby/bojito `discriminator`)"}
_HINT = ("the PyTorch ports save gen_<epoch>.pth / disc_<epoch>.pth state dicts ('module.' keys in aelnouby's); "
         "Reed's Lua .t7 networks go through textgan.convert.gan_int_cls_from_torch7")


def _shape(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    if key not in sd:
        raise ArchitectureMismatchError(f"{what}: key {key!r} is missing, so these weights are not a {what} "
                                        f"(first keys: {', '.join(list(sd)[:5])})")
    return sd[key].shape


def config_from_state_dict(kind: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of a PyTorch-port generator or discriminator state dict (prefix-free)."""
    if kind == "gan_int_cls":
        proj = _shape(sd, "projection.0.weight", _WHAT[kind])
        first = _shape(sd, "netG.0.weight", _WHAT[kind])
        return dict(ngf=first[1] // 8, nz=first[0] - proj[0], embed_dim=proj[1], projected_dim=proj[0],
                    nc=_shape(sd, "netG.12.weight", _WHAT[kind])[1])
    if kind == "gan_int_cls_discriminator":
        conv = _shape(sd, "netD_1.0.weight", _WHAT[kind])
        proj = _shape(sd, "projector.projection.0.weight", _WHAT[kind])
        return dict(ndf=conv[0], embed_dim=proj[1], projected_dim=proj[0], nc=conv[1])
    raise KeyError(kind)


# ------------------------------------------------------------------------------------ Lua .t7 networks


class _Cursor:
    """Walks the children of a Lua container, checking each class against the expected layout."""

    def __init__(self, seq, where: str, error):
        from ..convert.torch7 import ordered

        self.items = [(m, f"{where}.modules[{i}]") for i, m in enumerate(ordered(seq.get("modules")), 1)]
        self.i, self.where, self.error = 0, where, error

    def peek(self) -> Optional[str]:
        from ..convert.torch7 import lua_class

        return lua_class(self.items[self.i][0]) if self.i < len(self.items) else None

    def take(self, *names: str):
        from ..convert.torch7 import lua_class

        if self.i >= len(self.items):
            raise self.error(f"{self.where} ends after {self.i} modules where nn.{' or nn.'.join(names)} should follow")
        m, w = self.items[self.i]
        if lua_class(m) not in names:
            raise self.error(f"{w} is {getattr(m, 'typename', type(m).__name__)}, expected nn.{' or nn.'.join(names)}")
        self.i += 1
        if lua_class(m) == "LeakyReLU" and abs(float(m.get("negval", 0.01)) - 0.2) > 1e-9:
            raise self.error(f"{w} is LeakyReLU({m.get('negval')}), expected LeakyReLU(0.2)")
        return m, w

    def end(self) -> None:
        if self.i < len(self.items):
            m, w = self.items[self.i]
            raise self.error(f"{w} ({m.typename}) follows where {self.where} should end")


class _Collector:
    """Leaf conversions into our state dict, remembering each converted module to compare its geometry."""

    def __init__(self, dtype: torch.dtype):
        from ..convert import torch7

        self.dtype, self.sd, self.pairs = dtype, {}, []
        self.fns = {"SpatialConvolution": torch7.spatial_convolution, "SpatialFullConvolution": torch7.full_convolution,
                    "SpatialBatchNormalization": torch7.batch_norm, "BatchNormalization": torch7.batch_norm,
                    "Linear": torch7.linear}

    def __call__(self, name: str, item) -> nn.Module:
        from ..convert.torch7 import lua_class

        obj, where = item
        mod = self.fns[lua_class(obj)](obj, where, self.dtype)
        self.sd.update({f"{name}.{k}": v for k, v in mod.state_dict().items()})
        self.pairs.append((name, mod, where))
        return mod

    def build(self, cls, config: dict, source: str, error):
        from .._weights import build_from_state_dict

        with torch.device("meta"):
            reference = cls(**config)
        for name, mod, where in self.pairs:
            ours = reference.get_submodule(name)
            for attr in ("kernel_size", "stride", "padding", "output_padding", "groups", "eps"):
                if hasattr(ours, attr) and getattr(ours, attr) != getattr(mod, attr):
                    raise error(f"{where} has {attr} {getattr(mod, attr)}, expected {getattr(ours, attr)}")
        return build_from_state_dict(cls, config, self.sd, f"{source} as a {cls.__name__}")


def _residual(cur: _Cursor, col: _Collector, prefix: str, act: str, error) -> None:
    conc = cur.take("ConcatTable")
    inner = _Cursor(conc[0], conc[1], error)
    inner.take("Identity")
    seq = _Cursor(inner.take("Sequential")[0], inner.items[1][1], error)
    inner.end()
    for i in (1, 2, 3):
        col(f"{prefix}.conv{i}", seq.take("SpatialConvolution"))
        col(f"{prefix}.bn{i}", seq.take("SpatialBatchNormalization"))
        if i < 3:
            seq.take(act)
    seq.end()
    cur.take("CAddTable")


def _lua_generator(net, source: str, dtype: torch.dtype) -> GANINTCLSLuaGenerator:
    error = lambda m: ArchitectureMismatchError(f"{source}: not a GAN-INT-CLS generator: {m}")  # noqa: E731
    col, top = _Collector(dtype), _Cursor(net, "net", error)
    pt = _Cursor(top.take("ParallelTable")[0], "net.modules[1]", error)
    pt.take("Identity")
    fc = _Cursor(pt.take("Sequential")[0], "net.modules[1].modules[2]", error)
    pt.end()
    lin = col("fcG", fc.take("Linear"))
    fc.take("LeakyReLU")
    fc.end()
    top.take("JoinTable")
    blocks = []
    for stage in (1, 2):
        col(f"deconv{stage}", top.take("SpatialFullConvolution"))
        col(f"bn{stage}", top.take("SpatialBatchNormalization"))
        n = 0
        while top.peek() == "ConcatTable":
            _residual(top, col, f"res{stage}.{n}", "ReLU", error)
            n += 1
        blocks.append(n)
        top.take("ReLU")
    for stage in (3, 4):
        col(f"deconv{stage}", top.take("SpatialFullConvolution"))
        col(f"bn{stage}", top.take("SpatialBatchNormalization"))
        top.take("ReLU")
    last = col("deconv5", top.take("SpatialFullConvolution"))
    top.take("Tanh")
    top.end()
    if blocks[0] != blocks[1]:
        raise error(f"{blocks[0]} residual blocks after the first stage but {blocks[1]} after the second")
    first = col.sd["deconv1.weight"]
    config = dict(ngf=first.shape[1] // 8, nz=first.shape[0] - lin.out_features, txt_dim=lin.in_features,
                  nt=lin.out_features, nc=last.out_channels, res_blocks=blocks[0])
    return col.build(GANINTCLSLuaGenerator, config, source, error)


def _lua_discriminator(net, source: str, dtype: torch.dtype) -> GANINTCLSLuaDiscriminator:
    error = lambda m: ArchitectureMismatchError(f"{source}: not a GAN-INT-CLS discriminator: {m}")  # noqa: E731
    col, top = _Collector(dtype), _Cursor(net, "net", error)
    pt = _Cursor(top.take("ParallelTable")[0], "net.modules[1]", error)
    conv = _Cursor(pt.take("Sequential")[0], "net.modules[1].modules[1]", error)
    fc = _Cursor(pt.take("Sequential")[0], "net.modules[1].modules[2]", error)
    pt.end()
    c1 = col("conv1", conv.take("SpatialConvolution"))
    conv.take("LeakyReLU")
    col("conv2", conv.take("SpatialConvolution"))
    col("bn2", conv.take("SpatialBatchNormalization"))
    conv.take("LeakyReLU")
    col("conv3", conv.take("SpatialConvolution"))
    col("bn3", conv.take("SpatialBatchNormalization"))
    act3 = conv.peek() == "LeakyReLU"
    if act3:
        conv.take("LeakyReLU")
    col("conv4", conv.take("SpatialConvolution"))
    col("bn4", conv.take("SpatialBatchNormalization"))
    n = 0
    while conv.peek() == "ConcatTable":
        _residual(conv, col, f"res.{n}", "LeakyReLU", error)
        n += 1
    conv.take("LeakyReLU")
    conv.end()
    lin = col("fcD", fc.take("Linear"))
    text_bn = fc.peek() == "BatchNormalization"
    if text_bn:
        col("fcD_bn", fc.take("BatchNormalization"))
    fc.take("LeakyReLU")
    for dim in (3, 4):
        rep, where = fc.take("Replicate")
        if int(rep.get("nfeatures", 0)) != 4 or int(rep.get("dim", 1)) != dim:
            raise error(f"{where} is Replicate({rep.get('nfeatures')}, {rep.get('dim')}), expected Replicate(4, {dim})")
    fc.end()
    top.take("JoinTable")
    col("conv5", top.take("SpatialConvolution"))
    col("bn5", top.take("SpatialBatchNormalization"))
    top.take("LeakyReLU")
    col("conv6", top.take("SpatialConvolution"))
    top.take("Sigmoid")
    if top.peek() == "View":
        top.take("View")
    top.end()
    config = dict(ndf=c1.out_channels, txt_dim=lin.in_features, nt=lin.out_features, nc=c1.in_channels,
                  res_blocks=n, text_bn=text_bn, act3=act3)
    return col.build(GANINTCLSLuaDiscriminator, config, source, error)


def model_from_torch7(obj, source: str, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Reed's generator or discriminator from a read ``.t7`` (a bare ``nn.Sequential``; cudnn classes and CUDA
    tensors are fine)."""
    from ..convert.torch7 import lua_class, ordered

    hint = ("expected the bare nn.Sequential of icml2016's ..._net_G.t7 or ..._net_D.t7, found "
            f"{getattr(obj, 'typename', type(obj).__name__)}")
    if lua_class(obj) != "Sequential":
        if lua_class(obj) == "gModule" or (isinstance(obj, dict) and "protos" in obj):
            hint += " (a char-CNN-RNN text encoder? use textgan.convert.char_cnn_rnn_from_torch7)"
        raise ArchitectureMismatchError(f"{source}: not a GAN-INT-CLS network: {hint}")
    kids = ordered(obj.get("modules"))
    inner = ordered(kids[0].get("modules")) if kids and lua_class(kids[0]) == "ParallelTable" else []
    if inner and lua_class(inner[0]) == "Identity":
        return _lua_generator(obj, source, dtype)
    if inner and lua_class(inner[0]) == "Sequential":
        return _lua_discriminator(obj, source, dtype)
    raise ArchitectureMismatchError(f"{source}: not a GAN-INT-CLS network: its first module is "
                                    f"{getattr(kids[0], 'typename', None) if kids else 'missing'}, not the "
                                    "ParallelTable that takes {noise, text} or {image, text}")


# ------------------------------------------------------------------------------------ registered models


@register_model("gan-int-cls")
def gan_int_cls(*, ngf: int = 64, nz: int = 100, embed_dim: int = 1024, projected_dim: int = 128,
                nc: int = 3) -> GANINTCLSGenerator:
    """The PyTorch ports' GAN-INT-CLS generator (aelnouby / bojito; defaults as hard-coded there)."""
    return GANINTCLSGenerator(ngf, nz, embed_dim, projected_dim, nc)


@register_model("gan-int-cls")
def gan_int_cls_discriminator(*, ndf: int = 64, embed_dim: int = 1024, projected_dim: int = 128,
                              nc: int = 3) -> GANINTCLSDiscriminator:
    """The PyTorch ports' GAN-INT-CLS discriminator."""
    return GANINTCLSDiscriminator(ndf, embed_dim, projected_dim, nc)


@register_model("gan-int-cls")
def gan_int_cls_lua(*, ngf: int = 128, nz: int = 100, txt_dim: int = 1024, nt: int = 128, nc: int = 3,
                    res_blocks: int = 1) -> GANINTCLSLuaGenerator:
    """Reed's Lua GAN-INT-CLS generator (released CUB and flowers models: ngf 128)."""
    return GANINTCLSLuaGenerator(ngf, nz, txt_dim, nt, nc, res_blocks)


@register_model("gan-int-cls")
def gan_int_cls_lua_discriminator(*, ndf: int = 64, txt_dim: int = 1024, nt: int = 128, nc: int = 3,
                                  res_blocks: int = 1, text_bn: bool = True,
                                  act3: bool = False) -> GANINTCLSLuaDiscriminator:
    """Reed's Lua GAN-INT-CLS discriminator (never released; ``main_cls_int.lua``)."""
    return GANINTCLSLuaDiscriminator(ndf, txt_dim, nt, nc, res_blocks, text_bn, act3)


_PAPER = "Reed et al., Generative Adversarial Text to Image Synthesis, ICML 2016"
_DRIVE = "https://drive.google.com/open?id=0B0ywwgffWnLL"
_FORMAT = ("Lua Torch7 binary .t7: bare nn.Sequential (main_cls_int.lua netG; trained with use_cudnn=1, so cudnn "
           "classes and CUDA tensors are expected)")
for _tag, _dataset, _g, _gfile, _te, _tefile, _variant in (
    ("birds", "CUB-200-2011", "SW84ZXRjdXhObzQ", "cub_v2_nc4_cls0.5_int1.0_ngf128_ndf64_600_net_G.t7",
     "U0F3UHA3NzFTNEE", "lm_sje_nc4_cub_hybrid_gru18_a1_c512_0.00070_1_10_trainvalids.txt_iter30000.t7",
     "icml_birds (HybridCNNLong + FixedGRU, 18 steps, averaged, width 512)"),
    ("flowers", "Oxford-102 Flowers", "V0U4MGwzZ2JKT3c", "flowers_v2_nc1_cls0.5_int1.0_ngf128_ndf128_200_net_G.t7",
     "ZUt0UmQ1LU1oWlU", "lm_sje_flowers_c10_hybrid_0.00070_1_10_trainvalids.txt_iter16400.t7",
     "icml_flowers (HybridCNN + FixedRNN, 8 steps, width 512)"),
):
    register_pretrained(PretrainedTag(
        tag=f"gan-int-cls-{_tag}", family="gan-int-cls", dataset=_dataset, resolution=64,
        text_encoder=f"char-cnn-rnn {_variant}", license="MIT (reedscot/icml2016, reedscot/cvpr2016)",
        paper=_PAPER, original_url=_DRIVE + _g, original_filename=_gfile, file_format=_FORMAT,
        converter="gan-int-cls", hub_id=f"textgan/gan-int-cls-{_tag}",
        parts={"gan_int_cls_lua": "model.safetensors", "char_cnn_rnn": "text_encoder.safetensors"},
        text_encoder_url=f"{_DRIVE}{_te} ({_tefile}: checkpoint table with protos.enc_doc)",
        notes=("Convert with `textgan convert gan-int-cls NET_G.t7 --text-encoder ENC.t7 -o DIR`. The pair is the one "
               "icml2016's CONFIG and scripts/demo_*.sh use. No FID/IS was published with the release; the "
               "paper reports none."),
    ))


# ----------------------------------------------------------------------------------------------- pipelines


def _looks_like_torch7(path) -> bool:
    """Torch7 binary files start with a small little-endian type tag, ASCII ones with a digit and a newline;
    PyTorch files are zip archives or pickles. The suffix decides for files that cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return str(path).lower().endswith(".t7")
    return (len(head) >= 4 and head[0] in range(9) and head[1:4] == b"\0\0\0") or \
        (head[:1].isdigit() and b"\n" in head) or (not head and str(path).lower().endswith(".t7"))


def load_reed_module(source, part: str = "network", dtype: torch.dtype = torch.float32) -> nn.Module:
    """A module from one of Reed's files (``.t7``) or a PyTorch port's ``.pth``.

    ``part``: ``"network"`` (a GAN-INT-CLS generator or discriminator, told apart by the file), or
    ``"text_encoder"`` (a char-CNN-RNN). Modules pass through unchanged.
    """
    import os

    if isinstance(source, nn.Module):
        return source
    if part not in ("network", "text_encoder"):
        raise ValueError(f"part must be 'network' or 'text_encoder', got {part!r}")
    if _looks_like_torch7(source):
        from ..convert import torch7

        return (torch7.char_cnn_rnn_from_torch7 if part == "text_encoder" else torch7.gan_int_cls_from_torch7)(
            source, dtype=dtype)
    from .._weights import load_torch_file, strip_prefix
    from ..convert.official import from_official

    obj = load_torch_file(source)
    if part == "text_encoder":
        return from_official("char_cnn_rnn", obj, source=os.fspath(source), dtype=dtype)
    keys = strip_prefix(obj) if isinstance(obj, Mapping) else {}
    kind = "gan_int_cls_discriminator" if "netD_1.0.weight" in keys else "gan_int_cls"
    return from_official(kind, obj, source=os.fspath(source), dtype=dtype)


def gan_int_cls_pipeline(generator, text_encoder, *, tag: Optional[str] = None, tokenizer=None,
                         discriminator=None):
    """A :class:`~textgan.pipelines.TextToImagePipeline` (family ``gan-int-cls``) from Reed's files.

    Args:
        generator: icml2016 ``..._net_G.t7`` (or a PyTorch port's generator ``.pth``, or a module).
        text_encoder: the char-CNN-RNN ``.t7`` it was trained with (``lm_sje_*.t7``), a port state dict or a module.
        tag: the pretrained tag these files are (``"gan-int-cls-birds"``), recorded in config.json.
        tokenizer: a :class:`~textgan.text.charcnnrnn.CharTokenizer`, or ``"default"`` (lower-case, unknown
            characters → zero columns), ``"lua-demo"`` or ``"pytorch-port"``.
        discriminator: the matching ``..._net_D.t7`` (optional; saved alongside).
    """
    from .._download import file_record
    import os

    from ..pipelines import FAMILY_TRUNCATION, TextToImagePipeline
    from ..text.charcnnrnn import CharCNNRNN, CharTokenizer

    gen = load_reed_module(generator, "network")
    if not isinstance(gen, (GANINTCLSLuaGenerator, GANINTCLSGenerator)):
        raise ArchitectureMismatchError(f"{generator}: this is a discriminator; pass the generator (..._net_G.t7) "
                                        "and give the discriminator with discriminator=")
    enc = load_reed_module(text_encoder, "text_encoder")
    disc = load_reed_module(discriminator, "network") if discriminator is not None else None
    if not isinstance(enc, CharCNNRNN):
        raise ArchitectureMismatchError(f"{text_encoder}: not a char-CNN-RNN text encoder")
    width = gen.config.get("txt_dim", gen.config.get("embed_dim"))
    if enc.config["emb_dim"] != width:
        raise ArchitectureMismatchError(f"{generator} expects {width}-d text embeddings but {text_encoder} gives "
                                        f"{enc.config['emb_dim']}-d ones: these files do not belong together")
    presets = {"default": {}, "lua-demo": dict(lowercase=False, unknown="zero", utf8_bytes=True),
               "pytorch-port": dict(lowercase=True, unknown="space", utf8_bytes=False)}
    if tokenizer is None or isinstance(tokenizer, str):
        if (tokenizer or "default") not in presets:
            raise ValueError(f"tokenizer must be a CharTokenizer or one of {sorted(presets)}, got {tokenizer!r}")
        tokenizer = CharTokenizer(max_length=enc.doc_length, **presets[tokenizer or "default"])
    elif tokenizer.max_length != enc.doc_length:
        raise ValueError(f"the tokenizer writes {tokenizer.max_length} characters but {text_encoder} reads "
                         f"{enc.doc_length}: use CharTokenizer(max_length={enc.doc_length})")

    source = {name: file_record(p)
              for name, p in (("generator", generator), ("text_encoder", text_encoder), ("discriminator", discriminator))
              if isinstance(p, (str, os.PathLike))}
    source["converter"] = "textgan.convert.gan_int_cls_pipeline"
    return TextToImagePipeline(tokenizer, enc, gen, family="gan-int-cls", truncation=FAMILY_TRUNCATION["gan-int-cls"],
                               discriminator=disc, tag=tag, source=source)
