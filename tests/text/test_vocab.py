"""Vocabulary and Tokenizer against the shared AttnGAN / DF-GAN captions pickles and raw caption files."""
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from textgan._pickle import safe_load
from textgan.errors import EmptyPromptError, UnsafePickleError, VocabularyError
from textgan.text import DAMSMTextEncoder, Tokenizer, Vocabulary, load_captions_pickle

DATASETS = Path(
    os.environ.get("TEXTGAN_DATASETS_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets")
)
needs_data = pytest.mark.skipif(
    not (DATASETS / "EXPECTED.json").is_file(), reason=f"no shared datasets at {DATASETS} (set TEXTGAN_DATASETS_DIR)"
)
# dataset -> captions per image in the released configs (CAPTIONS_PER_IMAGE)
CAPTIONS_PER_IMAGE = {"cub": 10, "coco": 5}
PICKLES = [(d, name) for d in CAPTIONS_PER_IMAGE for name in ("captions.pickle", "captions_DAMSM.pickle")]


@pytest.fixture(scope="module")
def expected():
    return json.loads((DATASETS / "EXPECTED.json").read_text())


def _raw_captions(dataset, key, n):
    """The first n non-empty caption lines of text/<key>.txt, read the way AttnGAN's loader does."""
    lines = (DATASETS / dataset / "text" / f"{key}.txt").read_bytes().decode("utf8").split("\n")
    return [line for line in lines if line][:n]


def _tiny_vocab():
    return Vocabulary(["<end>", "a", "man", "riding", "wave", "bird", "s", "wings", "caf", "3d", "x_y"])


# --------------------------------------------------------------------------------------------------
# vocabularies read from the shared pickles


@needs_data
@pytest.mark.parametrize("dataset,name", PICKLES)
def test_vocab_equals_the_pickle_tables(dataset, name, expected):
    path = DATASETS / dataset / name
    with open(path, "rb") as f:
        _, _, ixtoword, wordtoix = pickle.load(f, encoding="latin1")
    vocab = Vocabulary.from_captions_pickle(path)
    assert len(vocab) == len(ixtoword) == expected[dataset]["attngan"]["n_words"]
    assert vocab.words == [ixtoword[i] for i in range(len(ixtoword))]
    assert vocab.words[0] == "<end>" and vocab.pad_id == 0
    for word, index in wordtoix.items():
        assert vocab.word_to_index(word) == index and word in vocab
        assert vocab.index_to_word(index) == word
    assert vocab.word_to_index("definitely-not-a-word") is None
    assert Vocabulary.from_file(path) == vocab


@needs_data
@pytest.mark.parametrize("dataset,name", PICKLES)
def test_stored_captions_match_our_tokenizer_on_the_raw_text(dataset, name, expected):
    """Caption k of image i is entry i*CAPTIONS_PER_IMAGE+k, images in the split's filenames.pickle order."""
    train, test, vocab = load_captions_pickle(DATASETS / dataset / name)
    exp = expected[dataset]["attngan"]
    assert len(train) == exp["len_train_captions"] and len(test) == exp["len_test_captions"]
    assert max(len(c) for c in train) == exp["max_caption_len_train"]
    for split in ("train", "test"):
        stored = train if split == "train" else test
        assert stored[0] == exp[f"{split}_captions[0]"]
        assert vocab.decode(stored[0]) == exp[f"{split}_captions[0]_words"]
        assert expected[dataset][f"{split}_filenames"] == list(safe_load(DATASETS / dataset / split / "filenames.pickle"))

    tok = Tokenizer(vocab, max_words=None)  # the pickles hold full-length captions
    n = CAPTIONS_PER_IMAGE[dataset]
    for split, stored in (("train", train), ("test", test)):
        keys = expected[dataset][f"{split}_filenames"]
        assert len(stored) == len(keys) * n
        for i, key in enumerate(keys):
            raw = _raw_captions(dataset, key, n)
            assert raw == expected[dataset]["captions"][key][:n]
            for k, caption in enumerate(raw):
                assert tok.encode(caption) == stored[i * n + k], (split, key, k, caption)


@needs_data
def test_readme_quirks(expected):
    cub = Tokenizer(Vocabulary.from_file(DATASETS / "cub" / "captions.pickle"), max_words=None)
    _, test, _ = load_captions_pickle(DATASETS / "cub" / "captions.pickle")
    line = expected["cub"]["captions"]["001.Black_footed_Albatross/Black_Footed_Albatross_0046_18"][3]
    assert "\ufffd\ufffd" in line
    assert " ".join(cub.tokenize(line)) == "this bird s wings are dark brown and its bill is long"
    assert cub.encode(line) == test[3]
    coco = Tokenizer(Vocabulary.from_file(DATASETS / "coco" / "captions_DAMSM.pickle"))
    cafe = expected["coco"]["captions"]["COCO_val2014_000000243260"][0]
    assert "café" in cafe and "caf" in coco.tokenize(cafe) and "caf" in coco.vocab


