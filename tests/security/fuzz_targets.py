"""The readers of foreign bytes that the fuzz harness (fuzzlib.py) exercises, each with small valid seeds.

Every reader's ``allowed`` exceptions are what it documents: textgan's own errors (``TextganError``: the
``CheckpointError`` / ``VocabularyError`` / ``UnsafePickleError`` / ``PretrainedNotFoundError`` family); the
image loader documents ``ValueError`` for a file PIL cannot read.
"""
from __future__ import annotations

import io
import os
import pickle
import shutil
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
SHARED = TESTS.parents[0].parent / "shared"
sys.path.insert(0, str(TESTS / "convert"))
sys.path.insert(0, str(HERE))

from fuzzlib import Seed, Target  # noqa: E402

from textgan.errors import TextganError  # noqa: E402

TF_DIR = Path(os.environ.get("TEXTGAN_TF_DIR", SHARED / "tf"))
T7_DIR = SHARED / "torch7"
DATASETS = Path(os.environ.get("TEXTGAN_DATASETS_DIR", SHARED / "datasets"))
EMBEDDED = TESTS.parent / "textgan" / "weights" / "shapes-dfgan64"


def _folder_files(folder: Path) -> Dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------------ Torch7
def _t7_seeds(work: Path) -> List[Seed]:
    import t7_writer as W

    rng = np.random.default_rng(0)
    made = {
        "linear.t7": W.dumps(W.linear(rng.standard_normal((3, 4)).astype(np.float32),
                                      rng.standard_normal(3).astype(np.float32))),
        "seq.t7": W.dumps(W.sequential(W.linear(np.ones((2, 3), np.float32), np.zeros(2, np.float32)),
                                       W.simple("nn.ReLU"))),
        "table.t7": W.dumps(W.Table({"a": 1.0, "b": "text", 1: W.tensor(np.arange(6, dtype=np.float64))})),
    }
    seeds = [Seed({k: v}, [k], k) for k, v in made.items()]
    if T7_DIR.is_dir():
        seeds += [Seed({p.name: p.read_bytes()}, [p.name], p.name) for p in sorted(T7_DIR.glob("*.t7"))]
    return seeds


def _t7_read(path: Path):
    from textgan.convert import read_torch7

    return read_torch7(path)


# ------------------------------------------------------------------------------------------ TensorFlow
def _tf_seeds(work: Path) -> List[Seed]:
    import tf_writer as W

    rng = np.random.default_rng(1)
    tensors = {f"net/l{i}/w": rng.standard_normal((i % 3 + 1, 2)).astype(np.float32) for i in range(6)}
    words = np.empty(2, dtype=object)
    words[:] = [b"a", b"bc"]
    seeds = []
    for kind in ("v2", "v1"):
        folder = work / f"tf_{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "v2":
            W.write_v2(folder / "m.ckpt", dict(tensors, words=words), num_shards=2, compression="alternate",
                       block_size=200)
        else:
            W.write_v1(folder / "m.ckpt", tensors, compression="snappy", block_size=150)
        files = _folder_files(folder)
        seeds.append(Seed(files, [f for f in files if f.startswith("m.ckpt")], "m.ckpt"))
    for d, prefix in (("v2_saver_basic", "model.ckpt-42"), ("v1_saver", "model_100.ckpt")):
        if (TF_DIR / d).is_dir():
            files = _folder_files(TF_DIR / d)
            seeds.append(Seed(files, [f for f in files if f.startswith(prefix) and not f.endswith(".meta")],
                              prefix))
    return seeds


def _tf_read(path: Path):
    from textgan.convert import read_tf_checkpoint

    ckpt = read_tf_checkpoint(path)
    try:
        dict(ckpt.shapes)
        return ckpt.read_all()
    finally:
        ckpt.close()


# ------------------------------------------------------------------------------------------ npz
def _npz_seeds(work: Path) -> List[Seed]:
    rng = np.random.default_rng(2)
    params = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    out = []
    for name, kwargs in (("list.npz", {"params": np.array(params, dtype=object)}),
                         ("dict.npz", {"g/conv/W:0": params[0], "g/conv/b:0": params[1]})):
        buf = io.BytesIO()
        np.savez(buf, **kwargs)
        out.append(Seed({name: buf.getvalue()}, [name], name))
    buf = io.BytesIO()
    np.savez_compressed(buf, params=np.array(params, dtype=object))
    out.append(Seed({"compressed.npz": buf.getvalue()}, ["compressed.npz"], "compressed.npz"))
    if (TF_DIR / "tensorlayer_npz").is_dir():
        for p in sorted((TF_DIR / "tensorlayer_npz").glob("*.npz")):
            out.append(Seed({p.name: p.read_bytes()}, [p.name], p.name))
    return out


