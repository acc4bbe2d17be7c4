"""Word vocabularies and the AttnGAN tokenizer shared by AttnGAN, DM-GAN, DF-GAN, SSA-GAN and SEMA.

The released DAMSM text encoders index words through the ``captions.pickle`` (AttnGAN, DF-GAN 2020,
SSA-GAN, SEMA) or ``captions_DAMSM.pickle`` (DF-GAN 2022) released with them: a pickled list
``[train_captions, test_captions, ixtoword, wordtoix]``. Its word order is Python 2 dict order and
cannot be rebuilt from the captions, so the vocabulary must always be read from that file (or from a
``vocab.json`` converted from it) and must match the encoder's ``encoder.weight.shape[0]``.

Tokenisation follows the original data loaders (``datasets.py``, identical in all those repositories):

1. replace ``"\\ufffd\\ufffd"`` with a space and lower-case;
2. split with the regular expression ``\\w+`` (nltk's ``RegexpTokenizer(r'\\w+')``, i.e. Unicode ``\\w``);
3. drop the non-ASCII characters of each token (``t.encode('ascii', 'ignore')``) and drop tokens that
   become empty (``"café"`` → ``"caf"``);
4. map through ``wordtoix``, silently dropping unknown words (as ``gen_example`` does).

Index 0 is ``"<end>"``; the captions never contain it and it is used as padding.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from .._pickle import safe_load
from ..errors import CheckpointError, EmptyPromptError, UnsafePickleError, VocabularyError

__all__ = ["Vocabulary", "Tokenizer", "load_captions_pickle", "PAD_TOKEN", "PAD_ID", "VOCAB_FILENAME"]

PathLike = Union[str, "os.PathLike[str]"]

#: The word at index 0 of every AttnGAN vocabulary, used as padding (never inside a caption).
PAD_TOKEN = "<end>"
#: Its index.
PAD_ID = 0
#: File name :meth:`Vocabulary.save` uses inside a directory.
VOCAB_FILENAME = "vocab.json"
_FORMAT = "textgan-vocab"
_VERSION = 1

_WORD_RE = re.compile(r"\w+")  # str patterns are Unicode-aware, like nltk's re.UNICODE flag


def _decode_word(word: Any) -> Any:
    """Python 2 ``str`` read with ``encoding='bytes'`` (or py3 bytes) → ``str``; other values unchanged."""
    if isinstance(word, (bytes, bytearray)):
        try:
            return bytes(word).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(word).decode("latin-1")
    return word


class Vocabulary:
    """An index → word table with ``"<end>"`` (the padding id 0) at index 0.

    Args:
        ixtoword: the words in index order; ``ixtoword[0]`` must be ``"<end>"``.

    Raises:
        VocabularyError: empty, non-string or duplicate words, or index 0 is not ``"<end>"``.
    """

    def __init__(self, ixtoword: Sequence[str]) -> None:
        if isinstance(ixtoword, (str, bytes)) or not isinstance(ixtoword, Sequence):
            raise VocabularyError(
                f"Vocabulary expects a sequence of words in index order, got {type(ixtoword).__name__}; "
                f"use Vocabulary.from_file(...) to read a captions.pickle or vocab.json"
            )
        words = list(ixtoword)
        self._check(words, what="Vocabulary")
        self._words: List[str] = words
        self._index: Dict[str, int] = {w: i for i, w in enumerate(words)}

    @staticmethod
    def _check(words: List[Any], what: str) -> None:
        if not words:
            raise VocabularyError(f"{what}: the vocabulary is empty")
        bad = [(i, w) for i, w in enumerate(words) if not isinstance(w, str) or not w]
        if bad:
            i, w = bad[0]
            raise VocabularyError(f"{what}: word {i} is {w!r}; every word must be a non-empty str")
        if words[0] != PAD_TOKEN:
            raise VocabularyError(
                f"{what}: index 0 is {words[0]!r}, expected {PAD_TOKEN!r} (the padding id of AttnGAN vocabularies)"
            )
        seen: Dict[str, int] = {}
        for i, w in enumerate(words):
            if w in seen:
                raise VocabularyError(f"{what}: the word {w!r} appears twice (indices {seen[w]} and {i})")
            seen[w] = i

    # -- lookups -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of words including ``"<end>"`` (the DAMSM encoder's ``vocab_size``)."""
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._words == other._words

    def __hash__(self) -> int:
        return hash(tuple(self._words))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words)"

    @property
    def words(self) -> List[str]:
        """A copy of the words in index order (``words[i]`` is the word of index ``i``)."""
        return list(self._words)

    @property
    def pad_id(self) -> int:
        """The padding index (0, ``"<end>"``)."""
        return PAD_ID

    def word_to_index(self, word: str) -> Optional[int]:
        """The index of ``word`` (exact match, no lower-casing), or ``None`` if it is unknown."""
        return self._index.get(word)

    def index_to_word(self, index: int) -> str:
        """The word of ``index``; raises ``IndexError`` outside ``0 .. len(self) - 1``."""
        i = int(index)
        if not 0 <= i < len(self._words):
            raise IndexError(f"word index {index} is outside the vocabulary (0 .. {len(self._words) - 1})")
        return self._words[i]

    def decode(self, ids: Sequence[int], *, skip_padding: bool = True) -> List[str]:
        """Words of a sequence of indices (padding ids dropped unless ``skip_padding=False``)."""
        return [self.index_to_word(i) for i in ids if not (skip_padding and int(i) == PAD_ID)]

    # -- (de)serialisation -------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """The JSON-able form ``{"format": "textgan-vocab", "version": 1, "ixtoword": [...]}``."""
        return {"format": _FORMAT, "version": _VERSION, "ixtoword": list(self._words)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "vocabulary dict") -> "Vocabulary":
        """Inverse of :meth:`to_dict`; raises :class:`VocabularyError` (naming ``source``) on a bad dict."""
        if not isinstance(data, Mapping):
            raise VocabularyError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != _FORMAT:
            raise VocabularyError(
                f"{source}: not a textgan vocabulary (format is {data.get('format')!r}, expected {_FORMAT!r})"
            )
        if data.get("version") != _VERSION:
            raise VocabularyError(
                f"{source}: unsupported vocabulary version {data.get('version')!r} (this textgan reads {_VERSION})"
            )
        words = data.get("ixtoword")
        if not isinstance(words, list):
            raise VocabularyError(f"{source}: 'ixtoword' must be a list of words, got {type(words).__name__}")
        cls._check(words, what=source)
        return cls(words)

    def save(self, path: PathLike) -> Path:
        """Write the vocabulary as JSON and return the file written.

        ``path`` is a file name, or a directory (existing, or a name without suffix) in which
        ``vocab.json`` is written.
        """
        p = Path(path)
        if p.is_dir() or not p.suffix:
            p.mkdir(parents=True, exist_ok=True)
            p = p / VOCAB_FILENAME
        p.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: PathLike) -> "Vocabulary":
        """Read a file written by :meth:`save` (a ``vocab.json`` path or its directory).

        Raises:
            VocabularyError: not JSON, or not a textgan vocabulary (the message names the file).
        """
        p = Path(path)
        if p.is_dir():
            p = p / VOCAB_FILENAME
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # RecursionError: "[[[..."
            raise VocabularyError(f"{p}: not a JSON vocabulary file ({str(exc)[:200]})") from exc
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_captions_pickle(cls, path: PathLike) -> "Vocabulary":
        """Read the vocabulary of an AttnGAN ``captions.pickle`` / DF-GAN ``captions_DAMSM.pickle``.

        The file is read with :func:`textgan._pickle.safe_load` (no code from it runs) and must hold
        ``[train_captions, test_captions, ixtoword, wordtoix]`` with ``ixtoword`` a dict ``int → str``
        (or a list) covering ``0 .. n-1`` and ``wordtoix`` its exact inverse.

        Raises:
            VocabularyError: not a readable pickle, wrong structure or inconsistent tables (the message
                names the file and says what is wrong).
            UnsafePickleError: the pickle references code (nothing was executed).
        """
        return load_captions_pickle(path)[2]

    @classmethod
    def from_file(cls, path: PathLike) -> "Vocabulary":
        """Read a ``vocab.json`` (``.json`` or a directory holding one) or a captions ``.pickle``."""
        p = Path(path)
        if p.suffix.lower() in (".pickle", ".pkl"):
            return cls.from_captions_pickle(p)
        if p.suffix.lower() == ".json" or p.is_dir():
            return cls.load(p)
        raise VocabularyError(f"{p}: unknown vocabulary file type (expected .json or .pickle)")


