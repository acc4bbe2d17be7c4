"""Readers for the on-disk layouts of the original repositories; each returns a list of :class:`Record`.

Layout names (``layout=`` of :class:`~textgan.data.CUB200`, :class:`~textgan.data.Oxford102`,
:class:`~textgan.data.COCO2014`):

* ``"attngan"``: ``data/birds``, ``data/flowers``, ``data/coco`` of AttnGAN, DM-GAN, DF-GAN, SSA-GAN, SEMA and
  StackGAN(-Pytorch): ``{train,test}/filenames.pickle`` (+ ``class_info.pickle``, ``char-CNN-RNN-embeddings.pickle``),
  captions in ``text/`` or ``text_c10/``, optional ``captions.pickle`` / ``captions_DAMSM.pickle`` (token ids),
  images under ``CUB_200_2011/images``, ``jpg/`` or ``images/`` (flat or ``train2014``/``val2014``).
* ``"icml2016"``: Reed's per-image Torch7 tables ``<class>/<image>.t7`` with ``char``/``img``/``txt`` and class lists
  (``cub_icml``, ``flowers_icml``); images from ``image_root``.
* ``"cvpr2016"``: Reed's per-class tensors ``images/<class>.t7`` (GoogLeNet features), ``text_c10/<class>.t7``
  (char ids) and ``text_c10/<class>/<image>.txt``; images only if ``image_root`` is given or found.
* ``"hdf5"``: ``birds.hdf5`` / ``flowers.hdf5`` of aelnouby/Text-to-Image-Synthesis (needs h5py).
* ``"official"`` (COCO only): ``annotations/captions_{train,val}2014.json`` with ``train2014``/``val2014`` images.

Splits are class-disjoint as the papers use them: ``"train"`` = Reed's train+val classes (CUB 150, flowers 82;
the ``train/`` pickles), ``"test"`` = the test classes (CUB 50, flowers 20; ``test/``; COCO: val2014). Reed's
layouts also have ``"reed_train"`` and ``"val"`` (his 100/50 CUB split of the train+val classes).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._pickle import safe_load
from ..errors import CheckpointError, DatasetError, DatasetFileNotFoundError, OptionalDependencyError, \
    UnsafePickleError

__all__ = ["Record", "LayoutData", "read_pickles", "read_icml2016", "read_cvpr2016", "read_hdf5", "read_coco_json",
           "decode_reed_chars", "load_metadata_pickle", "SPLITS"]

SPLITS = ("train", "test", "val", "reed_train", "trainval")
_REED_CLASS_FILES = {"train": "trainvalclasses.txt", "trainval": "trainvalclasses.txt", "test": "testclasses.txt",
                     "val": "valclasses.txt", "reed_train": "trainclasses.txt"}
REED_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "


@dataclass
class Record:
    """One image of a layout, before any file but the index has been read."""

    key: str  # e.g. "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18"
    class_id: int
    image: Optional[Path] = None  # the image file, or None (bytes in ``image_bytes`` or no pixels)
    caption_file: Optional[Path] = None  # one caption per line; read lazily
    captions: Optional[List[str]] = None  # captions already known (t7, hdf5, COCO JSON)
    caption_ids: Optional[List[List[int]]] = None  # from captions.pickle, aligned with the first E captions
    bbox: Optional[Tuple[float, float, float, float]] = None  # CUB (x, y, w, h)
    t7: Optional[Path] = None  # Reed icml2016 table, read lazily (char ids, embeddings, captions)
    row: int = -1  # row in per-split arrays (embeddings) or per-class tensors (cvpr2016)
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class LayoutData:
    """What a reader found: records plus split-wide arrays and the vocabulary (if any)."""

    layout: str
    records: List[Record]
    captions_per_image: int
    embeddings_file: Optional[Path] = None  # char-CNN-RNN-embeddings.pickle of the split
    vocab: Any = None  # textgan.text.Vocabulary from captions.pickle
    hdf5_file: Optional[Path] = None
    class_tensors: Dict[str, Path] = field(default_factory=dict)  # cvpr2016: class -> images/<class>.t7


def load_metadata_pickle(path: Path) -> Any:
    """:func:`textgan._pickle.safe_load` with the dataset errors: missing → DatasetFileNotFoundError, malicious →
    UnsafePickleError (nothing executed), truncated/corrupt → DatasetError; the message names the file."""
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{path}: metadata pickle not found; is this the right dataset folder "
                                       "and layout?")
    try:
        return safe_load(path)
    except UnsafePickleError:
        raise
    except CheckpointError as e:
        raise DatasetError(f"{path}: truncated or corrupt metadata pickle ({e}); download the metadata again") from e


def _str(x: Any, what: str) -> str:
    if isinstance(x, bytes):
        return x.decode("utf-8")
    if not isinstance(x, str):
        raise DatasetError(f"{what}: expected a list of file names, found an item of type {type(x).__name__}")
    return x


def _split_dir(split: str) -> str:
    if split in ("train", "trainval"):
        return "train"
    if split in ("test", "val"):  # DF-GAN's split='val' reads the test metadata, as here
        return "test"
    raise ValueError(f"split must be 'train' or 'test' for the pickle layout, got {split!r}")


def _cub_bboxes(cub_dir: Path) -> Dict[str, Tuple[float, float, float, float]]:
    images, boxes = cub_dir / "images.txt", cub_dir / "bounding_boxes.txt"
    for p in (images, boxes):
        if not p.is_file():
            raise DatasetFileNotFoundError(f"{p}: needed for the bounding-box crop; unpack CUB_200_2011.tgz here, "
                                           "or pass bbox_crop=False")
    names = {}
    for n, line in enumerate(images.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 2:
                raise DatasetError(f"{images}:{n}: expected '<image_id> <path>', got {line!r}")
            names[parts[0]] = parts[1][:-4] if parts[1].endswith(".jpg") else parts[1]
    out = {}
    for n, line in enumerate(boxes.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            try:
                out[names[parts[0]]] = tuple(float(v) for v in parts[1:5])
            except (KeyError, ValueError, IndexError):
                raise DatasetError(f"{boxes}:{n}: expected '<image_id> x y w h' for an id of images.txt, "
                                   f"got {line!r}") from None
    return out


def read_pickles(root: Path, split: str, dataset: str, *, captions_pickle: Optional[Path] = None,
                 bbox: bool = True) -> LayoutData:
    """The AttnGAN / DF-GAN / StackGAN folder (module docstring). ``dataset`` is ``cub``, ``flowers`` or ``coco``."""
    sdir = root / _split_dir(split)
    names = load_metadata_pickle(sdir / "filenames.pickle")
    if not isinstance(names, (list, tuple)):
        raise DatasetError(f"{sdir / 'filenames.pickle'}: expected a list of names, got {type(names).__name__}")
    keys = [_str(k, str(sdir / "filenames.pickle")) for k in names]
    ci_path = sdir / "class_info.pickle"
    if ci_path.is_file():
        raw = load_metadata_pickle(ci_path)
        try:
            class_ids = [int(c) for c in raw]
        except (TypeError, ValueError):
            raise DatasetError(f"{ci_path}: expected a list of class numbers") from None
        if len(class_ids) != len(keys):
            raise DatasetError(f"{ci_path}: {len(class_ids)} class ids for {len(keys)} file names")
    else:  # AttnGAN's load_class_id fallback (COCO has no class_info)
        class_ids = list(range(len(keys)))
    per_image = 5 if dataset == "coco" else 10
    text_dir = next((root / d for d in ("text", "text_c10") if (root / d).is_dir()), root / "text")
    boxes = _cub_bboxes(root / "CUB_200_2011") if dataset == "cub" and bbox else {}
    records = []
    for i, (key, cid) in enumerate(zip(keys, class_ids)):
        if dataset == "cub":
            image = root / "CUB_200_2011" / "images" / f"{key}.jpg"
            cap = text_dir / f"{key}.txt"
        elif dataset == "flowers":  # keys 'jpg/image_00001'; StackGAN readCaptions: jpg/ -> class_%05d/
            image = root / f"{key}.jpg"
            stem = key.split("/", 1)[1] if key.startswith("jpg/") else key
            cap = text_dir / f"class_{cid:05d}" / f"{stem}.txt"
            if not cap.is_file() and (text_dir / f"{stem}.txt").is_file():
                cap = text_dir / f"{stem}.txt"
        else:
            image = root / "images" / f"{key}.jpg"
            if not image.is_file():  # DF-GAN / GALIP: images/train2014, images/val2014
                sub = "train2014" if "train2014" in key else "val2014"
                image = root / "images" / sub / f"{key}.jpg"
            cap = text_dir / f"{key}.txt"
        rec = Record(key=key, class_id=cid, image=image, caption_file=cap, row=i)
        if boxes:
            if key not in boxes:
                raise DatasetError(f"{root / 'CUB_200_2011' / 'bounding_boxes.txt'}: no box for {key}")
            rec.bbox = boxes[key]
        records.append(rec)
    data = LayoutData("attngan", records, per_image)
    emb = sdir / "char-CNN-RNN-embeddings.pickle"
    data.embeddings_file = emb if emb.is_file() else None
    cp = captions_pickle or next((root / n for n in ("captions.pickle", "captions_DAMSM.pickle")
                                  if (root / n).is_file()), None)
    if cp is not None:
        from ..text.vocab import load_captions_pickle

        train, test, vocab = load_captions_pickle(cp)
        caps = train if _split_dir(split) == "train" else test
        if not records or len(caps) % len(records):
            raise DatasetError(f"{cp}: {len(caps)} {_split_dir(split)} captions do not divide into {len(records)} "
                               f"images of {sdir / 'filenames.pickle'}; the two files come from different metadata "
                               "versions: pass the matching one as captions_pickle=")
        per_image = len(caps) // len(records)  # E: 10 for birds and flowers, 5 for COCO in the released files
        data.captions_per_image = per_image
        for i, rec in enumerate(records):
            rec.caption_ids = caps[i * per_image:(i + 1) * per_image]
        data.vocab = vocab
    return data


def _class_list(root: Path, split: str) -> List[str]:
    if split not in _REED_CLASS_FILES:
        raise ValueError(f"split must be one of {tuple(_REED_CLASS_FILES)}, got {split!r}")
    path = root / _REED_CLASS_FILES[split]
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{path}: Reed's class list for split {split!r} not found")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def _class_number(name: str) -> int:
    """CUB '087.Mallard' -> 87, flowers 'class_00003' -> 3."""
    head = name.split(".", 1)[0] if "." in name else name.rsplit("_", 1)[-1]
    try:
        return int(head)
    except ValueError:
        raise DatasetError(f"class folder {name!r}: cannot read its class number") from None


def read_icml2016(root: Path, split: str) -> LayoutData:
    """Reed's icml2016 ``<class>/<image>.t7`` folders (sorted within a class, classes in class-list order)."""
    records = []
    for cls in _class_list(root, split):
        folder = root / cls
        if not folder.is_dir():
            raise DatasetFileNotFoundError(f"{folder}: class folder listed in the class list is missing")
        for t7 in sorted(folder.glob("*.t7")):
            records.append(Record(key=f"{cls}/{t7.stem}", class_id=_class_number(cls), t7=t7))
    per_image = 10
    if records:  # every table of a release has the same caption count; read it from the first
        from ..convert.torch7 import read_torch7

        try:
            per_image = int(read_torch7(records[0].t7)["char"].shape[1])
        except (CheckpointError, KeyError, TypeError, AttributeError, IndexError) as e:
            raise DatasetError(f"{records[0].t7}: not one of Reed's {{char, img, txt}} tables ({e})") from e
    return LayoutData("icml2016", records, per_image)


