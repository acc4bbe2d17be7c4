"""DF-GAN: Deep Fusion GAN for text-to-image synthesis (Tao et al., CVPR 2022; arXiv v1 2020).

Original code: tobran/DF-GAN — the 2022 model at 78f14fd (``code/models/GAN.py``: ``NetG``, ``NetD``,
``NetC``) and the 2020 (arXiv v1) model at 9015356 (``code/model.py``: ``NetG``, ``NetD`` with its
``COND_DNET``). Licence: the repository's LICENSE.md (since June 2022, before 78f14fd) is CC BY-NC-SA 4.0,
which covers the 2022 release (non-commercial use); the 2020 code had no licence file.

The two versions are not interchangeable (see docs/families/dfgan.md): 2022 derives its depth from the
image size, conditions every affine on ``cat(noise, sentence)`` and has a separate condition head; 2020 has
seven blocks with a learnable residual scale, conditions on the sentence only and keeps the head in NetD.
Module names follow the authors' so their state dicts load with no key map beyond ``module.`` prefixes.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..nn import Affine, ConditionalLogitHead, FusionUpBlock, ResidualDownBlock

__all__ = [
    "DFGANGenerator",
    "DFGANDiscriminator",
    "DFGANConditionHead",
    "DFGAN2020Generator",
    "DFGAN2020Discriminator",
    "generator_channels",
    "discriminator_channels",
    "config_from_state_dict",
]


def _num_levels(imsize: int) -> int:
    levels = int(math.log2(imsize)) - 1
    if imsize < 8 or 2 ** (levels + 1) != imsize:
        raise ValueError(f"imsize must be a power of two >= 8 (64, 128, 256, ...), got {imsize}")
    return levels


def generator_channels(ngf: int, imsize: int) -> List[Tuple[int, int]]:
    """(in, out) channels of DF-GAN 2022's up blocks: ``ngf·min(2^i, 8)``, reversed, in pairs."""
    chans = [ngf * min(2 ** i, 8) for i in range(_num_levels(imsize))][::-1]
    return list(zip(chans[:-1], chans[1:]))


def discriminator_channels(ndf: int, imsize: int) -> List[Tuple[int, int]]:
    """(in, out) channels of DF-GAN 2022's down blocks: ``ndf·min(2^i, 8)`` in pairs."""
    chans = [ndf * min(2 ** i, 8) for i in range(_num_levels(imsize))]
    return list(zip(chans[:-1], chans[1:]))


class _Configurable(nn.Module):
    """Keeps the constructor arguments, so ``type(m)(**m.config)`` rebuilds the module (save/load)."""

    config: Dict[str, object]


# --------------------------------------------------------------------------------------------- 2022


class DFGANGenerator(_Configurable):
    """DF-GAN 2022 generator (``NetG``): ``fc`` → up blocks with deep fusion → ``to_rgb``.

    Args:
        ngf: base width (32 in the released models).
        nz: noise width (100).
        cond_dim: sentence width (256, the DAMSM sentence embedding).
        imsize: output size, a power of two; the number of blocks is ``log2(imsize) − 2``.
        ch_size: output channels.

    Forward: ``(noise (B, nz), sentence (B, cond_dim))`` → images (B, ch_size, imsize, imsize) in [-1, 1].
    Every affine is conditioned on ``cat(noise, sentence)``, noise first, as in the original.
    """

    registry_name = "dfgan"

    def __init__(self, ngf: int = 32, nz: int = 100, cond_dim: int = 256, imsize: int = 256, ch_size: int = 3):
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, cond_dim=cond_dim, imsize=imsize, ch_size=ch_size)
        self.ngf, self.nz, self.cond_dim = ngf, nz, cond_dim
        self.fc = nn.Linear(nz, ngf * 8 * 4 * 4)
        pairs = generator_channels(ngf, imsize)
        self.GBlocks = nn.ModuleList(FusionUpBlock(nz + cond_dim, i, o, upsample=True) for i, o in pairs)
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(pairs[-1][1], ch_size, 3, 1, 1), nn.Tanh())

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        out = self.fc(noise).view(noise.shape[0], 8 * self.ngf, 4, 4)
        cond = torch.cat((noise, sentence), dim=1)
        for block in self.GBlocks:
            out = block(out, cond)
        return self.to_rgb(out)


