"""Shapes: a deterministic synthetic dataset of captioned images, and the pixel judge that checks its captions.

One flat-coloured shape per image, drawn with PIL at 4× the asked size and box-downsampled (anti-aliased):

============  =====================================================================================
attribute     values (and how the image shows them)
============  =====================================================================================
shape         ``circle``, ``square``, ``triangle`` (isosceles, apex up, as wide as it is tall)
colour        ``red``, ``green``, ``blue``, ``yellow`` (hue ±6°, saturation and value 0.85–1 per item)
size          ``small`` (side 0.25–0.31 of the image), ``large`` (0.52–0.60)
position      ``center``, ``left``, ``right``, ``top``, ``bottom`` (offset 0.24 of the image for small
              shapes, 0.12 for large ones, ±0.03 / ±0.02 jitter on both axes)
background    ``white`` (value 0.94–1) or ``black`` (value 0–0.06), flat
============  =====================================================================================

Captions are lower-case, mention colour, shape, size and background always and the position with
probability ``mention_position`` (0.5), and use synonyms (:data:`SYNONYMS`): "a big crimson disc over
black", "red round shape, large, black backdrop". Two disjoint sets of templates:

* ``"train"`` phrasings (:data:`TRAIN_TEMPLATES`, 8 templates) are used by the ``"train"`` and ``"test"``
  splits (``"test"``: the same phrasings, independent draws: a validation set);
* ``"heldout"`` phrasings (:data:`HELDOUT_TEMPLATES`, 4 templates) are used by the ``"heldout"`` split only.
  They are new word orders ("a red large circle on black", "large circle in red, white backdrop") built
  from words the train phrasings use too, so a text encoder trained on train captions has an embedding
  for every held-out word. No held-out caption can equal a train caption: their word skeletons
  (:func:`skeleton`) differ (tested).

Item ``i`` of a split is a pure function of ``(seed, split, i)`` (a :class:`random.Random` seeded from a
SHA-256 of the three, nothing global), so datasets are reproducible on any machine and in any worker.

:func:`judge` tells from the pixels alone whether a caption fits an image (see its docstring for the
method and the accepted image conventions); :func:`judge_image` returns what it sees.
"""
from __future__ import annotations

import colorsys
import hashlib
import random
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = [
    "Shapes", "SHAPES", "COLOURS", "SIZES", "POSITIONS", "BACKGROUNDS", "SYNONYMS", "TRAIN_TEMPLATES",
    "HELDOUT_TEMPLATES", "PHRASINGS", "SPLITS", "render", "captions_for", "sample_attributes", "vocabulary",
    "parse_caption", "skeleton", "judge", "judge_image", "judge_accuracy",
]

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
SIZES = ("small", "large")
POSITIONS = ("center", "left", "right", "top", "bottom")
BACKGROUNDS = ("white", "black")
SPLITS = ("train", "test", "heldout")
# each split's phrasing and default length
_SPLIT_PHRASING = {"train": "train", "test": "train", "heldout": "heldout"}
_DEFAULT_LENGTH = {"train": 20000, "test": 2000, "heldout": 2000}

#: Words that name each attribute value in captions (the first one is the plain name). Every word
#: belongs to one value only, so a caption parses without ambiguity; none is a template word.
SYNONYMS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "colour": {"red": ("red", "crimson", "scarlet"), "green": ("green", "emerald", "lime"),
               "blue": ("blue", "azure", "cobalt"), "yellow": ("yellow", "golden", "lemon")},
    "shape": {"circle": ("circle", "disc", "disk"), "square": ("square", "box", "block"),
              "triangle": ("triangle", "wedge", "pyramid")},
    # adjectives: "a red round shape"
    "shapeadj": {"circle": ("round",), "square": ("square",), "triangle": ("triangular",)},
    "size": {"small": ("small", "little", "tiny"), "large": ("large", "big", "huge")},
    "background": {"white": ("white",), "black": ("black", "dark")},
    "position": {"center": ("center", "centre", "middle"), "left": ("left",), "right": ("right",),
                 "top": ("top",), "bottom": ("bottom",)},
}
_BG_NOUNS = ("background", "backdrop", "canvas")
# "{pos}" phrases; "{p}" is a position word
_POSITION_PHRASES = ("in the {p}", "at the {p}", "on the {p}")
_POSITION_PHRASES_CENTER = ("in the {p}", "at the {p}")

