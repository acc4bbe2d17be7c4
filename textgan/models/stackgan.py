"""StackGAN v1, PyTorch release (Zhang et al., StackGAN: Text to Photo-realistic Image Synthesis with Stacked
Generative Adversarial Networks, ICCV 2017).

Original code: hanzhanggit/StackGAN-Pytorch@e72ef88 (``code/model.py``: ``CA_NET``, ``STAGE1_G``, ``STAGE1_D``,
``STAGE2_G``, ``STAGE2_D``, ``D_GET_LOGITS``); code and released COCO weights under the MIT licence. That
release targets COCO only; the birds and flowers models are the TensorFlow release, a different network
(:mod:`textgan.models.stackgan_tf`).

The classes keep the authors' names and module attributes, so their state dicts (``netG_epoch_90.pth``: a whole
Stage-II generator with ``STAGE1_G.*`` keys) load with no key map. Every size is a constructor argument instead
of the global ``cfg``. Faithful quirks: the ReLU of ``CA_NET`` before the μ/logvar split, ε drawn on every call
in eval mode too (here from ``eps=`` or a ``torch.Generator``), Stage-I concatenates ``(noise, c)``, Stage-II and
the logit heads ``(features, c)``, the logit heads end in a sigmoid (probabilities), and the Stage-I image is
detached inside Stage-II.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
import torch.nn as nn

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..errors import ArchitectureMismatchError
from ..nn.conditioning import ConditioningAugmentation
from ..nn.masks import fill_batchnorm_counters

__all__ = ["STAGE1_G", "STAGE2_G", "STAGE1_D", "STAGE2_D", "D_GET_LOGITS", "ResBlock", "upBlock", "conv3x3",
           "config_from_state_dict", "convert_official_state_dict", "OFFICIAL_KINDS"]


def conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    """3×3, stride 1, padding 1, no bias (every 3×3 convolution of StackGAN)."""
    return nn.Conv2d(in_planes, out_planes, 3, 1, 1, bias=False)


def upBlock(in_planes: int, out_planes: int) -> nn.Sequential:  # noqa: N802 (the authors' name)
    """Nearest ×2 → conv3x3 → BatchNorm → ReLU (keys ``.1`` conv, ``.2`` BN)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(in_planes, out_planes),
                         nn.BatchNorm2d(out_planes), nn.ReLU(True))


def _down(in_planes: int, out_planes: int, bn: bool = True) -> list:
    layers = [nn.Conv2d(in_planes, out_planes, 4, 2, 1, bias=False)]
    return layers + ([nn.BatchNorm2d(out_planes)] if bn else []) + [nn.LeakyReLU(0.2, inplace=True)]


class ResBlock(nn.Module):
    """``ReLU(x + BN(conv(ReLU(BN(conv(x))))))`` (keys ``block.{0,1,3,4}``; ReLU after the add, as in v1)."""

    def __init__(self, channel_num: int) -> None:
        super().__init__()
        self.block = nn.Sequential(conv3x3(channel_num, channel_num), nn.BatchNorm2d(channel_num), nn.ReLU(True),
                                   conv3x3(channel_num, channel_num), nn.BatchNorm2d(channel_num))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.block(x) + x)


def _split_extra(extra: Optional[torch.Tensor], widths) -> list:
    if extra is None:
        return [None] * len(widths)
    if extra.dim() != 2 or extra.shape[1] != sum(widths):
        raise ValueError(f"extra_noise must be (B, {sum(widths)}), got {tuple(extra.shape)}")
    return list(torch.split(extra, list(widths), dim=1))