class DFGANDiscriminator(_Configurable):
    """DF-GAN 2022 discriminator trunk (``NetD``): image → features (B, 8·ndf, 4, 4); no text input.

    Args:
        ndf: base width (32).
        imsize: input size; the number of down blocks is ``log2(imsize) − 2`` so that features are 4×4.
        ch_size: input channels.
    """

    registry_name = "dfgan_discriminator"

    def __init__(self, ndf: int = 32, imsize: int = 256, ch_size: int = 3):
        super().__init__()
        self.config = dict(ndf=ndf, imsize=imsize, ch_size=ch_size)
        self.conv_img = nn.Conv2d(ch_size, ndf, 3, 1, 1)
        self.DBlocks = nn.ModuleList(ResidualDownBlock(i, o) for i, o in discriminator_channels(ndf, imsize))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.conv_img(images)
        for block in self.DBlocks:
            out = block(out)
        return out


class DFGANConditionHead(ConditionalLogitHead):
    """DF-GAN 2022 condition head (``NetC``): (features (B, 8·ndf, 4, 4), sentence) → logits (B, 1, 1, 1)."""

    registry_name = "dfgan_condition_head"

    def __init__(self, ndf: int = 32, cond_dim: int = 256):
        super().__init__(8 * ndf, cond_dim, 2 * ndf)
        self.config = dict(ndf=ndf, cond_dim=cond_dim)


# --------------------------------------------------------------------------------------------- 2020


class DFGAN2020Block(nn.Module):
    """DF-GAN 2020 ``G_Block``: ``shortcut(x) + γ·residual(x, y)`` with four flat affines and a learned γ."""

    def __init__(self, cond_dim: int, in_ch: int, out_ch: int, hidden_dim: int = 256):
        super().__init__()
        self.learnable_sc = in_ch != out_ch
        self.c1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.c2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.affine0 = Affine(cond_dim, in_ch, hidden_dim)
        self.affine1 = Affine(cond_dim, in_ch, hidden_dim)
        self.affine2 = Affine(cond_dim, out_ch, hidden_dim)
        self.affine3 = Affine(cond_dim, out_ch, hidden_dim)
        self.gamma = nn.Parameter(torch.zeros(1))
        if self.learnable_sc:
            self.c_sc = nn.Conv2d(in_ch, out_ch, 1, 1, 0)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu_(self.affine0(x, y), 0.2)
        h = self.c1(F.leaky_relu_(self.affine1(h, y), 0.2))
        h = F.leaky_relu_(self.affine2(h, y), 0.2)
        h = self.c2(F.leaky_relu_(self.affine3(h, y), 0.2))
        shortcut = self.c_sc(x) if self.learnable_sc else x
        return shortcut + self.gamma * h


# block widths of the 2020 generator and discriminator, in multiples of ngf / ndf (hard-wired there)
_G2020_CHANNELS = [(8, 8), (8, 8), (8, 8), (8, 8), (8, 4), (4, 2), (2, 1)]
_D2020_CHANNELS = [(1, 2), (2, 4), (4, 8), (8, 16), (16, 16), (16, 16)]


class DFGAN2020Generator(_Configurable):
    """DF-GAN 2020 generator: ``fc`` → ``block0`` at 4×4 → six (nearest ×2, block) → ``conv_img``; 256 px.

    Args:
        ngf: base width (32 in the released models, 64 in the paper).
        nz: noise width (100).
        cond_dim: sentence width (256; hard-wired in the original).
        affine_hidden: hidden width of the affine MLPs (256; hard-wired in the original).

    Forward: ``(noise, sentence)`` → images (B, 3, 256, 256) in [-1, 1]; the affines see the sentence only.
    """

    registry_name = "dfgan2020"

    def __init__(self, ngf: int = 32, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256):
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, cond_dim=cond_dim, affine_hidden=affine_hidden)
        self.ngf, self.nz, self.cond_dim = ngf, nz, cond_dim
        self.fc = nn.Linear(nz, ngf * 8 * 4 * 4)
        for idx, (i, o) in enumerate(_G2020_CHANNELS):
            self.add_module(f"block{idx}", DFGAN2020Block(cond_dim, i * ngf, o * ngf, affine_hidden))
        self.conv_img = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ngf, 3, 3, 1, 1), nn.Tanh())

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        out = self.fc(noise).view(noise.shape[0], 8 * self.ngf, 4, 4)
        for idx in range(len(_G2020_CHANNELS)):
            if idx:
                out = F.interpolate(out, scale_factor=2.0, mode="nearest")
            out = getattr(self, f"block{idx}")(out, sentence)
        return self.conv_img(out)


