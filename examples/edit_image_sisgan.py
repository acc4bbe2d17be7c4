"""Edit an image so that it matches a sentence, with SISGAN (``textgan.TextGuidedEditPipeline``).

    python examples/edit_image_sisgan.py --model sisgan-birds bird.jpg "this bird has a red head and black wings"
    python examples/edit_image_sisgan.py --fast       # CI: a tiny random-weight pipeline, saved and reloaded

``--model`` is a folder written by ``textgan convert sisgan ...`` (or its tag once on the Hub). The edited image
keeps the input's size: ``resize_mode="crop"`` (the original test.py) edits the centre crop the model saw and pastes
it back; ``"stretch"`` edits the whole image resized to the model's 64 px.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import textgan
from textgan.data import Shapes
from textgan.text import WordVectors


def tiny_pipeline() -> textgan.TextGuidedEditPipeline:
    """A SISGAN pipeline with random weights and a 5-d toy vocabulary (for a quick, offline run)."""
    words = ("a this bird flower has red yellow blue head petals and black wings large circle on white "
             "background").split()
    vectors = WordVectors(words, np.random.default_rng(0).standard_normal((len(words), 5)).astype(np.float32))
    torch.manual_seed(0)
    encoder = textgan.sisgan(part="text_encoder", embed_dim=5, hidden_dim=6)
    generator = textgan.sisgan(channels=(8, 16, 32), vgg_widths=(4, 8, 16, 32), text_dim=6, cond_dim=4, num_residual=2)
    return textgan.TextGuidedEditPipeline(vectors, encoder, generator, image_size=64)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", help="the image to edit (default: a Shapes image)")
    parser.add_argument("sentences", nargs="*", default=["this bird has a red head and black wings"])
    parser.add_argument("--model", help="a folder made by `textgan convert sisgan`, a tag or hf-hub:org/name")
    parser.add_argument("--resize-mode", choices=("crop", "stretch"), default="crop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="edited")
    parser.add_argument("--fast", action="store_true", help="a quick offline run for CI")
    args = parser.parse_args(argv)

    if args.fast:
        folder = tiny_pipeline().save_pretrained(Path(tempfile.mkdtemp(prefix="textgan-sisgan-")) / "tiny")
        pipe = textgan.load_pretrained(folder)            # the same call loads a converted release
        args.output = tempfile.mkdtemp(prefix="textgan-edit-")
    elif args.model:
        pipe = textgan.load_pretrained(args.model)
    else:
        parser.error("--model is required (or --fast)")
    if args.image:
        image = Image.open(args.image)
    else:  # a Shapes test image, as PIL
        image = Shapes("test", size=96, length=1, transform=lambda pil: pil)[0]["image"]

    out = pipe([image] * len(args.sentences), args.sentences, resize_mode=args.resize_mode,
               generator=torch.Generator().manual_seed(args.seed))
    Path(args.output).mkdir(parents=True, exist_ok=True)
    for i, (edited, sentence) in enumerate(zip(out.images, args.sentences)):
        path = Path(args.output) / f"{i:03d}.png"
        edited.save(path)
        print(f"{path}  {edited.size[0]}x{edited.size[1]} (input {image.size[0]}x{image.size[1]})  {sentence!r}")
    print("model-side edits:", tuple(out.model_images.shape))


if __name__ == "__main__":
    main()
