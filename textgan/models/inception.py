"""Inception-v3 in the library (no torchvision needed) and the DAMSM image encoder of AttnGAN built on it.

The network is Szegedy et al.'s Inception-v3 (CVPR 2016) with the module names of torchvision's
``inception_v3`` (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``, ...), so that both
torchvision's state dict and the AttnGAN authors' ``image_encoder*.pth`` load with no key map. Written from
the architecture description; no torchvision code is used.

:class:`DAMSMImageEncoder` is AttnGAN's ``CNN_ENCODER`` (taoxugit/AttnGAN ``code/model.py``, MIT licence):
the trunk up to ``Mixed_7c`` (no ``AuxLogits``, no ``fc``), fed the [-1, 1] image resized to 299×299 with
no ImageNet normalisation; ``emb_features`` (1×1 conv, no bias) turns the 17×17×768 ``Mixed_6e`` map into
the region features and ``emb_cnn_code`` (linear) the pooled 2048-d ``Mixed_7c`` vector into the global
code. Released as ``image_encoder200.pth`` (birds) / ``image_encoder100.pth`` (COCO) with the DAMSM text
encoders. Their trunk is not ImageNet's: DAMSM pre-training ran the frozen trunk in training mode, which
updated its BatchNorm statistics, so always load the trunk from the DAMSM file.

**The align_corners switch.** The encoder resizes with bilinear interpolation. PyTorch ≤ 0.3.1, which the
authors trained and evaluated with, interpolated like ``align_corners=True``; from 0.4 the default is
``False``, so their code run on a modern PyTorch computes something slightly different from what the
weights were trained for. ``align_corners=True`` (the default here) is the 2018 behaviour,
``align_corners=False`` what the official code gives today. It matters only for inputs that are not
299×299 (the 256 px images of AttnGAN training and of R-precision evaluation).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import register_model

__all__ = ["InceptionV3", "DAMSMImageEncoder", "BasicConv2d", "inception_config_from_state_dict",
           "image_encoder_config_from_state_dict"]


class BasicConv2d(nn.Module):
    """Convolution without bias → BatchNorm (eps 0.001) → ReLU; children ``conv`` and ``bn``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class _Block(nn.Module):
    """Base of the mixed blocks: ``w(c)`` scales a torchvision channel count by the width divisor."""

    def __init__(self, divisor: int) -> None:
        super().__init__()
        self._d = divisor

    def w(self, channels: int) -> int:
        return channels // self._d

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        # The pool branch's input; the TF-ported FID and IS networks override it (textgan/metrics/inception.py).
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(_Block):
    def __init__(self, in_channels: int, pool_features: int, d: int = 1) -> None:
        super().__init__(d)
        w = self.w
        self.branch1x1 = BasicConv2d(in_channels, w(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, w(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(w(48), w(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, w(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, w(pool_features), kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(self._pool(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(_Block):
    def __init__(self, in_channels: int, d: int = 1) -> None:
        super().__init__(d)
        w = self.w
        self.branch3x3 = BasicConv2d(in_channels, w(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, w(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(_Block):
    def __init__(self, in_channels: int, channels_7x7: int, d: int = 1) -> None:
        super().__init__(d)
        w, c7 = self.w, self.w(channels_7x7)
        self.branch1x1 = BasicConv2d(in_channels, w(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, w(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, w(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, w(192), kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(self._pool(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(_Block):
    def __init__(self, in_channels: int, d: int = 1) -> None:
        super().__init__(d)
        w = self.w
        self.branch3x3_1 = BasicConv2d(in_channels, w(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(w(192), w(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, w(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(w(192), w(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(w(192), w(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(w(192), w(192), kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(_Block):
    def __init__(self, in_channels: int, d: int = 1) -> None:
        super().__init__(d)
        w = self.w
        self.branch1x1 = BasicConv2d(in_channels, w(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, w(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(w(384), w(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(w(384), w(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, w(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(w(448), w(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(w(384), w(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(w(384), w(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, w(192), kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(self._pool(x))
        return torch.cat([b1, b3, bd, bp], 1)


class InceptionAux(_Block):
    def __init__(self, in_channels: int, num_classes: int, d: int = 1) -> None:
        super().__init__(d)
        self.conv0 = BasicConv2d(in_channels, self.w(128), kernel_size=1)
        self.conv1 = BasicConv2d(self.w(128), self.w(768), kernel_size=5)
        self.fc = nn.Linear(self.w(768), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


class _InceptionTrunk(nn.Module):
    """``Conv2d_1a_3x3`` … ``Mixed_7c`` as top-level children, torchvision's names and channel counts ÷ d."""

    def _build_trunk(self, d: int) -> None:
        if d < 1 or any(c % d for c in (32, 48, 80, 160, 320, 448)):
            raise ValueError(f"width_divisor must divide every Inception width (1, 2, 4, 8 or 16), got {d}")
        w = lambda c: c // d  # noqa: E731
        self.Conv2d_1a_3x3 = BasicConv2d(3, w(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(w(32), w(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(w(32), w(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(w(64), w(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(w(80), w(192), kernel_size=3)
        self.Mixed_5b = InceptionA(w(192), 32, d)
        self.Mixed_5c = InceptionA(w(256), 64, d)
        self.Mixed_5d = InceptionA(w(288), 64, d)
        self.Mixed_6a = InceptionB(w(288), d)
        self.Mixed_6b = InceptionC(w(768), 128, d)
        self.Mixed_6c = InceptionC(w(768), 160, d)
        self.Mixed_6d = InceptionC(w(768), 160, d)
        self.Mixed_6e = InceptionC(w(768), 192, d)
        self.Mixed_7a = InceptionD(w(768), d)
        self.Mixed_7b = InceptionE(w(1280), d)
        self.Mixed_7c = InceptionE(w(2048), d)

    def _to_17x17(self, x: torch.Tensor) -> torch.Tensor:
        """299×299 input → the (B, 768/d, 17, 17) ``Mixed_6e`` map."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        return x

    def _to_pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``Mixed_6e`` map → the (B, 2048/d) average-pooled ``Mixed_7c`` vector."""
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)


class InceptionV3(_InceptionTrunk):
    """Inception-v3 with torchvision's module names: its ``inception_v3()`` state dict loads strictly.

    Args:
        num_classes: classifier outputs (1000 for the ImageNet weights).
        aux_logits: build the auxiliary classifier ``AuxLogits`` (torchvision's state dicts hold it).
        width_divisor: divide every width by this (1 = the real network; narrow copies for tests).

    Forward: ``x (B, 3, 299, 299)``, already normalised as the weights expect (this module applies no input
    transform) → logits (B, num_classes); :meth:`features` gives the pooled (B, 2048) vector. The auxiliary
    head is built for loading only and is not run.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, width_divisor: int = 1) -> None:
        super().__init__()
        self.config = dict(num_classes=num_classes, aux_logits=aux_logits, width_divisor=width_divisor)
        self._build_trunk(width_divisor)
        if aux_logits:
            self.AuxLogits = InceptionAux(768 // width_divisor, num_classes, width_divisor)
        self.fc = nn.Linear(2048 // width_divisor, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._to_pooled(self._to_17x17(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class DAMSMImageEncoder(_InceptionTrunk):
    """AttnGAN's DAMSM image encoder (``CNN_ENCODER``): image → (region features, global code).

    Args:
        nef: output width of both heads (256 in every release; the authors force 256 at evaluation).
        width_divisor: divide the trunk's widths by this (1 for the released encoders).
        align_corners: bilinear semantics of the resize to 299: ``True`` (default) is PyTorch 0.3, which
            the released encoders were trained with; ``False`` is what the authors' code computes on
            PyTorch ≥ 0.4 (see the module docstring).
        input_size: side of the square the input is resized to (299).

    Forward: ``images (B, 3, H, W)`` in [-1, 1] → ``(features (B, nef, 17, 17), cnn_code (B, nef))``.
    """

    registry_name = "damsm_image_encoder"

    def __init__(self, nef: int = 256, width_divisor: int = 1, align_corners: bool = True,
                 input_size: int = 299) -> None:
        super().__init__()
        self.config = dict(nef=nef, width_divisor=width_divisor, align_corners=align_corners, input_size=input_size)
        self.nef, self.align_corners, self.input_size = nef, align_corners, input_size
        self._build_trunk(width_divisor)
        self.emb_features = nn.Conv2d(768 // width_divisor, nef, kernel_size=1, bias=False)
        self.emb_cnn_code = nn.Linear(2048 // width_divisor, nef)
        nn.init.uniform_(self.emb_features.weight, -0.1, 0.1)  # the authors' init of the two heads
        nn.init.uniform_(self.emb_cnn_code.weight, -0.1, 0.1)

    @classmethod
    def from_torchvision(cls, state_dict: Mapping[str, torch.Tensor], nef: int = 256, **kwargs) -> "DAMSMImageEncoder":
        """A new encoder whose trunk is a torchvision ``inception_v3`` state dict (``AuxLogits``/``fc`` dropped)
        and whose heads are freshly initialised, as the authors' constructor does before DAMSM training."""
        from .._weights import check_state_dict

        trunk = {k: v for k, v in state_dict.items() if not k.startswith(("AuxLogits.", "fc."))}
        config = inception_config_from_state_dict(trunk)
        model = cls(nef=nef, width_divisor=config["width_divisor"], **kwargs)
        full = dict(model.state_dict())
        full.update(trunk)
        check_state_dict(model, full, "torchvision inception_v3 state dict")
        model.load_state_dict(full, strict=True)
        return model

    def forward(self, images: torch.Tensor, align_corners: Optional[bool] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (batch, 3, H, W) in [-1, 1], got {tuple(images.shape)}")
        corners = self.align_corners if align_corners is None else align_corners
        x = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear", align_corners=corners)
        regions = self._to_17x17(x)
        features = self.emb_features(regions)
        cnn_code = self.emb_cnn_code(self._to_pooled(regions))
        return features, cnn_code


# ------------------------------------------------------------------------------------ conversion


def inception_config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """``width_divisor`` of an Inception trunk from its first convolution (32 channels at full width)."""
    from ..errors import ArchitectureMismatchError

    key = "Conv2d_1a_3x3.conv.weight"
    if key not in sd:
        raise ArchitectureMismatchError(
            f"not an Inception-v3 state dict: {key!r} is missing (first keys: {', '.join(list(sd)[:5])})")
    out = sd[key].shape[0]
    if out < 1 or 32 % out:
        raise ArchitectureMismatchError(f"{key} has {out} output channels; an Inception-v3 trunk has 32 (or 32/d)")
    return dict(width_divisor=32 // out)


def image_encoder_config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """Constructor arguments of a :class:`DAMSMImageEncoder` read off a DAMSM ``image_encoder*.pth``."""
    from ..errors import ArchitectureMismatchError

    if "emb_cnn_code.weight" not in sd:
        raise ArchitectureMismatchError(
            "not a DAMSM image encoder: 'emb_cnn_code.weight' is missing; pass the AttnGAN image_encoder*.pth "
            f"(first keys: {', '.join(list(sd)[:5])})")
    return dict(nef=int(sd["emb_cnn_code.weight"].shape[0]), **inception_config_from_state_dict(sd))


@register_model("damsm")
def damsm_image_encoder(*, nef: int = 256, width_divisor: int = 1, align_corners: bool = True,
                        input_size: int = 299) -> DAMSMImageEncoder:
    """DAMSM Inception-v3 image encoder (defaults: the released encoders, 2018 resize semantics)."""
    return DAMSMImageEncoder(nef, width_divisor, align_corners, input_size)
