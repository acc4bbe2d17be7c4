"""Every replica of $TEXTGAN_DATASETS_DIR (default ../shared/datasets) against that folder's EXPECTED.json: one test
per replica and expectation (``pytest -m datasets``; also part of the default suite)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import DATASETS_DIR  # noqa: E402

from textgan.data import COCO2014, CUB200, Oxford102, load_val_captions_t7  # noqa: E402

pytestmark = pytest.mark.datasets
EXPECTED_FILE = DATASETS_DIR / "EXPECTED.json"
EXPECTED = json.loads(EXPECTED_FILE.read_text()) if EXPECTED_FILE.is_file() else {}
_CACHE: dict = {}


def ds(cls, replica, split, **kw):
    key = (cls, replica, split, tuple(sorted(kw.items())))
    if key not in _CACHE:
        _CACHE[key] = cls(DATASETS_DIR / replica, split, seed=0, **kw)
    return _CACHE[key]


def _by_key(d):
    return {d.records[i].key: i for i in range(len(d.records))}


# ---------------------------------------------------------------------------------------------------- cub
def cub_filenames(split, value):
    assert ds(CUB200, "cub", split).keys == value  # the pickle order, not sorted


def cub_class_info(split, value):
    assert ds(CUB200, "cub", split).class_ids == value


def cub_per_image(name, value):
    for split in ("train", "test"):
        d = ds(CUB200, "cub", split)
        for key, i in _by_key(d).items():
            info = d.info(i)
            want = value.get(key)
            if name == "bboxes_xywh":
                assert [int(v) for v in info["bbox"]] == want
            elif name == "crop_boxes_x1y1x2y2":
                assert list(info["crop_box"]) == want
            elif name == "image_modes":
                assert info["mode"] == want
                img = d._item(i if d.captions != "all" else d._pairs.index((i, 0)))["image"]
                assert img.shape[0] == 3  # converted to RGB
                with Image.open(info["image"]) as im:
                    assert im.convert("RGB").mode == "RGB"
            elif name == "image_sizes_wh":
                with Image.open(info["image"]) as im:
                    assert list(im.size) == want
            elif name == "captions":
                assert info["captions"] == want
            elif name == "image_ids":  # the embeddings' fingerprint: emb[i, j, 0] = image id, [1] = caption j
                table = d._embedding_table()
                stem = key.split("/")[1]
                assert table[d.records[i].row, :, 0].tolist() == [float(value[stem])] * 10
                assert table[d.records[i].row, :, 1].tolist() == [float(j) for j in range(10)]


def attngan_captions(replica, cls, value):
    train, test = ds(cls, replica, "train"), ds(cls, replica, "test")
    tr = [ids for r in train.records for ids in r.caption_ids]
    te = [ids for r in test.records for ids in r.caption_ids]
    assert len(tr) == value["len_train_captions"] and len(te) == value["len_test_captions"]
    assert len(train.vocab) == value["n_words"]
    assert tr[0] == value["train_captions[0]"] and te[0] == value["test_captions[0]"]
    assert train.vocab.decode(tr[0]) == value["train_captions[0]_words"]
    assert test.vocab.decode(te[0]) == value["test_captions[0]_words"]
    assert max(map(len, tr)) == value["max_caption_len_train"]
    # a caption longer than WORDS_NUM becomes a seeded random *ordered* subset of 18 of its ids
    longest = max(range(len(tr)), key=lambda k: len(tr[k]))
    img, k = divmod(longest, len(train.records[0].caption_ids))
    d = CUB200(DATASETS_DIR / replica, "train", captions=k, seed=3) if cls is CUB200 else \
        cls(DATASETS_DIR / replica, "train", captions=k, seed=3)
    item, again = d[img], d[img]
    ids = item["ids"][: item["length"]].tolist()
    assert item["length"] == min(18, len(tr[longest])) and ids == again["ids"][: again["length"]].tolist()
    pos = [tr[longest].index(t) for t in ids] if len(set(tr[longest])) == len(tr[longest]) else None
    if pos is not None:
        assert pos == sorted(pos)
    it = iter(tr[longest])
    assert all(any(t == x for x in it) for t in ids)  # a subsequence: order kept


# ---------------------------------------------------------------------------------------------------- reed
def icml_membership(replica, cls, ref_replica):
    for split in ("train", "test"):
        keys = set(ds(cls, replica, split).keys)
        ref = {k.split("/", 1)[1] if cls is Oxford102 else k for k in ds(cls, ref_replica, split).keys}
        assert {k.split("/", 1)[1] if cls is Oxford102 else k for k in keys} == ref


def icml_captions(replica, cls, expected_captions):
    for split in ("train", "test"):
        d = ds(cls, replica, split)
        for i, rec in enumerate(d.records):
            key = rec.key if cls is CUB200 else "jpg/" + rec.key.split("/", 1)[1]
            want = [c.lower() for c in expected_captions[key]]
            assert d.info(i)["captions"] == want


def icml_embeddings(replica, cls, ref_replica):
    for split in ("train", "test"):
        d, ref = ds(cls, replica, split), ds(cls, ref_replica, split)
        table = ref._embedding_table()
        rows = {k.split("/", 1)[1]: ref.records[i].row for k, i in _by_key(ref).items()}
        for i in range(0, len(d), max(1, len(d) // 5)):
            item = d[i]
            want = table[rows[item["key"].split("/", 1)[1]], item["caption_index"]]
            assert torch.equal(item["embedding"], torch.from_numpy(want))
            assert item["image"].shape == (3, 64, 64) and item["char_ids"].shape == (201,)


def cvpr_checks(value):
    from textgan.data._layouts import decode_reed_chars

    for split in ("train", "test"):
        d = ds(CUB200, "cvpr2016_cub", split)
        assert set(d.keys) == set(ds(CUB200, "cub", split).keys)
        for i in range(len(d)):
            item = d[i]
            assert item["caption"] == value[item["key"]][item["caption_index"]]
            assert decode_reed_chars(item["char_ids"]) == item["caption"].lower()
            assert item["image_features"].shape == (1024, 10)


# ---------------------------------------------------------------------------------------------------- flowers
def flowers_check(name, value):
    tr, te = ds(Oxford102, "flowers", "train"), ds(Oxford102, "flowers", "test")
    if name in ("train_filenames", "test_filenames"):
        assert (tr if name.startswith("train") else te).keys == value
    elif name == "labels":  # imagelabels.mat per image number == class_info of the split pickles
        for d in (tr, te):
            for r in d.records:
                assert r.class_id == value[int(r.key[-5:]) - 1]
    elif name == "captions":
        for d in (tr, te):
            for i, r in enumerate(d.records):
                assert d.info(i)["captions"] == value[r.key]


# ---------------------------------------------------------------------------------------------------- coco
def coco_check(name, value):
    tr, te = ds(COCO2014, "coco", "train"), ds(COCO2014, "coco", "test", captions="random")
    if name in ("train_filenames", "test_filenames"):
        assert (tr if name.startswith("train") else te).keys == value
    elif name == "captions":
        for d in (tr, te):
            for i, r in enumerate(d.records):
                assert d.info(i)["captions"] == value[r.key]
                item = d[i]
                assert item["caption"] in value[r.key][:5]  # AttnGAN keeps the first 5
        for split in ("train", "test"):
            off = ds(COCO2014, "coco", split, layout="official")
            for i, r in enumerate(off.records):
                assert off.info(i)["captions"] == value[r.key]
    elif name == "attngan":
        attngan_captions("coco", COCO2014, value)
    elif name == "val_captions_t7_len":
        texts, fea = load_val_captions_t7(DATASETS_DIR / "coco" / "test" / "val_captions.t7")
        assert len(texts) == value and fea.shape == (value, 1024)
        per_image = value // len(te.records)  # fingerprint: [0] = 100 + val image index, [1] = caption index
        assert fea[:, 0].tolist() == [100.0 + i // per_image for i in range(value)]
        assert fea[:, 1].tolist() == [float(i % per_image) for i in range(value)]
        assert texts[:per_image] == EXPECTED["coco"]["captions"][te.keys[0]][:per_image]


def coco_images():
    for split in ("train", "test"):
        flat = ds(COCO2014, "coco", split)
        assert all(r.image.parent.name == "images" for r in flat.records)
        for i in range(len(flat.records)):
            assert flat[i if flat.captions != "all" else i * 5]["image"].shape == (3, 256, 256)


# ---------------------------------------------------------------------------------------------------- hdf5
def hdf5_choice(cls, name, value):
    pytest.importorskip("h5py")
    ref_replica = "cub" if cls is CUB200 else "flowers"
    for split, group in (("reed_train", "train"), ("val", "valid"), ("test", "test")):
        d = cls(DATASETS_DIR / "hdf5" / f"{name}.hdf5", split, seed=0)
        caps = {k.split("/")[-1]: v for k, v in EXPECTED[ref_replica]["captions"].items()}
        for i in range(len(d)):
            item = d[i]
            choice = value[item["key"]]
            assert item["embedding"][1].item() == choice
            image_name = item["key"].split("/", 1)[1].rsplit("_", 1)[0]
            assert item["caption"] == caps[image_name][choice]
            assert item["image"].shape == (3, 64, 64)


def _cases():
    cases = []
    if not EXPECTED:
        return [pytest.param("", None, id="no-EXPECTED.json", marks=pytest.mark.skip(f"no {EXPECTED_FILE}"))]
    cub = EXPECTED.get("cub", {})
    for name, value in cub.items():
        if name.endswith("_filenames"):
            fn = (lambda s, v: lambda: cub_filenames(s, v))(name.split("_")[0], value)
        elif name.endswith("_class_info"):
            fn = (lambda s, v: lambda: cub_class_info(s, v))(name.split("_")[0], value)
        elif name == "attngan":
            fn = (lambda v: lambda: attngan_captions("cub", CUB200, v))(value)
        else:
            fn = (lambda n, v: lambda: cub_per_image(n, v))(name, value)
        cases.append(("cub", name, fn))
    if cub:
        cases += [("cub_icml", "split_membership", lambda: icml_membership("cub_icml", CUB200, "cub")),
                  ("cub_icml", "captions", lambda: icml_captions("cub_icml", CUB200, cub["captions"])),
                  ("cub_icml", "embeddings_and_images", lambda: icml_embeddings("cub_icml", CUB200, "cub")),
                  ("cvpr2016_cub", "captions_chars_split", lambda: cvpr_checks(cub["captions"]))]
    flowers = EXPECTED.get("flowers", {})
    for name, value in flowers.items():
        cases.append(("flowers", name, (lambda n, v: lambda: flowers_check(n, v))(name, value)))
    if flowers:
        cases += [("flowers_icml", "split_membership", lambda: icml_membership("flowers_icml", Oxford102, "flowers")),
                  ("flowers_icml", "captions", lambda: icml_captions("flowers_icml", Oxford102, flowers["captions"])),
                  ("flowers_icml", "embeddings_and_images",
                   lambda: icml_embeddings("flowers_icml", Oxford102, "flowers"))]
    for name, value in EXPECTED.get("coco", {}).items():
        cases.append(("coco", name, (lambda n, v: lambda: coco_check(n, v))(name, value)))
    if "coco" in EXPECTED:
        cases.append(("coco", "flat_and_split_images", coco_images))
    for cls, name in ((CUB200, "birds"), (Oxford102, "flowers")):
        if f"hdf5_{name}_choice" in EXPECTED:
            value = EXPECTED[f"hdf5_{name}_choice"]
            cases.append((f"hdf5/{name}", "choice", (lambda c, n, v: lambda: hdf5_choice(c, n, v))(cls, name, value)))
    return [pytest.param(replica, fn, id=f"{replica}-{name}") for replica, name, fn in cases]


@pytest.mark.parametrize("replica,check", _cases())
def test_replica(replica, check):
    if not (DATASETS_DIR / replica.split("/")[0]).exists():
        pytest.skip(f"{DATASETS_DIR / replica} is not in this datasets folder")
    check()
