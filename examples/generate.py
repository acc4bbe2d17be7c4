"""Generate images from sentences with a converted DF-GAN folder (see the README's quick start).

    python examples/generate.py --model dfgan-birds "a small red bird with black wings" -o samples/
"""
import argparse
from pathlib import Path

import torch

import textgan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompts", nargs="+")
    parser.add_argument("--model", required=True, help="a folder made by `textgan convert`, a tag or hf-hub:org/name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", "--num-images", type=int, default=4)
    parser.add_argument("-o", "--output", default="samples")
    args = parser.parse_args()

    pipe = textgan.load_pretrained(args.model).optimize()
    out = pipe(args.prompts, num_images_per_prompt=args.num_images, generator=torch.Generator().manual_seed(args.seed))
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, prompt) in enumerate(zip(out.images, out.prompts)):
        image.save(folder / f"{i:03d}.png")
        print(folder / f"{i:03d}.png", prompt)


if __name__ == "__main__":
    main()
