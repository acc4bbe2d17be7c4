"""Oxford-102 flowers (Nilsback & Zisserman 2008) with Reed's captions, in the original repositories' layouts.

Layouts: ``"attngan"`` (StackGAN ``Data/flowers``: ``jpg/``, ``text_c10/class_%05d/``,
``{train,test}/{filenames,class_info,char-CNN-RNN-embeddings}.pickle``; a DF-GAN style ``captions_DAMSM.pickle`` is
used when present), ``"icml2016"`` (Reed's ``flowers_icml``: ``class_%05d/image_NNNNN.t7`` whose ``img`` is
``jpg/image_NNNNN.jpg``), ``"hdf5"`` (aelnouby's ``flowers.hdf5``). Split: Reed's class-disjoint 82 train+val /
20 test classes. No bounding boxes. Licence of the images: see the VGG Oxford-102 page.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from ..errors import DatasetError
from . import _layouts
from ._base import CaptionedImageDataset
from .cub import _hdf5_in, detect_layout

__all__ = ["Oxford102"]


class Oxford102(CaptionedImageDataset):
    """Oxford-102 flowers with 10 captions per image; arguments and items as :class:`~textgan.data.CUB200`
    (``bbox_crop`` does not apply)."""

    dataset_name = "flowers"
    _DEFAULTS = {"attngan": (256, "shorter", False), "icml2016": (64, "square", False),
                 "hdf5": (64, "square", False)}

    @classmethod
    def detect_layout(cls, root: Path) -> str:
        layout = detect_layout(root, "flowers")
        if layout == "cvpr2016":
            raise DatasetError(f"{root}: a cvpr2016 layout holds no flowers images here; pass a supported layout")
        return layout

    def _read(self, layout: str, split: str, bbox_crop: Optional[bool]) -> _layouts.LayoutData:
        if layout == "attngan":
            return _layouts.read_pickles(self.root, split, "flowers", captions_pickle=self._captions_pickle,
                                         bbox=False)
        if layout == "icml2016":
            return _layouts.read_icml2016(self.root, split)
        if layout == "hdf5":
            path = _hdf5_in(self.root, "flowers")
            if path is None:
                raise DatasetError(f"{self.root}: no flowers.hdf5 here")
            return _layouts.read_hdf5(path, split)
        raise ValueError(f"layout must be one of {tuple(self._DEFAULTS)}, got {layout!r}")

    def _image_root_candidates(self) -> List[Path]:
        roots = [self.root, self.root.parent]
        if self.root.parent.is_dir():
            roots += sorted(p for p in self.root.parent.iterdir() if (p / "jpg").is_dir())
        return roots
