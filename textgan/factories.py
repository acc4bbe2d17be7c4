"""Family factories: ``textgan.dfgan(pretrained="birds")`` and friends, thin layers over ``create_model``."""
from __future__ import annotations

from typing import Optional

import torch.nn as nn

from ._registry import create_model

__all__ = ["dfgan", "dfgan2020", "damsm_text_encoder"]

_DFGAN_PARTS = {"generator": "dfgan", "discriminator": "dfgan_discriminator", "condition_head": "dfgan_condition_head"}
_DFGAN2020_PARTS = {"generator": "dfgan2020", "discriminator": "dfgan2020_discriminator"}


def _part(parts: dict, part: str, family: str) -> str:
    if part not in parts:
        raise ValueError(f"{family}: part must be one of {sorted(parts)}, got {part!r}")
    return parts[part]


def dfgan(pretrained: Optional[str] = None, *, part: str = "generator", **kwargs) -> nn.Module:
    """DF-GAN 2022 ``part`` ("generator", "discriminator", "condition_head"); ``pretrained="birds"|"coco"``
    (or a folder / ``hf-hub:`` id) loads converted weights, otherwise sizes come from ``kwargs``."""
    return create_model(_part(_DFGAN_PARTS, part, "dfgan"), pretrained=pretrained, **kwargs)


def dfgan2020(pretrained: Optional[str] = None, *, part: str = "generator", **kwargs) -> nn.Module:
    """DF-GAN 2020 ``part`` ("generator", "discriminator")."""
    return create_model(_part(_DFGAN2020_PARTS, part, "dfgan2020"), pretrained=pretrained, **kwargs)


def damsm_text_encoder(pretrained: Optional[str] = None, **kwargs) -> nn.Module:
    """The DAMSM bi-LSTM text encoder; ``pretrained`` takes a tag of a family that uses it (``"dfgan-birds"``)."""
    return create_model("damsm_text_encoder", pretrained=pretrained, **kwargs)
