"""Image reading and the original repositories' preprocessing, without torchvision.

* :func:`load_rgb`: open a file (or JPEG bytes) and convert to RGB, so grayscale ``L`` and CMYK JPEGs (both occur
  in CUB and COCO) become correct RGB; a missing or truncated file raises an error naming it.
* :func:`bbox_crop_box`: the CUB bounding-box crop of StackGAN, AttnGAN, DM-GAN, DF-GAN, SSA-GAN and SEMA:
  ``r = int(max(w, h) * 0.75)``, centre ``(int((2x + w) / 2), int((2y + h) / 2))``, clipped to the image, so the
  crop is often not square.
* :func:`preprocess`: resize to ``int(size * 76 / 64)`` then crop ``size`` (random in training) and flip with
  p = 0.5, then the smaller sizes of a pyramid, then ``[-1, 1]`` tensors. ``resize="shorter"`` is AttnGAN /
  StackGAN-v2 / DM-GAN / DF-GAN (``transforms.Scale(304)``: shorter side, aspect kept); ``resize="square"`` is
  StackGAN-Pytorch and GAN-INT-CLS (a 76/64 square). Sizes and rounding follow torchvision's PIL code paths
  (``int(size * long / short)``, bilinear, centre crop offsets rounded).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from ..errors import DatasetError, DatasetFileNotFoundError

__all__ = ["load_rgb", "bbox_crop_box", "resize_shorter", "crop_box", "preprocess", "to_tensor", "RESIZES"]

RESIZES = ("shorter", "square", "none")


def load_rgb(source: Union[str, os.PathLike, bytes], *, what: Optional[str] = None) -> Image.Image:
    """Decode an image fully and convert it to RGB.

    Raises:
        DatasetFileNotFoundError: the file does not exist.
        DatasetError: the file is truncated or not an image (the message names it).
    """
    name = what or (os.fspath(source) if not isinstance(source, bytes) else "<image bytes>")
    try:
        if isinstance(source, bytes):
            img = Image.open(io.BytesIO(source))
        else:  # from memory: PIL skips chunks with read(claimed length), which on a file reserves that much
            with open(source, "rb") as f:
                img = Image.open(io.BytesIO(f.read()))
        with img:
            img.load()  # decode now: a truncated JPEG raises here, not later in a worker
            return img.convert("RGB")
    except FileNotFoundError as e:
        raise DatasetFileNotFoundError(f"{name}: image not found; check the dataset folder, or pass "
                                       "on_error='skip' to leave such items out") from e
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{name}: unreadable or truncated image ({e}); download the dataset again, or pass "
                           "on_error='skip' to leave such items out") from e


def bbox_crop_box(bbox: Sequence[float], width: int, height: int) -> Tuple[int, int, int, int]:
    """The original CUB crop ``(x1, y1, x2, y2)`` of bounding box ``(x, y, w, h)`` in a ``width x height`` image."""
    x, y, w, h = (int(v) for v in bbox)  # the loaders do bounding_boxes.astype(int) first
    r = int(np.maximum(w, h) * 0.75)
    cx = int((2 * x + w) / 2)
    cy = int((2 * y + h) / 2)
    return max(0, cx - r), max(0, cy - r), min(width, cx + r), min(height, cy + r)


def resize_shorter(img: Image.Image, size: int) -> Image.Image:
    """torchvision ``Resize(size)`` / ``Scale(size)`` on a PIL image: shorter side ``size``, aspect kept, bilinear."""
    w, h = img.size
    if (w <= h and w == size) or (h <= w and h == size):
        return img
    if w < h:
        ow, oh = size, int(size * h / w)
    else:
        oh, ow = size, int(size * w / h)
    return img.resize((ow, oh), Image.BILINEAR)


def crop_box(width: int, height: int, size: int, rng: Optional[np.random.Generator]) -> Tuple[int, int, int, int]:
    """A ``size`` square inside the image: uniform like ``RandomCrop`` with ``rng``, else ``CenterCrop``'s."""
    if width < size or height < size:
        raise ValueError(f"cannot crop {size}x{size} out of a {width}x{height} image")
    if rng is None:
        top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    else:
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    return left, top, left + size, top + size


def to_tensor(img: Image.Image) -> torch.Tensor:
    """``ToTensor`` then ``Normalize((0.5,) * 3, (0.5,) * 3)``: a float (3, H, W) tensor in [-1, 1]."""
    # numpy, not torch: per-item torch ops in the main process wake every intra-op thread (8x slower with
    # num_workers=0 on a busy 2-core machine); float32 /255, -0.5, /0.5 round exactly as torchvision's do
    arr = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32)
    arr /= np.float32(255.0)
    arr -= np.float32(0.5)
    arr /= np.float32(0.5)
    return torch.from_numpy(np.ascontiguousarray(arr))


def preprocess(img: Image.Image, sizes: Sequence[int], *, resize: str = "shorter",
               rng: Optional[np.random.Generator] = None, flip: Optional[bool] = None) -> List[Image.Image]:
    """The original resize → crop → flip → pyramid of one (already bbox-cropped) RGB image.

    Args:
        img: the RGB image.
        sizes: output sizes, e.g. ``(64, 128, 256)``; the largest is cropped, the others are resized from it.
        resize: ``"shorter"``, ``"square"`` or ``"none"`` (resize straight to each size, no crop: evaluation of
            already square images).
        rng: random crop and flip from this generator; ``None`` = centre crop, no flip.
        flip: force the flip decision (``None`` = p 0.5 from ``rng``).

    Returns:
        One PIL image per entry of ``sizes``, in that order.
    """
    if resize not in RESIZES:
        raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
    sizes = [int(s) for s in sizes]
    base = max(sizes)
    if resize == "none":
        return [img.resize((s, s), Image.BILINEAR) for s in sizes]
    load = int(base * 76 / 64)
    scaled = resize_shorter(img, load) if resize == "shorter" else img.resize((load, load), Image.BILINEAR)
    out = scaled.crop(crop_box(*scaled.size, base, rng))
    if flip is None:
        flip = rng is not None and bool(rng.random() < 0.5)
    if flip:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    return [out if s == base else resize_shorter(out, s) for s in sizes]


def exists(path: Path) -> bool:
    """``path.is_file()``, for the loaders' construction-time checks."""
    return path.is_file()
