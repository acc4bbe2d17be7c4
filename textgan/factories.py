"""Family factories: ``textgan.dfgan(pretrained="birds")`` and friends, thin layers over ``create_model``.

Each takes ``pretrained`` (a tag, its short name such as ``"birds"``, a folder or ``"hf-hub:org/name"``) and
``part`` (which network of the family), and passes other keyword arguments to the model's constructor.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch.nn as nn

from ._registry import create_model

__all__ = ["dfgan", "dfgan2020", "damsm_text_encoder", "attngan", "ssagan", "sema", "gan_int_cls", "sisgan",
           "char_cnn_rnn", "stackgan"]


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
stackgan_v2 = _family("stackgan-v2", {"generator": "stackgan_v2", "discriminator": "stackgan_v2_discriminator"},
                      "StackGAN++ (StackGAN-v2); ``pretrained=\"birds\"`` (text-conditional) or ``\"dog\"``, "
                      "``\"cat\"``, ``\"bedroom\"``, ``\"church\"`` (unconditional).")


# runnable examples for the API pages (tests/test_docstrings.py runs them); small sizes, random weights
_EXAMPLES = {
    dfgan: """>>> G = textgan.dfgan(ngf=8, nz=10, cond_dim=12, imsize=32)   # textgan.dfgan(pretrained="birds"): released
>>> G(torch.randn(2, 10), torch.randn(2, 12)).shape   # (noise, sentence)
torch.Size([2, 3, 32, 32])
>>> textgan.dfgan(part="discriminator", ndf=4, imsize=32)(torch.randn(2, 3, 32, 32)).shape
torch.Size([2, 32, 4, 4])""",
    dfgan2020: """>>> G = textgan.dfgan2020(ngf=2, nz=5, cond_dim=6)
>>> G(torch.randn(1, 5), torch.randn(1, 6)).shape   # 256 px only
torch.Size([1, 3, 256, 256])""",
    attngan: """>>> G = textgan.attngan(ngf=4, nz=5, cond_dim=6, ca_dim=3, r_num=1, branch_num=2).eval()
>>> words, word_mask = torch.randn(1, 6, 4), torch.zeros(1, 4, dtype=torch.bool)   # 4 words, no padding
>>> images, attention, mu, logvar = G(torch.randn(1, 5), torch.randn(1, 6), words, word_mask)
>>> [tuple(x.shape) for x in images]   # one image per stage
[(1, 3, 64, 64), (1, 3, 128, 128)]""",
    ssagan: """>>> G = textgan.ssagan(ngf=2, nz=5, cond_dim=6, affine_hidden=7, mask_hidden=3)
>>> G(torch.randn(1, 5), torch.randn(1, 6)).shape
torch.Size([1, 3, 256, 256])""",
    sema: """>>> G = textgan.sema(ngf=2, nz=5, cond_dim=6, affine_hidden=7)
>>> G(torch.randn(1, 5), torch.randn(1, 6)).shape
torch.Size([1, 3, 256, 256])""",
    gan_int_cls: """>>> G = textgan.gan_int_cls(ngf=8, nz=10, embed_dim=12, projected_dim=4)
>>> G(torch.randn(2, 12), torch.randn(2, 10)).shape   # (text embedding, noise), the Torch7 order
torch.Size([2, 3, 64, 64])""",
    stackgan_v2: """>>> G = textgan.stackgan_v2(gf_dim=4, z_dim=5, emb_dim=6, text_dim=12, r_num=1, branch_num=2).eval()
>>> images, mu, logvar = G(torch.randn(1, 5), torch.randn(1, 12), generator=torch.Generator().manual_seed(0))
>>> [tuple(x.shape) for x in images]   # (noise, text embedding) -> one image per branch
[(1, 3, 64, 64), (1, 3, 128, 128)]""",
    sisgan: """>>> G = textgan.sisgan(channels=(3, 4, 5), vgg_widths=(2, 3, 4, 5), text_dim=6, cond_dim=4, num_residual=2)
