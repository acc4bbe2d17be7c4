"""Image decoding and the resize to 299×299 of each protocol (docs/metrics.md).

Every image becomes a float32 ``(3, H, W)`` tensor on the protocol's scale before the resize:
PIL images and uint8 arrays are converted with ``convert("RGB")`` (grayscale is replicated into three
channels, CMYK and palette images are converted, alpha is dropped, as pytorch-fid and clean-fid read files);
float tensors are taken to be in [0, 1] (pass ``value_range=(-1, 1)`` for generator output).

* ``tf`` (pytorch-fid): [0, 1] floats, ``F.interpolate(299, bilinear, align_corners=False)`` per image,
  then ``2x − 1``.
* ``clean`` (clean-fid ``mode="clean"``): each channel of the uint8 (or [0, 255] float) image resized as a
  PIL ``"F"`` image with bicubic filtering, clipped to [0, 255], then ``(x − 128) / 128``.
* ``legacy-t2i`` (DF-GAN / DM-GAN / SEMA eval): files are resized with PIL bilinear on the uint8 image (DM-GAN
  and SEMA's ``transforms.Resize((299, 299))`` on PIL images), tensors with ``F.interpolate(bilinear,
  align_corners=False)`` (DF-GAN's tensor ``Resize``; it upsamples 256→299, so antialiasing does not
  apply), then torchvision's ``transform_input`` formula ``x·std/0.5 + (mean − 0.5)/0.5``.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from ..errors import MetricInputError

__all__ = ["IMAGE_EXTENSIONS", "list_images", "clean_resize", "to_float_image", "preprocess", "PROTOCOLS"]

# pytorch-fid's list (fid_score.py) plus upper-case spellings, which clean-fid also accepts.
IMAGE_EXTENSIONS = {"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp"}
PROTOCOLS = ("tf", "legacy-t2i", "clean")
SIZE = 299
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

ImageLike = Union[Image.Image, np.ndarray, torch.Tensor]


def list_images(folder: Union[str, Path], recursive: bool = False) -> List[Path]:
    """The image files of ``folder`` in sorted order (pytorch-fid's extensions, any case)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such image folder (pass a folder of images, a .npz statistics "
                                "file, a tensor or an iterable of images)")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix[1:].lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"{folder}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found"
                                + ("" if recursive else "; pass recursive=True to search sub-folders"))
    return files


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as e:
        raise MetricInputError(f"{path}: cannot be read as an image ({e}); remove it from the folder") from e


def _uint8_rgb(image: ImageLike) -> np.ndarray:
    """``(H, W, 3)`` uint8 from a PIL image or an integer array (gray, RGB, RGBA, HWC or CHW)."""
    if isinstance(image, Image.Image):
        return np.array(image.convert("RGB"))
    arr = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)  # grayscale: replicated, as PIL convert("RGB")
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise MetricInputError(f"an image must be (H, W), (H, W, 1|3|4) or (1|3|4, H, W), got shape {arr.shape}")
    return np.ascontiguousarray(arr[..., :3])


def _is_float(image: ImageLike) -> bool:
    if isinstance(image, torch.Tensor):
        return torch.is_floating_point(image)
    return isinstance(image, np.ndarray) and np.issubdtype(image.dtype, np.floating)


def to_float_image(image: ImageLike, value_range: Tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """``(3, H, W)`` float32 in [0, 1]: uint8 / PIL images ``/ 255`` (ToTensor), float tensors rescaled from
    ``value_range``; one-channel float images are replicated to three."""
    if not _is_float(image):
        arr = _uint8_rgb(image)
        return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)
    t = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.asarray(image))
    if t.dim() == 2:
        t = t[None]
    if t.dim() == 3 and t.shape[0] not in (1, 3) and t.shape[-1] in (1, 3):
        t = t.permute(2, 0, 1)  # (H, W, C) float arrays, e.g. a pipeline's output_type="np"
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise MetricInputError(f"a float image must be (3, H, W) or (1, H, W), got shape {tuple(t.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    lo, hi = value_range
    t = t.float()
    return (t - lo) / (hi - lo) if (lo, hi) != (0.0, 1.0) else t


def clean_resize(image: np.ndarray, size: Tuple[int, int] = (SIZE, SIZE)) -> np.ndarray:
    """clean-fid's ``make_resizer("PIL", False, "bicubic", size)``: ``(H, W, 3)`` [0, 255] → float32
    ``(h, w, 3)``, each channel resized as a PIL float image, clipped to [0, 255]."""
    out = []
    for c in range(3):
        channel = Image.fromarray(np.asarray(image[:, :, c], dtype=np.float32), mode="F")
        channel = channel.resize(size, resample=Image.BICUBIC)
        out.append(np.asarray(channel).clip(0, 255).reshape(size[1], size[0], 1))
    return np.concatenate(out, axis=2).astype(np.float32)


def _normalise_legacy(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(_IMAGENET_MEAN, dtype=x.dtype).view(-1, 3, 1, 1)
    std = torch.tensor(_IMAGENET_STD, dtype=x.dtype).view(-1, 3, 1, 1)
    return x * (std / 0.5) + (mean - 0.5) / 0.5


def _bilinear(x: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
    if x.shape[-2:] == (SIZE, SIZE):
        return x
    return F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=align_corners)


def preprocess(images: Sequence[ImageLike], protocol: str,
               value_range: Tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """A list of images (any sizes) → the ``(B, 3, 299, 299)`` network input of ``protocol``."""
    if protocol == "clean":
        arrays = []
        for im in images:
            if _is_float(im):
                arr = to_float_image(im, value_range).mul(255).permute(1, 2, 0).numpy()
            else:
                arr = _uint8_rgb(im)
            arrays.append(torch.from_numpy(clean_resize(arr)))
        x = torch.stack(arrays).permute(0, 3, 1, 2)
        return (x - 128) / 128
    if protocol == "tf":
        return torch.cat([_bilinear(to_float_image(im, value_range)[None]) for im in images]) * 2 - 1
    if protocol == "legacy-t2i":
        out = []
        for im in images:
            if not _is_float(im):
                pil = Image.fromarray(_uint8_rgb(im))
                if pil.size != (SIZE, SIZE):
                    pil = pil.resize((SIZE, SIZE), resample=Image.BILINEAR)
                out.append(to_float_image(pil)[None])
            else:
                out.append(_bilinear(to_float_image(im, value_range)[None]))
        return _normalise_legacy(torch.cat(out))
    raise MetricInputError(f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, got {protocol!r}")


def load_batch(paths: Sequence[Path]) -> List[Image.Image]:
    """The images at ``paths`` as RGB PIL images (errors name the file)."""
    return [_open(Path(p)) for p in paths]
