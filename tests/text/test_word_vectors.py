"""textgan.text.WordVectors against the fastText package, and on files written here in fastText's layout.

The parity tests train a tiny fastText model with the real package (``fasttext-wheel``, in the ``test``
extra) and compare every in-vocabulary vector and 1,000 out-of-vocabulary words; they are skipped, with the
reason, when the package is not installed. The other tests need no fastText: they write ``.bin`` files
in fastText's documented layout (src/fasttext.cc, dictionary.cc, args.cc, densematrix.cc).
"""
import random
import string
import struct

import numpy as np
import pytest

from textgan.errors import CheckpointError
from textgan.text import WordVectors
from textgan.text.word_vectors import FASTTEXT_MAGIC, fasttext_hash

WORDS = ["bird", "red", "wing", "small", "yellow", "petal", "flower", "black", "white", "beak", "the", "a", "has",
         "with", "and", "this", "café", "naïve", "日本語", "über", "crown", "belly", "x"]


def write_fasttext_bin(path, words, matrix, *, minn=3, maxn=6, bucket=None, version=12, legacy=False,
                       quantized=False, model=2, labels=()):
    """A fastText model file: header, args, dictionary, input matrix, (empty) output matrix."""
    nwords = len(words)
    entries = list(words) + list(labels)
    bucket = matrix.shape[0] - nwords if bucket is None else bucket
    out = bytearray()
    if not legacy:
        out += struct.pack("<ii", FASTTEXT_MAGIC, version)
    out += struct.pack("<12id", matrix.shape[1], 5, 1, 1, 5, 1, 2, model, bucket, minn, maxn, 100, 1e-4)
    out += struct.pack("<iii", len(entries), nwords, len(labels)) + struct.pack("<q", 1000)
    if not legacy:
        out += struct.pack("<q", -1)  # pruneidx_size: not pruned
    for i, w in enumerate(entries):
        out += w.encode("utf-8") + b"\x00" + struct.pack("<qb", 100 - i, 1 if i >= nwords else 0)
    if not legacy:
        out += bytes([1 if quantized else 0])
    out += struct.pack("<qq", *matrix.shape) + np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    if not legacy:
        out += bytes([0])  # qout
    out += struct.pack("<qq", 1, matrix.shape[1]) + np.zeros(matrix.shape[1], "<f4").tobytes()
    path.write_bytes(bytes(out))
    return path


def _reference_vector(words, matrix, word, minn, maxn, bucket):
    """fastText's getWordVector written out plainly (one word at a time, Python floats → float32 rows)."""
    ids = [words.index(word)] if word in words else []
    if word != "</s>" and maxn > 0:
        b = ("<" + word + ">").encode("utf-8")
        for i in range(len(b)):
            if (b[i] & 0xC0) == 0x80:
                continue
            j, n = i, 1
            while j < len(b) and n <= maxn:
                j += 1
                while j < len(b) and (b[j] & 0xC0) == 0x80:
                    j += 1
                if n >= minn and not (n == 1 and (i == 0 or j == len(b))):
                    ids.append(len(words) + fasttext_hash(b[i:j]) % bucket)
                n += 1
    acc = np.zeros(matrix.shape[1], np.float32)
    for r in ids:
        acc += matrix[r]
    return acc * np.float32(1.0 / len(ids)) if ids else acc


def _oov_words(n=1000, seed=0):
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits + "éüßø日本-_'"
    words = {"", "</s>", "<", ">", "a" * 40, "Bird", "birds", "naïv", "日本"} - set(WORDS)
    while len(words) < n + 1:  # n of them besides "</s>", which a trained model knows
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        if word not in WORDS:
            words.add(word)
    return sorted(words)


@pytest.fixture(scope="module")
def small_matrix():
    rng = np.random.default_rng(0)
    return rng.standard_normal((len(WORDS) + 97, 6)).astype(np.float32)


# ---------------------------------------------------------------------------- against the fastText package


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    fasttext = pytest.importorskip("fasttext", reason="the fastText package (pip install fasttext-wheel, in the "
                                                      "'test' extra) is not installed; parity with it not checked")
    folder = tmp_path_factory.mktemp("fasttext")
    rng = random.Random(0)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(300)) + "\n",
                      encoding="utf-8")
    model = fasttext.train_unsupervised(str(corpus), model="skipgram", dim=16, epoch=2, minCount=1, bucket=5000,
                                        minn=2, maxn=5, thread=1, verbose=0)
    path = folder / "tiny.bin"
    model.save_model(str(path))
    return model, path


