"""SISGAN's visual-semantic embedding (Dong et al., ICCV 2017, as implemented in woozzu/dong_iccv_2017).

Original: ``model.py:VisualSemanticEmbedding`` and its use in ``train_text_embedding.py``, ``train.py`` and
``test.py`` (MIT licence). It is trained with the pairwise ranking loss of Kiros et al.
(:func:`textgan.losses.pairwise_ranking_loss`), and afterwards only its text side is kept, to condition the
SISGAN generator and discriminator.

* Text: a one-layer ``nn.GRU(300, 300)`` over the sentence's fastText word vectors
  (:class:`textgan.text.WordVectors`). The sentence feature is the GRU's **final hidden state**, taken at
  each sentence's own length through packed sequences, which is how ``train.py`` and
  ``train_text_embedding.py`` run it. ``test.py`` feeds one unpadded sentence, which gives the same result;
  the unpacked path over zero padding (``lengths=None`` here) is available for comparison.
* Image: ImageNet VGG-16 (:class:`textgan.nn.VGG16`, torchvision's names) → ``features`` → flatten →
  ``classifier[0:6]`` (fc6, ReLU, Dropout, fc7, ReLU, Dropout) → ``W = Linear(4096, 300, bias=False)``. The
  original skips VGG's adaptive average pooling, so the input must be 224×224 (ImageNet-normalised).
* Tokenisation (``data.py:split_sentence_into_words``): lower-case, then the runs of ``\\w`` characters
  (nltk ``RegexpTokenizer(r'\\w+')``); punctuation is dropped.

The original module also registers ``feat_extractor``, the same fc6/fc7 modules a second time, so its
state dict lists ``feat_extractor.{0,3}.*`` beside ``img_encoder.classifier.{0,3}.*``. Here it is a view
(:attr:`VisualSemanticEmbedding.feat_extractor`) and the converter drops the duplicate keys after checking
that they are equal.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..nn.vgg import VGG16, VGG16_WIDTHS

__all__ = ["SISGANTextEncoder", "VisualSemanticEmbedding", "sisgan_tokenize"]

_WORDS = re.compile(r"\w+")


def sisgan_tokenize(sentence: str) -> List[str]:
    """SISGAN's words of a sentence: lower-cased runs of letters, digits and ``_`` (Unicode ``\\w``)."""
    return _WORDS.findall(sentence.lower())


def _final_hidden(gru: nn.GRU, words: torch.Tensor, lengths: Optional[torch.Tensor]) -> torch.Tensor:
    """The GRU's last layer's final hidden state (B, H) over batch-first ``words`` (B, T, D)."""
    if words.dim() != 3:
        raise ValueError(f"word vectors must be (batch, words, dim), got shape {tuple(words.shape)}")
    if lengths is None:  # every position, padding included (the original's unpacked call, h0 = 0)
        _, h = gru(words.transpose(0, 1))
        return h[-1]
    lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
    if lengths.shape != (words.shape[0],):
        raise ValueError(f"lengths must have shape ({words.shape[0]},), got {tuple(lengths.shape)}")
    if bool((lengths < 1).any()) or bool((lengths > words.shape[1]).any()):
        raise ValueError(f"every length must be in 1..{words.shape[1]} (a sentence needs at least one word), "
                         f"got {lengths.tolist()}")
    # enforce_sorted=False sorts and restores the order internally: the same as train.py's argsort/pack/unsort
    packed = pack_padded_sequence(words.transpose(0, 1), lengths, enforce_sorted=False)
    _, h = gru(packed)
    return h[-1]