@needs_data
def test_long_caption_keeps_the_first_max_words(expected):
    train, _, vocab = load_captions_pickle(DATASETS / "cub" / "captions.pickle")
    longest = max(train, key=len)
    assert len(longest) == expected["cub"]["attngan"]["max_caption_len_train"] > 18
    text = " ".join(vocab.decode(longest))
    tok = Tokenizer(vocab)  # max_words=18
    assert tok.encode(text) == longest[:18]
    ids, lengths = tok([text, "a bird"])
    assert ids.shape == (2, 18) and lengths.tolist() == [18, 2]
    assert ids[0].tolist() == longest[:18] and ids[1, 2:].eq(0).all()
    assert Tokenizer(vocab, max_words=None).encode(text) == longest
    assert Tokenizer(vocab, max_words=5).encode(text) == longest[:5]


# --------------------------------------------------------------------------------------------------
# save / load


def test_save_load_round_trip(tmp_path):
    vocab = _tiny_vocab()
    written = vocab.save(tmp_path / "model")  # a directory: vocab.json inside
    assert written == tmp_path / "model" / "vocab.json"
    data = json.loads(written.read_text(encoding="utf-8"))
    assert data == {"format": "textgan-vocab", "version": 1, "ixtoword": vocab.words}
    assert Vocabulary.load(tmp_path / "model") == vocab
    assert Vocabulary.load(written) == vocab
    assert Vocabulary.from_file(written) == vocab
    other = vocab.save(tmp_path / "words.json")
    assert other.name == "words.json" and Vocabulary.from_file(other) == vocab
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab


@needs_data
def test_pickle_to_json_round_trip(tmp_path):
    vocab = Vocabulary.from_captions_pickle(DATASETS / "coco" / "captions.pickle")
    assert Vocabulary.load(vocab.save(tmp_path)) == vocab


@pytest.mark.parametrize(
    "content,match",
    [
        ("{not json", "not a JSON"),
        ("[1, 2]", "JSON object"),
        ('{"format": "something-else", "version": 1, "ixtoword": ["<end>"]}', "format"),
        ('{"format": "textgan-vocab", "version": 99, "ixtoword": ["<end>"]}', "version"),
        ('{"format": "textgan-vocab", "version": 1, "ixtoword": "<end> a"}', "list"),
        ('{"format": "textgan-vocab", "version": 1, "ixtoword": ["a", "<end>"]}', "index 0"),
        ('{"format": "textgan-vocab", "version": 1, "ixtoword": ["<end>", "a", "a"]}', "twice"),
        ('{"format": "textgan-vocab", "version": 1, "ixtoword": ["<end>", 3]}', "str"),
        ('{"format": "textgan-vocab", "version": 1, "ixtoword": []}', "empty"),
    ],
)
def test_corrupt_or_wrong_format_vocab_json(tmp_path, content, match):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VocabularyError, match=match) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