>>> edited, mu, logvar = G(torch.rand(1, 3, 16, 16) * 2 - 1, torch.randn(1, 6), torch.randn(1, 4))
>>> edited.shape   # (image, sentence, conditioning noise) -> edited image
torch.Size([1, 3, 16, 16])""",
}
for _factory, _example in _EXAMPLES.items():
    _factory.__doc__ += "\n\nExamples:\n" + "\n".join("    " + line for line in _example.splitlines())


def char_cnn_rnn(pretrained: Optional[str] = None, **kwargs) -> nn.Module:
    """Reed's char-CNN-RNN text encoder (``textgan.text.CharCNNRNN``).

    Examples:
        >>> encoder = textgan.char_cnn_rnn(conv1_dim=6, conv2_dim=5, cnn_dim=4, emb_dim=7)
        >>> states, embedding = encoder(torch.randint(1, 71, (2, 201)), torch.tensor([201, 201]))
        >>> embedding.shape
        torch.Size([2, 7])
    """
    return create_model("char_cnn_rnn", pretrained=pretrained, **kwargs)


def damsm_text_encoder(pretrained: Optional[str] = None, **kwargs) -> nn.Module:
    """The DAMSM bi-LSTM text encoder; ``pretrained`` takes a tag of a family that uses it (``"dfgan-birds"``).

    Examples:
        >>> encoder = textgan.damsm_text_encoder(vocab_size=100, embedding_dim=16, hidden_dim=32)
        >>> words, sentence = encoder(torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2]))   # ids, lengths
        >>> words.shape, sentence.shape
        (torch.Size([2, 32, 3]), torch.Size([2, 32]))
    """
    return create_model("damsm_text_encoder", pretrained=pretrained, **kwargs)


# StackGAN v1: (variant, stage, part) -> registered model; the released files are whole Stage-II generators
_STACKGAN = {("pytorch", 2, "generator"): "stackgan", ("pytorch", 1, "generator"): "stackgan_stage1",
             ("pytorch", 2, "discriminator"): "stackgan_discriminator",
             ("pytorch", 1, "discriminator"): "stackgan_stage1_discriminator",
             ("tf", 2, "generator"): "stackgan_tf", ("tf", 1, "generator"): "stackgan_tf_stage1"}


def stackgan(pretrained: Optional[str] = None, *, stage: int = 2, part: str = "generator",
             variant: Optional[str] = None, **kwargs) -> nn.Module:
    """StackGAN v1: ``pretrained="coco"`` (PyTorch release) or ``"birds"`` / ``"flowers"`` (TensorFlow release).

    Args:
        stage: 2 (the Stage-II generator, holding its Stage-I as ``.STAGE1_G``) or 1 (the Stage-I generator; with
            ``pretrained`` it is taken out of the released Stage-II weights).
        part: ``"generator"`` or ``"discriminator"`` (PyTorch release only; no discriminator was released).
        variant: ``"pytorch"`` (``STAGE1_G`` / ``STAGE2_G``) or ``"tf"`` (the TF network); default: from
            ``pretrained`` (birds and flowers are TF), else ``"pytorch"``.

    Examples:
        >>> G = textgan.stackgan(stage=1, gf_dim=16, cond_dim=8, z_dim=10, text_dim=32).eval()
        >>> _, image, mu, logvar = G(torch.randn(2, 32), torch.randn(2, 10), generator=torch.Generator().manual_seed(0))
        >>> image.shape   # (text embedding, noise) -> Stage-I 64 px image
        torch.Size([2, 3, 64, 64])
    """
    if stage not in (1, 2):
        raise ValueError(f"stackgan: stage must be 1 or 2, got {stage!r}")
    if part not in ("generator", "discriminator"):
        raise ValueError(f"stackgan: part must be one of ['discriminator', 'generator'], got {part!r}")
    if variant is None:
        short = str(pretrained or "").rsplit("-", 1)[-1]
        variant = "tf" if short in ("birds", "flowers") else "pytorch"
    key = (variant, stage, part)
    if key not in _STACKGAN:
        raise ValueError(f"stackgan: no {part!r} for variant {variant!r} stage {stage}; choose from "
                         f"{sorted(set((v, p) for v, _, p in _STACKGAN))}")
    if stage == 1 and part == "generator" and pretrained is not None:
        return create_model(_STACKGAN[(variant, 2, part)], pretrained=pretrained, **kwargs).STAGE1_G
    return create_model(_STACKGAN[key], pretrained=pretrained, **kwargs)