#: Templates of the "train" phrasing (splits "train" and "test").
TRAIN_TEMPLATES = (
    "a {size} {colour} {shape} on a {bg} {bgnoun}{pos}",
    "a {size} {colour} {shape} over {bg}{pos}",
    "{colour} {shapeadj} shape, {size}, {bg} {bgnoun}{pos}",
    "there is a {size} {colour} {shape}{pos} against a {bg} {bgnoun}",
    "a {colour} {shape} that is {size}, on {bg}{pos}",
    "{bg} {bgnoun} with a {size} {colour} {shape}{pos}",
    "the {shape} is {colour} and {size}, the {bgnoun} is {bg}",
    "a {size} {shape} painted in {colour} on a {bg} {bgnoun}{pos}",
)
#: Templates of the "heldout" phrasing (split "heldout"), never used by the other splits.
HELDOUT_TEMPLATES = (
    "a {colour} {size} {shape} on {bg}{pos}",
    "{size} {shape} in {colour}, {bg} {bgnoun}{pos}",
    "on a {bg} {bgnoun}, a {colour} {shapeadj} shape that is {size}",
    "a {bg} {bgnoun} and a {size} {colour} {shape}{pos}",
)
PHRASINGS = {"train": TRAIN_TEMPLATES, "heldout": HELDOUT_TEMPLATES}

# geometry, in fractions of the image side
_EXTENT = {"small": (0.25, 0.31), "large": (0.52, 0.60)}
_OFFSET = {"small": 0.24, "large": 0.12}
_JITTER = {"small": 0.03, "large": 0.02}
_DIRECTION = {"center": (0, 0), "left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}
_HUE = {"red": 0.0, "yellow": 58.0, "green": 120.0, "blue": 228.0}  # degrees
_SUPERSAMPLE = 4

_WORD_RE = re.compile(r"\w+")
_WORD_TO_VALUE: Dict[str, Tuple[str, str]] = {
    w: ("shape" if cat == "shapeadj" else cat, value)
    for cat, table in SYNONYMS.items() for value, words in table.items() for w in words
}


# -- attributes and rendering ----------------------------------------------------------------------
def _check_value(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"attributes[{name!r}] is {value!r}; expected one of {', '.join(allowed)}")


def sample_attributes(rng: random.Random, positions: Sequence[str] = POSITIONS) -> Dict[str, Any]:
    """Draw one image's attributes (values and the exact geometry and colours) from ``rng``."""
    a: Dict[str, Any] = {
        "shape": rng.choice(SHAPES), "colour": rng.choice(COLOURS), "size": rng.choice(SIZES),
        "background": rng.choice(BACKGROUNDS), "position": rng.choice(list(positions)),
    }
    lo, hi = _EXTENT[a["size"]]
    j = _JITTER[a["size"]]
    dx, dy = _DIRECTION[a["position"]]
    a["extent"] = rng.uniform(lo, hi)
    a["center"] = (0.5 + dx * _OFFSET[a["size"]] + rng.uniform(-j, j),
                   0.5 + dy * _OFFSET[a["size"]] + rng.uniform(-j, j))
    hue = (_HUE[a["colour"]] + rng.uniform(-6.0, 6.0)) % 360.0
    a["rgb"] = tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue / 360.0, rng.uniform(0.85, 1.0),
                                                                 rng.uniform(0.85, 1.0)))
    v = round(255 * (rng.uniform(0.94, 1.0) if a["background"] == "white" else rng.uniform(0.0, 0.06)))
    a["background_rgb"] = (v, v, v)
    return a


def _canonical(attributes: Mapping[str, Any]) -> Dict[str, Any]:
    """Fill the geometry of attributes given by value only (no jitter)."""
    a = dict(attributes)
    for name, allowed in (("shape", SHAPES), ("colour", COLOURS), ("size", SIZES), ("background", BACKGROUNDS)):
        _check_value(name, a.get(name), allowed)
    a.setdefault("position", "center")
    _check_value("position", a["position"], POSITIONS)
    lo, hi = _EXTENT[a["size"]]
    dx, dy = _DIRECTION[a["position"]]
    a.setdefault("extent", (lo + hi) / 2)
    a.setdefault("center", (0.5 + dx * _OFFSET[a["size"]], 0.5 + dy * _OFFSET[a["size"]]))
    a.setdefault("rgb", tuple(round(255 * c) for c in colorsys.hsv_to_rgb(_HUE[a["colour"]] / 360.0, 1.0, 1.0)))
    a.setdefault("background_rgb", (255, 255, 255) if a["background"] == "white" else (0, 0, 0))
    return a


