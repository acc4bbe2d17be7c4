"""textgan.data.Shapes: determinism, captions and phrasings, vocabulary, tokenizer, and the pixel judge."""
import io
import random
import re
from itertools import product

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from textgan.data import Shapes, judge, judge_image
from textgan.data import shapes as S
from textgan.text import Tokenizer, Vocabulary

ATTRS = ("shape", "colour", "size", "background", "position")
N_CLEAN = {64: 1000, 32: 300}  # items per split
N_PERTURBED = 300  # items (at 64 px, spread over the splits) per perturbation


def _rate(flags):
    return float(np.mean(list(flags)))


@pytest.fixture(scope="module")
def rendered():
    """{(size, split): [(attributes, caption, PIL image, judge(image, caption))]}, made once for the module."""
    out = {}
    for size, n in N_CLEAN.items():
        for split in S.SPLITS:
            ds = Shapes(split, size, length=n)
            items = [(a, c, S.render(a, size)) for a, c in map(ds.describe, range(n))]
            out[size, split] = [(a, c, img, judge(img, c)) for a, c, img in items]
    return out


# -- the dataset -----------------------------------------------------------------------------------
def test_items_are_deterministic_per_seed_split_index():
    a, b = Shapes("train", 32, length=50), Shapes("train", 32, length=50)
    for i in (0, 7, 49, -1):
        x, y = a[i], b[i]
        assert x["caption"] == y["caption"] and x["attributes"] == y["attributes"]
        assert x["image"].numpy().tobytes() == y["image"].numpy().tobytes()
    # a pure function of the index: order and dataset length do not matter
    longer = Shapes("train", 32, length=500)
    assert [longer.describe(i) for i in (3, 2, 1)] == [a.describe(i) for i in (3, 2, 1)]
    for other in (Shapes("train", 32, length=50, seed=1), Shapes("test", 32, length=50)):
        differ = sum(other[i]["caption"] != a[i]["caption"] or not torch.equal(other[i]["image"], a[i]["image"])
                     for i in range(20))
        assert differ >= 19


