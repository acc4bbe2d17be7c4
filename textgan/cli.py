"""``textgan`` command line: list, generate, convert."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

__all__ = ["main"]


def _cmd_list(args: argparse.Namespace) -> int:
    import textgan

    if args.pretrained:
        for tag in textgan.list_pretrained(args.pattern):
            t = textgan.get_pretrained(tag)
            print(f"{tag:20s} {t.family:10s} {t.dataset:14s} {t.resolution}px  hub:{t.hub_id}")
    else:
        for name in textgan.list_models(args.pattern):
            info = textgan.model_info(name)
            print(f"{name:26s} {info['family']:10s} {', '.join(info['pretrained'])}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    import torch

    import textgan

    pipe = textgan.load_pretrained(args.model, revision=args.revision, device=args.device)
    if args.optimize:
        pipe.optimize()
    gen = torch.Generator().manual_seed(args.seed)
    out = pipe(args.prompts, num_images_per_prompt=args.num_images, generator=gen, truncation=args.truncation,
               batch_size=args.batch_size, progress=not args.quiet)
    target = Path(args.output)
    single = len(out.images) == 1 and target.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
    if single:
        target.parent.mkdir(parents=True, exist_ok=True)
        paths = [target]
    else:
        target.mkdir(parents=True, exist_ok=True)
        per = args.num_images
        paths = [target / f"{i // per:03d}_{i % per:02d}.png" for i in range(len(out.images))]
    for image, path in zip(out.images, paths):
        image.save(path)
        if not args.quiet:
            print(path)
    return 0


def _convert_pipeline(args: argparse.Namespace) -> int:
    from .convert import pipeline_from_official

    pipe = pipeline_from_official(args.family, args.checkpoint, text_encoder=args.text_encoder,
                                  captions=args.captions, tag=args.tag)
    folder = pipe.save_pretrained(args.output)
    print(f"wrote {folder} (load it with textgan.load_pretrained({str(folder)!r}) or --model {folder})")
    return 0


def _pipeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the generator file as released")
    p.add_argument("--text-encoder", required=True, help="the DAMSM text_encoder*.pth it was trained with")
    p.add_argument("--captions", required=True, help="captions.pickle / captions_DAMSM.pickle (or vocab.json)")
    p.add_argument("--tag", default=None, help="pretrained tag these files are, e.g. dfgan-birds")
    p.add_argument("-o", "--output", required=True, help="folder to write")


# `textgan convert KIND ...`: kind -> (help, add_arguments(parser), run(args) -> exit code)
CONVERT_COMMANDS = {
    "dfgan": ("DF-GAN 2022 state_epoch_*.pth + DAMSM text encoder -> textgan folder",
              _pipeline_arguments, _convert_pipeline),
    "dfgan2020": ("DF-GAN 2020 netG.pth + DAMSM text encoder -> textgan folder",
                  _pipeline_arguments, _convert_pipeline),
}


def _truncation(value: str):
    if value.lower() in ("none", "default"):
        return None
    if value.lower() in ("off", "false", "no"):
        return False
    return float(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textgan", description="Text-to-image GANs from the authors' weights.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered models (or pretrained tags with --pretrained)")
    p.add_argument("pattern", nargs="?", default=None, help="shell wildcard, e.g. 'dfgan*'")
    p.add_argument("--pretrained", action="store_true", help="list pretrained tags instead of models")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("generate", help="generate images from sentences")
    p.add_argument("prompts", nargs="+", metavar="PROMPT")
    p.add_argument("--model", required=True, help="pretrained tag, local folder or hf-hub:org/name")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="an image file (one image) or a folder")
    p.add_argument("-n", "--num-images", type=int, default=1, help="images per prompt")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--truncation", type=_truncation, default=None,
                   help="noise scale of the truncated normal; 'off' for plain normal noise; default: the model's")
    p.add_argument("--device", default=None)
    p.add_argument("--optimize", action="store_true", help="use the faster inference-only generator")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("convert", help="convert the authors' files into a textgan folder")
    kinds = p.add_subparsers(dest="family", required=True, metavar="KIND")
    for kind, (text, add_arguments, run) in CONVERT_COMMANDS.items():
        k = kinds.add_parser(kind, help=text, description=text)
        add_arguments(k)
        k.set_defaults(func=run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .errors import TextganError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (TextganError, FileNotFoundError, ValueError) as e:
        print(f"textgan {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