def _npz_read(path: Path):
    from textgan.convert import read_tensorlayer_npz

    return read_tensorlayer_npz(path)


# ------------------------------------------------------------------------------------------ pickles
def _metadata_pickles() -> Dict[str, bytes]:
    """Dataset metadata pickles in the original layouts (and the shared replicas when present)."""
    emb = np.random.default_rng(3).standard_normal((2, 3, 8)).astype(np.float32)
    made = {
        "filenames.pickle": pickle.dumps(["001.Black_footed_Albatross/a_0001", "002.Laysan/b_0002"], protocol=2),
        "class_info.pickle": pickle.dumps([np.int64(1), np.int64(142)], protocol=2),
        "char-CNN-RNN-embeddings.pickle": pickle.dumps(emb, protocol=2),
        "meta.pickle": pickle.dumps([OrderedDict(a=1), {1, 2}, b"\x00\xff", (1.5, None)], protocol=4),
    }
    if DATASETS.is_dir():
        for p in sorted(DATASETS.glob("**/*.pickle"))[:6]:
            if "captions" not in p.name:
                made[f"shared_{p.parent.name}_{p.name}"] = p.read_bytes()
    return made


def _pickle_seeds(work: Path) -> List[Seed]:
    return [Seed({k: v}, [k], k) for k, v in _metadata_pickles().items()]


def _pickle_read(path: Path):
    from textgan._pickle import safe_load

    return safe_load(path)


def _captions_pickle() -> bytes:
    ixtoword = {0: "<end>", 1: "a", 2: "bird", 3: "red"}
    wordtoix = {w: i for i, w in ixtoword.items()}
    return pickle.dumps([[[1, 3, 2], [1, 2]], [[2, 3]], ixtoword, wordtoix], protocol=2)


def _captions_seeds(work: Path) -> List[Seed]:
    seeds = [Seed({"captions.pickle": _captions_pickle()}, ["captions.pickle"], "captions.pickle")]
    p = DATASETS / "cub" / "captions.pickle"
    if p.is_file():
        seeds.append(Seed({"captions.pickle": p.read_bytes()}, ["captions.pickle"], "captions.pickle"))
    return seeds


def _captions_read(path: Path):
    from textgan.text.vocab import load_captions_pickle

    return load_captions_pickle(path)


# ------------------------------------------------------------------------------------------ vocabulary
def _vocab_seeds(work: Path) -> List[Seed]:
    from textgan.text import Vocabulary

    folder = work / "vocab"
    folder.mkdir(parents=True, exist_ok=True)
    path = Vocabulary(["<end>", "a", "bird", "red", "café"]).save(folder / "vocab.json")
    seeds = [Seed({"vocab.json": path.read_bytes()}, ["vocab.json"], "vocab.json")]
    if (EMBEDDED / "vocab.json").is_file():
        seeds.append(Seed({"vocab.json": (EMBEDDED / "vocab.json").read_bytes()}, ["vocab.json"], "vocab.json"))
    return seeds


def _vocab_read(path: Path):
    from textgan.text import Tokenizer, Vocabulary

    vocab = Vocabulary.load(path)
    return Tokenizer(vocab).encode("a red bird") if "bird" in vocab else vocab


# ------------------------------------------------------------------------------------------ fastText
def _fasttext_seeds(work: Path) -> List[Seed]:
    sys.path.insert(0, str(TESTS / "text"))
    from test_word_vectors import write_fasttext_bin  # the test suite's own format writer

    from textgan.text import WordVectors

    folder = work / "ft"
    folder.mkdir(parents=True, exist_ok=True)
    words = ["</s>", "bird", "red", "wing"]
    matrix = np.random.default_rng(4).standard_normal((len(words) + 7, 5)).astype(np.float32)
    write_fasttext_bin(folder / "m.bin", words, matrix, bucket=7)
    write_fasttext_bin(folder / "legacy.bin", words, matrix, bucket=7, legacy=True, version=11)
    vec = "4 3\n" + "".join(f"{w} 0.1 -0.2 3e-1\n" for w in words)
    (folder / "m.vec").write_text(vec, encoding="utf-8")
    WordVectors.load(folder / "m.bin").save(folder / "m.safetensors")
    return [Seed({p.name: p.read_bytes()}, [p.name], p.name) for p in sorted(folder.iterdir())]


def _fasttext_read(path: Path):
    from textgan.text import WordVectors

    wv = WordVectors.load(path)
    return wv.get_word_vectors(["bird", "unseen", "café"]), wv.lookup([["red", "bird"], ["wing"]])


