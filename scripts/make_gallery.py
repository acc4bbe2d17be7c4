"""README gallery: images made by the embedded model (``textgan.load_pretrained()``, 64 px Shapes DF-GAN).

    python scripts/make_gallery.py                      # writes docs/assets/gallery.png (committed)
    python scripts/make_gallery.py -o /tmp/gallery.png  # elsewhere

One row per prompt, ``--per-prompt`` seeds per row (seed 0: images 0, 1, ...), each image judged from its pixels
by ``textgan.data.judge`` (the count of fitting images is printed). Deterministic: the same command gives the
same PNG on any CPU up to float rounding.
"""
import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import textgan  # noqa: E402
from textgan.data import judge  # noqa: E402

PROMPTS = (
    "a large red circle on a white background",
    "a small blue square on a black background",
    "a large yellow triangle on a black background",
    "a small green circle on a white background",
)


def make_gallery(prompts=PROMPTS, per_prompt: int = 6, seed: int = 0, label_width: int = 250):
    """The gallery image and how many of its images ``judge`` finds faithful to their prompt."""
    pipe = textgan.load_pretrained()
    out = pipe(list(prompts), num_images_per_prompt=per_prompt, generator=torch.Generator().manual_seed(seed),
               progress=False)
    size, pad = out.images[0].size[0], 4
    sheet = Image.new("RGB", (label_width + per_prompt * (size + pad), len(prompts) * (size + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    fitting = 0
    for row, prompt in enumerate(prompts):
        y = row * (size + pad)
        draw.text((4, y + size // 2 - 6), prompt, fill="black")
        for col in range(per_prompt):
            image = out.images[row * per_prompt + col]
            fitting += bool(judge(image, prompt)["ok"])
            sheet.paste(image, (label_width + col * (size + pad), y))
    return sheet, fitting, len(out.images)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "assets" / "gallery.png"))
    parser.add_argument("--per-prompt", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sheet, fitting, total = make_gallery(per_prompt=args.per_prompt, seed=args.seed)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, optimize=True)
    print(f"{args.output}: {total} images, {fitting} judged faithful to their prompt by textgan.data.judge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