def test_every_vector_of_a_trained_model_matches_fasttext(trained):
    model, path = trained
    wv = WordVectors.load(path)
    assert wv.words == model.words and wv.dim == model.get_dimension()
    oov = _oov_words()
    assert len([w for w in oov if w not in wv]) >= 1000
    for word in model.words + oov:
        np.testing.assert_allclose(wv[word], model.get_word_vector(word), rtol=0, atol=1e-6, err_msg=repr(word))
    # the batched lookup gives the same rows (in practice bit for bit: same float32 order of additions)
    ours = wv.get_word_vectors(model.words + oov)
    theirs = np.stack([model.get_word_vector(w) for w in model.words + oov])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_precomputed_subwords_match_fasttext(trained):
    """precompute_subwords (every dictionary word hashed at load) gives fastText's rows and vectors too."""
    model, path = trained
    lazy = WordVectors.load(path, cache_size=0)
    wv = WordVectors.load(path, cache_size=0, precompute_subwords=True)
    assert wv._sub_offsets is not None and len(wv._sub_offsets) == len(model.words) + 1
    for word in model.words:
        assert wv.subword_ids(word).tolist() == list(model.get_subwords(word)[1]) == lazy.subword_ids(word).tolist()
    words = model.words + _oov_words()[:200]
    for got in (wv.get_word_vectors(words), np.stack([wv[w] for w in words]),
                wv.lookup([words[i:i + 7] for i in range(0, 70, 7)])[0].reshape(-1, wv.dim)):
        np.testing.assert_allclose(got, np.stack([model.get_word_vector(w) for w in words[:len(got)]]),
                                   rtol=0, atol=1e-6)


def test_precomputed_vectors_match_fasttext_and_are_saved(trained, tmp_path):
    """precompute_vectors (a table of every dictionary word's vector) changes no bit; save() keeps the table and
    load() maps it."""
    model, path = trained
    wv = WordVectors.load(path, cache_size=0, precompute_vectors=True)
    assert wv._word_table is not None and wv._word_table.shape == (len(model.words), wv.dim)
    words = model.words + _oov_words()[:200]
    want = np.stack([model.get_word_vector(w) for w in words])
    np.testing.assert_allclose(wv.get_word_vectors(words), want, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(wv.get_word_vectors(words), WordVectors.load(path).get_word_vectors(words))
    saved = WordVectors.load(wv.save(tmp_path / "table.safetensors"), cache_size=0)
    assert isinstance(saved._word_table, np.ndarray) and not saved._word_table.flags.writeable
    np.testing.assert_array_equal(saved.get_word_vectors(words), wv.get_word_vectors(words))
    np.testing.assert_array_equal(np.stack([saved[w] for w in words[:50]]), want[:50])


def test_subwords_and_ids_match_fasttext(trained):
    model, path = trained
    wv = WordVectors.load(path)
    for word in ["bird", "café", "日本語", "zzqx", "</s>", "über-wing"]:
        strings, ids = model.get_subwords(word)
        ours_strings, ours_ids = wv.subwords(word)
        assert ours_strings == list(strings) and ours_ids.tolist() == list(ids), word
        assert wv.word_id(word) == model.get_word_id(word)


def test_supervised_model_without_subwords_matches_fasttext(trained, tmp_path):
    fasttext = pytest.importorskip("fasttext")
    rng = random.Random(1)
    data = tmp_path / "train.txt"
    data.write_text("\n".join(f"__label__{rng.choice('ab')} " + " ".join(rng.choice(WORDS) for _ in range(6))
                              for _ in range(100)) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(str(data), dim=5, epoch=1, thread=1, verbose=0)  # maxn = 0
    model.save_model(str(tmp_path / "sup.bin"))
    wv = WordVectors.load(tmp_path / "sup.bin")
    assert not wv.has_subwords
    for word in model.words + ["unseen", "zz"]:
        np.testing.assert_allclose(wv[word], model.get_word_vector(word), rtol=0, atol=1e-6)


def test_fasttext_reads_the_files_written_by_this_test_module(tmp_path, small_matrix):
    """So the layout of write_fasttext_bin (used where fastText is not installed) is checked too."""
    fasttext = pytest.importorskip("fasttext")
    path = write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix, minn=2, maxn=4)
    model = fasttext.load_model(str(path))
    wv = WordVectors.load(path)
    for word in WORDS + _oov_words(50):
        np.testing.assert_allclose(wv[word], model.get_word_vector(word), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- no fastText needed


def test_fnv_hash_with_sign_extended_bytes():
    assert fasttext_hash("") == 2166136261
    assert fasttext_hash("a") == 0xE40C292C  # plain FNV-1a for ASCII
    # bytes >= 0x80 are xored sign-extended (uint32(int8(b))), unlike textbook FNV-1a
    h = 2166136261
    for b in "é".encode("utf-8"):
        h = ((h ^ (b | 0xFFFFFF00)) * 16777619) & 0xFFFFFFFF
    assert fasttext_hash("é") == h


@pytest.mark.parametrize("version,legacy,minn,maxn", [(12, False, 2, 4), (11, False, 1, 3), (0, True, 3, 6)])
def test_vectors_follow_fasttexts_rules(tmp_path, small_matrix, version, legacy, minn, maxn):
    path = write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix, minn=minn, maxn=maxn, version=version,
                              legacy=legacy)
    wv = WordVectors.load(path)
    assert isinstance(wv.matrix, np.memmap) and len(wv) == len(WORDS) and wv.bucket == 97
    for word in WORDS + _oov_words(200):
        want = _reference_vector(WORDS, small_matrix, word, minn, maxn, 97)
        np.testing.assert_array_equal(wv[word], want, err_msg=word)
        assert len(wv.subword_ids(word)) == len(wv.subwords(word)[0])
    # many words in one call take the vectorised paths (n-gram hashing in numpy, row-by-row accumulation)
    fresh = WordVectors.load(path, cache_size=0)
    words = WORDS + _oov_words(200)
    np.testing.assert_array_equal(fresh.get_word_vectors(words), np.stack([wv[w] for w in words]))


def test_sentence_lookup_is_padded_and_matches_single_words(tmp_path, small_matrix):
    wv = WordVectors.load(write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix))
    sentences = [["this", "bird", "has", "qqq"], ["red"], ["a", "café", "naïf"]]
    vectors, lengths = wv.lookup(sentences)
    assert vectors.shape == (3, 4, 6) and lengths.tolist() == [4, 1, 3]
    for s, sentence in enumerate(sentences):
        for t in range(4):
            want = wv.get_word_vector(sentence[t]) if t < len(sentence) else np.zeros(6, np.float32)
            np.testing.assert_array_equal(vectors[s, t], want)
    assert wv.lookup(sentences, pad_to=7)[0].shape == (3, 7, 6)
    with pytest.raises(ValueError, match="pad_to"):
        wv.lookup(sentences, pad_to=2)
    uncached = WordVectors.load(tmp_path / "w.bin", cache_size=0)
    np.testing.assert_array_equal(uncached.lookup(sentences)[0], vectors)