def _vocab_from_tables(ixtoword: Any, wordtoix: Any, what: str) -> Vocabulary:
    if isinstance(ixtoword, (list, tuple)):
        table = {i: w for i, w in enumerate(ixtoword)}
    elif isinstance(ixtoword, dict):
        table = ixtoword
    else:
        raise VocabularyError(f"{what}: ixtoword (item 2) must be a dict or a list, got {type(ixtoword).__name__}")
    if not isinstance(wordtoix, dict):
        raise VocabularyError(f"{what}: wordtoix (item 3) must be a dict, got {type(wordtoix).__name__}")
    bad_keys = [k for k in table if isinstance(k, bool) or not isinstance(k, int)]
    if bad_keys:
        raise VocabularyError(f"{what}: ixtoword has non-integer keys, e.g. {bad_keys[0]!r}")
    n = len(table)
    if sorted(table) != list(range(n)):
        missing = sorted(set(range(n)) - set(table))[:5]
        raise VocabularyError(
            f"{what}: ixtoword keys are not 0 .. {n - 1} (missing e.g. {missing}, max key {max(table)})"
        )
    words = [_decode_word(table[i]) for i in range(n)]
    bad = [(i, w) for i, w in enumerate(words) if not isinstance(w, str)]
    if bad:
        raise VocabularyError(f"{what}: ixtoword[{bad[0][0]}] is {bad[0][1]!r}, not a string")
    inverse = {}
    for w, i in wordtoix.items():
        w = _decode_word(w)
        if isinstance(i, bool) or not isinstance(i, int):
            raise VocabularyError(f"{what}: wordtoix[{w!r}] is {i!r}, not an integer index")
        inverse[w] = i
    if len(inverse) != n:
        raise VocabularyError(
            f"{what}: ixtoword has {n} words but wordtoix has {len(inverse)}; the two tables do not match"
        )
    for i, w in enumerate(words):
        if inverse.get(w) != i:
            raise VocabularyError(
                f"{what}: ixtoword[{i}] = {w!r} but wordtoix[{w!r}] = {inverse.get(w)!r}; the tables are inconsistent"
            )
    try:
        return Vocabulary(words)
    except VocabularyError as exc:
        raise VocabularyError(f"{what}: {exc}") from None