class STAGE1_G(nn.Module):  # noqa: N801 (the authors' class name)
    """Stage-I generator: CA → fc(noise, c) → BN1d → ReLU → 4 up blocks → conv3x3 + tanh, 64×64.

    Args:
        gf_dim: ``GAN.GF_DIM`` (COCO 192); the 4×4 map has ``8·gf_dim`` channels.
        cond_dim: ``GAN.CONDITION_DIM`` (128).
        z_dim: ``Z_DIM`` (100).
        text_dim: ``TEXT.DIMENSION`` (1024, char-CNN-RNN).

    Forward: ``(text_embedding (B, text_dim), noise (B, z_dim), eps=None (B, cond_dim), generator=None)`` →
    ``(None, fake_img (B, 3, 64, 64), mu, logvar)``, the authors' tuple. ε is ``eps`` or drawn from ``generator``.
    """

    registry_name = "stackgan_stage1"
    pipeline_inputs = ("sentence", "noise", "extra_noise")
    ca_variant = "relu"

    def __init__(self, gf_dim: int = 192, cond_dim: int = 128, z_dim: int = 100, text_dim: int = 1024) -> None:
        super().__init__()
        self.config = dict(gf_dim=gf_dim, cond_dim=cond_dim, z_dim=z_dim, text_dim=text_dim)
        self.gf_dim, self.ef_dim, self.z_dim = gf_dim * 8, cond_dim, z_dim
        ngf = self.gf_dim
        self.ca_net = ConditioningAugmentation(text_dim, cond_dim, variant=self.ca_variant)
        self.fc = nn.Sequential(nn.Linear(z_dim + cond_dim, ngf * 4 * 4, bias=False), nn.BatchNorm1d(ngf * 4 * 4),
                                nn.ReLU(True))
        self.upsample1 = upBlock(ngf, ngf // 2)
        self.upsample2 = upBlock(ngf // 2, ngf // 4)
        self.upsample3 = upBlock(ngf // 4, ngf // 8)
        self.upsample4 = upBlock(ngf // 8, ngf // 16)
        self.img = nn.Sequential(conv3x3(ngf // 16, 3), nn.Tanh())

    @property
    def extra_noise_dim(self) -> int:
        """Width of the pipeline's ``extra_noise``: one CA ε."""
        return self.ef_dim

    @property
    def nz(self) -> int:
        return self.z_dim

    def forward(self, text_embedding: torch.Tensor, noise: torch.Tensor, eps: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None):
        c_code, mu, logvar = self.ca_net(text_embedding, eps, generator)
        h_code = self.fc(torch.cat((noise, c_code), 1)).view(-1, self.gf_dim, 4, 4)
        h_code = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h_code))))
        return None, self.img(h_code), mu, logvar

    def sample(self, sentence: torch.Tensor, noise: torch.Tensor, extra_noise: Optional[torch.Tensor] = None):
        """The image only, ε from ``extra_noise`` (the pipeline's call)."""
        return self(sentence, noise, extra_noise)[1]


class STAGE2_G(nn.Module):  # noqa: N801
    """Stage-II generator: Stage-I image → encoder (64 → 16 px) ⊕ its own CA condition → joint conv →
    residual blocks → 4 up blocks → conv3x3 + tanh, 256×256. Holds a frozen :class:`STAGE1_G` as ``STAGE1_G``.

    Args:
        gf_dim: Stage-II ``GAN.GF_DIM`` (COCO 192). cond_dim, z_dim, text_dim: as :class:`STAGE1_G`.
        r_num: ``GAN.R_NUM`` residual blocks (COCO 2).
        stage1_gf_dim, stage1_cond_dim: the Stage-I sizes (default: the same; the authors' global cfg).
        stage1: an existing Stage-I generator to wrap (its sizes then win), as ``STAGE2_G(STAGE1_G())``.

    Forward: ``(text_embedding, noise, eps=None, eps_stage1=None, generator=None)`` →
    ``(stage1_img (B, 3, 64, 64), fake_img (B, 3, 256, 256), mu, logvar)`` with μ/logvar of the Stage-II CA. Two
    ε per call, as in the original: Stage-I's first (``eps_stage1``), then Stage-II's (``eps``).
    """

    registry_name = "stackgan"
    pipeline_inputs = ("sentence", "noise", "extra_noise")
    ca_variant = "relu"
    stage1_class = STAGE1_G

    def __init__(self, gf_dim: int = 192, cond_dim: int = 128, r_num: int = 2, z_dim: int = 100,
                 text_dim: int = 1024, stage1_gf_dim: Optional[int] = None, stage1_cond_dim: Optional[int] = None,
                 stage1: Optional[nn.Module] = None) -> None:
        super().__init__()
        if stage1 is None:
            stage1 = self.stage1_class(gf_dim=stage1_gf_dim or gf_dim, cond_dim=stage1_cond_dim or cond_dim,
                                       z_dim=z_dim, text_dim=text_dim)
        s1 = stage1.config
        self.config = dict(gf_dim=gf_dim, cond_dim=cond_dim, r_num=r_num, z_dim=s1["z_dim"], text_dim=text_dim,
                           stage1_gf_dim=s1["gf_dim"], stage1_cond_dim=s1["cond_dim"])
        self.gf_dim, self.ef_dim, self.z_dim = gf_dim, cond_dim, s1["z_dim"]
        self.STAGE1_G = stage1
        for param in self.STAGE1_G.parameters():  # the authors freeze Stage-I while training Stage-II
            param.requires_grad = False
        ngf = gf_dim
        self.ca_net = ConditioningAugmentation(text_dim, cond_dim, variant=self.ca_variant)
        self.encoder = nn.Sequential(conv3x3(3, ngf), nn.ReLU(True),
                                     nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
                                     nn.ReLU(True),
                                     nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
                                     nn.ReLU(True))
        self.hr_joint = nn.Sequential(conv3x3(ngf * 4 + cond_dim, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(ngf * 4) for _ in range(r_num)])
        self.upsample1 = upBlock(ngf * 4, ngf * 2)
        self.upsample2 = upBlock(ngf * 2, ngf)
        self.upsample3 = upBlock(ngf, ngf // 2)
        self.upsample4 = upBlock(ngf // 2, ngf // 4)
        self.img = nn.Sequential(conv3x3(ngf // 4, 3), nn.Tanh())

    @property
    def extra_noise_dim(self) -> int:
        """Width of the pipeline's ``extra_noise``: Stage-I's ε then Stage-II's."""
        return self.STAGE1_G.ef_dim + self.ef_dim

    @property
    def nz(self) -> int:
        return self.z_dim

    def refine(self, stage1_img: torch.Tensor, text_embedding: torch.Tensor, eps: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None):
        """Stage-II alone on a given 64 px image: ``(fake_img, mu, logvar)``."""
        encoded_img = self.encoder(stage1_img.detach())
        c_code, mu, logvar = self.ca_net(text_embedding, eps, generator)
        c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, encoded_img.shape[2], encoded_img.shape[3])
        h_code = self.residual(self.hr_joint(torch.cat([encoded_img, c_code], 1)))
        h_code = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h_code))))
        return self.img(h_code), mu, logvar

    def forward(self, text_embedding: torch.Tensor, noise: torch.Tensor, eps: Optional[torch.Tensor] = None,
                eps_stage1: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None):
        _, stage1_img, _, _ = self.STAGE1_G(text_embedding, noise, eps_stage1, generator)
        stage1_img = stage1_img.detach()
        fake_img, mu, logvar = self.refine(stage1_img, text_embedding, eps, generator)
        return stage1_img, fake_img, mu, logvar

    def sample(self, sentence: torch.Tensor, noise: torch.Tensor, extra_noise: Optional[torch.Tensor] = None):
        """The 256 px image only, both ε from ``extra_noise`` (Stage-I's columns first): the pipeline's call."""
        eps1, eps2 = _split_extra(extra_noise, (self.STAGE1_G.ef_dim, self.ef_dim))
        return self(sentence, noise, eps2, eps1)[1]

    def optimize_for_inference(self) -> nn.Module:
        """A faster inference-only copy with the same ``sample`` (see :mod:`textgan.models.stackgan_fast`)."""
        from .stackgan_fast import OptimizedStackGAN

        return OptimizedStackGAN(self)


class D_GET_LOGITS(nn.Module):  # noqa: N801
    """Logit head on the 4×4 image code: conditional ``(h, tiled c)`` → conv3x3 → BN → LReLU → conv4x4/4 (bias)
    → sigmoid, or unconditional conv4x4/4 (bias) → sigmoid. Returns probabilities (B,)."""

    def __init__(self, ndf: int, nef: int, bcondition: bool = True) -> None:
        super().__init__()
        self.df_dim, self.ef_dim, self.bcondition = ndf, nef, bcondition
        if bcondition:
            self.outlogits = nn.Sequential(conv3x3(ndf * 8 + nef, ndf * 8), nn.BatchNorm2d(ndf * 8),
                                           nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 8, 1, 4, 4), nn.Sigmoid())
        else:
            self.outlogits = nn.Sequential(nn.Conv2d(ndf * 8, 1, 4, 4), nn.Sigmoid())

    def forward(self, h_code: torch.Tensor, c_code: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.bcondition:
            if c_code is None:
                raise ValueError("the conditional logit head needs c_code (the generator's mu, detached)")
            c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, h_code.shape[2], h_code.shape[3])
            h_code = torch.cat((h_code, c_code), 1)
        return self.outlogits(h_code).view(-1)