def read_cvpr2016(root: Path, split: str) -> LayoutData:
    """Reed's cvpr2016 per-class tensors; row r of ``<class>.t7`` is the r-th sorted caption file."""
    records, tensors = [], {}
    for cls in _class_list(root, split):
        t7 = root / "images" / f"{cls}.t7"
        if not t7.is_file():
            raise DatasetFileNotFoundError(f"{t7}: per-class image features listed in the class list are missing")
        tensors[cls] = t7
        txts = sorted((root / "text_c10" / cls).glob("*.txt"))
        for r, txt in enumerate(txts):
            records.append(Record(key=f"{cls}/{txt.stem}", class_id=_class_number(cls), caption_file=txt, row=r,
                                  extra={"class_name": cls, "char_t7": root / "text_c10" / f"{cls}.t7"}))
    return LayoutData("cvpr2016", records, 10, class_tensors=tensors)


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise OptionalDependencyError("the HDF5 layout needs h5py: pip install 'textgan[hdf5]' (or pip install "
                                      "h5py)") from e
    return h5py


_HDF5_GROUPS = {"train": ("train", "valid"), "trainval": ("train", "valid"), "reed_train": ("train",),
                "val": ("valid",), "test": ("test",)}


def read_hdf5(path: Path, split: str) -> LayoutData:
    """aelnouby's HDF5: each example group (image, one caption, its embedding) is one record, in h5py key order."""
    if split not in _HDF5_GROUPS:
        raise ValueError(f"split must be one of {tuple(_HDF5_GROUPS)}, got {split!r}")
    h5py = _h5py()
    records = []
    try:
        with h5py.File(path, "r") as f:
            for group in _HDF5_GROUPS[split]:
                if group not in f:
                    raise DatasetError(f"{path}: no group {group!r} (found {sorted(f.keys())}); not an aelnouby "
                                       "HDF5 file")
                for name in f[group].keys():
                    cls = f[group][name]["class"][()]
                    cls = cls.decode("utf-8") if isinstance(cls, bytes) else str(cls)
                    records.append(Record(key=f"{group}/{name}", class_id=_class_number(cls),
                                          extra={"group": group, "name": name, "class_name": cls}))
    except OSError as e:
        raise DatasetError(f"{path}: not a readable HDF5 file ({e})") from e
    data = LayoutData("hdf5", records, 1)
    data.hdf5_file = path
    return data