class DFGAN2020Discriminator(_Configurable):
    """DF-GAN 2020 discriminator: trunk (256 px → (B, 16·ndf, 4, 4)) plus its condition head ``COND_DNET``.

    ``forward(images)`` returns the features, as the original; ``COND_DNET(features, sentence)`` (also
    :meth:`logits`) gives the matching logits.
    """

    registry_name = "dfgan2020_discriminator"

    def __init__(self, ndf: int = 32, cond_dim: int = 256):
        super().__init__()
        self.config = dict(ndf=ndf, cond_dim=cond_dim)
        self.conv_img = nn.Conv2d(3, ndf, 3, 1, 1)
        for idx, (i, o) in enumerate(_D2020_CHANNELS):
            self.add_module(f"block{idx}", ResidualDownBlock(i * ndf, o * ndf))
        self.COND_DNET = ConditionalLogitHead(16 * ndf, cond_dim, 2 * ndf)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.conv_img(images)
        for idx in range(len(_D2020_CHANNELS)):
            out = getattr(self, f"block{idx}")(out)
        return out

    def logits(self, features: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        return self.COND_DNET(features, sentence)


# ------------------------------------------------------------------------------------ conversion


def _shape(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    from ..errors import ArchitectureMismatchError

    if key not in sd:
        raise ArchitectureMismatchError(
            f"{what}: key {key!r} is missing, so these weights are not a {what} "
            f"(first keys: {', '.join(list(sd)[:5])})"
        )
    return sd[key].shape


def config_from_state_dict(model: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of registered DF-GAN model ``model`` read off a (prefix-free) state dict."""
    if model == "dfgan":
        fc = _shape(sd, "fc.weight", "DF-GAN 2022 generator")
        ngf = fc[0] // 128
        nblocks = len({k.split(".")[1] for k in sd if k.startswith("GBlocks.")})
        return dict(
            ngf=ngf, nz=fc[1], cond_dim=_shape(sd, "GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight", "DF-GAN 2022 generator")[1] - fc[1],
            imsize=2 ** (nblocks + 2), ch_size=_shape(sd, "to_rgb.1.weight", "DF-GAN 2022 generator")[0],
        )
    if model == "dfgan_discriminator":
        conv = _shape(sd, "conv_img.weight", "DF-GAN 2022 discriminator")
        nblocks = len({k.split(".")[1] for k in sd if k.startswith("DBlocks.")})
        return dict(ndf=conv[0], imsize=2 ** (nblocks + 2), ch_size=conv[1])
    if model == "dfgan_condition_head":
        w = _shape(sd, "joint_conv.0.weight", "DF-GAN 2022 condition head")
        ndf = w[0] // 2
        return dict(ndf=ndf, cond_dim=w[1] - 8 * ndf)
    if model == "dfgan2020":
        fc = _shape(sd, "fc.weight", "DF-GAN 2020 generator")
        lin1 = _shape(sd, "block0.affine0.fc_gamma.linear1.weight", "DF-GAN 2020 generator")
        return dict(ngf=fc[0] // 128, nz=fc[1], cond_dim=lin1[1], affine_hidden=lin1[0])
    if model == "dfgan2020_discriminator":
        conv = _shape(sd, "conv_img.weight", "DF-GAN 2020 discriminator")
        w = _shape(sd, "COND_DNET.joint_conv.0.weight", "DF-GAN 2020 discriminator")
        return dict(ndf=conv[0], cond_dim=w[1] - 16 * conv[0])
    raise KeyError(model)


# ------------------------------------------------------------------------------- registered models

_DFGAN_LICENSE = "CC BY-NC-SA 4.0 (tobran/DF-GAN LICENSE.md)"
_DFGAN2020_LICENSE = "none stated (no licence file in tobran/DF-GAN@9015356; the repository is CC BY-NC-SA 4.0 since 2022)"
_DFGAN_PAPER = "Tao et al., DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis, CVPR 2022"
_FID_PROTOCOL_2022 = (
    "DF-GAN 2022 test_FID.py: torchvision ImageNet Inception-v3 pool3 on float tensors (bilinear resize to 299), "
    "one random test caption per image, {n} samples, against the shipped {npz}"
)


@register_model("dfgan")
def dfgan(*, ngf: int = 32, nz: int = 100, cond_dim: int = 256, imsize: int = 256, ch_size: int = 3) -> DFGANGenerator:
    """DF-GAN 2022 generator (released models: ngf 32, 256 px)."""
    return DFGANGenerator(ngf, nz, cond_dim, imsize, ch_size)


@register_model("dfgan")
def dfgan_discriminator(*, ndf: int = 32, imsize: int = 256, ch_size: int = 3) -> DFGANDiscriminator:
    """DF-GAN 2022 discriminator trunk."""
    return DFGANDiscriminator(ndf, imsize, ch_size)


@register_model("dfgan")
def dfgan_condition_head(*, ndf: int = 32, cond_dim: int = 256) -> DFGANConditionHead:
    """DF-GAN 2022 condition head (``NetC``)."""
    return DFGANConditionHead(ndf, cond_dim)


@register_model("dfgan2020")
def dfgan2020(*, ngf: int = 32, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256) -> DFGAN2020Generator:
    """DF-GAN 2020 (arXiv v1) generator (released models: ngf 32)."""
    return DFGAN2020Generator(ngf, nz, cond_dim, affine_hidden)


@register_model("dfgan2020")
def dfgan2020_discriminator(*, ndf: int = 32, cond_dim: int = 256) -> DFGAN2020Discriminator:
    """DF-GAN 2020 discriminator with its ``COND_DNET`` head."""
    return DFGAN2020Discriminator(ndf, cond_dim)


_PARTS_2022 = {"dfgan": "model.safetensors", "dfgan_discriminator": "discriminator.safetensors",
               "dfgan_condition_head": "condition_head.safetensors", "damsm_text_encoder": "text_encoder.safetensors"}

register_pretrained(PretrainedTag(
    tag="dfgan-birds", family="dfgan", dataset="CUB-200-2011", resolution=256, text_encoder="damsm-birds",
    license=_DFGAN_LICENSE, paper=_DFGAN_PAPER,
    original_url="https://drive.google.com/file/d/1rzfcCvGwU8vLCrn5reWxmrAMms6WQGA6",
    original_filename="state_epoch_1220.pth", file_format="torch.save dict {'model': {netG, netD, netC}, ...}",
    converter="dfgan", hub_id="textgan/dfgan-birds", parts=_PARTS_2022,
    text_encoder_url="https://drive.google.com/file/d/1I6ybkR7L64K8hZOraEZDuHh0cCJw5OUj (text_encoder200.pth)",
    metrics=(Metric("FID", 12.10, _FID_PROTOCOL_2022.format(n="29,120", npz="bird_val256_FIDK0.npz"),
                    "tobran/DF-GAN README (released model)"),
             Metric("FID", 14.81, _FID_PROTOCOL_2022.format(n="29,120", npz="bird_val256_FIDK0.npz"),
                    "CVPR 2022 paper")),
))
register_pretrained(PretrainedTag(
    tag="dfgan-coco", family="dfgan", dataset="COCO-2014", resolution=256, text_encoder="damsm-coco",
    license=_DFGAN_LICENSE, paper=_DFGAN_PAPER,
    original_url="https://drive.google.com/file/d/1e_AwWxbClxipEnasfz_QrhmLlv2-Vpyq",
    original_filename="state_epoch_290.pth", file_format="torch.save dict {'model': {netG, netD, netC}, ...}",
    converter="dfgan", hub_id="textgan/dfgan-coco", parts=_PARTS_2022,
    text_encoder_url="https://drive.google.com/file/d/15Fw-gErCEArOFykW3YTnLKpRcPgI_3AB (text_encoder100.pth)",
    metrics=(Metric("FID", 15.41, _FID_PROTOCOL_2022.format(n="40,448", npz="coco_val256_FIDK0.npz"),
                    "tobran/DF-GAN README (released model)"),
             Metric("FID", 19.32, _FID_PROTOCOL_2022.format(n="40,448", npz="coco_val256_FIDK0.npz"),
                    "CVPR 2022 paper")),
))
for _dataset, _tag, _drive, _te in (
    ("CUB-200-2011", "birds", "1svVTyKWj5B1J82rEiZILUS289DsmT6U7", "1GNUKjVeyWYBJ8hEU-yrfYQpDOkxEyP3V"),
    ("COCO-2014", "coco", "15llod5eTjjdzDTXQroJG_eh2c-GrW9H7", "1zIrXCE9F6yfbEJIbNP5-YrEe2pZcPSGJ"),
):
    register_pretrained(PretrainedTag(
        tag=f"dfgan2020-{_tag}", family="dfgan2020", dataset=_dataset, resolution=256,
        text_encoder=f"damsm-{_tag}", license=_DFGAN2020_LICENSE,
        paper="Tao et al., DF-GAN: Deep Fusion Generative Adversarial Networks for Text-to-Image Synthesis, arXiv 2020 (v1)",
        original_url=f"https://drive.google.com/file/d/{_drive}", original_filename="netG.pth",
        file_format="bare generator state dict", converter="dfgan2020", hub_id=f"textgan/dfgan2020-{_tag}",
        parts={"dfgan2020": "model.safetensors", "damsm_text_encoder": "text_encoder.safetensors"},
        text_encoder_url=f"https://drive.google.com/file/d/{_te} (AttnGAN DAMSM encoders)",
        metrics=((Metric("IS", 4.75, "StackGAN fine-tuned Inception, 30k samples (author, issue #3, nf=32)",
                         "tobran/DF-GAN issue #3"),) if _tag == "birds" else ()),
    ))
