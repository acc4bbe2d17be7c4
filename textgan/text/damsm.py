"""The DAMSM text encoder of AttnGAN (Xu et al., CVPR 2018), used by AttnGAN, DF-GAN, SSA-GAN and SEMA.

Original: taoxugit/AttnGAN ``code/model.py:RNN_ENCODER``. A word embedding (300-d), dropout, and a one-layer
bidirectional LSTM with 128 units per direction. Word features are the LSTM outputs, the sentence feature is
the pair of final hidden states ``[forward ‖ backward]``.

Unlike the original, captions may come in any order of lengths (the original needs them sorted in
descending order); results are the same as sorting, encoding and un-sorting.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["DAMSMTextEncoder"]


class DAMSMTextEncoder(nn.Module):
    """Bidirectional RNN text encoder with the authors' parameter names (``encoder``, ``rnn``).

    Args:
        vocab_size: number of words including index 0 (padding / ``<end>``); read it from the weights'
            ``encoder.weight`` or from the vocabulary.
        embedding_dim: word embedding width (300 in every release).
        hidden_dim: total feature width, split over the two directions (256 = 2 × 128).
        dropout: dropout on the word embeddings (active in training mode only).
        num_layers: RNN layers.
        bidirectional: two directions (every release).
        rnn_type: ``"LSTM"`` (every release) or ``"GRU"`` (AttnGAN's other configuration option).

    Forward: ``(captions (B, T) long, cap_lens (B,), hidden=None)`` → ``words_emb`` (B, hidden_dim,
    max(cap_lens)) with zeros after each caption's end, ``sent_emb`` (B, hidden_dim).
    """

    registry_name = "damsm_text_encoder"

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 300,
        hidden_dim: int = 256,
        dropout: float = 0.5,
        num_layers: int = 1,
        bidirectional: bool = True,
        rnn_type: str = "LSTM",
    ) -> None:
        super().__init__()
        if rnn_type not in ("LSTM", "GRU"):
            raise ValueError(f"rnn_type must be 'LSTM' or 'GRU', got {rnn_type!r}")
        self.num_directions = 2 if bidirectional else 1
        if hidden_dim % self.num_directions:
            raise ValueError(f"hidden_dim={hidden_dim} must be divisible by the {self.num_directions} directions")
        self.vocab_size, self.embedding_dim, self.hidden_dim = vocab_size, embedding_dim, hidden_dim
        self.num_layers, self.rnn_type = num_layers, rnn_type
        self.encoder = nn.Embedding(vocab_size, embedding_dim)
        self.drop = nn.Dropout(dropout)
        rnn_cls = nn.LSTM if rnn_type == "LSTM" else nn.GRU
        self.rnn = rnn_cls(
            embedding_dim, hidden_dim // self.num_directions, num_layers, batch_first=True,
            bidirectional=bidirectional,
        )
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)

    @property
    def config(self) -> dict:
        return {
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "hidden_dim": self.hidden_dim,
            "dropout": self.drop.p, "num_layers": self.num_layers,
            "bidirectional": self.num_directions == 2, "rnn_type": self.rnn_type,
        }

    def init_hidden(self, batch_size: int):
        """Zero initial state, as the original ``init_hidden``."""
        w = self.encoder.weight
        shape = (self.num_layers * self.num_directions, batch_size, self.hidden_dim // self.num_directions)
        h0 = w.new_zeros(shape)
        return (h0, w.new_zeros(shape)) if self.rnn_type == "LSTM" else h0

    def forward(
        self, captions: torch.Tensor, cap_lens: torch.Tensor, hidden: Optional[Tuple[torch.Tensor, ...]] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if captions.dim() != 2:
            raise ValueError(f"captions must be (batch, length) word ids, got shape {tuple(captions.shape)}")
        lengths = torch.as_tensor(cap_lens).to("cpu", torch.int64)
        if lengths.numel() != captions.shape[0]:
            raise ValueError(f"cap_lens has {lengths.numel()} entries for {captions.shape[0]} captions")
        if bool((lengths < 1).any()) or int(lengths.max()) > captions.shape[1]:
            raise ValueError(
                f"cap_lens must lie in [1, {captions.shape[1]}], got {lengths.tolist()}: a caption with no "
                "known word cannot be encoded"
            )
        batch = captions.shape[0]
        if hidden is None:
            hidden = self.init_hidden(batch)
        emb = self.drop(self.encoder(captions))
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        output, h_n = self.rnn(packed, hidden)
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        output = pad_packed_sequence(output, batch_first=True)[0]
        words_emb = output.transpose(1, 2)
        # last layer's directions, [forward | backward]
        h_last = h_n[-self.num_directions:]
        sent_emb = h_last.transpose(0, 1).reshape(batch, self.hidden_dim)
        return words_emb, sent_emb