def load_captions_pickle(path: PathLike) -> Tuple[List[List[int]], List[List[int]], Vocabulary]:
    """Read an AttnGAN ``captions.pickle`` / DF-GAN ``captions_DAMSM.pickle`` safely.

    Returns:
        ``(train_captions, test_captions, vocabulary)``; captions are lists of word indices without
        ``"<end>"`` or padding, in the order of the split's ``filenames.pickle`` × captions per image.

    Raises:
        VocabularyError: wrong structure, inconsistent ``ixtoword``/``wordtoix`` or caption indices out
            of range (the message names the file and what is wrong).
            A truncated or non-pickle file is a VocabularyError too.
        UnsafePickleError: the pickle references code (nothing was executed).
    """
    what = os.fspath(path)
    try:
        data = safe_load(path)
    except UnsafePickleError:
        raise
    except CheckpointError as exc:
        raise VocabularyError(f"{what}: unreadable captions pickle: {exc}") from exc
    if not isinstance(data, (list, tuple)) or len(data) != 4:
        kind = f"a {type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, (list, tuple)) else "")
        raise VocabularyError(
            f"{what}: expected [train_captions, test_captions, ixtoword, wordtoix] (AttnGAN captions.pickle), got {kind}"
        )
    train, test, ixtoword, wordtoix = data
    vocab = _vocab_from_tables(ixtoword, wordtoix, what)
    splits = []
    for name, caps in (("train_captions", train), ("test_captions", test)):
        if not isinstance(caps, (list, tuple)):
            raise VocabularyError(f"{what}: {name} (item {len(splits)}) must be a list, got {type(caps).__name__}")
        out = []
        for k, cap in enumerate(caps):
            try:
                ids = [int(i) for i in cap]
            except (TypeError, ValueError):
                raise VocabularyError(f"{what}: {name}[{k}] is not a list of word indices") from None
            if any(not 0 <= i < len(vocab) for i in ids):
                raise VocabularyError(
                    f"{what}: {name}[{k}] has word indices outside 0 .. {len(vocab) - 1}: {ids}"
                )
            out.append(ids)
        splits.append(out)
    return splits[0], splits[1], vocab