def test_binary_garbage_json(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(VocabularyError, match="vocab.json"):
        Vocabulary.from_file(path)


def _write_pickle(path, obj, protocol=2):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize(
    "obj,match",
    [
        ({"ixtoword": {}}, "expected \\[train_captions"),
        ([[], [], {0: "<end>", 1: "a"}], "length 3"),
        ([[], [], {0: "<end>", 1: "a"}, {"<end>": 0, "a": 2}], "inconsistent"),
        ([[], [], {0: "<end>", 1: "a"}, {"<end>": 0}], "do not match"),
        ([[], [], {0: "<end>", 2: "a"}, {"<end>": 0, "a": 2}], "keys are not 0"),
        ([[], [], {"0": "<end>"}, {"<end>": 0}], "non-integer"),
        ([[], [], {0: "a", 1: "<end>"}, {"a": 0, "<end>": 1}], "index 0"),
        ([[], [], "words", {"<end>": 0}], "dict or a list"),
        ([[[1, 5]], [], ["<end>", "a"], {"<end>": 0, "a": 1}], "outside"),
    ],
)
def test_bad_captions_pickles(tmp_path, obj, match):
    path = _write_pickle(tmp_path / "captions.pickle", obj)
    with pytest.raises(VocabularyError, match=match) as info:
        Vocabulary.from_captions_pickle(path)
    assert str(path) in str(info.value)


def test_captions_pickle_variants(tmp_path):
    # ixtoword as a list, py2-style bytes words (as read with encoding="bytes" / written by py3 as bytes)
    obj = [[[1, 2]], [[2]], [b"<end>", b"a", "caf\u00e9".encode()], {b"<end>": 0, b"a": 1, "café".encode(): 2}]
    path = _write_pickle(tmp_path / "captions.pickle", obj)
    vocab = Vocabulary.from_captions_pickle(path)
    assert vocab.words == ["<end>", "a", "café"]
    train, test, _ = load_captions_pickle(path)
    assert train == [[1, 2]] and test == [[2]]


def test_truncated_or_unsafe_captions_pickle(tmp_path):
    good = pickle.dumps([[], [], {0: "<end>"}, {"<end>": 0}], protocol=2)
    path = tmp_path / "captions.pickle"
    path.write_bytes(good[:-5])
    with pytest.raises(VocabularyError, match="not a pickle or truncated"):
        Vocabulary.from_file(path)
    marker = tmp_path / "pwned"
    path.write_bytes(b"cbuiltins\neval\n(Vopen(%r, 'w').close()\ntR." % str(marker).encode())
    with pytest.raises(UnsafePickleError):
        Vocabulary.from_file(path)
    assert not marker.exists()
    with pytest.raises(VocabularyError, match="unknown vocabulary file type"):
        Vocabulary.from_file(tmp_path / "vocab.txt")


def test_vocabulary_constructor_checks():
    with pytest.raises(VocabularyError):
        Vocabulary("<end> a")
    with pytest.raises(VocabularyError, match="index 0"):
        Vocabulary(["a"])
    v = _tiny_vocab()
    assert len(v) == 11 and v.words[:3] == ["<end>", "a", "man"] and "man" in v and "MAN" not in v
    with pytest.raises(IndexError):
        v.index_to_word(11)
    assert v.decode([1, 2, 0, 0]) == ["a", "man"]


# --------------------------------------------------------------------------------------------------
# tokenizer rules


def test_case_punctuation_and_unicode():
    tok = Tokenizer(_tiny_vocab())
    assert tok.tokenize("A MAN, riding... a Wave!!") == ["a", "man", "riding", "a", "wave"]
    assert tok.encode("A MAN, riding... a Wave!!") == [1, 2, 3, 1, 4]
    assert tok.tokenize("bird\ufffd\ufffds wings") == ["bird", "s", "wings"]
    assert tok.tokenize("a café") == ["a", "caf"]  # non-ASCII characters dropped inside a token
    assert tok.tokenize("naïve 日本 ü") == ["nave"]  # tokens that become empty are dropped
    assert tok.tokenize("3d x_y a-man\tman\nwave") == ["3d", "x_y", "a", "man", "man", "wave"]
    assert tok.unknown_words("a zebra rode a Unicorn") == ["zebra", "rode", "unicorn"]
    assert tok.encode("a zebra rode a man") == [1, 1, 2]
    assert Tokenizer(_tiny_vocab(), lowercase=False).tokenize("A Man") == ["A", "Man"]
    assert Tokenizer(_tiny_vocab(), lowercase=False).encode("A Man man") == [2]
    assert tok.decode(torch.tensor([1, 2, 0])) == "a man"


def test_batch_padding_and_types():
    tok = Tokenizer(_tiny_vocab(), max_words=4)
    ids, lengths = tok(["a man riding a wave", "bird", "wings s"])
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.tolist() == [[1, 2, 3, 1], [5, 0, 0, 0], [7, 6, 0, 0]] and lengths.tolist() == [4, 1, 2]
    ids, lengths = tok("bird wings")
    assert ids.shape == (1, 2) and lengths.tolist() == [2]
    ids, _ = tok(("bird",), pad_to_max=True)
    assert ids.tolist() == [[5, 0, 0, 0]]
    lists, lens = tok(["bird", "a man"], return_tensors=False)
    assert lists == [[5, 0], [1, 2]] and lens == [1, 2]
    with pytest.raises(ValueError, match="max_words"):
        Tokenizer(_tiny_vocab(), max_words=None)("bird", pad_to_max=True)
    with pytest.raises(ValueError):
        Tokenizer(_tiny_vocab(), max_words=0)
    with pytest.raises(TypeError):
        Tokenizer(["<end>", "a"])


def test_empty_and_unknown_prompts_raise():
    tok = Tokenizer(_tiny_vocab())
    for bad in ("", "   \n\t", "!!! ...", "日本"):
        with pytest.raises(EmptyPromptError, match="prompt 1"):
            tok(["a man", bad])
        with pytest.raises(EmptyPromptError):
            tok.encode(bad)
    with pytest.raises(EmptyPromptError, match="prompt 0") as info:
        tok(["xyzzy plugh xyzzy", "a man"])
    assert "'xyzzy'" in str(info.value) and "'plugh'" in str(info.value)
    with pytest.raises(EmptyPromptError):
        tok([])
    assert isinstance(EmptyPromptError("x"), ValueError)


@pytest.mark.parametrize("bad", [None, 3, b"a man", [b"a man"], ["a man", None], [["a", "man"]]])
def test_non_string_prompts_raise_type_error(bad):
    with pytest.raises(TypeError):
        Tokenizer(_tiny_vocab())(bad)


def test_encode_rejects_non_strings():
    with pytest.raises(TypeError):
        Tokenizer(_tiny_vocab()).encode(3)


@needs_data
def test_tokenizer_feeds_the_damsm_encoder():
    tok = Tokenizer.from_file(DATASETS / "cub" / "captions_DAMSM.pickle")
    ids, lengths = tok(["this bird has a white face", "a bird"])
    encoder = DAMSMTextEncoder(tok.vocab_size).eval()
    with torch.no_grad():
        words, sent = encoder(ids, lengths)
    assert words.shape == (2, 256, int(lengths.max())) and sent.shape == (2, 256)
