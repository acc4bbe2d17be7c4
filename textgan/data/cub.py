"""CUB-200-2011 with Reed's captions (Wah et al. 2011; Reed et al., CVPR 2016), in every layout the original
text-to-image repositories use.

Layouts (``layout=``, detected from the folder when omitted): ``"attngan"`` (``data/birds`` of AttnGAN, DM-GAN,
DF-GAN, SSA-GAN, SEMA, StackGAN: ``{train,test}/filenames.pickle``, ``class_info.pickle``,
``char-CNN-RNN-embeddings.pickle``, ``text/`` or ``text_c10/``, ``captions.pickle``, ``CUB_200_2011/``),
``"icml2016"`` (Reed's ``cub_icml``), ``"cvpr2016"`` (Reed's ``cvpr2016_cub``), ``"hdf5"`` (aelnouby's
``birds.hdf5``). See :mod:`textgan.data._layouts` for the files each reads. Licences: CUB images are for
non-commercial research (Caltech); Reed's captions and metadata come from the authors' repositories.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from ..errors import DatasetError
from . import _layouts
from ._base import CaptionedImageDataset

__all__ = ["CUB200", "detect_layout"]


def _hdf5_in(root: Path, name: str) -> Optional[Path]:
    if root.is_file() and root.suffix in (".hdf5", ".h5"):
        return root
    for cand in (root / f"{name}.hdf5", root / "hdf5" / f"{name}.hdf5"):
        if cand.is_file():
            return cand
    return None


def detect_layout(root: Path, hdf5_name: str = "birds") -> str:
    """The layout of a CUB or flowers folder (module docstring), or a DatasetError saying what was looked for."""
    root = Path(root)
    if _hdf5_in(root, hdf5_name) is not None:
        return "hdf5"
    if root.is_dir():
        if (root / "train" / "filenames.pickle").is_file() or (root / "test" / "filenames.pickle").is_file():
            return "attngan"
        if (root / "manifest.txt").is_file() and (root / "images").is_dir():
            return "cvpr2016"
        if (root / "trainvalclasses.txt").is_file() or (root / "testclasses.txt").is_file():
            return "icml2016"
    raise DatasetError(f"{root}: unknown dataset layout: expected train/filenames.pickle (AttnGAN/DF-GAN/StackGAN), "
                       f"trainvalclasses.txt with <class>/*.t7 (Reed icml2016), manifest.txt with images/*.t7 "
                       f"(Reed cvpr2016) or {hdf5_name}.hdf5; pass layout= explicitly if the folder is elsewhere")


class CUB200(CaptionedImageDataset):
    """CUB-200-2011 birds with 10 captions per image.

    Args:
        root: the dataset folder (e.g. AttnGAN's ``data/birds``, Reed's ``cub_icml``) or ``birds.hdf5``.
        split: ``"train"`` (the 150 train+val classes, 8,855 images) or ``"test"`` (50 classes, 2,933); Reed's
            layouts also take ``"reed_train"`` (100) and ``"val"`` (50). The original files' order is kept.
        layout: ``"attngan"``, ``"icml2016"``, ``"cvpr2016"`` or ``"hdf5"``; detected when ``None``.
        image_size: one size or a pyramid, e.g. ``(64, 128, 256)`` (default 256; 64 for Reed's layouts).
        resize: ``"shorter"`` (AttnGAN/DF-GAN ``Resize(int(size*76/64))``, the default), ``"square"``
            (StackGAN-Pytorch, GAN-INT-CLS) or ``"none"``.
        bbox_crop: crop to the enlarged bounding box first (default: on for ``"attngan"``, as all those repos do).
        augment: random crop and horizontal flip (the originals use them for both splits); off = centre crop.
        captions: ``"random"`` (one random caption per image per access; default for training splits), ``"all"``
            (one item per image x caption; default for test) or a fixed caption index.
        words_num: AttnGAN's ``WORDS_NUM``: longer captions become a random ordered subset of this many ids.
        tokenizer: a :class:`~textgan.text.Tokenizer` to make ids from the caption text (default: the ids of
            ``captions.pickle`` when the layout has one).
        transform: any callable applied to the (bbox-cropped) RGB PIL image instead of the built-in
            resize/crop/flip/normalise; its result is ``item["image"]``.
        seed: make every random draw a function of ``(seed, epoch, index)`` (see :meth:`set_epoch`); default: drawn
            from torch's RNG, as the originals' ``numpy.random`` in seeded workers.
        on_error: ``"raise"`` (default) or ``"skip"`` (missing/corrupt files are left out with one warning; their
            messages are collected in ``.skipped``).
        encoding: caption files' encoding (UTF-8, as released).
        image_root: where the images are for Reed's layouts (default: looked up next to ``root``).
        embeddings: return the char-CNN-RNN ``embedding`` where the layout has one.
        captions_pickle: a ``captions.pickle`` other than ``root/captions.pickle`` / ``captions_DAMSM.pickle``.

    Items are dicts: ``image`` (3, S, S) float in [-1, 1] (``images``: the pyramid, small to large as given),
    ``caption`` (str), ``caption_index``, ``ids`` (LongTensor ``words_num``, zero-padded) and ``length`` when ids
    exist, ``embedding`` (1024,) where the layout has it, ``char_ids`` (201,) for Reed's layouts,
    ``image_features`` (1024, 10) for cvpr2016, ``class_id``, ``key``, ``index``.
    """

    dataset_name = "cub"
    _DEFAULTS = {"attngan": (256, "shorter", True), "icml2016": (64, "square", False),
                 "cvpr2016": (64, "square", False), "hdf5": (64, "square", False)}

    @classmethod
    def detect_layout(cls, root: Path) -> str:
        return detect_layout(root, "birds")

    def _read(self, layout: str, split: str, bbox_crop: Optional[bool]) -> _layouts.LayoutData:
        if layout == "attngan":
            return _layouts.read_pickles(self.root, split, "cub", captions_pickle=self._captions_pickle,
                                         bbox=bbox_crop is not False)
        if layout == "icml2016":
            return _layouts.read_icml2016(self.root, split)
        if layout == "cvpr2016":
            return _layouts.read_cvpr2016(self.root, split)
        if layout == "hdf5":
            path = _hdf5_in(self.root, "birds")
            if path is None:
                raise DatasetError(f"{self.root}: no birds.hdf5 here")
            return _layouts.read_hdf5(path, split)
        raise ValueError(f"layout must be one of {tuple(self._DEFAULTS)}, got {layout!r}")

    def _image_root_candidates(self) -> List[Path]:
        roots = [self.root / "CUB_200_2011" / "images", self.root.parent / "CUB_200_2011" / "images"]
        if self.root.parent.is_dir():
            roots += sorted(p / "CUB_200_2011" / "images" for p in self.root.parent.iterdir() if p.is_dir())
        return [r for r in roots if r.is_dir()]