def test_returned_vectors_are_copies(tmp_path, small_matrix):
    wv = WordVectors.load(write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix))
    v = wv["bird"]
    v[:] = 0
    assert wv["bird"].any()


def test_save_round_trip_is_memory_mapped_and_exact(tmp_path, small_matrix):
    wv = WordVectors.load(write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix))
    saved = WordVectors.load(wv.save(tmp_path / "wv.safetensors"))
    assert isinstance(saved.matrix, np.memmap) and saved.words == wv.words
    words = WORDS + _oov_words(100)
    np.testing.assert_array_equal(saved.get_word_vectors(words), wv.get_word_vectors(words))


def test_subset_keeps_the_listed_words_exact(tmp_path, small_matrix):
    wv = WordVectors.load(write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix))
    keep = ["bird", "red", "unseen"]
    with_subwords = wv.subset(keep)
    plain = wv.subset(keep, keep_subwords=False)
    assert len(with_subwords) == 2 and len(plain) == 3 and not plain.has_subwords
    for word in keep:
        np.testing.assert_array_equal(with_subwords[word], wv[word])
        np.testing.assert_array_equal(plain[word], wv[word])
    np.testing.assert_array_equal(with_subwords["zzq"], wv["zzq"])  # out-of-vocabulary: same n-gram rows
    assert not plain["zzq"].any()  # no subwords: zeros, as a .vec file


def test_vec_text_files(tmp_path, small_matrix):
    lines = [f"{len(WORDS)} 6"] + [w + " " + " ".join(f"{x:.6f}" for x in small_matrix[i]) + " "
                                   for i, w in enumerate(WORDS)]
    path = tmp_path / "w.vec"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wv = WordVectors.load(path)
    assert wv.words == WORDS and not wv.has_subwords
    np.testing.assert_allclose(wv["café"], small_matrix[WORDS.index("café")], atol=1e-6)
    assert not wv["unknownword"].any()
    assert len(WordVectors.load(path, limit=5)) == 5
    (tmp_path / "short.vec").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="ends after 3"):
        WordVectors.load(tmp_path / "short.vec")


def test_files_that_are_not_fasttext_models_are_refused(tmp_path, small_matrix):
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="not a fastText model"):
        WordVectors.load(tmp_path / "random.bin")
    (tmp_path / "words.bin").write_text("a word2vec text export, not a model\n")
    with pytest.raises(CheckpointError, match="not a fastText model"):
        WordVectors.load(tmp_path / "words.bin")
    with pytest.raises(FileNotFoundError, match="no such word-vector file"):
        WordVectors.load(tmp_path / "missing.bin")
    full = write_fasttext_bin(tmp_path / "w.bin", WORDS, small_matrix).read_bytes()
    (tmp_path / "cut.bin").write_bytes(full[: len(full) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        WordVectors.load(tmp_path / "cut.bin")
    write_fasttext_bin(tmp_path / "q.ftz", WORDS, small_matrix, quantized=True)
    with pytest.raises(CheckpointError, match="quantized"):
        WordVectors.load(tmp_path / "q.ftz")
    write_fasttext_bin(tmp_path / "future.bin", WORDS, small_matrix, version=99)
    with pytest.raises(CheckpointError, match="version 99"):
        WordVectors.load(tmp_path / "future.bin")
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not textgan word vectors"):
        WordVectors.load(tmp_path / "other.safetensors")
