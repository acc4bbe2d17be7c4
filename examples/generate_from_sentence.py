"""Generate images from sentences with any textgan pipeline.

    python examples/generate_from_sentence.py "a large red circle on a white background" -n 4 -o samples/
    python examples/generate_from_sentence.py --model dfgan-birds "a small red bird with black wings" -o birds/
    python examples/generate_from_sentence.py --fast          # CI: the embedded model, two prompts, one image each

Without ``--model`` it uses the small model shipped inside the package (64 px, Shapes; offline). ``--model`` takes a
pretrained tag, a folder written by ``textgan convert`` / ``save_pretrained``, or ``hf-hub:org/name``.
"""
import argparse
import tempfile
from pathlib import Path

import torch

import textgan


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompts", nargs="*", default=["a large red circle on a white background"])
    parser.add_argument("--model", default=None, help="tag, folder or hf-hub:org/name (default: the embedded model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", "--num-images", type=int, default=4, help="images per prompt")
    parser.add_argument("-o", "--output", default="samples")
    parser.add_argument("--fast", action="store_true", help="a quick run for CI (output in a temporary folder)")
    args = parser.parse_args(argv)
    if args.fast:
        args.prompts = ["a large red circle on a white background", "a small blue square on a black background"]
        args.num_images, args.output = 1, tempfile.mkdtemp(prefix="textgan-generate-")

    pipe = textgan.load_pretrained(args.model) if args.model else textgan.load_pretrained()
    out = pipe(args.prompts, num_images_per_prompt=args.num_images, generator=torch.Generator().manual_seed(args.seed),
               progress=False)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, prompt) in enumerate(zip(out.images, out.prompts)):
        image.save(folder / f"{i:03d}.png")
        print(f"{folder / f'{i:03d}.png'}  {prompt!r}")
    # the same seed gives the same images, whatever the batch size
    again = pipe(args.prompts[0], num_images_per_prompt=1, generator=torch.Generator().manual_seed(args.seed),
                 output_type="pt", progress=False).images
    first = pipe(args.prompts, num_images_per_prompt=args.num_images, output_type="pt", batch_size=1,
                 generator=torch.Generator().manual_seed(args.seed), progress=False).images[:1]
    print("seeded and batch-independent:", bool(torch.allclose(again, first, atol=1e-5)))


if __name__ == "__main__":
    main()
