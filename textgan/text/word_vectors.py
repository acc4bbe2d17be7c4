"""fastText word vectors without the fastText package: ``.bin`` models, ``.vec`` text files, memory-mapped.

SISGAN (Dong et al., ICCV 2017, in woozzu/dong_iccv_2017) feeds its text encoder the 300-d fastText
``wiki.en.bin`` vectors, looked up with ``model[word]``. A ``.bin`` model gives every word a vector, also words
it never saw, from hashed character n-grams. :class:`WordVectors` reproduces fastText's ``get_word_vector``
for both cases, following fastText's ``src/dictionary.cc`` and ``src/fasttext.cc`` (read for the format):

* the vector of a word is the mean of its input-matrix rows: its own row (in-vocabulary words only) and one
  row per character n-gram of ``"<" + word + ">"`` of ``minn``..``maxn`` characters (UTF-8 aware), the
  single-character n-grams ``"<"`` and ``">"`` excepted;
* an n-gram's row is ``nwords + fnv1a(ngram) % bucket``, where fastText's FNV-1a xors each byte
  **sign-extended** (``uint32(int8(byte))``), which matters for non-ASCII words;
* ``"</s>"`` has only its own row; a word with no row at all (a model without subwords) gets zeros.

Rows are summed in float32 in fastText's order and scaled by ``float32(1 / count)``, as fastText does, so the
vectors agree with the package to the last bit on common platforms.

Files:

* fastText ``.bin`` (format version 11 and 12 with the magic number, and the earlier layout without it);
  the input matrix is memory-mapped, so opening ``wiki.en.bin`` reads only its dictionary. Quantized
  models (``.ftz``) are refused with an explanation.
* word2vec-style ``.vec`` text (``"N DIM"`` header, then ``word v1 ... vDIM`` lines): read into memory; it
  has no subword information, so out-of-vocabulary words get zero vectors.
* textgan's own ``.safetensors`` layout written by :meth:`WordVectors.save` (memory-mapped on load).
"""
from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import CheckpointError

__all__ = ["WordVectors", "FASTTEXT_MAGIC", "fasttext_hash"]

PathLike = Union[str, "os.PathLike[str]"]

#: ``FASTTEXT_FILEFORMAT_MAGIC_INT32`` at the start of every fastText model since version 11.
FASTTEXT_MAGIC = 793712314
_MAX_VERSION = 12
_EOS = b"</s>"
_FORMAT = "textgan-word-vectors"
_FNV_OFFSET, _FNV_PRIME, _MASK = 2166136261, 16777619, 0xFFFFFFFF
_VECTORISE_FROM = 24  # new words in one call from which hashing them together in numpy is faster
# byte -> the value fastText xors into the hash: the byte read as a signed char, widened to uint32
_SIGNED = [b if b < 128 else (b | 0xFFFFFF00) for b in range(256)]


def fasttext_hash(data: Union[str, bytes]) -> int:
    """fastText's ``Dictionary::hash``: 32-bit FNV-1a over the UTF-8 bytes, each byte sign-extended."""
    h = _FNV_OFFSET
    for b in data.encode("utf-8") if isinstance(data, str) else data:
        h = ((h ^ _SIGNED[b]) * _FNV_PRIME) & _MASK
    return h


def _encode(word: str) -> bytes:
    return word.encode("utf-8", "surrogateescape")


def _decode(word: bytes) -> str:
    return word.decode("utf-8", "surrogateescape")


