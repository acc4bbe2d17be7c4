"""Family factories: ``textgan.dfgan(pretrained="birds")`` and friends, thin layers over ``create_model``.

Each takes ``pretrained`` (a tag, its short name such as ``"birds"``, a folder or ``"hf-hub:org/name"``) and
``part`` (which network of the family), and passes other keyword arguments to the model's constructor.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch.nn as nn

from ._registry import create_model

__all__ = ["dfgan", "dfgan2020", "damsm_text_encoder", "attngan", "ssagan", "sema", "gan_int_cls", "sisgan",
           "char_cnn_rnn"]


def _family(family: str, parts: Dict[str, str], doc: str) -> Callable[..., nn.Module]:
    def factory(pretrained: Optional[str] = None, *, part: str = "generator", **kwargs) -> nn.Module:
        if part not in parts:
            raise ValueError(f"{family}: part must be one of {sorted(parts)}, got {part!r}")
        return create_model(parts[part], pretrained=pretrained, **kwargs)

    factory.__name__ = factory.__qualname__ = family.replace("-", "_")
    factory.__doc__ = f"{doc}\n\nParts: {', '.join(f'{k!r} ({v})' for k, v in parts.items())}."
    return factory


dfgan = _family("dfgan", {"generator": "dfgan", "discriminator": "dfgan_discriminator",
                          "condition_head": "dfgan_condition_head"},
                "DF-GAN 2022; ``pretrained=\"birds\"|\"coco\"``.")
dfgan2020 = _family("dfgan2020", {"generator": "dfgan2020", "discriminator": "dfgan2020_discriminator"},
                    "DF-GAN 2020 (arXiv v1); ``pretrained=\"birds\"|\"coco\"``.")
attngan = _family("attngan", {"generator": "attngan", "discriminator": "attngan_discriminator",
                              "text_encoder": "damsm_text_encoder", "image_encoder": "damsm_image_encoder"},
                  "AttnGAN; ``pretrained=\"birds\"|\"coco\"``.")
ssagan = _family("ssagan", {"generator": "ssagan", "discriminator": "ssagan_discriminator"},
                 "SSA-GAN; ``pretrained=\"birds\"|\"coco\"``.")
sema = _family("sema", {"generator": "sema"}, "SEMA; ``pretrained=\"coco\"``.")
gan_int_cls = _family("gan-int-cls", {"generator": "gan_int_cls", "discriminator": "gan_int_cls_discriminator",
                                      "lua_generator": "gan_int_cls_lua",
                                      "lua_discriminator": "gan_int_cls_lua_discriminator",
                                      "text_encoder": "char_cnn_rnn"},
                      "GAN-INT-CLS (Reed et al. 2016); ``pretrained=\"birds\"|\"flowers\"``.")
sisgan = _family("sisgan", {"generator": "sisgan", "discriminator": "sisgan_discriminator",
                            "text_encoder": "sisgan_text_encoder", "embedding": "sisgan_vse"},
                 "SISGAN (Dong et al. 2017); ``pretrained=\"birds\"|\"flowers\"``.")


def char_cnn_rnn(pretrained: Optional[str] = None, **kwargs) -> nn.Module:
    """Reed's char-CNN-RNN text encoder (``textgan.text.CharCNNRNN``)."""
    return create_model("char_cnn_rnn", pretrained=pretrained, **kwargs)


def damsm_text_encoder(pretrained: Optional[str] = None, **kwargs) -> nn.Module:
    """The DAMSM bi-LSTM text encoder; ``pretrained`` takes a tag of a family that uses it (``"dfgan-birds"``)."""
    return create_model("damsm_text_encoder", pretrained=pretrained, **kwargs)
