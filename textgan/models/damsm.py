"""DAMSM encoders of AttnGAN (Xu et al., CVPR 2018): the text side, registered as a model.

Original: taoxugit/AttnGAN ``code/model.py:RNN_ENCODER``; released as ``text_encoder200.pth`` (birds,
vocabulary 5450) and ``text_encoder100.pth`` (COCO, 27297) with the AttnGAN/DF-GAN metadata. The module
itself lives in :mod:`textgan.text.damsm`.
"""
from __future__ import annotations

from typing import Dict, Mapping

import torch

from .._registry import register_model
from ..errors import ArchitectureMismatchError
from ..text.damsm import DAMSMTextEncoder

__all__ = ["damsm_text_encoder", "text_encoder_config_from_state_dict"]


@register_model("damsm")
def damsm_text_encoder(
    *, vocab_size: int = 5450, embedding_dim: int = 300, hidden_dim: int = 256, dropout: float = 0.5,
    num_layers: int = 1, bidirectional: bool = True, rnn_type: str = "LSTM",
) -> DAMSMTextEncoder:
    """DAMSM bi-LSTM text encoder (defaults: the birds release)."""
    return DAMSMTextEncoder(vocab_size, embedding_dim, hidden_dim, dropout, num_layers, bidirectional, rnn_type)


def text_encoder_config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """Sizes of a DAMSM text encoder read off its state dict."""
    if "encoder.weight" not in sd or "rnn.weight_hh_l0" not in sd:
        raise ArchitectureMismatchError(
            "not a DAMSM text encoder state dict: it needs 'encoder.weight' and 'rnn.weight_hh_l0' "
            f"(first keys: {', '.join(list(sd)[:5])}); pass the AttnGAN text_encoder*.pth file"
        )
    vocab, emb = sd["encoder.weight"].shape
    gates, per_dir = sd["rnn.weight_hh_l0"].shape
    rnn_type = {4: "LSTM", 3: "GRU"}.get(gates // per_dir)
    if rnn_type is None:
        raise ArchitectureMismatchError(f"DAMSM text encoder: rnn.weight_hh_l0 has shape {tuple(sd['rnn.weight_hh_l0'].shape)}, "
                                        "which is neither an LSTM nor a GRU")
    bidirectional = "rnn.weight_hh_l0_reverse" in sd
    layers = 1 + max([int(k.split("_l")[1].split("_")[0]) for k in sd if k.startswith("rnn.weight_hh_l")])
    return dict(vocab_size=vocab, embedding_dim=emb, hidden_dim=per_dir * (2 if bidirectional else 1),
                num_layers=layers, bidirectional=bidirectional, rnn_type=rnn_type)