class WordVectors:
    """fastText-compatible word vectors: ``wv["bird"]``, ``wv.get_word_vectors(words)``, ``wv.lookup(sentences)``.

    Build one with :meth:`load` (``.bin``, ``.vec`` or textgan ``.safetensors``). The constructor takes the
    parts directly.

    Args:
        words: the dictionary in fastText order (words, then labels for supervised models); entry ``i`` owns
            row ``i`` of ``matrix``.
        matrix: the input matrix, (nwords + bucket, dim) float32 (may be a read-only ``np.memmap``).
        nwords: number of word entries (the n-gram rows start there); default ``len(words)``.
        minn, maxn: character n-gram lengths; ``maxn = 0`` means no subwords.
        bucket: number of n-gram rows.
        source: where the vectors came from (for messages and ``repr``).
        cache_size: how many computed word vectors to keep (a sentence lookup then costs a dict access per
            known word); 0 disables the cache.
    """

    def __init__(self, words: Sequence[Union[str, bytes]], matrix: np.ndarray, *, nwords: Optional[int] = None,
                 minn: int = 0, maxn: int = 0, bucket: int = 0, source: str = "<memory>",
                 cache_size: int = 65536, _pruneidx: Optional[Dict[int, int]] = None) -> None:
        if matrix.ndim != 2 or matrix.dtype != np.float32:
            raise ValueError(f"matrix must be a 2-D float32 array, got {matrix.dtype} {matrix.shape}")
        self._words = [w if isinstance(w, bytes) else _encode(w) for w in words]
        self._index: Dict[bytes, int] = {}
        for i, w in enumerate(self._words):
            self._index.setdefault(w, i)  # fastText's hash table finds the first entry of a word
        self.nwords = len(self._words) if nwords is None else int(nwords)
        self.minn, self.maxn, self.bucket = int(minn), int(maxn), int(bucket)
        if self.maxn > 0 and self.bucket <= 0 and not _pruneidx:
            self.maxn = 0  # fastText cannot hash into zero buckets; such a model has no subwords
        self.matrix = matrix
        # np.memmap's subclass hooks run on every indexing result; the hot paths gather from a plain view
        self._rows = matrix.view(np.ndarray) if isinstance(matrix, np.memmap) else matrix
        self._dim = int(matrix.shape[1])
        self.source = source
        self.cache_size = int(cache_size)
        self._pruneidx = _pruneidx  # only quantized fastText models are pruned; kept for completeness
        self._ids_cache: Dict[bytes, np.ndarray] = {}
        self._vec_cache: Dict[bytes, np.ndarray] = {}
        self._word_table: Optional[np.ndarray] = None  # set by precompute_vectors() or a saved table
        self._sub_flat: Optional[np.ndarray] = None  # set by precompute_subwords()
        self._sub_offsets: Optional[np.ndarray] = None
        needed = self.nwords + (self.bucket if _pruneidx is None else len(_pruneidx))
        if self.nwords > matrix.shape[0] or (self.maxn > 0 and matrix.shape[0] < needed):
            raise CheckpointError(
                f"{source}: the matrix has {matrix.shape[0]} rows but the dictionary needs {max(self.nwords, needed)} "
                f"({self.nwords} words, {self.bucket} n-gram buckets): the file is inconsistent")

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: PathLike, *, limit: Optional[int] = None, cache_size: int = 65536,
             precompute_subwords: bool = False, precompute_vectors: bool = False) -> "WordVectors":
        """Open a fastText ``.bin``, a ``.vec`` text file or a textgan ``.safetensors`` file.

        The kind is recognised from the file's first bytes, not its name. ``limit`` keeps only the first
        ``limit`` words of a ``.vec`` file (they are sorted by frequency). ``precompute_subwords`` hashes every
        dictionary word's n-grams while opening (:meth:`precompute_subwords`): slower to open, faster first
        lookups, as fastText itself does. ``precompute_vectors`` also computes every dictionary word's vector
        (:meth:`precompute_vectors`); a textgan file saved after that holds the table already.

        Raises:
            FileNotFoundError: no such file.
            CheckpointError: the file is none of these formats, is truncated, or is a quantized model.
        """
        wv = cls._open(Path(path), limit, cache_size)
        if precompute_subwords:
            wv.precompute_subwords()
        return wv.precompute_vectors() if precompute_vectors else wv

    @classmethod
    def _open(cls, path: Path, limit: Optional[int], cache_size: int) -> "WordVectors":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such word-vector file (a fastText .bin, a .vec or a textgan "
                                    ".safetensors file)")
        with open(path, "rb") as f:
            head = f.read(64)
        if not head:
            raise CheckpointError(f"{path}: the file is empty; download it again")
        if len(head) >= 8 and struct.unpack_from("<i", head)[0] == FASTTEXT_MAGIC:
            return cls._from_bin(path, cache_size)
        if len(head) >= 10 and head[8:9] == b"{" and _is_safetensors(path):
            try:
                return cls._from_safetensors(path, cache_size)
            except CheckpointError:
                raise
            except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError, RecursionError) as e:
                raise CheckpointError(f"{path}: a corrupt textgan word-vector file ({type(e).__name__}: {e}); "
                                      "write it again with WordVectors.save") from e
        first = head.split(b"\n", 1)[0]
        if _looks_like_vec_header(first):
            return cls._from_vec(path, limit, cache_size)
        if path.suffix.lower() in (".bin", ".ftz"):
            try:  # fastText models written before the magic number existed (2016)
                return cls._from_bin(path, cache_size, legacy=True)
            except CheckpointError:
                pass
        raise CheckpointError(
            f"{path} is not a fastText model: a fastText .bin starts with the magic number {FASTTEXT_MAGIC} "
            f"(found bytes {head[:8].hex()}), a .vec starts with a 'COUNT DIM' line, a textgan file is "
            "safetensors. Pass the .bin of a fastText model (e.g. wiki.en.bin), not a word2vec binary or an archive")

    @classmethod
    def _from_bin(cls, path: Path, cache_size: int, legacy: bool = False) -> "WordVectors":
        size = path.stat().st_size
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls._parse_bin(mm, path, size, cache_size, legacy)
        except (struct.error, IndexError, ValueError, OverflowError, MemoryError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{path}: not a readable fastText .bin ({type(e).__name__}: {e}); the file is "
                                  "truncated or of another format") from e
        finally:
            mm.close()

    @classmethod
    def _parse_bin(cls, mm, path: Path, size: int, cache_size: int, legacy: bool) -> "WordVectors":
        pos = 0
        if not legacy:
            _, version = struct.unpack_from("<ii", mm, 0)
            if version > _MAX_VERSION or version < 0:
                raise CheckpointError(f"{path}: fastText format version {version} is newer than this reader "
                                      f"knows ({_MAX_VERSION}); please report it")
            pos = 8
        else:
            version = 0
        # Args: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate (int32), t (double)
        args = struct.unpack_from("<12id", mm, pos)
        pos += 56
        dim, model, bucket, minn, maxn = args[0], args[7], args[8], args[9], args[10]
        if not (0 < dim <= 100000) or bucket < 0 or minn < 0 or maxn < 0 or model not in (1, 2, 3):
            raise CheckpointError(f"{path}: implausible fastText header (dim {dim}, bucket {bucket}, minn {minn}, "
                                  f"maxn {maxn}, model {model}): not a fastText model or a corrupt one")
        if version == 11 and model == 3:
            maxn = 0  # fastText: version-11 supervised models do not use character n-grams
        nentries, nwords, _nlabels = struct.unpack_from("<iii", mm, pos)
        pos += 12
        (_ntokens,) = struct.unpack_from("<q", mm, pos)
        pos += 8
        prune_size = -1
        if not legacy:
            (prune_size,) = struct.unpack_from("<q", mm, pos)
            pos += 8
        if not (0 <= nwords <= nentries) or nentries > size:
            raise CheckpointError(f"{path}: implausible fastText dictionary ({nentries} entries, {nwords} words)")
        words: List[bytes] = []
        find, unpack = mm.find, struct.unpack_from
        for _ in range(nentries):
            end = find(b"\x00", pos)
            if end < 0:
                raise CheckpointError(f"{path}: the fastText dictionary is cut short (truncated file)")
            words.append(mm[pos:end])
            pos = end + 1 + 9  # count (int64) and entry type (int8) follow each word
        pruneidx = None
        if prune_size > 0:
            pruneidx = {}
            for _ in range(prune_size):
                a, b = unpack("<ii", mm, pos)
                pruneidx[a] = b
                pos += 8
        elif prune_size == 0:
            pruneidx = {}
        if not legacy:
            quant = mm[pos]
            pos += 1
            if quant:
                raise CheckpointError(
                    f"{path} is a quantized fastText model (made by `fasttext quantize`, usually .ftz): its "
                    "vectors are product-quantized codes, which this reader does not decode. Use the full .bin")
            if pruneidx is not None:
                raise CheckpointError(f"{path}: a pruned dictionary in an unquantized model, which fastText itself "
                                      "rejects (fastText issue #332): download the updated model")
        rows, cols = unpack("<qq", mm, pos)
        pos += 16
        if cols != dim or rows < nwords or rows <= 0:
            raise CheckpointError(f"{path}: input matrix of {rows} x {cols} does not fit a {dim}-d model with "
                                  f"{nwords} words: not a fastText model or a corrupt one")
        if pos + rows * cols * 4 > size:
            raise CheckpointError(f"{path}: truncated, the input matrix needs {rows * cols * 4} bytes after offset "
                                  f"{pos} but the file has {size} bytes; download it again")
        matrix = np.memmap(path, dtype="<f4", mode="r", offset=pos, shape=(rows, cols))
        return cls(words, matrix, nwords=nwords, minn=minn, maxn=maxn, bucket=bucket, source=str(path),
                   cache_size=cache_size, _pruneidx=pruneidx)

    @classmethod
    def _from_vec(cls, path: Path, limit: Optional[int], cache_size: int) -> "WordVectors":
        with open(path, "rb") as f:
            count, dim = (int(x) for x in f.readline().split())
            n = count if limit is None else min(count, int(limit))
            # every value takes at least two bytes of text: refuse a header claiming more than the file holds
            # before allocating the matrix it describes (a small one is allocated, and the lines checked)
            if n * dim * 2 > os.fstat(f.fileno()).st_size and n * dim * 4 > (1 << 26):
                raise CheckpointError(f"{path}: the header promises {count} words of {dim} values, more than the "
                                      f"{os.fstat(f.fileno()).st_size}-byte file can hold; truncated or corrupt")
            matrix = np.zeros((n, dim), dtype=np.float32)
            words: List[bytes] = []
            for i in range(n):
                line = f.readline()
                if not line:
                    raise CheckpointError(f"{path}: the header promises {count} words but the file ends after {i}")
                parts = line.rstrip(b"\r\n").rstrip(b" ").rsplit(b" ", dim)
                try:
                    if len(parts) != dim + 1:
                        raise ValueError(f"{len(parts) - 1} values, not {dim}")
                    matrix[i] = np.array(parts[1:], dtype=np.float32)
                except ValueError as e:
                    raise CheckpointError(
                        f"{path}: line {i + 2} is not 'word' + {dim} numbers ({e}); a .vec file is text (a word2vec "
                        "binary file is not read: use the fastText .bin or the .vec)") from None
                words.append(parts[0])
        return cls(words, matrix, source=str(path), cache_size=cache_size)

    @classmethod
    def _from_safetensors(cls, path: Path, cache_size: int) -> "WordVectors":
        header, data_start = _safetensors_header(path)
        meta = header.get("__metadata__", {})
        if meta.get("format") != _FORMAT or "input_matrix" not in header or "words" not in header:
            raise CheckpointError(f"{path}: a safetensors file, but not textgan word vectors (written by "
                                  "WordVectors.save)")
        info = header["input_matrix"]
        begin, _ = info["data_offsets"]
        matrix = np.memmap(path, dtype="<f4", mode="r", offset=data_start + begin, shape=tuple(info["shape"]))
        wb, we = header["words"]["data_offsets"]
        if not 0 <= wb <= we <= path.stat().st_size - data_start:
            raise CheckpointError(f"{path}: the words claim bytes {wb}..{we} past the end of the file; truncated")
        with open(path, "rb") as f:
            f.seek(data_start + wb)
            blob = f.read(we - wb)
        words = blob.split(b"\x00") if blob else []
        config = json.loads(meta.get("config", "{}"))
        wv = cls(words, matrix, nwords=config.get("nwords"), minn=config.get("minn", 0),
                 maxn=config.get("maxn", 0), bucket=config.get("bucket", 0), source=str(path), cache_size=cache_size)
        if "word_vectors" in header:  # saved after precompute_vectors()
            info = header["word_vectors"]
            begin, end = info["data_offsets"]
            shape = tuple(info["shape"])
            rows = min(wv.nwords, matrix.shape[0])
            if (info.get("dtype") != "F32" or shape != (rows, wv.dim) or end - begin != rows * wv.dim * 4
                    or data_start + end > path.stat().st_size):
                raise CheckpointError(f"{path}: its word_vectors table is {info.get('dtype')} {list(shape)}, expected "
                                      f"F32 [{rows}, {wv.dim}] within the file; the file is corrupt")
            wv._word_table = np.memmap(path, dtype="<f4", mode="r", offset=data_start + begin,
                                       shape=shape).view(np.ndarray)
        return wv

    def save(self, path: PathLike) -> Path:
        """Write a textgan ``.safetensors`` file (input matrix, dictionary, n-gram settings) that :meth:`load`
        memory-maps. The file holds everything the lookups need; no fastText file is needed afterwards."""
        from safetensors.numpy import save_file

        if self._pruneidx is not None:
            raise ValueError("pruned fastText dictionaries cannot be saved; load the unpruned model")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = np.frombuffer(b"\x00".join(self._words), dtype=np.uint8)
        config = dict(nwords=self.nwords, minn=self.minn, maxn=self.maxn, bucket=self.bucket, dim=self.dim)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tensors = {"input_matrix": np.ascontiguousarray(self.matrix), "words": blob}
            if self._word_table is not None:
                tensors["word_vectors"] = np.ascontiguousarray(self._word_table)
            save_file(tensors, str(tmp),
                      metadata={"format": _FORMAT, "version": "1", "config": json.dumps(config)})
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    def subset(self, words: Iterable[str], *, keep_subwords: bool = True) -> "WordVectors":
        """Smaller vectors for a known word list (e.g. a dataset's captions).

        With ``keep_subwords`` the n-gram buckets stay, so the listed words and every out-of-vocabulary word
        get exactly the vectors they have here (a word of this dictionary that is not listed becomes
        out-of-vocabulary). Without, only the listed words' final vectors are kept and every other word
        gets zeros, like a ``.vec`` file.
        """
        listed = list(dict.fromkeys(_encode(w) if isinstance(w, str) else w for w in words))
        if not keep_subwords:
            matrix = self._vectors(listed)
            return WordVectors(listed, matrix, source=f"subset of {self.source}", cache_size=self.cache_size)
        known = [w for w in listed if w in self._index and self._index[w] < self.nwords]
        rows = np.asarray([self._index[w] for w in known], dtype=np.int64)
        matrix = np.concatenate([self.matrix[rows], self.matrix[self.nwords:self.nwords + self.bucket]])
        return WordVectors(known, matrix, minn=self.minn, maxn=self.maxn, bucket=self.bucket,
                           source=f"subset of {self.source}", cache_size=self.cache_size)

    # ------------------------------------------------------------------ the dictionary
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def words(self) -> List[str]:
        """Dictionary entries in file order (fastText's ``get_words(include_freq=False)`` order)."""
        return [_decode(w) for w in self._words[: self.nwords]]

    @property
    def has_subwords(self) -> bool:
        """Whether out-of-vocabulary words get n-gram vectors (else zeros)."""
        return self.maxn > 0

    def __len__(self) -> int:
        return self.nwords

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and _encode(word) in self._index

    def __repr__(self) -> str:
        sub = f"minn={self.minn}, maxn={self.maxn}, bucket={self.bucket}" if self.has_subwords else "no subwords"
        return f"WordVectors({self.nwords} words, dim={self.dim}, {sub}, source={self.source!r})"

    def word_id(self, word: str) -> int:
        """The dictionary index of ``word``, -1 if it is out of vocabulary (fastText ``get_word_id``)."""
        return self._index.get(_encode(word), -1)

    def subword_ids(self, word: str) -> np.ndarray:
        """The input-matrix rows averaged into ``word``'s vector (fastText ``getSubwords``)."""
        return self._ids(_encode(word)).copy()

    def subwords(self, word: str) -> Tuple[List[str], np.ndarray]:
        """``(strings, rows)`` like fastText's ``get_subwords``: the word itself if known, then its n-grams."""
        wb = _encode(word)
        strings = [word] if self._index.get(wb, -1) >= 0 else []
        if self.maxn > 0 and wb != _EOS:
            strings += [_decode(s) for s, _ in self._ngrams(b"<" + wb + b">")]
        return strings, self._ids(wb).copy()

    def _ngrams(self, w: bytes) -> List[Tuple[bytes, int]]:
        """``(n-gram bytes, row)`` for every n-gram of the bracketed word (fastText ``computeSubwords``)."""
        out = []
        minn, maxn, bucket, base, signed = self.minn, self.maxn, self.bucket, self.nwords, _SIGNED
        length = len(w)
        prune = self._pruneidx
        for i in range(length):
            if (w[i] & 0xC0) == 0x80:
                continue  # not the first byte of a UTF-8 character
            h, j, n = _FNV_OFFSET, i, 1
            while j < length and n <= maxn:
                h = ((h ^ signed[w[j]]) * _FNV_PRIME) & _MASK
                j += 1
                while j < length and (w[j] & 0xC0) == 0x80:
                    h = ((h ^ signed[w[j]]) * _FNV_PRIME) & _MASK
                    j += 1
                if n >= minn and not (n == 1 and (i == 0 or j == length)):
                    row = h % bucket if bucket > 0 else 0
                    if prune is None:
                        out.append((w[i:j], base + row))
                    elif row in prune:
                        out.append((w[i:j], base + prune[row]))
                n += 1
        return out

    def _ngram_rows(self, w: bytes) -> List[int]:
        """The rows of :meth:`_ngrams` alone; for ASCII words (every byte a character) a shorter loop."""
        if self._pruneidx is not None or not w.isascii():
            return [r for _, r in self._ngrams(w)]
        out: List[int] = []
        append = out.append
        minn, maxn, bucket, base, length = self.minn, self.maxn, self.bucket, self.nwords, len(w)
        single_ok = minn <= 1
        for i in range(length):
            h, stop = _FNV_OFFSET, min(i + maxn, length)
            for j in range(i, stop):
                h = ((h ^ w[j]) * _FNV_PRIME) & _MASK  # ASCII bytes are their own sign extension
                if j - i + 1 >= minn and (j > i or (single_ok and 0 < i < length - 1)):
                    append(base + h % bucket)
        return out

    def _compute_ids(self, wb: bytes) -> np.ndarray:
        wid = self._index.get(wb, -1)
        # a label of a supervised model (index >= nwords) has no input row of its own past the matrix
        rows = [wid] if 0 <= wid < self.matrix.shape[0] else []
        if self.maxn > 0 and wb != _EOS:
            rows += self._ngram_rows(b"<" + wb + b">")
        return np.asarray(rows, dtype=np.int64)

    def _ids(self, wb: bytes) -> np.ndarray:
        ids = self._precomputed(wb)
        if ids is not None:
            return ids
        ids = self._ids_cache.get(wb)
        if ids is None:
            ids = self._compute_ids(wb)
            if self.cache_size:
                if len(self._ids_cache) >= self.cache_size:
                    self._ids_cache.clear()
                self._ids_cache[wb] = ids
        return ids

    def _many_ids(self, words: Sequence[bytes]) -> List[np.ndarray]:
        """:meth:`_ids` of many words; the n-grams of many new ASCII words are hashed in vectorised numpy."""
        if self._sub_offsets is not None:
            ids: List[Optional[np.ndarray]] = [self._precomputed(w) for w in words]
            ids = [i if i is not None else self._ids_cache.get(w) for w, i in zip(words, ids)]
        else:
            ids = [self._ids_cache.get(w) for w in words]
        new = list(dict.fromkeys(w for w, i in zip(words, ids) if i is None and w.isascii() and w != _EOS))
        if len(new) >= _VECTORISE_FROM and self.maxn > 0 and self._pruneidx is None:
            found = dict(zip(new, self._batch_ids(new)))
            if self.cache_size:
                if len(self._ids_cache) + len(found) > self.cache_size:
                    self._ids_cache.clear()
                self._ids_cache.update(found)
            ids = [i if i is not None else found.get(w) for w, i in zip(words, ids)]
        return [i if i is not None else self._ids(w) for w, i in zip(words, ids)]

    def _batch_ids(self, words: List[bytes]) -> List[np.ndarray]:
        """Rows of many ASCII words at once (see :meth:`_batch_rows`), one array per word."""
        flat, counts = self._batch_rows(words)
        return np.split(flat, np.cumsum(counts)[:-1])

    def _batch_rows(self, words: List[bytes]) -> Tuple[np.ndarray, np.ndarray]:
        """``(rows, counts)``: every word's rows (its own row first, if any, then its n-grams) concatenated,
        and how many each has. The FNV-1a chains of every start position of every word advance together."""
        bracketed = [b"<" + w + b">" for w in words]
        lengths = np.fromiter((len(b) for b in bracketed), dtype=np.int64, count=len(bracketed))
        buf = np.frombuffer(b"".join(bracketed), dtype=np.uint8)
        owner = np.repeat(np.arange(len(bracketed)), lengths)
        start = np.arange(len(buf)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # i within its word
        left = lengths[owner] - start  # bytes from i to the end of the word
        hashes = np.empty((len(buf), self.maxn), dtype=np.uint32)
        keep = np.empty((len(buf), self.maxn), dtype=bool)
        h = np.full(len(buf), _FNV_OFFSET, dtype=np.uint32)
        positions = np.arange(len(buf))
        for n in range(1, self.maxn + 1):
            h = (h ^ buf[np.minimum(positions + n - 1, len(buf) - 1)]) * np.uint32(_FNV_PRIME)  # wraps mod 2^32
            hashes[:, n - 1] = h
            ok = (left >= n) & (n >= self.minn)
            keep[:, n - 1] = ok & (start != 0) & (left != 1) if n == 1 else ok
        rows = (hashes[keep] % np.uint32(self.bucket)).astype(np.int64) + self.nwords  # (i, n) order per word
        ngram_counts = np.bincount(owner, weights=keep.sum(axis=1), minlength=len(words)).astype(np.int64)
        wids = np.fromiter((self._index.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        own = (wids >= 0) & (wids < self.matrix.shape[0])
        counts = ngram_counts + own
        if not own.any():
            return rows, counts
        flat = np.empty(int(counts.sum()), dtype=np.int64)
        is_own = np.zeros(len(flat), dtype=bool)
        is_own[(np.cumsum(counts) - counts)[own]] = True  # a word's own row comes first, as in fastText
        flat[is_own] = wids[own]
        flat[~is_own] = rows
        return flat, counts

    def precompute_subwords(self) -> "WordVectors":
        """Hash the n-grams of every dictionary word now, as fastText does while loading.

        Afterwards a dictionary word's rows are a slice of one array, so the first lookup of a word costs
        what fastText's does (without this, a word's n-grams are hashed when it is first asked for and then
        cached). Costs about ``4 * rows`` bytes (35 rows per word for wiki.en's 3..6-grams) and a second or
        so per 100,000 words. Returns ``self``; ``WordVectors.load(..., precompute_subwords=True)`` calls it.

        >>> wv = WordVectors(["</s>", "bird"], np.zeros((12, 4), np.float32), minn=3, maxn=6, bucket=10)
        >>> bool((wv.precompute_subwords()["bird"] == 0).all())
        True
        """
        if self._sub_offsets is not None or self.maxn <= 0 or self._pruneidx is not None:
            return self
        entries = self._words[: min(self.nwords, self.matrix.shape[0])]
        flats, counts = [], []
        for s in range(0, len(entries), 16384):
            chunk = entries[s:s + 16384]
            fast = np.fromiter((w.isascii() and w != _EOS for w in chunk), dtype=bool, count=len(chunk))
            # ASCII words hashed together in numpy; non-ASCII words and "</s>" one by one; merged in order
            flat_fast, count_fast = self._batch_rows([w for w, f in zip(chunk, fast) if f])
            slow = [self._compute_ids(w) for w, f in zip(chunk, fast) if not f]
            count = np.zeros(len(chunk), dtype=np.int64)
            count[fast] = count_fast
            count[~fast] = [len(a) for a in slow]
            flat = np.empty(int(count.sum()), dtype=np.int64)
            from_fast = np.repeat(fast, count)
            flat[from_fast] = flat_fast
            flat[~from_fast] = np.concatenate(slow) if slow else np.zeros(0, np.int64)
            flats.append(flat)
            counts.append(count)
        flat = np.concatenate(flats) if flats else np.zeros(0, np.int64)
        dtype = np.int32 if self.matrix.shape[0] < 2 ** 31 else np.int64
        offsets = np.concatenate(([0], np.cumsum(np.concatenate(counts) if counts else np.zeros(0, np.int64))))
        # entry i's rows; a duplicate entry maps to the first one's (fastText's hash table finds that one)
        self._sub_flat, self._sub_offsets = flat.astype(dtype), offsets
        return self

    def precompute_vectors(self) -> "WordVectors":
        """Compute the vector of every dictionary word now (bit-equal to computing it on demand).

        A dictionary word's lookup is then one row of a ``(words, dim)`` float32 table (about 1.2 KB per word
        at 300-d: 225 MB for 187,667 words, 3 GB for wiki.en's 2.5 M), which :meth:`save` stores, so a saved
        file opens memory-mapped with the table ready. Out-of-vocabulary words are still hashed on demand.
        Returns ``self``; ``WordVectors.load(..., precompute_vectors=True)`` calls it.

        >>> wv = WordVectors(["</s>", "bird"], np.ones((12, 4), np.float32), minn=3, maxn=6, bucket=10)
        >>> wv.precompute_vectors()["bird"].tolist()
        [1.0, 1.0, 1.0, 1.0]
        """
        if self._word_table is not None:
            return self
        entries = self._words[: min(self.nwords, self.matrix.shape[0])]
        table = np.empty((len(entries), self.dim), dtype=np.float32)
        for s in range(0, len(entries), 8192):
            table[s:s + 8192] = self._compute_vectors(entries[s:s + 8192])
        for i, w in enumerate(entries):
            if self._index[w] != i:  # a duplicate entry: lookups find the first one, as fastText's hash table
                table[i] = table[self._index[w]]
        table.setflags(write=False)
        self._word_table = table
        return self

    def _precomputed(self, wb: bytes) -> Optional[np.ndarray]:
        if self._sub_offsets is None:
            return None
        wid = self._index.get(wb, -1)
        if wid < 0 or wid + 1 >= len(self._sub_offsets):
            return None
        return self._sub_flat[self._sub_offsets[wid]:self._sub_offsets[wid + 1]]

    # ------------------------------------------------------------------ vectors
    def _vectors(self, words: Sequence[bytes]) -> np.ndarray:
        """(len(words), dim) float32: dictionary words from the precomputed table when there is one."""
        table = self._word_table
        if table is None or not words:
            return self._compute_vectors(words)
        wids = np.fromiter((self._index.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        known = (wids >= 0) & (wids < table.shape[0])
        if known.all():
            return np.array(table[wids], dtype=np.float32)
        out = np.empty((len(words), self.dim), dtype=np.float32)
        out[known] = table[wids[known]]
        rest = np.flatnonzero(~known)
        out[rest] = self._compute_vectors([words[i] for i in rest])
        return out

    def _compute_vectors(self, words: Sequence[bytes]) -> np.ndarray:
        """(len(words), dim) float32, computed in one gather and one segmented sum."""
        out = np.zeros((len(words), self.dim), dtype=np.float32)
        if not words:
            return out
        ids = self._many_ids(words)
        counts = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        scale = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0).astype(np.float32)  # real(1.0 / n)
        if len(ids) > _VECTORISE_FROM and counts.any():
            # Many words: add the k-th row of every word that has one, k = 0, 1, ...: float32 additions in
            # fastText's order (addRow), so the results are bitwise fastText's; words sorted by row count so that
            # step k touches a prefix. Reads each row once (a padded gather would read the padding too).
            order = np.argsort(-counts, kind="stable")
            sorted_counts = counts[order]
            width = int(sorted_counts[0])
            index = np.zeros((len(ids), width), dtype=np.int64)
            index[np.arange(width)[None, :] < sorted_counts[:, None]] = np.concatenate([ids[i] for i in order])
            active = np.searchsorted(-sorted_counts, -np.arange(width), side="left")  # words with > k rows
            acc = np.zeros((len(ids), self.dim), dtype=np.float32)
            for k in range(width):
                n = int(active[k])
                acc[:n] += self._rows[index[:n, k]]
            out[order] = acc * scale[order, None]
            return out
        # Few words: one gather of all their rows, scattered into a zero-padded (words, rows, dim) block and
        # reduced over its middle axis, which numpy adds one row after another (fastText's order; adding the
        # padding's zeros changes nothing; np.add.reduceat would sum in another order). Chunks bound the
        # memory of the padded block.
        chunk = max(1, (1 << 24) // max(1, int(counts.max(initial=1)) * self.dim * 4))
        for s in range(0, len(ids), chunk):
            part = counts[s:s + chunk]
            width = int(part.max(initial=0))
            if width == 0:
                continue  # no row at all: zeros, as fastText
            mask = np.arange(width)[None, :] < part[:, None]
            padded = np.zeros(mask.shape + (self.dim,), dtype=np.float32)
            padded[mask] = self._rows[np.concatenate(ids[s:s + chunk])]
            out[s:s + chunk] = padded.sum(axis=1) * scale[s:s + chunk, None]
        return out

    def get_word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """(len(words), dim) float32: row i is ``get_word_vector(words[i])``."""
        encoded = [_encode(w) for w in words]
        if not self.cache_size:
            return self._vectors(encoded)
        if not encoded:
            return np.zeros((0, self.dim), dtype=np.float32)
        cache = self._vec_cache
        vectors = [cache.get(w) for w in encoded]
        missing = list(dict.fromkeys(w for w, v in zip(encoded, vectors) if v is None))
        if missing:
            fresh = self._vectors(missing)
            fresh.setflags(write=False)  # cached rows are shared: callers get copies or a new stack
            found = dict(zip(missing, fresh))
            if len(missing) <= self.cache_size:
                if len(cache) + len(missing) > self.cache_size:
                    cache.clear()
                cache.update(found)
            vectors = [v if v is not None else found[w] for w, v in zip(encoded, vectors)]
        return np.stack(vectors)

    def get_word_vector(self, word: str) -> np.ndarray:
        """The (dim,) float32 vector fastText's ``get_word_vector(word)`` gives (a new array)."""
        return self.get_word_vectors([word])[0].copy()

    __getitem__ = get_word_vector

    def lookup(self, sentences: Sequence[Sequence[str]], pad_to: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Vectors of tokenised sentences, zero-padded: ``(vectors (B, T, dim) float32, lengths (B,) int64)``.

        ``T`` is the longest sentence (or ``pad_to``, which must not be shorter). All words of all sentences
        are looked up in one call.
        """
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        longest = int(lengths.max()) if len(lengths) else 0
        width = longest if pad_to is None else int(pad_to)
        if width < longest:
            raise ValueError(f"pad_to={pad_to} is shorter than the longest sentence ({longest} words)")
        flat = self.get_word_vectors([w for s in sentences for w in s])
        out = np.zeros((len(sentences), width, self.dim), dtype=np.float32)
        mask = np.arange(width)[None, :] < lengths[:, None]
        out[mask] = flat
        return out, lengths


def _looks_like_vec_header(line: bytes) -> bool:
    parts = line.split()
    return len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[1]) > 0


def _safetensors_header(path: Path) -> Tuple[dict, int]:
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        if n > 100_000_000:
            raise CheckpointError(f"{path}: not a safetensors file (header length {n})")
        try:
            header = json.loads(f.read(n))
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"{path}: not a safetensors file ({e})") from e
    return header, 8 + n


def _is_safetensors(path: Path) -> bool:
    try:
        header, _ = _safetensors_header(path)
    except CheckpointError:
        return False
    return isinstance(header, dict)
