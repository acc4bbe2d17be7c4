"""COCO 2014 captions (Lin et al. 2014; Chen et al. 2015) in the layouts of the original repositories.

Layouts: ``"attngan"`` (``data/coco`` of AttnGAN, DM-GAN, DF-GAN, SEMA, StackGAN-Pytorch: ``{train,test}/
filenames.pickle``, ``text/<key>.txt``, ``captions.pickle``; images flat in ``images/`` or in
``images/train2014`` / ``images/val2014``; StackGAN-Pytorch's ``train/char-CNN-RNN-embeddings.pickle``) and
``"official"`` (``annotations/captions_{train,val}2014.json`` with ``train2014/`` / ``val2014/``). Split
``"train"`` = train2014, ``"test"`` (alias ``"val"``) = the val2014 images of ``test/filenames.pickle`` (40,470
in AttnGAN's metadata; all 40,504 in the official layout). Class ids are ``arange(N)`` as in AttnGAN. Licences:
COCO annotations CC BY 4.0; images under their Flickr licences.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from ..errors import DatasetError, DatasetFileNotFoundError
from . import _layouts
from ._base import CaptionedImageDataset

__all__ = ["COCO2014", "load_val_captions_t7"]


class COCO2014(CaptionedImageDataset):
    """COCO 2014 with 5 captions per image (AttnGAN keeps the first 5 valid ones; the official layout keeps all);
    arguments and items as :class:`~textgan.data.CUB200` (no bounding boxes, no class split)."""

    dataset_name = "coco"
    _DEFAULTS = {"attngan": (256, "shorter", False), "official": (256, "shorter", False)}

    @classmethod
    def detect_layout(cls, root: Path) -> str:
        if (root / "train" / "filenames.pickle").is_file() or (root / "test" / "filenames.pickle").is_file():
            return "attngan"
        if (root / "annotations").is_dir():
            return "official"
        raise DatasetError(f"{root}: unknown COCO layout: expected train/filenames.pickle (AttnGAN) or "
                           "annotations/captions_train2014.json (official); pass layout=")

    def _read(self, layout: str, split: str, bbox_crop: Optional[bool]) -> _layouts.LayoutData:
        if layout == "attngan":
            return _layouts.read_pickles(self.root, split, "coco", captions_pickle=self._captions_pickle, bbox=False)
        if layout == "official":
            return _layouts.read_coco_json(self.root, split)
        raise ValueError(f"layout must be one of {tuple(self._DEFAULTS)}, got {layout!r}")


def load_val_captions_t7(path: Union[str, Path]) -> Tuple[List[str], np.ndarray]:
    """StackGAN-Pytorch's COCO evaluation captions ``test/val_captions.t7``: ``(raw_txt, fea_txt)`` with
    ``fea_txt`` stacked to (N, 1024) float32.

    Raises:
        DatasetFileNotFoundError / DatasetError: missing, or not a ``{raw_txt, fea_txt}`` Torch7 table.
    """
    from ..convert.torch7 import read_torch7
    from ..errors import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{path}: val_captions.t7 not found")
    try:
        t = read_torch7(path)
        raw, fea = t["raw_txt"], t["fea_txt"]
        texts = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in raw]
        rows = [np.asarray(x, dtype=np.float32).reshape(1, -1) for x in fea]
        if not rows or len(rows) != len(texts):
            raise ValueError(f"{len(texts)} captions but {len(rows)} embeddings")
    except (CheckpointError, KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"{path}: not a {{raw_txt, fea_txt}} Torch7 table ({e})") from e
    return texts, np.concatenate(rows, 0)
