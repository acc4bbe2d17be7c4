"""Writes small dataset replicas in the original on-disk formats, with any number of classes, images per class,
captions and image sizes, so the loaders are tested beyond the fixed ../shared/datasets replicas.

Formats: Python 3 pickles with protocol 2 (as DF-GAN writes them; numpy int64 class ids go through
``numpy._core.multiarray.scalar`` and ``_codecs.encode``), Reed's Torch7 tables via tests/convert/t7_writer.py,
aelnouby's HDF5 (needs h5py), COCO caption JSON. Returns what a correct loader must report.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "convert"))
import t7_writer as w  # noqa: E402

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
WORDS = "a small bird with red wings and long black tail white belly short beak grey crown has this".split()


def _caption(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(rng.choice(WORDS, n_words)) + "."


def _image(path: Path, size: Tuple[int, int], rng: np.random.Generator, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path, quality=90)


def _tokens(text: str) -> List[str]:
    return [t for t in re.findall(r"\w+", text.replace("\ufffd\ufffd", " ").lower())]


def _dump(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def make_cub(root: Path, train_classes: Sequence[int], test_classes: Sequence[int], per_class: int = 3,
             captions: int = 10, seed: int = 0, long_caption: int = 0,
             size_range: Tuple[int, int] = (40, 130)) -> Dict:
    """AttnGAN/DF-GAN ``data/birds``: CUB_200_2011 txt files, text/, pickles, embeddings, captions.pickle."""
    rng = np.random.default_rng(seed)
    cub = root / "CUB_200_2011"
    expect: Dict = {"train": [], "test": [], "class": {}, "bbox": {}, "size": {}, "captions": {}}
    lines_img, lines_box, image_id = [], [], 0
    for cid in sorted(set(train_classes) | set(test_classes)):
        folder = f"{cid:03d}.Class_{cid}"
        names = [f"Class_{cid}_{n:04d}_{int(rng.integers(1, 99999))}" for n in range(per_class)]
        for name in sorted(names):
            image_id += 1
            key = f"{folder}/{name}"
            wh = (int(rng.integers(*size_range)), int(rng.integers(*size_range)))
            _image(cub / "images" / f"{key}.jpg", wh, rng)
            bw, bh = int(rng.integers(5, wh[0])), int(rng.integers(5, wh[1]))
            x, y = int(rng.integers(0, wh[0] - bw + 1)), int(rng.integers(0, wh[1] - bh + 1))
            lines_img.append(f"{image_id} {key}.jpg")
            lines_box.append(f"{image_id} {x}.0 {y}.0 {bw}.0 {bh}.0")
            caps = [_caption(rng, int(rng.integers(3, 12))) for _ in range(captions)]
            if long_caption and name == sorted(names)[0]:  # one long caption per class
                caps[0] = _caption(rng, long_caption)
            (root / "text" / folder).mkdir(parents=True, exist_ok=True)
            (root / "text" / f"{key}.txt").write_text("\n".join(caps) + "\n", encoding="utf-8")
            split = "train" if cid in train_classes else "test"
            expect[split].append(key)
            expect["class"][key], expect["bbox"][key], expect["size"][key] = cid, (x, y, bw, bh), wh
            expect["captions"][key] = caps
    cub.mkdir(parents=True, exist_ok=True)
    (cub / "images.txt").write_text("\n".join(lines_img) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(lines_box) + "\n")
    vocab: Dict[str, int] = {}
    all_caps = {}
    for split in ("train", "test"):
        keys = list(expect[split])
        rng.shuffle(keys)  # the real pickles are not sorted within a class: keep the pickle order, not a sort
        keys.sort(key=lambda k: k.split("/")[0])
        expect[split] = keys
        _dump(keys, root / split / "filenames.pickle")
        _dump([np.int64(expect["class"][k]) for k in keys], root / split / "class_info.pickle")
        emb = [np.stack([np.full(1024, 0.0, np.float32) + np.float32(r * 100 + c) for c in range(captions)])
               for r in range(len(keys))]
        _dump(emb, root / split / "char-CNN-RNN-embeddings.pickle")
        ids = []
        for k in keys:
            for cap in expect["captions"][k]:
                ids.append([vocab.setdefault(t, len(vocab) + 1) for t in _tokens(cap)])
        all_caps[split] = ids
    ixtoword = {0: "<end>", **{i: t for t, i in vocab.items()}}
    wordtoix = {t: i for i, t in ixtoword.items()}
    _dump([all_caps["train"], all_caps["test"], ixtoword, wordtoix], root / "captions.pickle")
    expect["caption_ids"] = all_caps
    expect["n_words"] = len(ixtoword)
    return expect


def make_icml(root: Path, image_root: Path, classes: Dict[str, Sequence[str]], split_classes: Dict[str, List[str]],
              captions: int = 10, seed: int = 0, flowers: bool = False) -> Dict:
    """Reed icml2016: ``<class>/<name>.t7`` = {char (201 x captions) uint8, img, txt (captions x 1024)}."""
    rng = np.random.default_rng(seed)
    expect = {"captions": {}, "emb": {}}
    for cls, names in classes.items():
        for name in names:
            caps = [_caption(rng, int(rng.integers(3, 10))) for _ in range(captions)]
            char = np.zeros((201, captions), np.uint8)
            for j, c in enumerate(caps):
                ids = [ALPHABET.index(ch) + 1 for ch in c]
                char[: len(ids), j] = ids
            txt = rng.standard_normal((captions, 1024)).astype(np.float32)
            img = f"jpg/{name}.jpg" if flowers else f"{cls}/{name}.jpg"
            _image(image_root / img, (int(rng.integers(50, 100)), int(rng.integers(50, 100))), rng)
            (root / cls).mkdir(parents=True, exist_ok=True)
            w.write(w.Table({"char": w.tensor(char), "img": img, "txt": w.tensor(txt)}), root / cls / f"{name}.t7")
            expect["captions"][f"{cls}/{name}"], expect["emb"][f"{cls}/{name}"] = caps, txt
    for split, file in (("trainval", "trainvalclasses.txt"), ("test", "testclasses.txt"), ("val", "valclasses.txt"),
                        ("train", "trainclasses.txt")):
        (root / file).write_text("\n".join(split_classes.get(split, [])) + "\n")
    return expect


def make_hdf5(path: Path, groups: Dict[str, Dict[str, List[str]]], seed: int = 0) -> Dict:
    """aelnouby HDF5: group/<name>_<c> with name, class, txt (with '\\n'), img (np.void JPEG), embeddings."""
    import io

    import h5py

    rng = np.random.default_rng(seed)
    expect = {}
    with h5py.File(path, "w") as f:
        for group, classes in groups.items():
            g = f.create_group(group)
            for cls, names in classes.items():
                for name in names:
                    buf = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(buf, "JPEG")
                    for c in range(2):
                        ex = g.create_group(f"{name}_{c}")
                        cap = _caption(rng, 5)
                        ex.create_dataset("name", data=name)
                        ex.create_dataset("class", data=cls)
                        ex.create_dataset("txt", data=cap + "\n", dtype=h5py.special_dtype(vlen=str))
                        ex.create_dataset("img", data=np.void(buf.getvalue()))
                        ex.create_dataset("embeddings", data=np.full(1024, c, np.float32))
                        expect[f"{group}/{name}_{c}"] = (cap, c, cls)
    return expect


def make_coco_official(root: Path, n_train: int, n_val: int, seed: int = 0) -> Dict:
    """Official COCO: annotations/captions_{train,val}2014.json and train2014/, val2014/ images."""
    rng = np.random.default_rng(seed)
    expect = {}
    for part, n in (("train2014", n_train), ("val2014", n_val)):
        images, anns = [], []
        for i in range(n):
            iid = int(rng.integers(1, 10 ** 6))
            name = f"COCO_{part}_{iid:012d}.jpg"
            mode = "L" if i == 0 else "RGB"
            _image(root / part / name, (int(rng.integers(40, 90)), int(rng.integers(40, 90))), rng, mode)
            images.append({"id": iid, "file_name": name, "width": 1, "height": 1})
            caps = [_caption(rng, 6).capitalize() for _ in range(int(rng.integers(5, 8)))]
            anns += [{"id": len(anns) + k, "image_id": iid, "caption": c} for k, c in enumerate(caps)]
            expect[name[:-4]] = caps
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"captions_{part}.json").write_text(json.dumps({"images": images,
                                                                                "annotations": anns}))
    return expect
