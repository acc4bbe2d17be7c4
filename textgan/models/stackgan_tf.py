"""StackGAN v1, TensorFlow release (hanzhanggit/StackGAN@master, ``stageII/model.py``; MIT): the birds and flowers
models (``birds_model_164000.ckpt``, ``flowers_model_130000.ckpt``), which are a different network from the
PyTorch COCO release (:mod:`textgan.models.stackgan`).

Differences kept (``../shared/notes/tf_formats.md`` §5.5): conditioning augmentation with a leaky ReLU and
``std = exp(log σ)``, ε from a normal truncated to ±2; Stage-I joins ``(c, z)`` (condition first) into a fully
connected layer **with** bias and a BatchNorm with **no** ReLU, reshaped as NHWC; two residual bottlenecks
(1×1 → 3×3 → 3×3, at 4×4 and after the first up-sampling, whose conv + BN has no ReLU); three up blocks and a
final up-sampling + conv3x3 + tanh. The Stage-II generator has the PyTorch release's structure and names
(:class:`~textgan.models.stackgan.STAGE2_G`) with this CA and this Stage-I.

Weights come from the TF checkpoint (V1 or V2, read without TensorFlow) by name pattern: prettytensor numbers
its scopes per method in construction order (``custom_conv2d``, ``custom_conv2d_1``, ...), so the layers are
matched by that order and checked by shape; the NHWC order of the fully connected features is permuted into
PyTorch's ``(c, h, w)`` once, at conversion time. Discriminator variables and optimizer slots are ignored.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Union

import torch
import torch.nn as nn

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from .._weights import build_from_state_dict
from ..errors import ArchitectureMismatchError, CheckpointError
from ..nn.conditioning import ConditioningAugmentation
from .stackgan import STAGE2_G, conv3x3, upBlock


class _LazyMapping:
    """``textgan.convert.tf_mapping``, imported on first use (textgan.convert imports this package)."""

    def __getattr__(self, name):
        from ..convert import tf_mapping

        return getattr(tf_mapping, name)


tfm = _LazyMapping()

__all__ = ["StackGANTFStage1G", "StackGANTFStage2G", "stackgan_tf_from_checkpoint", "is_tf_checkpoint",
           "TF_KINDS"]


def _bottleneck(channels: int, inner: int) -> nn.Sequential:
    """1×1 → BN → ReLU → 3×3 → BN → ReLU → 3×3 → BN (keys ``.{0,1,3,4,6,7}``); the caller adds, then ReLU."""
    return nn.Sequential(nn.Conv2d(channels, inner, 1, 1, 0, bias=False), nn.BatchNorm2d(inner), nn.ReLU(True),
                         conv3x3(inner, inner), nn.BatchNorm2d(inner), nn.ReLU(True),
                         conv3x3(inner, channels), nn.BatchNorm2d(channels))


class StackGANTFStage1G(nn.Module):
    """The TF release's Stage-I generator (``CondGAN.generator`` with ``generate_condition``).

    Args:
        gf_dim: ``GAN.GF_DIM`` (birds/flowers 128). cond_dim: ``GAN.EMBEDDING_DIM`` (128).
        z_dim: ``Z_DIM`` (100). text_dim: embedding width (1024). imsize: output size (64).

    Forward: ``(text_embedding, noise, eps=None, generator=None)`` → ``(None, fake_img, mean, log_sigma)``,
    the layout of the PyTorch release's tuple. ``eps`` zero gives the TF code without augmentation (c = mean).
    """

    registry_name = "stackgan_tf_stage1"
    pipeline_inputs = ("sentence", "noise", "extra_noise")
    ca_variant = "tf"

    def __init__(self, gf_dim: int = 128, cond_dim: int = 128, z_dim: int = 100, text_dim: int = 1024,
                 imsize: int = 64) -> None:
        super().__init__()
        if imsize % 16:
            raise ValueError(f"imsize must be a multiple of 16, got {imsize}")
        self.config = dict(gf_dim=gf_dim, cond_dim=cond_dim, z_dim=z_dim, text_dim=text_dim, imsize=imsize)
        self.ef_dim, self.z_dim, self.s16 = cond_dim, z_dim, imsize // 16
        g8 = gf_dim * 8
        self.ca_net = ConditioningAugmentation(text_dim, cond_dim, variant="tf")
        self.fc = nn.Sequential(nn.Linear(cond_dim + z_dim, self.s16 ** 2 * g8), nn.BatchNorm1d(self.s16 ** 2 * g8))
        self.node1_1 = _bottleneck(g8, gf_dim * 2)
        self.node2_0 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(g8, gf_dim * 4),
                                     nn.BatchNorm2d(gf_dim * 4))
        self.node2_1 = _bottleneck(gf_dim * 4, gf_dim)
        self.upsample1 = upBlock(gf_dim * 4, gf_dim * 2)
        self.upsample2 = upBlock(gf_dim * 2, gf_dim)
        self.img = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(gf_dim, 3), nn.Tanh())

    @property
    def extra_noise_dim(self) -> int:
        return self.ef_dim

    @property
    def nz(self) -> int:
        return self.z_dim

    def forward(self, text_embedding: torch.Tensor, noise: torch.Tensor, eps: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None):
        c_code, mean, log_sigma = self.ca_net(text_embedding, eps, generator)
        node1_0 = self.fc(torch.cat((c_code, noise), 1)).view(noise.shape[0], -1, self.s16, self.s16)
        node1 = torch.relu(node1_0 + self.node1_1(node1_0))
        node2_0 = self.node2_0(node1)
        node2 = torch.relu(node2_0 + self.node2_1(node2_0))
        return None, self.img(self.upsample2(self.upsample1(node2))), mean, log_sigma

    def sample(self, sentence: torch.Tensor, noise: torch.Tensor, extra_noise: Optional[torch.Tensor] = None):
        return self(sentence, noise, extra_noise)[1]


class StackGANTFStage2G(STAGE2_G):
    """The TF release's Stage-II generator (``hr_get_generator``): :class:`~textgan.models.stackgan.STAGE2_G`'s
    structure with the TF conditioning augmentation, holding a :class:`StackGANTFStage1G` as ``STAGE1_G``.

    Defaults are the birds/flowers configuration (GF_DIM 128, 4 residual blocks, EMBEDDING_DIM 128, Z_DIM 100).
    Forward and outputs as ``STAGE2_G`` (μ and log σ of the Stage-II CA).
    """

    registry_name = "stackgan_tf"
    ca_variant = "tf"
    stage1_class = StackGANTFStage1G

    def __init__(self, gf_dim: int = 128, cond_dim: int = 128, r_num: int = 4, z_dim: int = 100,
                 text_dim: int = 1024, stage1_gf_dim: Optional[int] = None, stage1_cond_dim: Optional[int] = None,
                 stage1: Optional[nn.Module] = None) -> None:
        super().__init__(gf_dim, cond_dim, r_num, z_dim, text_dim, stage1_gf_dim, stage1_cond_dim, stage1)

    def optimize_for_inference(self) -> nn.Module:
        raise TypeError("no inference rewrite for the TF StackGAN generator yet")


# ------------------------------------------------------------------------------------ conversion

TF_KINDS = ("stackgan_tf", "stackgan_tf_stage1")


def is_tf_checkpoint(path) -> bool:
    """True when ``path`` is a TensorFlow checkpoint (a V1 table file, a V2 prefix or its ``.index``)."""
    if isinstance(path, Mapping):
        return False
    p = Path(os.fspath(path))
    if Path(str(p) + ".index").is_file() or (p.suffix == ".index" and p.is_file()):
        return True
    if not p.is_file():
        return False
    from ..convert._tf_table import TABLE_MAGIC

    with open(p, "rb") as f:
        f.seek(0, 2)
        if f.tell() < 48:
            return False
        f.seek(-8, 2)
        return int.from_bytes(f.read(8), "little") == TABLE_MAGIC


def _scopes(names: List[str], outer: str, method: str, count: Optional[int], source: str) -> List[str]:
    found = tfm.numbered_scopes(names, outer, method)
    if count is not None and len(found) != count:
        raise ArchitectureMismatchError(f"{source}: {len(found)} {outer}/{method}* layers, expected {count}: not the "
                                        "StackGAN TensorFlow generator (stageII/model.py)")
    return found


def _dense(t: Mapping[str, torch.Tensor], scope: str, prefix: str) -> Dict[str, torch.Tensor]:
    return {prefix + "weight": tfm.dense_kernel(tfm.lookup(t, scope + "/Linear/Matrix")),
            prefix + "bias": tfm.lookup(t, scope + "/Linear/bias")}


def _convs(t, scopes: List[str], keys: List[str]) -> Dict[str, torch.Tensor]:
    return {k + ".weight": tfm.conv2d_kernel(tfm.lookup(t, s + "/w")) for s, k in zip(scopes, keys)}


def _bns(t, scopes: List[str], keys: List[str]) -> Dict[str, torch.Tensor]:
    out: Dict[str, torch.Tensor] = {}
    for s, k in zip(scopes, keys):
        out.update(tfm.batch_norm(t, s, k + "."))
    return out


_S1_CONVS = ["node1_1.0", "node1_1.3", "node1_1.6", "node2_0.1", "node2_1.0", "node2_1.3", "node2_1.6",
             "upsample1.1", "upsample2.1", "img.1"]
_S1_BNS = ["node1_1.1", "node1_1.4", "node1_1.7", "node2_0.2", "node2_1.1", "node2_1.4", "node2_1.7",
           "upsample1.2", "upsample2.2"]


def _stage1_state(t: Mapping[str, torch.Tensor], names: List[str], source: str):
    fcs = _scopes(names, "g_net", "custom_fully_connected", 2, source)
    convs = _scopes(names, "g_net", "custom_conv2d", len(_S1_CONVS), source)
    bns = _scopes(names, "g_net", "conv_batch_norm", len(_S1_BNS), source)
    fc_bn = _scopes(names, "g_net", "fc_batch_norm", 1, source)[0]
    sd = _dense(t, fcs[0], "ca_net.fc.")
    fc = _dense(t, fcs[1], "fc.0.")
    bn1d = tfm.batch_norm(t, fc_bn + "/batch_norm", "fc.1.")
    sd.update(_convs(t, convs, _S1_CONVS))
    sd.update(_bns(t, bns, _S1_BNS))
    g8 = sd["node1_1.0.weight"].shape[1]
    cond = sd["ca_net.fc.weight"].shape[0] // 2
    s16 = math.isqrt(fc["fc.0.weight"].shape[0] // g8)
    if s16 * s16 * g8 != fc["fc.0.weight"].shape[0] or g8 % 8:
        raise ArchitectureMismatchError(f"{source}: {fcs[1]} has {fc['fc.0.weight'].shape[0]} outputs, not s·s·{g8}")
    for k, v in list(fc.items()) + list(bn1d.items()):  # TF reshapes the features as NHWC (h, w, c)
        sd[k] = tfm.nhwc_features_to_nchw(v, s16, s16, g8) if v.dim() else v
    config = dict(gf_dim=g8 // 8, cond_dim=cond, z_dim=fc["fc.0.weight"].shape[1] - cond,
                  text_dim=sd["ca_net.fc.weight"].shape[1], imsize=16 * s16)
    return sd, config


def _stage2_state(t: Mapping[str, torch.Tensor], names: List[str], source: str):
    fcs = _scopes(names, "hr_g_net", "custom_fully_connected", 1, source)
    convs = _scopes(names, "hr_g_net", "custom_conv2d", None, source)
    r_num = (len(convs) - 9) // 2
    if len(convs) < 9 or len(convs) != 9 + 2 * r_num:
        raise ArchitectureMismatchError(f"{source}: {len(convs)} hr_g_net/custom_conv2d* layers: not the StackGAN "
                                        "TensorFlow Stage-II generator")
    res = [f"residual.{i}.block.{j}" for i in range(r_num) for j in (0, 3)]
    conv_keys = ["encoder.0", "encoder.2", "encoder.5", "hr_joint.0"] + res + \
        [f"upsample{i}.1" for i in range(1, 5)] + ["img.0"]
    bn_keys = ["encoder.3", "encoder.6", "hr_joint.1"] + [f"residual.{i}.block.{j}" for i in range(r_num)
                                                          for j in (1, 4)] + [f"upsample{i}.2" for i in range(1, 5)]
    bns = _scopes(names, "hr_g_net", "conv_batch_norm", len(bn_keys), source)
    sd = _dense(t, fcs[0], "ca_net.")
    sd = {"ca_net.fc." + k[len("ca_net."):]: v for k, v in sd.items()}
    sd.update(_convs(t, convs, conv_keys))
    sd.update(_bns(t, bns, bn_keys))
    return sd, dict(gf_dim=sd["encoder.0.weight"].shape[0], cond_dim=sd["ca_net.fc.weight"].shape[0] // 2,
                    r_num=r_num, text_dim=sd["ca_net.fc.weight"].shape[1])


def stackgan_tf_from_checkpoint(checkpoint: Union[str, os.PathLike, Mapping[str, torch.Tensor]], stage: int = 2, *,
                                verify: bool = True, dtype: Optional[torch.dtype] = None) -> nn.Module:
    """The TF StackGAN generator from an authors' checkpoint (``birds_model_164000.ckpt``; V1 or V2).

    Args:
        checkpoint: the checkpoint path (prefix, V1 file, ``.index``, state file or folder) or a
            ``{TF name: tensor}`` mapping (e.g. ``read_tf_checkpoint(path)``).
        stage: 2 (:class:`StackGANTFStage2G`, needs ``hr_g_net/*``) or 1 (:class:`StackGANTFStage1G`, ``g_net/*``).
        verify: check the checkpoint's CRCs while reading.
        dtype: cast the weights (default float32 as stored).

    Returns the module in eval mode; sizes are read off the variables.
    """
    from ..convert.tf import read_tf_checkpoint

    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    source = "<mapping>" if isinstance(checkpoint, Mapping) else os.fspath(checkpoint)
    t = checkpoint if isinstance(checkpoint, Mapping) else read_tf_checkpoint(checkpoint, verify=verify)
    names = tfm.drop_training_state(list(t.keys()))
    if not any(n.startswith("g_net/") for n in names):
        raise ArchitectureMismatchError(
            f"{source}: no 'g_net/' variables, so this is not a StackGAN TensorFlow generator checkpoint (the release "
            "files are models/birds_model_164000.ckpt and models/flowers_model_130000.ckpt); list its names with "
            "`textgan convert tf-inspect`")
    if stage == 2 and not any(n.startswith("hr_g_net/") for n in names):
        raise ArchitectureMismatchError(
            f"{source}: no 'hr_g_net/' variables: a Stage-I checkpoint (stageI/run_exp.py), not a Stage-II one; "
            "load it with stage=1 (kind 'stackgan_tf_stage1')")
    try:
        sd1, cfg1 = _stage1_state(t, names, source)
        if stage == 1:
            return build_from_state_dict(StackGANTFStage1G, cfg1, sd1, f"{source} (TF Stage-I)", "", dtype)
        sd2, cfg2 = _stage2_state(t, names, source)
    except CheckpointError as e:
        if isinstance(e, ArchitectureMismatchError):
            raise
        raise ArchitectureMismatchError(f"{source}: not the StackGAN TensorFlow generator: {e}") from None
    sd2.update({"STAGE1_G." + k: v for k, v in sd1.items()})
    config = dict(cfg2, z_dim=cfg1["z_dim"], stage1_gf_dim=cfg1["gf_dim"], stage1_cond_dim=cfg1["cond_dim"])
    if cfg1["imsize"] != 64:
        raise ArchitectureMismatchError(f"{source}: Stage-I makes {cfg1['imsize']} px images; Stage-II expects 64")
    return build_from_state_dict(StackGANTFStage2G, config, sd2, f"{source} (TF Stage-II)", "", dtype)


# ------------------------------------------------------------------------------- registered models


@register_model("stackgan")
def stackgan_tf(*, gf_dim: int = 128, cond_dim: int = 128, r_num: int = 4, z_dim: int = 100, text_dim: int = 1024,
                stage1_gf_dim: Optional[int] = None, stage1_cond_dim: Optional[int] = None) -> StackGANTFStage2G:
    """StackGAN TensorFlow-release Stage-II generator with its Stage-I (birds/flowers defaults)."""
    return StackGANTFStage2G(gf_dim, cond_dim, r_num, z_dim, text_dim, stage1_gf_dim, stage1_cond_dim)


@register_model("stackgan")
def stackgan_tf_stage1(*, gf_dim: int = 128, cond_dim: int = 128, z_dim: int = 100, text_dim: int = 1024,
                       imsize: int = 64) -> StackGANTFStage1G:
    """StackGAN TensorFlow-release Stage-I generator."""
    return StackGANTFStage1G(gf_dim, cond_dim, z_dim, text_dim, imsize)


_PAPER = ("Zhang et al., StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative Adversarial "
          "Networks, ICCV 2017")
_IS = "StackGAN-inception-model (Inception-v3 fine-tuned on the dataset), 30,000 samples, 10 splits"
for _tag, _dataset, _drive, _file, _score, _enc in (
    ("birds", "CUB-200-2011", "0B3y_msrWZaXLNUNKa3BaRjAyTzQ", "birds_model_164000.ckpt", (3.70, "±0.04"),
     "0B0ywwgffWnLLU0F3UHA3NzFTNEE"),
    ("flowers", "Oxford-102 Flowers", "0B3y_msrWZaXLX01FMC1JQW9vaFk", "flowers_model_130000.ckpt", (3.20, "±0.01"),
     "0B0ywwgffWnLLZUt0UmQ1LU1oWlU"),
):
    register_pretrained(PretrainedTag(
        tag=f"stackgan-{_tag}", family="stackgan", dataset=_dataset, resolution=256,
        text_encoder="char-CNN-RNN 1024-d (reedscot/icml2016, the encoder demo/*_demo.sh uses)",
        license="MIT (hanzhanggit/StackGAN)", paper=_PAPER,
        original_url=f"https://drive.google.com/open?id={_drive}", original_filename=_file,
        file_format="TensorFlow 0.11/0.12 Saver checkpoint (most likely V1, one file), prettytensor variable names",
        converter="stackgan_tf", hub_id=f"textgan/stackgan-{_tag}",
        parts={"stackgan_tf": "model.safetensors", "char_cnn_rnn": "text_encoder.safetensors"},
        text_encoder_url=f"https://drive.google.com/file/d/{_enc}/view (char-CNN-RNN .t7 for models/text_encoder/)",
        metrics=(Metric("IS", _score[0], f"{_IS} ({_score[1]})", "StackGAN paper (ICCV 2017), Table 1"),),
        notes=(f"Convert with `textgan convert stackgan-tf {_file} --text-encoder ENC.t7 -o DIR`. A different network "
               "from the PyTorch COCO release (see docs/families/stackgan.md)."),
    ))