class STAGE1_D(nn.Module):  # noqa: N801
    """Stage-I discriminator: ``forward(image (B, 3, 64, 64))`` → code (B, 8·df_dim, 4, 4), as the original;
    ``get_cond_logits(code, mu)`` → probabilities (B,); ``get_uncond_logits`` is ``None``."""

    registry_name = "stackgan_stage1_discriminator"

    def __init__(self, df_dim: int = 96, cond_dim: int = 128) -> None:
        super().__init__()
        self.config = dict(df_dim=df_dim, cond_dim=cond_dim)
        ndf = df_dim
        self.encode_img = nn.Sequential(*_down(3, ndf, bn=False), *_down(ndf, ndf * 2), *_down(ndf * 2, ndf * 4),
                                        *_down(ndf * 4, ndf * 8))
        self.get_cond_logits = D_GET_LOGITS(ndf, cond_dim)
        self.get_uncond_logits = None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode_img(image)


class STAGE2_D(nn.Module):  # noqa: N801
    """Stage-II discriminator: 256 px → six 4×4/2 convolutions → two conv3x3 → (B, 8·df_dim, 4, 4); conditional
    (``get_cond_logits``) and unconditional (``get_uncond_logits``) heads."""

    registry_name = "stackgan_discriminator"

    def __init__(self, df_dim: int = 96, cond_dim: int = 128) -> None:
        super().__init__()
        self.config = dict(df_dim=df_dim, cond_dim=cond_dim)
        ndf = df_dim
        layers = _down(3, ndf, bn=False)
        for i in range(5):  # ndf → 2 → 4 → 8 → 16 → 32 ndf, 128 → 4 px
            layers += _down(ndf * 2 ** i, ndf * 2 ** (i + 1))
        layers += [conv3x3(ndf * 32, ndf * 16), nn.BatchNorm2d(ndf * 16), nn.LeakyReLU(0.2, inplace=True),
                   conv3x3(ndf * 16, ndf * 8), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True)]
        self.encode_img = nn.Sequential(*layers)
        self.get_cond_logits = D_GET_LOGITS(ndf, cond_dim, bcondition=True)
        self.get_uncond_logits = D_GET_LOGITS(ndf, cond_dim, bcondition=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode_img(image)


# ------------------------------------------------------------------------------------ conversion

OFFICIAL_KINDS = ("stackgan", "stackgan_stage1", "stackgan_discriminator", "stackgan_stage1_discriminator")
_CLASSES = {"stackgan": STAGE2_G, "stackgan_stage1": STAGE1_G, "stackgan_discriminator": STAGE2_D,
            "stackgan_stage1_discriminator": STAGE1_D}
_WHAT = {"stackgan": "StackGAN Stage-II generator (STAGE2_G)",
         "stackgan_stage1": "StackGAN Stage-I generator (STAGE1_G)",
         "stackgan_discriminator": "StackGAN Stage-II discriminator (STAGE2_D)",
         "stackgan_stage1_discriminator": "StackGAN Stage-I discriminator (STAGE1_D)"}
_HINT = ("StackGAN-Pytorch saves plain state dicts: netG_epoch_*.pth of a Stage-II run is a whole STAGE2_G (kind "
         "'stackgan', keys STAGE1_G.*), of a Stage-I run a STAGE1_G (kind 'stackgan_stage1'); netD_epoch_last.pth "
         "the discriminator; the TensorFlow birds/flowers .ckpt files need kind 'stackgan_tf'")


def _need(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    if key not in sd:
        raise ArchitectureMismatchError(f"key {key!r} is missing, so these weights are not a {what} "
                                        f"(first keys: {', '.join(list(sd)[:5])})")
    return sd[key].shape


def _stage_check(kind: str, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """The errors for a file of the other stage or the other network, which say which kind to use."""
    stage2 = any(k.startswith("STAGE1_G.") for k in sd)
    generator = "ca_net.fc.weight" in sd or stage2
    if kind == "stackgan_stage1" and stage2:
        raise ArchitectureMismatchError(
            f"{source}: this is a whole Stage-II generator (STAGE2_G, keys 'STAGE1_G.*'), not a Stage-I one; load "
            "it with kind 'stackgan' (its Stage-I generator is the .STAGE1_G attribute of the result)")
    if kind == "stackgan" and generator and not stage2:
        raise ArchitectureMismatchError(
            f"{source}: this is a Stage-I generator (STAGE1_G: no 'STAGE1_G.*' or 'encoder.*' keys), not a Stage-II "
            "one; load it with kind 'stackgan_stage1', or pass the netG_epoch_*.pth of a Stage-II run (coco_s2.yml)")
    if kind in ("stackgan", "stackgan_stage1") and not generator and "encode_img.0.weight" in sd:
        raise ArchitectureMismatchError(f"{source}: this is a StackGAN discriminator (netD), not a generator; use "
                                        "kind 'stackgan_discriminator' or 'stackgan_stage1_discriminator'")
    if kind.endswith("discriminator") and generator:
        raise ArchitectureMismatchError(f"{source}: this is a StackGAN generator, not a discriminator; use kind "
                                        f"{'stackgan' if stage2 else 'stackgan_stage1'!r}")
    if kind.endswith("discriminator") and "encode_img.0.weight" in sd:
        stage2_d = "get_uncond_logits.outlogits.0.weight" in sd
        if stage2_d != (kind == "stackgan_discriminator"):
            right = "stackgan_discriminator" if stage2_d else "stackgan_stage1_discriminator"
            raise ArchitectureMismatchError(f"{source}: this is a Stage-{'II' if stage2_d else 'I'} discriminator; "
                                            f"use kind {right!r}")


def convert_official_state_dict(kind: str, sd: Mapping[str, torch.Tensor], source: str) -> Dict[str, torch.Tensor]:
    """The authors' state dict, checked for the right stage and with the ``num_batches_tracked`` counters that
    files of PyTorch < 0.4.1 (the 2017 release) lack filled with 0 (they do not enter eval outputs)."""
    _stage_check(kind, sd, source)
    return fill_batchnorm_counters(dict(sd))


def _stage1_config(sd: Mapping[str, torch.Tensor], prefix: str = "") -> Dict[str, int]:
    what = _WHAT["stackgan_stage1"]
    ca = _need(sd, prefix + "ca_net.fc.weight", what)
    fc = _need(sd, prefix + "fc.0.weight", what)
    cond = ca[0] // 2
    if fc[0] % 128 or fc[1] <= cond:
        raise ArchitectureMismatchError(f"{prefix}fc.0.weight has shape {tuple(fc)}: not (128·gf_dim, z_dim + {cond})")
    return dict(gf_dim=fc[0] // 128, cond_dim=cond, z_dim=fc[1] - cond, text_dim=ca[1])


def config_from_state_dict(kind: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of StackGAN model ``kind`` read off an (official or textgan) state dict."""
    if kind == "stackgan_stage1":
        return _stage1_config(sd)
    if kind == "stackgan":
        s1 = _stage1_config(sd, "STAGE1_G.")
        what = _WHAT[kind]
        ca = _need(sd, "ca_net.fc.weight", what)
        ngf = _need(sd, "encoder.0.weight", what)[0]
        r_num = len({k.split(".")[1] for k in sd if k.startswith("residual.")})
        return dict(gf_dim=ngf, cond_dim=ca[0] // 2, r_num=r_num, z_dim=s1["z_dim"], text_dim=ca[1],
                    stage1_gf_dim=s1["gf_dim"], stage1_cond_dim=s1["cond_dim"])
    if kind in ("stackgan_discriminator", "stackgan_stage1_discriminator"):
        what = _WHAT[kind]
        ndf = _need(sd, "encode_img.0.weight", what)[0]
        joint = _need(sd, "get_cond_logits.outlogits.0.weight", what)
        return dict(df_dim=ndf, cond_dim=joint[1] - 8 * ndf)
    raise KeyError(kind)


# ------------------------------------------------------------------------------- registered models


@register_model("stackgan")
def stackgan(*, gf_dim: int = 192, cond_dim: int = 128, r_num: int = 2, z_dim: int = 100, text_dim: int = 1024,
             stage1_gf_dim: Optional[int] = None, stage1_cond_dim: Optional[int] = None) -> STAGE2_G:
    """StackGAN (PyTorch) Stage-II generator holding its Stage-I (defaults: ``coco_s2.yml``)."""
    return STAGE2_G(gf_dim, cond_dim, r_num, z_dim, text_dim, stage1_gf_dim, stage1_cond_dim)


@register_model("stackgan")
def stackgan_stage1(*, gf_dim: int = 192, cond_dim: int = 128, z_dim: int = 100, text_dim: int = 1024) -> STAGE1_G:
    """StackGAN (PyTorch) Stage-I generator (defaults: ``coco_s1.yml``)."""
    return STAGE1_G(gf_dim, cond_dim, z_dim, text_dim)


@register_model("stackgan")
def stackgan_discriminator(*, df_dim: int = 96, cond_dim: int = 128) -> STAGE2_D:
    """StackGAN (PyTorch) Stage-II discriminator (256 px) with conditional and unconditional heads."""
    return STAGE2_D(df_dim, cond_dim)


@register_model("stackgan")
def stackgan_stage1_discriminator(*, df_dim: int = 96, cond_dim: int = 128) -> STAGE1_D:
    """StackGAN (PyTorch) Stage-I discriminator (64 px) with its conditional head."""
    return STAGE1_D(df_dim, cond_dim)


register_pretrained(PretrainedTag(
    tag="stackgan-coco", family="stackgan", dataset="COCO-2014", resolution=256,
    text_encoder="char-CNN-RNN 1024-d (reedscot/icml2016 COCO encoder; the release ships precomputed embeddings)",
    license="MIT (hanzhanggit/StackGAN-Pytorch)",
    paper="Zhang et al., StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative Adversarial "
          "Networks, ICCV 2017",
    original_url="https://drive.google.com/open?id=0B3y_msrWZaXLYjNra2ZSSmtVQlE",
    original_filename="netG_epoch_90.pth",
    file_format="torch.save(STAGE2_G.state_dict()): plain OrderedDict with STAGE1_G.* keys, no 'module.' prefix, "
                "PyTorch 0.2 era (no num_batches_tracked)",
    converter="stackgan", hub_id="textgan/stackgan-coco",
    parts={"stackgan": "model.safetensors", "char_cnn_rnn": "text_encoder.safetensors"},
    text_encoder_url="eval embeddings https://drive.google.com/open?id=0B3y_msrWZaXLeEs5MTg0RC1fa0U (val_captions.t7)",
    metrics=(Metric("IS", 10.62, "StackGAN-inception-model protocol on COCO val captions (README claim, ±0.19)",
                    "hanzhanggit/StackGAN-Pytorch README"),
             Metric("IS", 8.5, "re-evaluation of the released netG_epoch_90.pth by a user",
                    "hanzhanggit/StackGAN-Pytorch issue #6")),
    notes=("Convert with `textgan convert stackgan netG_epoch_90.pth --text-encoder ENC.t7 -o DIR`. The release is "
           "90 epochs (users report noisy images, issue #5); the paper's COCO IS is 8.45 ± 0.03."),
))