def test_item_format_and_arguments():
    ds = Shapes("heldout", 64, length=10)
    assert len(ds) == 10 and len(Shapes("train")) == 20000 and len(Shapes("test")) == 2000
    item = ds[3]
    img = item["image"]
    assert img.dtype == torch.float32 and img.shape == (3, 64, 64) and -1 <= img.min() and img.max() <= 1
    a, cap = ds.describe(3)
    assert item["caption"] == cap and cap == cap.lower() and item["attributes"] == a
    assert set(ATTRS) <= set(a) and 0 <= a["template"] < len(S.HELDOUT_TEMPLATES)
    expected = torch.from_numpy(np.asarray(S.render(a, 64), np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert torch.equal(img, expected)
    assert Shapes("train", 64, length=4, transform=lambda im: im.size)[0]["image"] == (64, 64)
    assert {Shapes("train", 32, length=200, positions=("center",))[i]["attributes"]["position"]
            for i in range(50)} == {"center"}
    assert all("left" not in Shapes("train", 32, mention_position=0.0).describe(i)[1] for i in range(100))
    with pytest.raises(IndexError):
        ds[10]
    for bad in (dict(split="val"), dict(size=4), dict(length=0), dict(positions=("middle",)),
                dict(mention_position=2.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Shapes(**bad)
    with pytest.raises(ValueError, match="colour"):
        S.render({"shape": "circle", "colour": "purple", "size": "small", "background": "white"})


def test_tokenizer_and_dataloader():
    tok = Tokenizer(Shapes.vocabulary(), max_words=18)
    ds = Shapes("heldout", 32, length=8, tokenizer=tok)
    for i in range(8):
        item = ds[i]
        assert tok.unknown_words(item["caption"]) == []
        assert item["ids"].shape == (18,) and int(item["length"]) == len(tok.tokenize(item["caption"]))
        assert tok.decode(item["ids"]) == " ".join(tok.tokenize(item["caption"]))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["ids"].shape == (4, 18)
    assert len(batch["caption"]) == 4 and len(batch["attributes"]["shape"]) == 4


# -- captions, phrasings, vocabulary ---------------------------------------------------------------
def _skeletons(phrasing):
    """Every word skeleton a phrasing can give (each template, position phrase said or not, each wording)."""
    out = set()
    for t in S.PHRASINGS[phrasing]:
        pos = [""] + [" " + p.format(p="middle") for p in S._POSITION_PHRASES] if "{pos}" in t else [""]
        for p in pos:
            out.add(S.skeleton(t.format(size="small", colour="red", shape="circle", shapeadj="round",
                                        bg="white", bgnoun="canvas", pos=p)))
    return out


def test_heldout_phrasings_are_disjoint_from_train():
    assert not _skeletons("train") & _skeletons("heldout")
    # template words are never attribute words, so a skeleton is read back unambiguously
    literal = set(re.findall(r"\w+", re.sub(r"\{\w+\}", " ", " ".join(S.TRAIN_TEMPLATES + S.HELDOUT_TEMPLATES))))
    assert not literal & set(S._WORD_TO_VALUE)
    train = {c for split in ("train", "test") for _, c in map(Shapes(split).describe, range(1500))}
    heldout = [Shapes("heldout").describe(i)[1] for i in range(1500)]
    assert not train & set(heldout)
    assert not {S.skeleton(c) for c in train} & {S.skeleton(c) for c in heldout}
    assert {S.skeleton(c) for c in heldout} <= _skeletons("heldout")


def test_vocabulary_covers_every_split_and_heldout_words_are_trained():
    vocab = Shapes.vocabulary()
    assert isinstance(vocab, Vocabulary) and vocab.words[0] == "<end>" and vocab == S.vocabulary()
    tok = Tokenizer(vocab, max_words=None)
    words = {split: set() for split in S.SPLITS}
    for split in S.SPLITS:
        ds = Shapes(split)
        for i in range(3000 if split == "train" else 1000):
            words[split].update(tok.tokenize(ds.describe(i)[1]))
    assert set().union(*words.values()) <= set(vocab.words[1:])
    # a DAMSM encoder trained on train captions has seen every word of the held-out captions
    assert words["heldout"] <= words["train"]
    assert words["train"] == set(vocab.words[1:])


def test_captions_for_and_parse():
    a = {"shape": "circle", "colour": "red", "size": "large", "background": "white"}
    caps = S.captions_for(a, "train", random.Random(1))
    assert len(caps) == len(S.TRAIN_TEMPLATES) and caps == S.captions_for(a, "train", random.Random(1))
    assert len(S.captions_for(a, "heldout", random.Random(1), n=3)) == 3
    for cap in caps + S.captions_for(a, "heldout"):
        assert {k: v for k, v in S.parse_caption(cap).items() if k != "position"} == a
    assert S.parse_caption("a big crimson disc over black") == {
        "size": "large", "colour": "red", "shape": "circle", "background": "black"}
    assert S.parse_caption("red round shape, large, black backdrop")["shape"] == "circle"
    assert S.parse_caption("a red and blue box")["colour"] == ("red", "blue")
    with pytest.raises(ValueError, match="phrasing"):
        S.captions_for(a, "test")


# -- the judge -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 32])
def test_every_attribute_combination_renders_and_is_judged(size):
    for shape, colour, sz, bg, pos in product(S.SHAPES, S.COLOURS, S.SIZES, S.BACKGROUNDS, S.POSITIONS):
        a = {"shape": shape, "colour": colour, "size": sz, "background": bg, "position": pos}
        img = S.render(a, size)
        assert img.size == (size, size) and img.mode == "RGB"
        seen = judge_image(img)
        assert {k: seen[k] for k in ATTRS} == a


@pytest.mark.parametrize("size", [64, 32])
def test_judge_passes_clean_renders(rendered, size):
    for split in S.SPLITS:
        results = [r for *_, r in rendered[size, split]]
        assert _rate(r["ok"] for r in results) >= 0.995, (size, split)
        assert all(r["colour"] is not None and r["shape"] is not None for r in results)


def _noise(img, rng):  # σ = 0.1 in [-1, 1], given to the judge as a [-1, 1] tensor
    x = torch.from_numpy(np.asarray(img, np.float32)).permute(2, 0, 1) / 127.5 - 1
    return (x + 0.1 * torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))).clamp(-1, 1)


def _jpeg(img):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=75)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _hue(img, degrees):
    h, s, v = img.convert("HSV").split()
    shift = round(degrees / 360 * 256)
    return Image.merge("HSV", (h.point(lambda x: (x + shift) % 256), s, v)).convert("RGB")


def _gains(img, rng):  # per-channel colour cast of ±15 %
    return Image.fromarray(np.clip(np.asarray(img, np.float32) * rng.uniform(0.85, 1.15, 3), 0, 255).astype(np.uint8))


PERTURBATIONS = {
    "blur": lambda img, rng: img.filter(ImageFilter.GaussianBlur(1.0)),
    "noise": _noise,
    "jpeg": lambda img, rng: _jpeg(img),
    "hue": lambda img, rng: _hue(img, 10 if rng.random() < 0.5 else -10),
    "gains": _gains,
}


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_judge_is_robust_to_perturbations(rendered, name):
    rng = np.random.default_rng(0)
    per_split = N_PERTURBED // 3 + 1
    items = [x for split in S.SPLITS for x in rendered[64, split][:per_split]]
    results = [judge(PERTURBATIONS[name](img, rng), cap)["ok"] for _, cap, img, _ in items]
    assert _rate(results) >= 0.97, name


def test_judge_rejects_wrong_colour_and_shape(rendered):
    colour, shape = [], []
    for (size, split), items in rendered.items():
        phrasing = S.PHRASINGS[Shapes(split).phrasing]
        for i, (a, _, img, clean) in enumerate(items):
            seen = clean["seen"]
            template = phrasing[a["template"]]
            for key, values, hits in (("colour", S.COLOURS, colour), ("shape", S.SHAPES, shape)):
                wrong = [v for v in values if v != a[key]][i % (len(values) - 1)]
                cap = S._fill(template, dict(a, **{key: wrong}), random.Random(i), 0.5)
                hits.append(S.parse_caption(cap)[key] != seen[key])
    assert _rate(colour) >= 0.99 and _rate(shape) >= 0.99
    a, cap, img, _ = rendered[64, "train"][0]
    other = next(c for c in S.COLOURS if c != a["colour"])
    r = judge(img, cap.replace(a["colour"], other) if a["colour"] in cap else f"a {other} thing")
    assert r["colour"] is False and r["ok"] is False


def test_judge_input_conventions():
    a = {"shape": "triangle", "colour": "green", "size": "small", "background": "black", "position": "left"}
    img = S.render(a, 48)
    u8 = np.array(img)
    pm1 = torch.from_numpy(u8).permute(2, 0, 1).float() / 127.5 - 1
    views = [img, img.convert("RGBA"), u8, u8.transpose(2, 0, 1), u8 / 255.0, pm1, pm1[None], (pm1 + 1) / 2,
             torch.from_numpy(u8).permute(2, 0, 1), pm1.double()]
    for v in views:
        assert {k: judge_image(v)[k] for k in ATTRS} == a, type(v)
    assert judge_image(u8 * 1.0, value_range=(0, 255))["colour"] == "green"
    r = judge(img, "a little emerald wedge")
    assert r["colour"] and r["shape"] and r["size"] and r["background"] is None and r["position"] is None
    assert r["ok"] and r["parsed"] == {"size": "small", "colour": "green", "shape": "triangle"}
    blank = judge(Image.new("RGB", (32, 32), "white"), "a red circle")
    assert blank["seen"]["background"] == "white" and blank["colour"] is False and blank["shape"] is False
    acc = S.judge_accuracy(torch.stack([pm1, pm1]), ["a green triangle", "a red triangle on black"])
    assert acc == {"colour": 0.5, "shape": 1.0, "background": 1.0, "ok": 0.5}
    with pytest.raises(ValueError, match="255"):
        judge_image(u8 * 1.0)
    with pytest.raises(TypeError):
        judge_image([[0]])
    with pytest.raises(ValueError):
        judge_image(torch.zeros(2, 3, 8, 8))