class Tokenizer:
    """AttnGAN's caption tokenizer over a :class:`Vocabulary`.

    Args:
        vocab: the vocabulary of the text encoder the ids are meant for.
        max_words: keep at most this many known words per prompt (the **first** ones, in order);
            ``None`` keeps all. The default 18 is the ``WORDS_NUM`` of the released configs. Note that the
            original *training* loaders instead keep a random ordered subset of ``WORDS_NUM`` words of longer
            captions (a data-augmentation step that belongs in the dataset code), and the original
            inference scripts (``gen_example``, DF-GAN ``sample.py``) do not truncate at all.
        lowercase: lower-case before splitting (the original always does).
    """

    def __init__(self, vocab: Vocabulary, max_words: Optional[int] = 18, lowercase: bool = True) -> None:
        if not isinstance(vocab, Vocabulary):
            raise TypeError(
                f"Tokenizer needs a Vocabulary, got {type(vocab).__name__}; use Tokenizer.from_file(path)"
            )
        if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1):
            raise ValueError(f"max_words must be a positive int or None, got {max_words!r}")
        self.vocab = vocab
        self.max_words = max_words
        self.lowercase = lowercase

    @classmethod
    def from_file(cls, path: PathLike, **kwargs: Any) -> "Tokenizer":
        """A tokenizer over :meth:`Vocabulary.from_file` ``(path)``; ``kwargs`` go to the constructor."""
        return cls(Vocabulary.from_file(path), **kwargs)

    # how pipelines store this tokenizer (config.json "tokenizer" entry + the files it names)
    type_name = "words"

    def save_pretrained(self, folder: PathLike) -> Dict[str, Any]:
        """Write ``vocab.json`` into ``folder``; returns the config.json entry that :meth:`from_pretrained` reads."""
        self.vocab.save(Path(folder) / VOCAB_FILENAME)
        return {"type": self.type_name, "vocab": VOCAB_FILENAME, "max_words": self.max_words,
                "lowercase": self.lowercase, "files": [VOCAB_FILENAME]}

    @classmethod
    def from_pretrained(cls, folder: PathLike, entry: Mapping[str, Any]) -> "Tokenizer":
        """Inverse of :meth:`save_pretrained`."""
        vocab = Vocabulary.load(Path(folder) / entry.get("vocab", VOCAB_FILENAME))
        return cls(vocab, max_words=entry.get("max_words", 18), lowercase=entry.get("lowercase", True))

    @property
    def pad_id(self) -> int:
        """The padding id (0)."""
        return PAD_ID

    @property
    def vocab_size(self) -> int:
        """``len(self.vocab)``."""
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"Tokenizer({self.vocab!r}, max_words={self.max_words}, lowercase={self.lowercase})"

    # -- single prompt -----------------------------------------------------------------------------
    def tokenize(self, text: str) -> List[str]:
        """AttnGAN's word split of ``text`` (known and unknown words alike, before truncation)."""
        if not isinstance(text, str):
            raise TypeError(f"a prompt must be a str, got {type(text).__name__}")
        text = text.replace("\ufffd\ufffd", " ")
        if self.lowercase:
            text = text.lower()
        tokens = []
        for token in _WORD_RE.findall(text):
            token = token.encode("ascii", "ignore").decode("ascii")
            if token:
                tokens.append(token)
        return tokens

    def unknown_words(self, text: str) -> List[str]:
        """The tokens of ``text`` that the vocabulary does not know (in order, with repeats)."""
        return [t for t in self.tokenize(text) if t not in self.vocab]

    def _ids(self, text: str, where: str) -> List[int]:
        tokens = self.tokenize(text)
        if not tokens:
            raise EmptyPromptError(f"{where} {text!r} is empty: it has no words")
        ids = [i for i in map(self.vocab.word_to_index, tokens) if i is not None]
        if not ids:
            unknown = ", ".join(repr(t) for t in dict.fromkeys(tokens))
            raise EmptyPromptError(
                f"{where} {text!r} has no word the vocabulary ({len(self.vocab)} words) knows; unknown: {unknown}"
            )
        return ids if self.max_words is None else ids[: self.max_words]

    def encode(self, text: str) -> List[int]:
        """Word ids of ``text``: unknown words dropped, then the first ``max_words`` kept.

        Raises:
            EmptyPromptError: no words, or none the vocabulary knows (the message lists them).
            TypeError: ``text`` is not a str.
        """
        return self._ids(text, "the prompt")

    def decode(self, ids: Sequence[int]) -> str:
        """The words of ``ids`` joined by spaces (padding dropped)."""
        return " ".join(self.vocab.decode([int(i) for i in ids]))

    # -- batches -----------------------------------------------------------------------------------
    def __call__(
        self,
        texts: Union[str, Sequence[str]],
        *,
        return_tensors: bool = True,
        pad_to_max: bool = False,
    ) -> Union[Tuple[torch.Tensor, torch.Tensor], Tuple[List[List[int]], List[int]]]:
        """Encode one prompt or a batch, padded with 0.

        Args:
            texts: a prompt or a sequence of prompts.
            return_tensors: return ``torch.long`` tensors (default) or plain lists.
            pad_to_max: pad to ``max_words`` instead of to the longest prompt (needs ``max_words``).

        Returns:
            ``(ids (B, T), lengths (B,))`` in the input order (not sorted by length; the DAMSM encoder
            accepts any order).

        Raises:
            EmptyPromptError: a prompt is empty/whitespace or has no known word (its index is named), or
                the batch is empty.
            TypeError: ``texts`` or one of its items is not a str.
        """
        if isinstance(texts, str):
            batch: List[str] = [texts]
        elif isinstance(texts, Sequence) and not isinstance(texts, (bytes, bytearray)):
            batch = list(texts)
        else:
            raise TypeError(f"texts must be a str or a sequence of str, got {type(texts).__name__}")
        if not batch:
            raise EmptyPromptError("no prompts given (empty batch)")
        for i, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"prompt {i} must be a str, got {type(t).__name__}")
        encoded = [self._ids(t, f"prompt {i}") for i, t in enumerate(batch)]
        lengths = [len(ids) for ids in encoded]
        if pad_to_max:
            if self.max_words is None:
                raise ValueError("pad_to_max=True needs a tokenizer with max_words set")
            width = self.max_words
        else:
            width = max(lengths)
        padded = [ids + [PAD_ID] * (width - len(ids)) for ids in encoded]
        if not return_tensors:
            return padded, lengths
        return torch.tensor(padded, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)
