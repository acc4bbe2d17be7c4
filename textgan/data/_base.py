"""The dataset class shared by :class:`~textgan.data.CUB200`, :class:`~textgan.data.Oxford102` and
:class:`~textgan.data.COCO2014`: items, caption sampling, AttnGAN's word subset, errors and skipping."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..errors import DatasetError, DatasetFileNotFoundError
from . import _images
from ._layouts import LayoutData, Record, decode_reed_chars, load_metadata_pickle

__all__ = ["CaptionedImageDataset"]

PathLike = Union[str, "os.PathLike[str]"]


def _tokens(text: str) -> List[str]:
    """AttnGAN's ``RegexpTokenizer(r'\\w+')`` on the lower-cased caption, ASCII-stripped, after the U+FFFD fix."""
    from ..text.vocab import _WORD_RE

    out = []
    for t in _WORD_RE.findall(text.replace("\ufffd\ufffd", " ").lower()):
        t = t.encode("ascii", "ignore").decode("ascii")
        if t:
            out.append(t)
    return out


class CaptionedImageDataset(torch.utils.data.Dataset):
    """Base class; see :class:`~textgan.data.CUB200` for the arguments and the item format."""

    #: layout -> default (image sizes, resize mode, bbox crop)
    _DEFAULTS: Dict[str, Tuple[int, str, bool]] = {}
    dataset_name = "dataset"

    def __init__(self, root: PathLike, split: str = "train", *, layout: Optional[str] = None,
                 image_size: Union[int, Sequence[int], None] = None, resize: Optional[str] = None,
                 bbox_crop: Optional[bool] = None, augment: bool = True,
                 captions: Union[str, int, None] = None, words_num: int = 18, tokenizer: Any = None,
                 transform: Optional[Callable[[Any], Any]] = None, seed: Optional[int] = None,
                 on_error: str = "raise", encoding: str = "utf-8", image_root: Optional[PathLike] = None,
                 embeddings: bool = True, captions_pickle: Optional[PathLike] = None) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if not (captions in (None, "random", "all") or (isinstance(captions, int) and not isinstance(captions, bool)
                                                          and captions >= 0)):
            raise ValueError(f"captions must be 'random', 'all' or a caption index >= 0, got {captions!r}")
        if isinstance(words_num, bool) or not isinstance(words_num, int) or words_num < 1:
            raise ValueError(f"words_num must be a positive int, got {words_num!r}")
        if transform is not None and not callable(transform):
            raise TypeError("transform must be callable (a torchvision-style transform), got "
                            f"{type(transform).__name__}")
        self.root = Path(root)
        if not self.root.exists():
            raise DatasetFileNotFoundError(f"{self.root}: dataset folder not found; download it with "
                                           f"textgan.data.download({self.dataset_name!r}, root)")
        self.split = split
        self.layout = layout or self.detect_layout(self.root)
        self._captions_pickle = Path(captions_pickle) if captions_pickle else None
        self.data: LayoutData = self._read(self.layout, split, bbox_crop)
        default_size, default_resize, default_bbox = self._DEFAULTS[self.layout]
        sizes = default_size if image_size is None else image_size
        self.image_sizes: Tuple[int, ...] = (int(sizes),) if isinstance(sizes, int) else tuple(int(s) for s in sizes)
        if not self.image_sizes or min(self.image_sizes) < 1:
            raise ValueError(f"image_size must be a positive int or a list of them, got {image_size!r}")
        self.resize = resize or default_resize
        if self.resize not in _images.RESIZES:
            raise ValueError(f"resize must be one of {_images.RESIZES}, got {resize!r}")
        self.bbox_crop = default_bbox if bbox_crop is None else bool(bbox_crop)
        self.augment = augment
        if captions is None:
            captions = "random" if split in ("train", "trainval", "reed_train") else "all"
        self.captions = captions
        self.words_num = words_num
        self.tokenizer = tokenizer
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.on_error = on_error
        self.encoding = encoding
        self.image_root = Path(image_root) if image_root is not None else None
        self.use_embeddings = embeddings
        self.skipped: List[str] = []
        self._warned = False
        self._embeddings: Optional[np.ndarray] = None
        self._h5 = None
        self._h5_pid = None
        self.records: List[Record] = self._check_files(self.data.records)
        self.vocab = self.data.vocab
        self._pairs = self._make_pairs()

    # -- hooks for the dataset classes ------------------------------------------------------------
    @classmethod
    def detect_layout(cls, root: Path) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _read(self, layout: str, split: str, bbox_crop: Optional[bool]) -> LayoutData:  # pragma: no cover
        raise NotImplementedError

    def _image_root_candidates(self) -> List[Path]:
        return [self.root, self.root.parent]

    # -- construction -----------------------------------------------------------------------------
    def _check_files(self, records: List[Record]) -> List[Record]:
        """Missing image or caption files: raise naming the first, or drop them with one warning."""
        missing: List[Tuple[Record, Path]] = []
        for rec in records:
            for p in (rec.image, rec.caption_file):
                if p is not None and not p.is_file():
                    missing.append((rec, p))
                    break
        if not missing:
            return records
        first = missing[0][1]
        if self.on_error == "raise":
            raise DatasetFileNotFoundError(
                f"{first}: missing ({len(missing)} of {len(records)} items of {self.root} split {self.split!r} "
                f"lack a file); restore it, or pass on_error='skip' to leave such items out")
        warnings.warn(f"{self.dataset_name}: skipping {len(missing)} of {len(records)} items whose files are "
                      f"missing, first {first}", stacklevel=3)
        self._warned = True
        bad = {id(r) for r, _ in missing}
        self.skipped.extend(str(p) for _, p in missing)
        return [r for r in records if id(r) not in bad]

    def _make_pairs(self) -> List[Tuple[int, int]]:
        if self.captions != "all":
            return []
        pairs = []
        for i, rec in enumerate(self.records):
            n = len(rec.captions) if rec.captions is not None else self.data.captions_per_image
            if rec.caption_ids is not None:
                n = len(rec.caption_ids)
            pairs.extend((i, k) for k in range(n))
        return pairs

    def __getstate__(self) -> Dict[str, Any]:  # DataLoader workers under spawn: an open h5py file cannot travel
        state = dict(self.__dict__)
        state["_h5"] = state["_h5_pid"] = None
        return state

    # -- public -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._pairs) if self.captions == "all" else len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """With ``seed`` set, draws depend on ``(seed, epoch, index)``: call this each epoch for new crops/captions."""
        self.epoch = int(epoch)

    @property
    def keys(self) -> List[str]:
        """The image keys in the original files' order."""
        return [r.key for r in self.records]

    @property
    def class_ids(self) -> List[int]:
        """The class id of each image, in :attr:`keys` order."""
        return [r.class_id for r in self.records]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.root)!r}, split={self.split!r}, layout={self.layout!r}, "
                f"images={len(self.records)}, items={len(self)}, image_size={list(self.image_sizes)})")

    def info(self, index: int) -> Dict[str, Any]:
        """Metadata of image ``index`` (an image index, not an item index) without decoding pixels: key, class id,
        image path, bbox, crop box (opens the image header), all captions."""
        rec = self.records[index]
        out: Dict[str, Any] = {"key": rec.key, "class_id": rec.class_id, "image": self._image_path(rec),
                               "bbox": rec.bbox, "captions": self._all_captions(rec)}
        if rec.bbox is not None and out["image"] is not None:
            from PIL import Image

            with Image.open(out["image"]) as im:
                out["crop_box"] = _images.bbox_crop_box(rec.bbox, *im.size)
                out["mode"] = im.mode
        return out

    def __getitem__(self, index: int) -> Dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} items")
        index %= n
        for attempt in range(n):
            i = (index + attempt) % n
            try:
                return self._item(i)
            except (DatasetError, OSError, UnicodeDecodeError) as e:
                if self.on_error == "raise":
                    raise
                self.skipped.append(str(e))
                if not self._warned:
                    warnings.warn(f"{self.dataset_name}: skipping unreadable item {i} ({e}); further skips are "
                                  "counted in .skipped without warning", stacklevel=2)
                    self._warned = True
        raise DatasetError(f"{self.root}: every item failed to load; first error: {self.skipped[0]}")

    # -- items ------------------------------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng([int(self.seed), self.epoch, index])
        return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,)).item()))

    def _read_t7(self, rec: Record) -> Dict[str, Any]:
        from ..convert.torch7 import read_torch7
        from ..errors import CheckpointError

        try:
            d = read_torch7(rec.t7)
            char = np.asarray(d["char"], dtype=np.int64)
            return {"char": char, "img": str(d["img"]), "txt": np.asarray(d["txt"], dtype=np.float32),
                    "captions": [decode_reed_chars(char[:, j]) for j in range(char.shape[1])]}
        except FileNotFoundError as e:
            raise DatasetFileNotFoundError(f"{rec.t7}: Torch7 file missing") from e
        except (CheckpointError, KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{rec.t7}: not one of Reed's {{char, img, txt}} tables ({e})") from e

    def _read_caption_file(self, path: Path) -> List[str]:
        try:
            text = path.read_bytes().decode(self.encoding)
        except FileNotFoundError as e:
            raise DatasetFileNotFoundError(f"{path}: caption file missing") from e
        except UnicodeDecodeError as e:
            raise DatasetError(f"{path}: caption file is not {self.encoding} ({e}); pass encoding=... (e.g. "
                               "'latin-1'), or on_error='skip'") from e
        return [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]

    def _all_captions(self, rec: Record) -> List[str]:
        if rec.captions is not None:
            return list(rec.captions)
        if rec.caption_file is not None:
            return self._read_caption_file(rec.caption_file)
        if rec.t7 is not None:
            return self._read_t7(rec)["captions"]
        if self.data.layout == "hdf5":
            return [self._hdf5_example(rec)["txt"]]
        return []

    def _image_path(self, rec: Record) -> Optional[Path]:
        if rec.image is not None:
            return rec.image
        rel = rec.extra.get("img")
        if rel is None and rec.t7 is not None:
            rel = self._read_t7(rec)["img"]
            rec.extra["img"] = rel
        if rel is None:
            return None
        roots = [self.image_root] if self.image_root is not None else self._image_root_candidates()
        for r in roots:
            if (r / rel).is_file():
                if self.image_root is None:
                    self.image_root = r  # the same root serves every record
                return r / rel
        raise DatasetFileNotFoundError(f"{rel}: image not found under {', '.join(map(str, roots))}; pass "
                                       "image_root= (the folder the t7 'img' paths are relative to)")

    def _hdf5_example(self, rec: Record) -> Dict[str, Any]:
        from ._layouts import _h5py

        if self._h5 is None or self._h5_pid != os.getpid():  # h5py handles do not survive fork into workers
            self._h5 = _h5py().File(self.data.hdf5_file, "r")
            self._h5_pid = os.getpid()
        ex = self._h5[rec.extra["group"]][rec.extra["name"]]
        txt = ex["txt"][()]
        txt = txt.decode("utf-8") if isinstance(txt, bytes) else str(txt)
        return {"img": bytes(np.array(ex["img"])), "txt": txt.rstrip("\n"),
                "embedding": np.asarray(ex["embeddings"], dtype=np.float32)}

    def _embedding_table(self) -> Optional[np.ndarray]:
        if self._embeddings is None and self.data.embeddings_file is not None:
            arr = np.asarray(load_metadata_pickle(self.data.embeddings_file), dtype=np.float32)
            if arr.ndim != 3 or arr.shape[0] != len(self.data.records):
                raise DatasetError(f"{self.data.embeddings_file}: embeddings of shape {arr.shape}, expected "
                                   f"({len(self.data.records)}, captions, dim)")
            self._embeddings = arr
        return self._embeddings

    def _ids(self, rec: Record, k: int, text: Optional[str], rng: np.random.Generator) -> Optional[List[int]]:
        if self.tokenizer is not None and text is not None:
            vocab = getattr(self.tokenizer, "vocab", None)
            if vocab is not None and hasattr(vocab, "word_to_index"):
                ids = [i for i in map(vocab.word_to_index, _tokens(text)) if i is not None]
            else:
                ids = list(self.tokenizer.encode(text))
        elif rec.caption_ids is not None:
            ids = list(rec.caption_ids[k])
        else:
            return None
        if len(ids) > self.words_num:  # AttnGAN get_caption: a random ordered subset, not a truncation
            ids = [ids[j] for j in np.sort(rng.permutation(len(ids))[: self.words_num])]
        return ids

    def _item(self, i: int) -> Dict[str, Any]:
        if self.captions == "all":
            ri, k = self._pairs[i]
        else:
            ri, k = i, None
        rec = self.records[ri]
        rng = self._rng(i)
        t7 = self._read_t7(rec) if rec.t7 is not None else None
        h5 = self._hdf5_example(rec) if self.data.layout == "hdf5" else None
        if t7 is not None:
            texts = t7["captions"]
        elif h5 is not None:
            texts = [h5["txt"]]
        else:
            texts = self._all_captions(rec)
        if rec.captions is None and rec.caption_file is not None and self.data.layout == "attngan":
            texts = [t for t in texts if _tokens(t)][: self.data.captions_per_image]  # AttnGAN load_captions
        n = len(rec.caption_ids) if rec.caption_ids is not None else len(texts)
        if n == 0:
            raise DatasetError(f"{rec.caption_file or rec.key}: no caption")
        if k is None:
            k = int(rng.integers(0, n)) if self.captions == "random" else int(self.captions)
        if k >= n:
            raise IndexError(f"caption index {k} out of range: {rec.key} has {n} captions")
        text = texts[k] if k < len(texts) else None
        item: Dict[str, Any] = {"index": ri, "key": rec.key, "class_id": rec.class_id, "caption_index": k}
        if text is not None:
            item["caption"] = text
        ids = self._ids(rec, k, text, rng)
        if ids is not None:
            padded = torch.zeros(self.words_num, dtype=torch.long)
            padded[: len(ids)] = torch.tensor(ids, dtype=torch.long)
            item["ids"], item["length"] = padded, len(ids)
        self._add_extras(item, rec, k, t7, h5)
        img_src = h5["img"] if h5 is not None else self._image_path(rec) if (rec.image or rec.t7 or
                                                                               rec.extra.get("img")) else None
        if img_src is not None:
            img = _images.load_rgb(img_src, what=f"{self.data.hdf5_file}:{rec.key}" if h5 is not None else None)
            if self.bbox_crop and rec.bbox is not None:
                img = img.crop(_images.bbox_crop_box(rec.bbox, *img.size))
            if self.transform is not None:
                item["image"] = self.transform(img)
            else:
                outs = _images.preprocess(img, self.image_sizes, resize=self.resize,
                                          rng=rng if self.augment else None)
                tensors = [_images.to_tensor(o) for o in outs]
                item["image"] = tensors[int(np.argmax(self.image_sizes))]
                if len(tensors) > 1:
                    item["images"] = tensors
        return item

    def _add_extras(self, item: Dict[str, Any], rec: Record, k: int, t7: Optional[Dict[str, Any]],
                    h5: Optional[Dict[str, Any]]) -> None:
        if not self.use_embeddings:
            pass
        elif t7 is not None:
            item["embedding"] = torch.from_numpy(t7["txt"][k].copy())
        elif h5 is not None:
            item["embedding"] = torch.from_numpy(h5["embedding"])
        else:
            table = self._embedding_table()
            if table is not None:
                item["embedding"] = torch.from_numpy(table[rec.row, k].copy())
        if t7 is not None:
            item["char_ids"] = torch.from_numpy(t7["char"][:, k].copy())
        if self.data.layout == "cvpr2016":
            feats, chars = self._class_tensors(rec)
            item["image_features"] = feats[rec.row].clone()  # (1024, 10): GoogLeNet features of 10 crops
            item["char_ids"] = chars[rec.row][:, k].long()

    def _class_tensors(self, rec: Record) -> Tuple[torch.Tensor, torch.Tensor]:
        from ..convert.torch7 import read_torch7

        cls = rec.extra["class_name"]
        cache = self.__dict__.setdefault("_t7_cache", {})
        if cls not in cache:
            feats, chars = read_torch7(self.data.class_tensors[cls]), read_torch7(rec.extra["char_t7"])
            if not (isinstance(feats, torch.Tensor) and isinstance(chars, torch.Tensor)) or len(feats) != len(chars):
                raise DatasetError(f"{self.data.class_tensors[cls]}: expected (N, 1024, 10) features and a matching "
                                   f"(N, 201, 10) {rec.extra['char_t7']}")
            cache.clear()  # one class at a time: the files are large
            cache[cls] = (feats, chars)
            self._match_rows(cls, chars)
        return cache[cls]

    def _match_rows(self, cls: str, chars: torch.Tensor) -> None:
        """Rows of a class tensor follow Reed's image order, which the folder does not record: match each caption
        file to the row whose char ids decode to its captions (sorted order where nothing matches)."""
        from ._layouts import REED_ALPHABET

        def norm(text: str) -> str:
            return "".join(c if c in REED_ALPHABET else "\ufffd" for c in text.lower())[: chars.shape[1]]

        decoded = {tuple(decode_reed_chars(chars[r][:, j]) for j in range(chars.shape[2])): r
                   for r in range(chars.shape[0])}
        for rec in self.records:
            if rec.extra.get("class_name") == cls and not rec.extra.get("row_matched"):
                caps = tuple(norm(c) for c in self._read_caption_file(rec.caption_file))[: chars.shape[2]]
                rec.row = decoded.get(caps, rec.row)
                rec.extra["row_matched"] = True