def render(attributes: Mapping[str, Any], size: int = 64, antialias: bool = True) -> Image.Image:
    """Draw the image of ``attributes`` as a ``size`` × ``size`` RGB PIL image.

    ``attributes`` needs ``shape``, ``colour``, ``size`` and ``background``; ``position`` (default
    ``"center"``), ``extent``, ``center``, ``rgb`` and ``background_rgb`` (see :func:`sample_attributes`)
    default to the value's canonical geometry and colour. With ``antialias`` the shape is drawn at 4× and
    box-downsampled.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int ≥ 8 (pixels), got {size!r}")
    a = _canonical(attributes)
    s = size * (_SUPERSAMPLE if antialias else 1)
    img = Image.new("RGB", (s, s), tuple(a["background_rgb"]))
    draw = ImageDraw.Draw(img)
    cx, cy = a["center"][0] * s, a["center"][1] * s
    h = a["extent"] * s / 2
    box = [cx - h, cy - h, cx + h, cy + h]
    fill = tuple(a["rgb"])
    if a["shape"] == "circle":
        draw.ellipse(box, fill=fill)
    elif a["shape"] == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)], fill=fill)
    return img.resize((size, size), Image.BOX) if antialias else img


# -- captions --------------------------------------------------------------------------------------
def _templates(phrasing: str) -> Tuple[str, ...]:
    if phrasing not in PHRASINGS:
        raise ValueError(f"phrasing must be one of {', '.join(PHRASINGS)}, got {phrasing!r}")
    return PHRASINGS[phrasing]


def _fill(template: str, a: Mapping[str, Any], rng: random.Random, mention_position: float) -> str:
    pos = ""
    if "{pos}" in template and rng.random() < mention_position:
        phrases = _POSITION_PHRASES_CENTER if a["position"] == "center" else _POSITION_PHRASES
        pos = " " + rng.choice(phrases).format(p=rng.choice(SYNONYMS["position"][a["position"]]))
    text = template.format(
        size=rng.choice(SYNONYMS["size"][a["size"]]), colour=rng.choice(SYNONYMS["colour"][a["colour"]]),
        shape=rng.choice(SYNONYMS["shape"][a["shape"]]), shapeadj=rng.choice(SYNONYMS["shapeadj"][a["shape"]]),
        bg=rng.choice(SYNONYMS["background"][a["background"]]), bgnoun=rng.choice(_BG_NOUNS), pos=pos)
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def captions_for(attributes: Mapping[str, Any], phrasing: str = "train", rng: Optional[random.Random] = None,
                 n: Optional[int] = None, mention_position: float = 0.5) -> List[str]:
    """Captions of an image with these ``attributes`` in the given ``phrasing`` (``"train"``/``"heldout"``).

    ``n=None`` gives one caption per template of the phrasing (in template order); ``n=k`` gives ``k``
    captions of templates drawn at random. Synonyms (and whether the position is said, with probability
    ``mention_position``) are drawn from ``rng`` (a :class:`random.Random`; default: a fixed seed).
    """
    templates = _templates(phrasing)
    a = _canonical(attributes)
    rng = random.Random(0) if rng is None else rng
    chosen = list(templates) if n is None else [rng.choice(templates) for _ in range(n)]
    return [_fill(t, a, rng, mention_position) for t in chosen]


def _all_template_words() -> List[str]:
    words = set(_BG_NOUNS) | {"an"} | set(_WORD_TO_VALUE)
    for t in TRAIN_TEMPLATES + HELDOUT_TEMPLATES + _POSITION_PHRASES:
        words.update(_WORD_RE.findall(re.sub(r"\{\w+\}", " ", t)))
    return sorted(words)


def vocabulary():
    """A :class:`textgan.text.Vocabulary` (``"<end>"`` at 0, then the words sorted) of every word any split uses."""
    from ..text import Vocabulary

    return Vocabulary(["<end>"] + _all_template_words())


def skeleton(caption: str) -> Tuple[str, ...]:
    """The word sequence of ``caption`` with every attribute word replaced by ``<its attribute>`` (and the
    background nouns by ``<bgnoun>``, "an" by "a").

    Two captions of the same skeleton differ only in which attribute values and synonyms they name; the
    train and held-out phrasings have no skeleton in common.
    """
    def tag(w: str) -> str:
        if w in _WORD_TO_VALUE:
            return f"<{_WORD_TO_VALUE[w][0]}>"
        return "<bgnoun>" if w in _BG_NOUNS else ("a" if w == "an" else w)

    return tuple(tag(w) for w in _WORD_RE.findall(caption.lower()))


def parse_caption(caption: str) -> Dict[str, Any]:
    """The attribute values a caption names: ``{attribute: value}``; an attribute named with two
    different values maps to the tuple of them (a check against it fails); unnamed ones are absent."""
    if not isinstance(caption, str):
        raise TypeError(f"caption must be a str, got {type(caption).__name__}")
    found: Dict[str, List[str]] = {}
    for w in _WORD_RE.findall(caption.lower()):
        if w in _WORD_TO_VALUE:
            cat, value = _WORD_TO_VALUE[w]
            if value not in found.setdefault(cat, []):
                found[cat].append(value)
    return {cat: v[0] if len(v) == 1 else tuple(v) for cat, v in found.items()}


# -- the dataset -----------------------------------------------------------------------------------
class Shapes(torch.utils.data.Dataset):
    """Synthetic captioned shapes (see the module docstring for the attributes, phrasings and splits).

    Args:
        split: ``"train"``, ``"test"`` (train phrasings, other draws) or ``"heldout"`` (held-out phrasings).
        size: image side in pixels.
        length: number of items (default 20000 for train, 2000 for test and heldout); items are drawn
            independently, so a longer dataset starts with the items of a shorter one.
        seed: changes every item.
        transform: called on the PIL image; its output becomes ``item["image"]`` (default: a float
            tensor (3, size, size) in [-1, 1]).
        tokenizer: a :class:`textgan.text.Tokenizer`; adds ``item["ids"]`` (long, padded with 0 to
            ``max_words`` when the tokenizer has one) and ``item["length"]`` (number of words kept).
        positions: the positions to draw from (e.g. ``("center",)`` for an easier set).
        mention_position: probability that a caption says the position (when its template has a slot).
        antialias: draw at 4× and downsample.

    Item ``i`` depends only on ``(seed, split, i)`` and the options above (``positions`` and
    ``mention_position`` change the draws), never on global random state; :meth:`describe` gives its
    attributes and caption without drawing.

    Items: ``{"image", "caption", "attributes", ["ids", "length"]}``; ``attributes`` holds ``shape``,
    ``colour``, ``size``, ``background``, ``position``, ``extent``, ``center``, ``rgb``, ``background_rgb``
    and ``template`` (the template's index in its phrasing).
    """

    def __init__(self, split: str = "train", size: int = 64, length: Optional[int] = None, seed: int = 0,
                 transform: Optional[Callable[[Image.Image], Any]] = None, tokenizer: Any = None, *,
                 positions: Sequence[str] = POSITIONS, mention_position: float = 0.5,
                 antialias: bool = True) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ValueError(f"size must be an int ≥ 8 (pixels), got {size!r}")
        length = _DEFAULT_LENGTH[split] if length is None else length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        positions = tuple(positions)
        if not positions or any(p not in POSITIONS for p in positions):
            raise ValueError(f"positions must be a non-empty subset of {POSITIONS}, got {positions!r}")
        if not 0.0 <= mention_position <= 1.0:
            raise ValueError(f"mention_position must be in [0, 1], got {mention_position!r}")
        self.split, self.size, self.length, self.seed = split, size, length, int(seed)
        self.transform, self.tokenizer = transform, tokenizer
        self.positions, self.mention_position, self.antialias = positions, mention_position, antialias
        self.phrasing = _SPLIT_PHRASING[split]

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"Shapes(split={self.split!r}, size={self.size}, length={self.length}, seed={self.seed})"

    @staticmethod
    def vocabulary():
        """:func:`vocabulary`: every word of every split, ``"<end>"`` at index 0."""
        return vocabulary()

    def _rng(self, index: int) -> random.Random:
        key = f"textgan.data.Shapes/{self.seed}/{self.split}/{index}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))

    def _index(self, index: int) -> int:
        i = int(index)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f"Shapes index {index} out of range (length {self.length})")
        return i

    def describe(self, index: int) -> Tuple[Dict[str, Any], str]:
        """``(attributes, caption)`` of item ``index`` without drawing it."""
        rng = self._rng(self._index(index))
        a = sample_attributes(rng, self.positions)
        templates = _templates(self.phrasing)
        a["template"] = rng.randrange(len(templates))
        return a, _fill(templates[a["template"]], a, rng, self.mention_position)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        a, caption = self.describe(index)
        img = render(a, self.size, self.antialias)
        if self.transform is not None:
            image = self.transform(img)
        else:
            image = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1.0
        item = {"image": image, "caption": caption, "attributes": a}
        if self.tokenizer is not None:
            pad = getattr(self.tokenizer, "max_words", None) is not None
            ids, lengths = self.tokenizer([caption], pad_to_max=pad)
            item["ids"], item["length"] = ids[0], lengths[0]
        return item


# -- the judge -------------------------------------------------------------------------------------
def _to_array(image: Any, value_range: Union[str, Tuple[float, float]]) -> np.ndarray:
    """Any accepted image → (H, W, 3) float32 in [0, 1]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    if isinstance(image, torch.Tensor):
        arr = image.detach().cpu().to(torch.float32).numpy()
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 3 or arr.shape[0] not in (1, 3):
            raise ValueError(f"judge: a tensor image must be (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
        arr = arr.transpose(1, 2, 0)
        integer = image.dtype == torch.uint8
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim == 3 and arr.shape[-1] not in (1, 3) and arr.shape[0] in (1, 3):
            arr = arr.transpose(1, 2, 0)  # (3, H, W)
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3):
            raise ValueError(f"judge: an array image must be (H, W, 3) or (3, H, W), got {image.shape}")
        integer = arr.dtype == np.uint8
        arr = arr.astype(np.float32)
    else:
        raise TypeError(
            f"judge: image must be a PIL image, a numpy array or a torch tensor, got {type(image).__name__}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if integer:
        lo, hi = 0.0, 255.0
    elif value_range == "auto":
        # a [-1, 1] image of this dataset always has negative values (saturated colour or black background)
        lo, hi = (-1.0, 1.0) if arr.min() < 0 else (0.0, 1.0)
        if arr.max() > 1.5:
            raise ValueError("judge: float image with values above 1.5; pass uint8 or value_range=(0, 255)")
    else:
        lo, hi = (float(v) for v in value_range)
    return np.clip((arr - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0, dtype=np.float32)


def _dilate(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[1:] |= m[:-1]
    out[:-1] |= m[1:]
    row = out.copy()
    out[:, 1:] |= row[:, :-1]
    out[:, :-1] |= row[:, 1:]
    return out


def _largest_blob(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected blob of ``mask`` dilated by one pixel (a one-pixel gap does not split a
    shape), intersected with ``mask``. Union-find over the row runs: a few runs per row, so it is cheap."""
    grown = _dilate(mask)
    padded = np.zeros((grown.shape[0], grown.shape[1] + 2), np.int8)
    padded[:, 1:-1] = grown
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # same order as the starts: row by row, left to right
    rows, starts, ends = rows.tolist(), starts.tolist(), ends.tolist()
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev = 0  # first run of the previous row
    for i in range(len(rows)):
        if i and rows[i] != rows[i - 1]:
            prev = i - 1
            while prev > 0 and rows[prev - 1] == rows[i - 1]:
                prev -= 1
        j = prev
        while j < i and rows[j] < rows[i]:
            # runs of adjacent rows touch (8-connectivity) if their column spans overlap or meet diagonally
            if rows[j] == rows[i] - 1 and starts[j] <= ends[i] and starts[i] <= ends[j]:
                parent[root(j)] = root(i)
            j += 1
    sizes: Dict[int, int] = {}
    for i in range(len(rows)):
        r = root(i)
        sizes[r] = sizes.get(r, 0) + ends[i] - starts[i]
    best = max(sizes, key=sizes.get)
    blob = np.zeros_like(mask)
    for i in range(len(rows)):
        if root(i) == best:
            blob[rows[i], starts[i]:ends[i]] = True
    return blob & mask


def _hues(rgb: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Hue (degrees) and saturation (max − min) of (N, 3) colours."""
    mx, mn = rgb.max(1), rgb.min(1)
    d = np.maximum(mx - mn, 1e-9)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    h = np.where(mx == r, ((g - b) / d) % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60.0
    return h, mx - mn


def _templates_in_box(bh: int, bw: int) -> Dict[str, np.ndarray]:
    """Circle, square and apex-up triangle filling a bh × bw box (pixel centres inside the outline)."""
    ys, xs = np.arange(bh)[:, None] + 0.5, np.arange(bw)[None, :] + 0.5
    cx, cy = bw / 2, bh / 2
    circle = ((xs - cx) / cx) ** 2 + ((ys - cy) / cy) ** 2 <= 1.0
    triangle = np.abs(xs - cx) <= cx * ys / bh  # apex at the top centre, base along the bottom
    return {"circle": circle, "square": np.ones((bh, bw), bool), "triangle": triangle}


def judge_image(image: Any, value_range: Union[str, Tuple[float, float]] = "auto") -> Dict[str, Any]:
    """What the pixel judge sees in ``image``: ``{"shape", "colour", "size", "background", "position"}``
    (each ``None`` when no shape is found) plus the measurements behind them.

    Accepted images: a PIL image (any mode); a numpy array (H, W, 3), (H, W), or (3, H, W); a torch tensor
    (3, H, W) or (1, 3, H, W). uint8 data is 0..255. Float data uses ``value_range``: ``"auto"`` (default)
    reads it as [-1, 1] if it has a negative value, else as [0, 1] (so both the generators' [-1, 1] output
    and the pipelines' [0, 1] output work; an image in [-1, 1] without any negative value would be misread:
    pass ``value_range=(-1, 1)``), or an explicit ``(low, high)``.

    Method: the background is the median colour of the one-pixel border (white if its mean > 0.5); the
    shape mask is the pixels whose RGB distance to it exceeds half its 99th percentile (at least 0.2), kept
    to the largest 8-connected blob (after a one-pixel dilation, so a gap does not split the shape), its
    distance map upsampled (bilinear) until the blob is ≥ 32 pixels wide for a sub-pixel outline, then
    filled row- and column-wise. Shape: triangle if the blob's mass centre lies low in its box (an apex-up
    triangle's is at 2/3 of the height, a circle's or square's at 1/2; blur and JPEG keep this better
    than the outline), else circle or square by the better IoU with the circle and the square filling
    the box. Size: the box side √(w·h) against 0.42 of the image (small shapes are ≤ 0.31, large ≥ 0.52).
    Colour: the majority, over the blob's saturated pixels, of the nearest reference hue (red 0°, yellow
    58°, green 120°, blue 228°); mixing with a white or black background keeps the hue, so anti-aliased
    or blurred edges vote like the inside. Position: the box centre's offset from the middle (beyond
    0.065 of the image: the larger axis says left/right/top/bottom).
    """
    rgb = _to_array(image, value_range)
    h, w, _ = rgb.shape
    border = np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]])
    bg = np.sort(border, axis=0)[len(border) // 2]  # median colour
    seen: Dict[str, Any] = {"shape": None, "colour": None, "size": None, "position": None,
                            "background": "white" if bg.mean() > 0.5 else "black"}
    dist = np.sqrt(((rgb - bg) ** 2).sum(-1)).ravel()
    k = dist.size - 1 - dist.size // 100
    thr = max(0.2, 0.5 * float(np.partition(dist, k)[k]))  # half the 99th percentile
    mask = (dist > thr).reshape(h, w)
    if mask.sum() < 3:
        return seen
    blob = _largest_blob(mask)
    # the blob's box with a 2-pixel margin; other blobs are cut out of its distance map
    ys, xs = np.nonzero(blob)
    cy0, cx0 = max(int(ys.min()) - 2, 0), max(int(xs.min()) - 2, 0)
    cy1, cx1 = min(int(ys.max()) + 3, h), min(int(xs.max()) + 3, w)
    near = _dilate(_dilate(blob))[cy0:cy1, cx0:cx1]
    crop = np.where(near, dist.reshape(h, w)[cy0:cy1, cx0:cx1], 0.0).astype(np.float32)
    # small shapes are measured on a bilinear upsampling of the distance map (sub-pixel outline)
    f = max(1, -(-32 // max(cy1 - cy0 - 4, cx1 - cx0 - 4, 1)))
    if f > 1:
        crop = torch.nn.functional.interpolate(torch.from_numpy(crop)[None, None], scale_factor=f,
                                               mode="bilinear", align_corners=False)[0, 0].numpy()
    fine = crop > thr
    if not fine.any():
        fine = np.ones((1, 1), bool)
    ys, xs = np.nonzero(fine)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    box = fine[y0:y1 + 1, x0:x1 + 1]
    # fill holes and dents: inside if between mask pixels along its row and along its column
    rows = np.maximum.accumulate(box, 1) & np.maximum.accumulate(box[:, ::-1], 1)[:, ::-1]
    cols = np.maximum.accumulate(box, 0) & np.maximum.accumulate(box[::-1], 0)[::-1]
    filled = rows & cols | box
    bh, bw = filled.shape
    ious = {}
    for name, t in _templates_in_box(bh, bw).items():
        ious[name] = float((t & filled).sum() / max((t | filled).sum(), 1))
    # an apex-up triangle holds 3/4 of its mass in the lower half (centroid at 2/3 of the height);
    # blur and JPEG keep that better than the outline, so it decides triangle first
    weights = np.clip(crop[y0:y1 + 1, x0:x1 + 1] / (2 * thr), 0, 1)
    low = float((weights.sum(1) * (np.arange(bh) + 0.5)).sum() / max(weights.sum(), 1e-6) / bh)
    best = max(ious, key=ious.get)
    if low >= 0.56 or (best == "triangle" and low >= 0.53):
        seen["shape"] = "triangle"
    else:
        seen["shape"] = "circle" if ious["circle"] >= ious["square"] else "square"
    side = float(np.sqrt(bw * bh / (h * w))) / f
    seen["size"] = "large" if side > 0.42 else "small"
    dx = (cx0 + (x0 + x1 + 1) / (2 * f)) / w - 0.5
    dy = (cy0 + (y0 + y1 + 1) / (2 * f)) / h - 0.5
    if max(abs(dx), abs(dy)) <= 0.065:
        seen["position"] = "center"
    elif abs(dx) >= abs(dy):
        seen["position"] = "left" if dx < 0 else "right"
    else:
        seen["position"] = "top" if dy < 0 else "bottom"
    hue, sat = _hues(rgb[blob])
    keep = sat > 0.25
    if keep.any():
        refs = np.array([_HUE[c] for c in COLOURS])
        diff = np.abs((hue[keep, None] - refs[None, :] + 180.0) % 360.0 - 180.0)
        votes = np.bincount(diff.argmin(1), minlength=len(COLOURS))
        seen["colour"] = COLOURS[int(votes.argmax())]
    seen.update(iou=ious, low=low, side=side, offset=(float(dx), float(dy)), pixels=int(blob.sum()))
    return seen


_CHECKS = ("colour", "shape", "size", "background", "position")


def judge(image: Any, caption: str, value_range: Union[str, Tuple[float, float]] = "auto") -> Dict[str, Any]:
    """Does ``caption`` fit ``image``, judged from the pixels alone?

    ``image`` is any image :func:`judge_image` accepts (uint8 0..255; float [-1, 1] or [0, 1], see
    ``value_range``). Returns ``{"colour", "shape", "size", "background", "position"}``: ``True``/``False``
    for each attribute the caption names (synonyms included, :func:`parse_caption`), ``None`` for those it
    does not; ``"ok"``: every named attribute is right; ``"parsed"``: the caption's attributes;
    ``"seen"``: :func:`judge_image`'s output.
    """
    parsed = parse_caption(caption)
    seen = judge_image(image, value_range)
    out: Dict[str, Any] = {k: (None if k not in parsed else parsed[k] == seen[k]) for k in _CHECKS}
    out["ok"] = all(v is not False for v in out.values())
    out["parsed"], out["seen"] = parsed, seen
    return out


def judge_accuracy(images: Sequence[Any], captions: Sequence[str],
                   value_range: Union[str, Tuple[float, float]] = "auto") -> Dict[str, float]:
    """Fraction of (image, caption) pairs passing each check (over the pairs whose caption names it),
    and ``"ok"`` over all pairs. ``images`` may be a list or a batched (N, 3, H, W) tensor."""
    if len(images) != len(captions):
        raise ValueError(f"judge_accuracy: {len(images)} images but {len(captions)} captions")
    if len(captions) == 0:
        raise ValueError("judge_accuracy: no images given")
    hits: Dict[str, List[bool]] = {k: [] for k in _CHECKS + ("ok",)}
    for img, cap in zip(images, captions):
        r = judge(img, cap, value_range)
        for k in hits:
            if r[k] is not None:
                hits[k].append(bool(r[k]))
    return {k: float(np.mean(v)) for k, v in hits.items() if v}

