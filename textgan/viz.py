"""Figures: AttnGAN's word-attention maps drawn over the generated image, one tile per word (Pillow only).

The layout follows the AttnGAN paper's figures: the image, then for every word the image overlaid with
where that word was attended, with the word written above its tile. As in the authors' figure code, the
maps of one caption share one min-max normalisation (so tiles compare across words), are smoothly
up-sampled to the image size, and are pasted over the image at a constant opacity.

>>> from textgan.viz import attention_figure
>>> pipe = textgan.load_pretrained("attngan-birds")                          # doctest: +SKIP
>>> fig = attention_figure(pipe, "a small red bird", generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
>>> fig.save("attention.png")                                                # doctest: +SKIP
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["render_attention", "attention_figure"]


def _to_uint8_image(image) -> np.ndarray:
    from PIL import Image

    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    t = torch.as_tensor(image).detach().float().cpu()
    if t.dim() == 4:
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"image must be (3, H, W) in [-1, 1] or a PIL image, got shape {tuple(t.shape)}")
    t = t.expand(3, -1, -1)
    # the authors save images as uint8((x + 1) * 127.5)
    return ((t.clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy().astype(np.uint8)


def render_attention(image, attention: torch.Tensor, words: Sequence[str], *, opacity: float = 0.82,
                     label_height: int = 14, spacing: int = 2, background=(0, 0, 0)):
    """One row: the image, then the image under each word's attention map, labelled with the word.

    Args:
        image: (3, H, W) tensor in [-1, 1] (a generator output) or a PIL image.
        attention: (L, h, w) maps of one caption (a generator's ``att_maps[k][i]``), any resolution; at
            least ``len(words)`` of them (padding maps beyond the words are ignored).
        words: the caption's words, in order.
        opacity: weight of the attention map over the image (the authors paste at 210/255 ≈ 0.82).
        label_height, spacing, background: layout (pixels, pixels, RGB).

    Returns a ``PIL.Image.Image`` of size ``((1 + len(words))·(W + spacing), label_height + H)``.
    """
    from PIL import Image, ImageDraw, ImageFont

    img = _to_uint8_image(image)
    height, width = img.shape[:2]
    att = torch.as_tensor(attention).detach().float().cpu()
    if att.dim() == 4 and att.shape[0] == 1:
        att = att[0]
    if att.dim() != 3:
        raise ValueError(f"attention must be (words, h, w), got shape {tuple(att.shape)}")
    words = list(words)
    if not words:
        raise ValueError("words: give at least one word to draw")
    if att.shape[0] < len(words):
        raise ValueError(f"attention has {att.shape[0]} maps for {len(words)} words")
    maps = F.interpolate(att[None, : len(words)], size=(height, width), mode="bicubic", align_corners=False)[0]
    lo, hi = float(maps.min()), float(maps.max())
    maps = (maps - lo) / (hi - lo) if hi > lo else torch.zeros_like(maps)
    tiles = [img] + [np.clip(img * (1 - opacity) + 255.0 * opacity * m.clamp(0, 1).numpy()[..., None], 0, 255)
                     .astype(np.uint8) for m in maps]
    canvas = Image.new("RGB", (len(tiles) * (width + spacing), label_height + height), background)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for k, tile in enumerate(tiles):
        x = k * (width + spacing)
        canvas.paste(Image.fromarray(tile), (x, label_height))
        label = "image" if k == 0 else f"{k - 1}:{words[k - 1]}"
        draw.text((x + 1, 1), label[: max(1, width // 6)], fill=(255, 255, 255), font=font)
    return canvas


def attention_figure(pipe, prompt: str, *, generator: Optional[torch.Generator] = None, stage: int = -1,
                     truncation=None):
    """Generate one image for ``prompt`` with an AttnGAN pipeline and render its word attention.

    The image is the one ``pipe(prompt, generator=...)`` makes with the same seed (same noise draws).

    Args:
        pipe: a :class:`textgan.pipelines.TextToImagePipeline` whose generator returns attention maps
            (AttnGAN).
        stage: which next stage's maps to draw (``-1``: the last, drawn over the final image).
    """
    ids, lengths = pipe.tokenizer([prompt])
    words = pipe.tokenizer.vocab.decode(ids[0, : int(lengths[0])].tolist())
    device, dtype = pipe.device, pipe.dtype
    with torch.inference_mode():
        w, sent = pipe.text_encoder(ids.to(next(pipe.text_encoder.parameters()).device), lengths)
        noise, extra = pipe._draw(1, generator, truncation)  # the pipeline's own per-image draws
        mask = torch.zeros(1, w.shape[-1], dtype=torch.bool, device=device)
        images, maps = pipe.generator(noise.to(device, dtype), sent.to(device, dtype), w.to(device, dtype), mask,
                                      extra.to(device, dtype))[:2]
    if not maps:
        raise ValueError("this generator returned no attention maps (a single-stage AttnGAN has none)")
    return render_attention(images[-1][0], maps[stage][0], words)