def read_coco_json(root: Path, split: str) -> LayoutData:
    """Official COCO 2014: ``annotations/captions_{train,val}2014.json``; images in JSON order, captions in
    annotation order; image folder ``train2014``/``val2014`` at the root or under ``images/``."""
    part = "train2014" if _split_dir(split) == "train" else "val2014"
    ann = root / "annotations" / f"captions_{part}.json"
    if not ann.is_file():
        raise DatasetFileNotFoundError(f"{ann}: COCO caption annotations not found; unzip "
                                       "annotations_trainval2014.zip here")
    try:
        data = json.loads(ann.read_text(encoding="utf-8"))
        images, anns = data["images"], data["annotations"]
    except (ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{ann}: not a COCO captions file ({e})") from e
    caps: Dict[int, List[str]] = {}
    for a in anns:
        caps.setdefault(int(a["image_id"]), []).append(str(a["caption"]).strip())
    folder = next((d for d in (root / part, root / "images" / part) if d.is_dir()), root / "images")
    records = []
    for i, im in enumerate(images):
        stem = os.path.splitext(im["file_name"])[0]
        records.append(Record(key=stem, class_id=i, image=folder / im["file_name"],
                              captions=caps.get(int(im["id"]), []),
                              extra={"image_id": int(im["id"])}))
    return LayoutData("official", records, 5)


def decode_reed_chars(column: Sequence[int]) -> str:
    """One caption of Reed's ``char`` tensor: 1-based alphabet indices, trailing zeros are padding; a zero inside the
    text stands for a character outside the alphabet and is returned as U+FFFD."""
    ids = [int(c) for c in column]  # int first: uint8 0 - 1 would wrap to 255
    while ids and ids[-1] == 0:
        ids.pop()
    return "".join(REED_ALPHABET[i - 1] if 0 < i <= len(REED_ALPHABET) else "\ufffd" for i in ids)