# ------------------------------------------------------------------------------------------ images
def _image_seeds(work: Path) -> List[Seed]:
    from PIL import Image

    img = Image.fromarray((np.arange(16 * 12 * 3) % 251).astype(np.uint8).reshape(16, 12, 3))
    out = []
    for fmt, mode in (("PNG", "RGB"), ("JPEG", "RGB"), ("GIF", "P"), ("BMP", "RGB"), ("PNG", "RGBA"),
                      ("TIFF", "RGB"), ("WEBP", "RGB")):
        buf = io.BytesIO()
        try:
            img.convert(mode).save(buf, format=fmt)
        except (KeyError, OSError):  # a PIL build without that codec
            continue
        name = f"img_{mode}.{fmt.lower()}"
        out.append(Seed({name: buf.getvalue()}, [name], name))
    return out


def _image_read(path: Path):
    from textgan.edit_pipeline import _open_rgb

    return _open_rgb(path, 0)


# ------------------------------------------------------------------------------------------ config.json
def _config_seeds(work: Path) -> List[Seed]:
    files = _folder_files(EMBEDDED)
    return [Seed(files, ["config.json"], "")]


def _config_read(folder: Path):
    import textgan

    return textgan.load_pretrained(folder)


def _weights_seeds(work: Path) -> List[Seed]:
    files = _folder_files(EMBEDDED)
    return [Seed(files, [f for f in files if f.endswith(".safetensors")], "")]


# ------------------------------------------------------------------------------------------ datasets
def _layout_seeds(work: Path) -> List[Seed]:
    names = ["jpg/image_00001", "jpg/image_00002"]
    files = {"train/filenames.pickle": pickle.dumps(names, protocol=2),
             "train/class_info.pickle": pickle.dumps([np.int64(1), np.int64(77)], protocol=2),
             "captions.pickle": pickle.dumps([[[1, 2], [2, 1]] * 2, [[1]], {0: "<end>", 1: "a", 2: "petal"},
                                              {"<end>": 0, "a": 1, "petal": 2}], protocol=2)}
    return [Seed(files, list(files), "")]


def _layout_read(root: Path):
    from textgan.data._layouts import read_pickles

    return read_pickles(root, "train", "flowers", bbox=False)


def _archive_seeds(work: Path) -> List[Seed]:
    import tarfile
    import zipfile

    folder = work / "arch"
    (folder / "src" / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "a.txt").write_text("caption one\n")
    (folder / "src" / "sub" / "b.jpg").write_bytes(bytes(range(256)) * 4)
    seeds = []
    for name, mode in (("d.tar", "w"), ("d.tgz", "w:gz")):
        with tarfile.open(folder / name, mode) as tf:
            tf.add(folder / "src", arcname="data")
            link = tarfile.TarInfo("data/link")
            link.type, link.linkname = tarfile.SYMTYPE, "a.txt"
            tf.addfile(link)
        seeds.append(Seed({name: (folder / name).read_bytes()}, [name], name))
    with zipfile.ZipFile(folder / "d.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(folder / "src" / "a.txt", "data/a.txt")
        zf.write(folder / "src" / "sub" / "b.jpg", "data/sub/b.jpg")
    seeds.append(Seed({"d.zip": (folder / "d.zip").read_bytes()}, ["d.zip"], "d.zip"))
    return seeds


def _archive_read(path: Path):
    from textgan.data._archive import safe_extract

    dest = path.parent / "out"
    try:
        return safe_extract(path, dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _dataset_image_read(path: Path):
    from textgan.data._images import load_rgb

    return load_rgb(path)


TARGETS: List[Target] = [
    Target("torch7 (.t7)", _t7_seeds, _t7_read, (TextganError,)),
    Target("tensorflow V1/V2 index+data", _tf_seeds, _tf_read, (TextganError,)),
    Target("tensorlayer .npz", _npz_seeds, _npz_read, (TextganError,)),
    Target("dataset pickles (safe_load)", _pickle_seeds, _pickle_read, (TextganError,)),
    Target("captions.pickle", _captions_seeds, _captions_read, (TextganError,)),
    Target("vocab.json + tokenizer", _vocab_seeds, _vocab_read, (TextganError,), text=True),
    Target("fastText .bin/.vec/.safetensors", _fasttext_seeds, _fasttext_read, (TextganError,), text=True),
    Target("images (edit pipeline loader)", _image_seeds, _image_read, (TextganError, ValueError)),
    Target("config.json (load_pretrained)", _config_seeds, _config_read, (TextganError,), text=True),
    Target("model .safetensors (load_pretrained)", _weights_seeds, _config_read, (TextganError,)),
    Target("dataset layout (read_pickles)", _layout_seeds, _layout_read, (TextganError,)),
    Target("dataset images (load_rgb)", _image_seeds, _dataset_image_read, (TextganError,)),
    Target("archives (safe_extract)", _archive_seeds, _archive_read, (TextganError,)),
]

BY_NAME = {t.name: t for t in TARGETS}
