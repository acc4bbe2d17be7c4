"""The loaders on replicas generated here in the original formats (other classes, images per class, caption counts
and image sizes), the preprocessing, and bad input: malicious/truncated pickles, truncated/missing images,
caption files in an unexpected encoding."""
from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import replica_maker as rm  # noqa: E402

from textgan.data import COCO2014, CUB200, Oxford102  # noqa: E402
from textgan.data import _images  # noqa: E402
from textgan.errors import (DatasetError, DatasetFileNotFoundError, OptionalDependencyError,  # noqa: E402
                            UnsafePickleError)


@pytest.fixture(scope="module")
def cub_gen(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen") / "birds"
    expect = rm.make_cub(root, train_classes=[2, 3, 130, 200], test_classes=[1, 5], per_class=3, captions=10,
                         seed=1, long_caption=30)
    return root, expect


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


# -------------------------------------------------------------------------------------------------- generalise
@pytest.mark.parametrize("classes,per_class,captions", [((4, 2), 3, 10), ((1, 1), 1, 5), ((3, 2), 5, 2)])
def test_generated_cub_counts_order_boxes(tmp_path, classes, per_class, captions):
    n_train, n_test = classes
    expect = rm.make_cub(tmp_path, list(range(10, 10 + n_train)), list(range(150, 150 + n_test)), per_class,
                         captions=captions, seed=n_train)
    for split in ("train", "test"):
        d = CUB200(tmp_path, split, seed=0, captions="random")
        assert d.layout == "attngan" and d.keys == expect[split]  # pickle order kept, not re-sorted
        assert d.class_ids == [expect["class"][k] for k in d.keys]
        for i, key in enumerate(d.keys):
            x, y, w, h = expect["bbox"][key]
            W, H = expect["size"][key]
            r = int(max(w, h) * 0.75)
            cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
            assert d.info(i)["crop_box"] == (max(0, cx - r), max(0, cy - r), min(W, cx + r), min(H, cy + r))
            assert d.info(i)["captions"] == expect["captions"][key]
        item = d[0]
        assert item["image"].shape == (3, 256, 256) and item["embedding"].shape == (1024,)
        assert item["embedding"][0].item() == item["caption_index"]  # row 0: value r*100 + caption index
        assert item["caption"] == expect["captions"][d.keys[0]][item["caption_index"]]
        assert item["ids"].shape == (18,)
        assert len(d.vocab) == expect["n_words"]
    test_all = CUB200(tmp_path, "test")
    assert len(test_all) == n_test * per_class * captions  # "all": one item per image x caption


def test_generated_sizes_pyramid_and_seed(cub_gen):
    root, _ = cub_gen
    d = CUB200(root, "train", image_size=(64, 128, 256), seed=5)
    a, b = d[3], d[3]
    assert [t.shape[-1] for t in a["images"]] == [64, 128, 256] and a["image"].shape[-1] == 256
    assert all(torch.equal(x, y) for x, y in zip(a["images"], b["images"])) and a["caption"] == b["caption"]
    assert a["image"].min() >= -1 and a["image"].max() <= 1
    d.set_epoch(1)
    assert any(not torch.equal(x, y) for x, y in zip(a["images"], d[3]["images"])) or a["caption"] != d[3]["caption"]
    sq = CUB200(root, "train", image_size=76, resize="square", augment=False)
    assert sq[0]["image"].shape == (3, 76, 76)


def test_long_caption_random_ordered_subset(cub_gen):
    root, expect = cub_gen
    d = CUB200(root, "train", captions=0, seed=0, words_num=18)
    i = next(i for i, r in enumerate(d.records) if len(r.caption_ids[0]) > 18)
    full = d.records[i].caption_ids[0]
    seen = set()
    for epoch in range(6):
        d.set_epoch(epoch)
        item = d[i]
        ids = item["ids"][: item["length"]].tolist()
        assert item["length"] == 18 and item["ids"][18:].sum() == 0
        it = iter(full)
        assert all(any(t == x for x in it) for t in ids)  # order kept
        seen.add(tuple(ids))
    assert len(seen) > 1  # random, not a truncation
    short = next(j for j, r in enumerate(d.records) if len(r.caption_ids[0]) <= 18)
    item = d[short]
    assert item["ids"][: item["length"]].tolist() == d.records[short].caption_ids[0]


def test_transform_is_any_callable_and_bbox_crop(cub_gen):
    root, expect = cub_gen
    seen = []
    d = CUB200(root, "test", transform=lambda im: seen.append(im.size) or np.asarray(im), captions="random")
    item = d[0]
    box = d.info(0)["crop_box"]
    assert seen == [(box[2] - box[0], box[3] - box[1])] and item["image"].shape == (box[3] - box[1], box[2] - box[0], 3)
    nocrop = CUB200(root, "test", transform=lambda im: im.size, bbox_crop=False, captions="random")
    assert nocrop[0]["image"] == tuple(expect["size"][nocrop.keys[0]])


def test_dataloader_workers(cub_gen):
    root, _ = cub_gen
    d = CUB200(root, "train", image_size=64, seed=0)
    batches = list(torch.utils.data.DataLoader(d, batch_size=4, num_workers=2))
    assert sum(len(b["key"]) for b in batches) == len(d) and batches[0]["image"].shape == (4, 3, 64, 64)


def test_generated_icml_and_hdf5(tmp_path):
    classes = {"011.A": ["A_1", "A_2", "A_3"], "022.B": ["B_1"], "033.C": ["C_1", "C_2"]}
    expect = rm.make_icml(tmp_path / "cub_icml", tmp_path / "CUB_200_2011" / "images", classes,
                          {"trainval": ["022.B", "011.A"], "test": ["033.C"]}, captions=4)
    d = CUB200(tmp_path / "cub_icml", "train", seed=0, image_root=tmp_path / "CUB_200_2011" / "images")
    assert d.layout == "icml2016" and d.keys == ["022.B/B_1", "011.A/A_1", "011.A/A_2", "011.A/A_3"]
    for i in range(len(d)):
        item = d[i]
        assert item["caption"] == expect["captions"][item["key"]][item["caption_index"]]
        assert torch.equal(item["embedding"], torch.from_numpy(expect["emb"][item["key"]][item["caption_index"]]))
        assert item["image"].shape == (3, 64, 64) and item["class_id"] == int(item["key"][:3])
    assert len(CUB200(tmp_path / "cub_icml", "test")) == 2 * 4  # image root found next to cub_icml
    pytest.importorskip("h5py")
    groups = {"train": {"011.A": ["A_1"]}, "valid": {"022.B": ["B_1", "B_2"]}, "test": {"033.C": ["C_1"]}}
    hexp = rm.make_hdf5(tmp_path / "birds.hdf5", groups)
    for split, n in (("train", 6), ("reed_train", 2), ("val", 4), ("test", 2)):
        h = CUB200(tmp_path / "birds.hdf5", split)
        assert len(h) == n
        for i in range(n):
            item = h[i]
            cap, c, cls = hexp[item["key"]]
            assert item["caption"] == cap and item["embedding"][0].item() == c and item["image"].shape == (3, 64, 64)
    assert pickle.loads(pickle.dumps(h))[0]["key"] == h[0]["key"]  # an open h5py file does not block spawn workers


def test_generated_coco_official_and_grayscale(tmp_path):
    expect = rm.make_coco_official(tmp_path, 3, 2)
    d = COCO2014(tmp_path, "train", captions="all", image_size=64)
    assert d.layout == "official" and len(d) == sum(len(expect[k]) for k in d.keys)
    assert [d.info(i)["captions"] for i in range(3)] == [expect[k] for k in d.keys]
    assert d[0]["image"].shape == (3, 64, 64)  # image 0 is grayscale: converted to RGB
    assert len(COCO2014(tmp_path, "test").records) == 2


def test_cmyk_and_grayscale_become_rgb(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for mode in ("L", "CMYK", "P", "RGBA"):
        p = tmp_path / f"x_{mode}.jpg" if mode in ("L", "CMYK") else tmp_path / f"x_{mode}.png"
        Image.fromarray(arr).convert(mode).save(p)
        img = _images.load_rgb(p)
        with Image.open(p) as ref:
            assert img.mode == "RGB" and np.array_equal(np.asarray(img), np.asarray(ref.convert("RGB")))


def test_preprocess_matches_torchvision_arithmetic():
    img = Image.new("RGB", (100, 60))
    assert _images.resize_shorter(img, 304).size == (506, 304)  # int(304 * 100 / 60)
    assert _images.crop_box(506, 304, 256, None) == (125, 24, 381, 280)  # CenterCrop rounding
    assert _images.bbox_crop_box((30, 20, 50, 40), 120, 90) == (18, 3, 92, 77)
    out = _images.preprocess(img, (64, 256), rng=np.random.default_rng(0))
    assert [o.size for o in out] == [(64, 64), (256, 256)]


# -------------------------------------------------------------------------------------------------- bad input
class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_RAN",))


@pytest.mark.parametrize("target", ["train/filenames.pickle", "train/class_info.pickle", "captions.pickle",
                                    "train/char-CNN-RNN-embeddings.pickle"])
def test_malicious_pickle_refused_not_executed(cub_gen, tmp_path, monkeypatch, target):
    root = _copy(cub_gen[0], tmp_path)
    monkeypatch.chdir(tmp_path)
    (root / target).write_bytes(pickle.dumps([_Evil()], protocol=2))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system|nothing"):
        d = CUB200(root, "train")
        d[0]  # the embeddings are read lazily
    assert not (tmp_path / "EVIL_RAN").exists()


def test_truncated_pickle(cub_gen, tmp_path):
    root = _copy(cub_gen[0], tmp_path)
    p = root / "train" / "filenames.pickle"
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(DatasetError, match="filenames.pickle.*truncated"):
        CUB200(root, "train")


def test_truncated_jpeg_raise_and_skip(cub_gen, tmp_path):
    root = _copy(cub_gen[0], tmp_path)
    d = CUB200(root, "train", captions=0, image_size=64)
    img = d.info(1)["image"]
    img.write_bytes(img.read_bytes()[: len(img.read_bytes()) // 3])
    with pytest.raises(DatasetError, match=f"{img.name}.*truncated"):
        d[1]
    s = CUB200(root, "train", captions=0, image_size=64, on_error="skip")
    with pytest.warns(UserWarning, match="skipping") as rec:
        items = [s[i] for i in range(len(s))] + [s[1]]
    assert len(rec) == 1 and items[1]["key"] == s.keys[2] and len(s.skipped) == 2


def test_missing_image_raise_and_skip(cub_gen, tmp_path):
    root = _copy(cub_gen[0], tmp_path)
    d = CUB200(root, "test")
    missing = d.info(0)["image"]
    missing.unlink()
    with pytest.raises(DatasetFileNotFoundError, match=missing.name) as e:
        CUB200(root, "test")
    assert isinstance(e.value, FileNotFoundError) and "on_error='skip'" in str(e.value)
    with pytest.warns(UserWarning, match="skipping 1 of") as rec:
        s = CUB200(root, "test", on_error="skip")
    assert len(rec) == 1 and len(s.records) == len(d.records) - 1 and missing.stem not in " ".join(s.keys)


def test_caption_file_in_unexpected_encoding(cub_gen, tmp_path):
    root = _copy(cub_gen[0], tmp_path)
    d = CUB200(root, "test", captions="random")
    cap = d.records[0].caption_file
    cap.write_bytes("un oiseau bl\u00e9 \u00e0 ailes rouges\n".encode("latin-1") * 10)
    with pytest.raises(DatasetError, match=f"{cap.name}.*not utf-8.*encoding="):
        d[0]
    assert "bl\u00e9" in CUB200(root, "test", captions="random", encoding="latin-1")[0]["caption"]
    with pytest.warns(UserWarning, match="skipping"):
        assert CUB200(root, "test", captions="random", on_error="skip")[0]["key"] == d.keys[1]


def test_unknown_layout_and_bad_arguments(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset layout"):
        CUB200(tmp_path)
    with pytest.raises(DatasetFileNotFoundError, match="download"):
        Oxford102(tmp_path / "nope")
    with pytest.raises(ValueError, match="on_error"):
        CUB200(tmp_path, on_error="ignore")
    with pytest.raises(ValueError, match="captions"):
        CUB200(tmp_path, captions="some")


def test_hdf5_without_h5py(tmp_path, monkeypatch):
    (tmp_path / "flowers.hdf5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(OptionalDependencyError, match=r"textgan\[hdf5\]"):
        Oxford102(tmp_path, "train")
