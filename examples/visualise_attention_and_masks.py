"""Draw AttnGAN's word attention and SSA-GAN's semantic masks.

    python examples/visualise_attention_and_masks.py --attngan attngan-birds --ssagan ssagan-birds \
        "this bird has a red crown and a white belly" -o figures/
    python examples/visualise_attention_and_masks.py --fast    # CI: tiny random-weight models (shows the layout)
    python examples/visualise_attention_and_masks.py --fast -o docs/assets/layout   # the docs' layout figures

``--attngan`` / ``--ssagan`` take pipeline folders written by ``textgan convert attngan|ssagan`` (or their tags).
The attention figure is ``textgan.viz.attention_figure``: the image, then one tile per word with where that word
was attended (the AttnGAN paper's layout). The mask figure shows the image and the seven sigmoid masks SSA-GAN's
blocks used (4 to 256 px): where the sentence modulated the features.
"""
import argparse
import pickle
import tempfile
from pathlib import Path

import torch
from PIL import Image

import textgan
from textgan.convert.official import attngan_pipeline_from_official
from textgan.viz import attention_figure

WORDS = ["<end>", "this", "bird", "has", "a", "red", "crown", "and", "white", "belly"]


def tiny_release(folder: Path) -> None:
    """Random small AttnGAN / SSA-GAN files in the authors' layouts, with a DAMSM encoder and captions pickle."""
    torch.manual_seed(0)
    torch.save(textgan.create_model("attngan", ngf=4, nz=8, cond_dim=16, ca_dim=6, r_num=1, branch_num=2).state_dict(),
               folder / "bird_AttnGAN2.pth")
    ssa = textgan.create_model("ssagan", ngf=2, nz=8, cond_dim=16, affine_hidden=8, mask_hidden=4)
    torch.save({f"module.{k}": v for k, v in ssa.state_dict().items()}, folder / "netG_550.pth")
    encoder = textgan.create_model("damsm_text_encoder", vocab_size=len(WORDS), embedding_dim=8, hidden_dim=16)
    torch.save(encoder.state_dict(), folder / "text_encoder200.pth")
    ixtoword = dict(enumerate(WORDS))
    with open(folder / "captions.pickle", "wb") as f:
        pickle.dump([[[1, 2, 3]], [[4, 5, 6]], ixtoword, {w: i for i, w in ixtoword.items()}], f, protocol=2)


def mask_figure(pipe, prompt: str, generator: torch.Generator, tile: int = 128) -> Image.Image:
    """The image and the masks of every scale (white: modulated by the sentence), side by side."""
    sentence = pipe.encode_prompt(prompt)
    noise = pipe.sample_noise(1, generator)
    with torch.inference_mode():
        image, masks = pipe.generator(noise.to(pipe.dtype), sentence.to(pipe.dtype), return_masks=True)
    tiles = [Image.fromarray(((image[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy())]
    tiles += [Image.fromarray((m[0, 0].clamp(0, 1) * 255).round().byte().numpy()).convert("RGB") for m in masks]
    sheet = Image.new("RGB", (len(tiles) * (tile + 2), tile), "black")
    for i, t in enumerate(tiles):
        sheet.paste(t.resize((tile, tile), Image.NEAREST), (i * (tile + 2), 0))
    return sheet


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompt", nargs="?", default="this bird has a red crown and a white belly")
    parser.add_argument("--attngan", help="AttnGAN pipeline folder or tag")
    parser.add_argument("--ssagan", help="SSA-GAN pipeline folder or tag")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", help="folder for the figures (default: figures/; --fast: a temporary one)")
    parser.add_argument("--fast", action="store_true", help="tiny random-weight models, output in a temporary folder")
    args = parser.parse_args(argv)
    out = Path(args.output or (tempfile.mkdtemp(prefix="textgan-figures-") if args.fast else "figures"))
    out.mkdir(parents=True, exist_ok=True)

    if args.fast:
        files = Path(tempfile.mkdtemp(prefix="textgan-tiny-release-"))
        tiny_release(files)
        kwargs = dict(text_encoder=files / "text_encoder200.pth", captions=files / "captions.pickle")
        attngan = attngan_pipeline_from_official(files / "bird_AttnGAN2.pth", **kwargs)
        ssagan = textgan.convert.pipeline_from_official("ssagan", files / "netG_550.pth", **kwargs)
    else:
        attngan = textgan.load_pretrained(args.attngan) if args.attngan else None
        ssagan = textgan.load_pretrained(args.ssagan) if args.ssagan else None
        if attngan is None and ssagan is None:
            parser.error("give --attngan and/or --ssagan (or --fast)")

    if attngan is not None:
        figure = attention_figure(attngan, args.prompt, generator=torch.Generator().manual_seed(args.seed))
        figure.save(out / "attention.png")
        print(out / "attention.png", figure.size)
    if ssagan is not None:
        figure = mask_figure(ssagan, args.prompt, torch.Generator().manual_seed(args.seed))
        figure.save(out / "masks.png")
        print(out / "masks.png", figure.size)


if __name__ == "__main__":
    main()