class SISGANTextEncoder(nn.Module):
    """The text side of SISGAN's visual-semantic embedding: ``GRU`` over word vectors → final hidden state.

    Args:
        embed_dim: word-vector width (300, fastText ``wiki.en``).
        hidden_dim: sentence-feature width (300 in the original, equal to ``embed_dim``); default ``embed_dim``.
        num_layers: GRU layers (1).

    Forward: ``(word_vectors (B, T, embed_dim), lengths (B,) or None)`` → ``(B, hidden_dim)``. With lengths,
    each sentence's state after its own last word (packed sequences, as the original trains and uses it);
    without, the state after all ``T`` positions.

    The GRU is named ``txt_encoder`` as in the original, so the ``txt_encoder.*`` entries of a
    ``text_embedding_*.pth`` load as they are.
    """

    registry_name = "sisgan_text_encoder"

    def __init__(self, embed_dim: int = 300, hidden_dim: Optional[int] = None, num_layers: int = 1) -> None:
        super().__init__()
        hidden_dim = embed_dim if hidden_dim is None else hidden_dim
        self.config = dict(embed_dim=embed_dim, hidden_dim=hidden_dim, num_layers=num_layers)
        self.embed_dim, self.hidden_dim = embed_dim, hidden_dim
        self.txt_encoder = nn.GRU(embed_dim, hidden_dim, num_layers)

    def forward(self, word_vectors: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return _final_hidden(self.txt_encoder, word_vectors, lengths)


class VisualSemanticEmbedding(nn.Module):
    """SISGAN's visual-semantic embedding with the original's parameter names (``img_encoder``, ``W``,
    ``txt_encoder``).

    Args:
        embed_dim: joint space width, also the word-vector and GRU width (300).
        vgg_widths, fc_dim, num_classes: sizes of the VGG-16 image trunk (ImageNet: (64, 128, 256, 512, 512),
            4096, 1000); fc8 (``classifier.6``) is held because the original file stores it, but is not used
            (``num_classes=0`` leaves it out).

    ``forward(images (B, 3, 224, 224) ImageNet-normalised, word_vectors (B, T, embed_dim), lengths=None)`` →
    ``(image_features (B, embed_dim), text_features (B, embed_dim))``, not normalised (the ranking loss
    normalises). In the original the VGG-16 weights are ImageNet's and frozen; freeze them yourself for
    training (``vse.img_encoder.requires_grad_(False)``).
    """

    registry_name = "sisgan_vse"

    def __init__(self, embed_dim: int = 300, vgg_widths: Sequence[int] = VGG16_WIDTHS, fc_dim: int = 4096,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.config = dict(embed_dim=embed_dim, vgg_widths=list(vgg_widths), fc_dim=fc_dim, num_classes=num_classes)
        self.embed_dim = embed_dim
        self.img_encoder = VGG16(vgg_widths, batch_norm=False, fc_dim=fc_dim, num_classes=num_classes)
        self.W = nn.Linear(fc_dim, embed_dim, bias=False)
        self.txt_encoder = nn.GRU(embed_dim, embed_dim, 1)

    @property
    def feat_extractor(self) -> nn.Sequential:
        """fc6 → ReLU → Dropout → fc7 → ReLU → Dropout: the first six modules of ``img_encoder.classifier``."""
        return self.img_encoder.classifier[:6]

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        feat = self.img_encoder.features(images)
        expected = self.img_encoder.classifier[0].in_features
        if feat[0].numel() != expected:
            raise ValueError(
                f"images of {tuple(images.shape[-2:])} px give VGG features of {tuple(feat.shape[1:])}; the "
                f"embedding (like the original, which skips VGG's average pooling) needs 224x224 images")
        return self.W(self.feat_extractor(feat.flatten(1)))

    def encode_text(self, word_vectors: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return _final_hidden(self.txt_encoder, word_vectors, lengths)

    def forward(self, images: torch.Tensor, word_vectors: torch.Tensor,
                lengths: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.encode_image(images), self.encode_text(word_vectors, lengths)

    def text_encoder(self) -> SISGANTextEncoder:
        """A :class:`SISGANTextEncoder` holding (a copy of) this embedding's GRU, what the GAN uses."""
        enc = SISGANTextEncoder(self.embed_dim)
        enc.txt_encoder.load_state_dict(self.txt_encoder.state_dict())
        return enc.to(self.W.weight.device).train(self.training)
