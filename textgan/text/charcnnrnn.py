"""Reed's char-CNN-RNN text encoder (Reed et al., CVPR 2016; the text side of GAN-INT-CLS, ICML 2016).

Original code: reedscot/cvpr2016 (``modules/HybridCNN.lua``, ``FixedRNN.lua``, ``FixedGRU.lua``,
``train_sje_hybrid.lua``) and reedscot/icml2016 (``modules/HybridCNNLong.lua``, ``FixedGRU.lua``,
``txt2img_demo.lua``), both MIT; the PyTorch port martinduartemore/char_cnn_rnn_pytorch (MIT), whose
state-dict names (``conv1``, ``rnn.i2h``, ``emb_proj``) are used here.

Three incarnations are released (see :data:`textgan.models.charcnnrnn.VARIANTS`):

* CVPR birds / flowers: HybridCNN (third max-pool) + FixedRNN over 8 steps, width 256.
* ICML flowers: the same with width 512.
* ICML birds and COCO: HybridCNNLong (no third pool) + FixedGRU over 18 steps, time-averaged, width 512.

Text is 201 characters of a 70-symbol alphabet, one-hot, positions after the end all zero. Neither RNN is a
``torch.nn`` RNN: FixedRNN has no hidden-to-hidden term (and no ``b_h``) at step 1; FixedGRU's first step is
``tanh(W_i x + b_i)``, its reset gate multiplies ``h`` *before* ``h2h`` (so ``b_h`` is not gated) and its update
gate weights the candidate. Both average their states over time (FixedGRU only with ``average=True``, the
released "a1" files).

**Batches.** Every sample is encoded independently: a batch gives exactly the per-sample results, as Reed's
Lua code does. The PyTorch port's ``fixed_gru`` (ICML birds) does *not*: its first state keeps shape (B, 1, D)
and broadcasting then mixes the samples of a batch into (B, B, D) states, so its batched outputs are only right
for batch size 1. textgan does not reproduce that bug; compare with the port one sample at a time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import EmptyPromptError

__all__ = ["REED_ALPHABET", "DOC_LENGTH", "CharTokenizer", "CharCNNRNN", "FixedRNN", "FixedGRU", "cnn_steps"]

#: Reed's alphabet: 70 symbols, ``-`` twice (positions 37 and 60), space last. 1-based indices, 0 = no character.
REED_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
#: characters per text (``opt.doc_length``)
DOC_LENGTH = 201


class CharTokenizer:
    """Text → character indices for the char-CNN-RNN, with each front-end's quirks as explicit options.

    Args:
        alphabet: the symbols; symbol i (1-based) is one-hot channel i.
        max_length: positions per text (201); longer texts are cut, shorter ones padded with 0.
        lowercase: lower-case first. The PyTorch port does; the Lua demo (``txt2img_demo.lua``) does not, so
            there capitals are unknown characters. Default True, so that capitals mean what they say.
        unknown: characters outside the alphabet become ``"zero"`` (an all-zero column, as the Lua demo) or
            ``"space"`` (index of ``" "``, as the PyTorch port's ``str_to_labelvec``).
        utf8_bytes: count positions in UTF-8 bytes, as Lua strings do (a non-ASCII character then takes 2-4
            positions, each unknown); default False: one position per character, as the port.
        duplicates: which index a symbol that occurs twice gets: ``"last"`` (every original encoder builds
            its dictionary so the later one wins: ``-`` is 60 and channel 37 is never used) or ``"first"``.

    ``tokenizer(texts)`` → ``(ids (B, max_length) long, lengths (B,))`` with ``lengths`` the positions used.
    :meth:`lua_demo` and :meth:`pytorch_port` give the two original front-ends.
    """

    type_name = "chars"

    def __init__(self, alphabet: str = REED_ALPHABET, max_length: int = DOC_LENGTH, lowercase: bool = True,
                 unknown: str = "zero", utf8_bytes: bool = False, duplicates: str = "last") -> None:
        if unknown not in ("zero", "space"):
            raise ValueError(f"unknown must be 'zero' or 'space', got {unknown!r}")
        if duplicates not in ("last", "first"):
            raise ValueError(f"duplicates must be 'last' or 'first', got {duplicates!r}")
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        if unknown == "space" and " " not in alphabet:
            raise ValueError("unknown='space' needs a space in the alphabet")
        self.alphabet, self.max_length, self.lowercase = alphabet, max_length, lowercase
        self.unknown, self.utf8_bytes, self.duplicates = unknown, utf8_bytes, duplicates
        symbols = enumerate(alphabet, 1)
        self.index: Dict[str, int] = {}
        for i, ch in symbols:
            if duplicates == "last" or ch not in self.index:
                self.index[ch] = i
        self._unknown_id = self.index[" "] if unknown == "space" else 0

    @classmethod
    def lua_demo(cls) -> "CharTokenizer":
        """icml2016 ``txt2img_demo.lua``: no lower-casing, unknown → zero column, byte positions."""
        return cls(lowercase=False, unknown="zero", utf8_bytes=True)

    @classmethod
    def pytorch_port(cls) -> "CharTokenizer":
        """martinduartemore/char_cnn_rnn_pytorch ``str_to_labelvec``: lower-case, unknown → space, characters."""
        return cls(lowercase=True, unknown="space", utf8_bytes=False)

    @property
    def vocab_size(self) -> int:
        """Alphabet size (one-hot channels), checked against the encoder by pipelines."""
        return len(self.alphabet)

    @property
    def vocab(self) -> str:
        return self.alphabet

    def __repr__(self) -> str:
        return (f"CharTokenizer(max_length={self.max_length}, lowercase={self.lowercase}, unknown={self.unknown!r}, "
                f"utf8_bytes={self.utf8_bytes}, duplicates={self.duplicates!r})")

    def encode(self, text: str) -> List[int]:
        """Indices of ``text`` (at most ``max_length``; 0 for unknown characters under ``unknown="zero"``)."""
        if not isinstance(text, str):
            raise TypeError(f"a prompt must be a str, got {type(text).__name__}")
        if not text:
            raise EmptyPromptError("the prompt '' is empty: it has no characters")
        if self.lowercase:
            text = text.lower()
        units = [chr(b) if b < 128 else None for b in text.encode("utf-8")] if self.utf8_bytes else text
        return [self.index.get(u, self._unknown_id) for u in units[: self.max_length]]

    def decode(self, ids: Sequence[int]) -> str:
        """The characters of ``ids`` (0 = no character, skipped)."""
        return "".join(self.alphabet[int(i) - 1] for i in ids if int(i) > 0)

    def __call__(self, texts: Union[str, Sequence[str]], *, return_tensors: bool = True):
        """``(ids (B, max_length), lengths (B,))``, padded with 0, in the input order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise EmptyPromptError("got an empty list of prompts; pass at least one sentence")
        rows = [self.encode(t) for t in texts]
        if not return_tensors:
            return rows, [len(r) for r in rows]
        ids = torch.zeros(len(rows), self.max_length, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        return ids, torch.tensor([len(r) for r in rows], dtype=torch.long)

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) indices → (B, alphabet, L) float one-hot, index 0 → all-zero column (the port's layout;
        Lua's is its transpose (B, L, alphabet))."""
        return one_hot(ids, len(self.alphabet))

    def save_pretrained(self, folder: Union[str, Path]) -> Dict[str, Any]:
        """No file to write: the options go into config.json's ``"tokenizer"`` entry, which this returns."""
        return {"type": self.type_name, "alphabet": self.alphabet, "max_length": self.max_length,
                "lowercase": self.lowercase, "unknown": self.unknown, "utf8_bytes": self.utf8_bytes,
                "duplicates": self.duplicates, "files": []}

    @classmethod
    def from_pretrained(cls, folder: Union[str, Path], entry: Mapping[str, Any]) -> "CharTokenizer":
        """Inverse of :meth:`save_pretrained`."""
        keys = ("alphabet", "max_length", "lowercase", "unknown", "utf8_bytes", "duplicates")
        return cls(**{k: entry[k] for k in keys if k in entry})


def one_hot(ids: torch.Tensor, alphabet_size: int) -> torch.Tensor:
    """(B, L) long indices (0 = nothing) → (B, alphabet_size, L) float."""
    if ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise TypeError(f"character ids must be an integer tensor, got {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) > alphabet_size):
        raise ValueError(f"character ids must lie in [0, {alphabet_size}], got [{int(ids.min())}, {int(ids.max())}]")
    return F.one_hot(ids.long(), alphabet_size + 1)[..., 1:].transpose(1, 2).float()


# ----------------------------------------------------------------------------------------------- network


def cnn_steps(doc_length: int, pool3: bool) -> int:
    """Time steps the CNN leaves of ``doc_length`` characters: 201 → 198 → 66 → 63 → 21 → 18 (→ 8)."""
    t = doc_length
    for kernel, pool in ((4, (3, 3)), (4, (3, 3)), (4, (3, 2) if pool3 else None)):
        t = t - kernel + 1
        if pool is not None:
            t = (t - pool[0]) // pool[1] + 1
    return t


class FixedRNN(nn.Module):
    """CVPR ``FixedRNN``: ``h1 = relu(i2h x1)``, ``h_t = relu(i2h x_t + h2h h_{t-1})``, output = mean of h_t.

    Forward: (B, T, D) → (states (B, T, D), output (B, D)).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.i2h = nn.Linear(dim, dim)
        self.h2h = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        ih = self.i2h(x)  # all steps at once; the recurrence only needs h2h
        h = F.relu(ih[:, 0])
        states = [h]
        for t in range(1, x.shape[1]):
            h = F.relu(ih[:, t] + self.h2h(h))
            states.append(h)
        states = torch.stack(states, 1)
        return states, states.mean(1)


class FixedGRU(nn.Module):
    """Reed's ``FixedGRU`` (section "FixedGRU" of the module docstring).

    Args:
        dim: width.
        average: output the mean of the states (the released "a1" files) or the last state.
    """

    def __init__(self, dim: int, average: bool = True) -> None:
        super().__init__()
        self.average = average
        for name in ("i2h_update", "h2h_update", "i2h_reset", "h2h_reset", "i2h", "h2h"):
            self.add_module(name, nn.Linear(dim, dim))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        xu, xr, xc = self.i2h_update(x), self.i2h_reset(x), self.i2h(x)
        h = torch.tanh(xc[:, 0])
        states = [h]
        for t in range(1, x.shape[1]):
            update = torch.sigmoid(xu[:, t] + self.h2h_update(h))
            reset = torch.sigmoid(xr[:, t] + self.h2h_reset(h))
            cand = torch.tanh(xc[:, t] + self.h2h(reset * h))
            h = update * cand + (1 - update) * h
            states.append(h)
        states = torch.stack(states, 1)
        return states, (states.mean(1) if self.average else h)


class CharCNNRNN(nn.Module):
    """char-CNN-RNN: three temporal convolutions (kernel 4) with ``Threshold(1e-6, 0)`` and max-pools, an
    unrolled RNN over the remaining steps, and a linear projection.

    Args:
        alphabet_size: one-hot channels (70).
        conv1_dim, conv2_dim: widths of the first two convolutions (384, 512).
        cnn_dim: width of the third convolution and of the RNN (256 CVPR, 512 ICML).
        emb_dim: output width (1024).
        rnn_type: ``"rnn"`` (FixedRNN) or ``"gru"`` (FixedGRU).
        average: time-average the RNN states (always the case for FixedRNN).
        pool3: HybridCNN's third max-pool (kernel 3, stride 2); False for HybridCNNLong.
        doc_length: characters per text (201); with ``pool3`` it fixes the steps (8 or 18).
        threshold: the ``nn.Threshold`` value (Lua's default 1e-6).

    Forward: ``(text, lengths=None)``, text either (B, L ≤ doc_length) long indices (0 = no character; padded
    to ``doc_length`` with zeros, which is what the original does after the end of a text) or a (B, alphabet,
    doc_length) float one-hot (the port's layout; Lua's (B, doc_length, alphabet) is its transpose).
    ``lengths`` is accepted for the pipeline interface and not needed. Returns ``(states (B, cnn_dim, steps),
    embedding (B, emb_dim))``: the RNN state at each step (what the average runs over) and the text
    embedding GAN-INT-CLS conditions on.
    """

    registry_name = "char_cnn_rnn"

    def __init__(self, alphabet_size: int = 70, conv1_dim: int = 384, conv2_dim: int = 512, cnn_dim: int = 512,
                 emb_dim: int = 1024, rnn_type: str = "gru", average: bool = True, pool3: bool = False,
                 doc_length: int = DOC_LENGTH, threshold: float = 1e-6) -> None:
        super().__init__()
        if rnn_type not in ("rnn", "gru"):
            raise ValueError(f"rnn_type must be 'rnn' (FixedRNN) or 'gru' (FixedGRU), got {rnn_type!r}")
        if rnn_type == "rnn" and not average:
            raise ValueError("FixedRNN always averages its states (its avg argument is ignored): use average=True")
        steps = cnn_steps(doc_length, pool3)
        if steps < 1:
            raise ValueError(f"doc_length={doc_length} is too short for the CNN (it leaves {steps} steps)")
        self.config = dict(alphabet_size=alphabet_size, conv1_dim=conv1_dim, conv2_dim=conv2_dim, cnn_dim=cnn_dim,
                           emb_dim=emb_dim, rnn_type=rnn_type, average=average, pool3=pool3,
                           doc_length=doc_length, threshold=threshold)
        self.alphabet_size, self.doc_length, self.steps, self.threshold = alphabet_size, doc_length, steps, threshold
        self.pool3 = pool3
        self.conv1 = nn.Conv1d(alphabet_size, conv1_dim, 4)
        self.conv2 = nn.Conv1d(conv1_dim, conv2_dim, 4)
        self.conv3 = nn.Conv1d(conv2_dim, cnn_dim, 4)
        self.rnn = FixedGRU(cnn_dim, average) if rnn_type == "gru" else FixedRNN(cnn_dim)
        self.emb_proj = nn.Linear(cnn_dim, emb_dim)

    @property
    def vocab_size(self) -> int:
        """Alphabet size, compared with the tokenizer's by pipelines."""
        return self.alphabet_size

    def _input(self, text: torch.Tensor) -> torch.Tensor:
        if not text.is_floating_point():
            if text.dim() != 2 or text.shape[1] > self.doc_length:
                raise ValueError(f"character ids must be (batch, length <= {self.doc_length}), got {tuple(text.shape)}")
            text = F.pad(text, (0, self.doc_length - text.shape[1]))
            text = one_hot(text.to(self.conv1.weight.device), self.alphabet_size)
        elif tuple(text.shape[1:]) != (self.alphabet_size, self.doc_length):
            raise ValueError(f"one-hot text must be (batch, {self.alphabet_size}, {self.doc_length}), got "
                             f"{tuple(text.shape)} (Lua's (batch, {self.doc_length}, {self.alphabet_size}): "
                             "transpose(1, 2) it)")
        return text.to(self.conv1.weight.dtype)

    def features(self, text: torch.Tensor) -> torch.Tensor:
        """The CNN's output, the RNN's input: (B, steps, cnn_dim)."""
        th = self.threshold
        out = F.max_pool1d(F.threshold(self.conv1(self._input(text)), th, 0.0), 3, 3)
        out = F.max_pool1d(F.threshold(self.conv2(out), th, 0.0), 3, 3)
        out = F.threshold(self.conv3(out), th, 0.0)
        return (F.max_pool1d(out, 3, 2) if self.pool3 else out).transpose(1, 2)

    def forward(self, text: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        states, hidden = self.rnn(self.features(text))
        return states.transpose(1, 2), self.emb_proj(hidden)

    def encode(self, text: torch.Tensor) -> torch.Tensor:
        """The embedding alone, (B, emb_dim)."""
        return self.forward(text)[1]
