"""SEMA: Semantic Distance Adversarial Learning for Text-to-Image Synthesis (Yuan et al., IEEE TMM 2023).

Original code: yuanrr/SEMA at 97b227e (``model.py``: ``NetG``, ``G_Block``, ``DFBlock``, ``affine``,
``resD``), MIT-licensed. The repository ships the generator and its sampling code only: no discriminator
model, no training code and no semantic-distance loss (the README says training code "will be released
soon"). :func:`textgan.losses.semantic_distance_adversarial_loss` implements the loss from the paper's
description, with the choices it documents.

The generator is a hybrid: DF-GAN 2020's layout and key names (``block0..block6`` with ``block0`` at 4×4,
nearest ×2 up-sampling between blocks, ``conv_img``) built from DF-GAN 2022-style blocks (``fuse1``/
``fuse2`` DF blocks, no residual scale; :class:`~textgan.nn.FusionUpBlock` with ``upsample=False``)
conditioned on ``cat(noise, sentence)``, with affine MLPs of a fixed hidden width (256). The authors'
``affine`` hard-wires its input width to 356 = nz 100 + sentence 256; here both come from the weights.
SEMA's ``resD`` is :class:`~textgan.nn.ResidualDownBlock` (the same maths as DF-GAN's ``D_Block``; nothing
in SEMA uses it).
"""
from __future__ import annotations

from typing import Dict, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..nn import FusionUpBlock, ResidualDownBlock
from .dfgan import _G2020_CHANNELS, _Configurable, _shape

__all__ = ["SEMAGenerator", "SEMAResidualBlock", "config_from_state_dict"]

#: SEMA's ``resD(fin, fout)``: ``avgpool2(shortcut(x)) + γ·residual(x)``; the 1×1 shortcut always exists.
SEMAResidualBlock = ResidualDownBlock


class SEMAGenerator(_Configurable):
    """SEMA generator (``NetG``): ``fc`` → ``block0`` at 4×4 → six (nearest ×2, block) → ``conv_img``; 256 px.

    Args:
        ngf: base width (32 in the released model).
        nz: noise width (100).
        cond_dim: sentence width (256, the DAMSM LSTM sentence embedding).
        affine_hidden: hidden width of the affine MLPs (256; hard-wired in the original).

    Forward: ``(noise (B, nz), sentence (B, cond_dim))`` → images (B, 3, 256, 256) in [-1, 1]. Every affine
    is conditioned on ``cat(noise, sentence)``, noise first. The authors sample ``0.8 × truncnorm(−2, 2)``.
    """

    registry_name = "sema"

    def __init__(self, ngf: int = 32, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256) -> None:
        super().__init__()
        self.config = dict(ngf=ngf, nz=nz, cond_dim=cond_dim, affine_hidden=affine_hidden)
        self.ngf, self.nz, self.cond_dim = ngf, nz, cond_dim
        self.fc = nn.Linear(nz, ngf * 8 * 4 * 4)
        for idx, (i, o) in enumerate(_G2020_CHANNELS):
            self.add_module(f"block{idx}", FusionUpBlock(nz + cond_dim, i * ngf, o * ngf, upsample=False,
                                                         hidden_dim=affine_hidden))
        self.conv_img = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ngf, 3, 3, 1, 1), nn.Tanh())

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        if sentence.shape[-1] != self.cond_dim:
            raise ValueError(f"sentence: expected (B, {self.cond_dim}) embeddings, got {tuple(sentence.shape)}; "
                             "use the text encoder this generator was trained with")
        out = self.fc(noise).view(noise.shape[0], 8 * self.ngf, 4, 4)
        cond = torch.cat((noise, sentence), dim=1)
        for idx in range(len(_G2020_CHANNELS)):
            if idx:
                out = F.interpolate(out, scale_factor=2.0, mode="nearest")
            out = getattr(self, f"block{idx}")(out, cond)
        return self.conv_img(out)


def config_from_state_dict(model: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of SEMA model ``model`` read off a (prefix-free) state dict."""
    from ..errors import ArchitectureMismatchError

    if model != "sema":
        raise KeyError(model)
    what = "SEMA generator"
    fc = _shape(sd, "fc.weight", what)
    lin1 = _shape(sd, "block0.fuse1.affine0.fc_gamma.linear1.weight", what)
    cond_dim = lin1[1] - fc[1]
    if cond_dim <= 0:
        raise ArchitectureMismatchError(
            f"{what}: the affines read {lin1[1]}-d conditions but the noise alone is {fc[1]}-d; SEMA conditions "
            "on cat(noise, sentence), so these weights are not a SEMA generator")
    return dict(ngf=fc[0] // 128, nz=fc[1], cond_dim=cond_dim, affine_hidden=lin1[0])


@register_model("sema")
def sema(*, ngf: int = 32, nz: int = 100, cond_dim: int = 256, affine_hidden: int = 256) -> SEMAGenerator:
    """SEMA generator (released model: ngf 32, COCO, 256 px)."""
    return SEMAGenerator(ngf, nz, cond_dim, affine_hidden)


_FID = ("test_fid.py of the SEMA repository: torchvision ImageNet Inception-v3 pool3 (legacy pytorch-fid fork), "
        "PNGs with PIL Resize((299, 299)), one image per COCO test image (about 40k, batch 48, drop_last) "
        "against the test images")

register_pretrained(PretrainedTag(
    tag="sema-coco", family="sema", dataset="COCO-2014", resolution=256, text_encoder="damsm-coco",
    license="MIT (yuanrr/SEMA)",
    paper=("Yuan, Sheng, Bao, Chen, Xu, Semantic Distance Adversarial Learning for Text-to-Image Synthesis, "
           "IEEE TMM 2023"),
    original_url="https://pan.baidu.com/s/1xKuId0EZhpqHL0tx34rkZg", original_filename="netG.pth",
    file_format="bare NetG state dict (no 'module.' prefix), generator only", converter="sema",
    hub_id="textgan/sema-coco", parts={"sema": "model.safetensors", "damsm_text_encoder": "text_encoder.safetensors"},
    text_encoder_url="https://drive.google.com/open?id=1zIrXCE9F6yfbEJIbNP5-YrEe2pZcPSGJ (AttnGAN DAMSM, coco)",
    metrics=(Metric("FID", 17.51, _FID, "SEMA paper (w/o BERT), quoted in the yuanrr/SEMA README"),
             Metric("FID", 16.5, _FID + " (README: '~16.5')", "yuanrr/SEMA README (released model)")),
    notes=("Baidu pan password 'guvx'. 'SEMA w/o BERT': the released model uses the DAMSM LSTM sentence embedding "
           "only. Sampling: 0.8 × truncnorm(−2, 2) noise."),
))
