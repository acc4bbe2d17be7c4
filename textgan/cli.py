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
               batch_size=args.batch_size, progress=False if args.quiet else None)
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


def _attngan_arguments(p: argparse.ArgumentParser) -> None:
    _pipeline_arguments(p)
    p.add_argument("--mask-broadcast", choices=("per_sample", "official"), default="per_sample",
                   help="word-attention mask: per_sample (default; batch-invariant images) or the authors' official "
                        "broadcast, under which an image depends on the other prompts of its batch")


def _convert_attngan(args: argparse.Namespace) -> int:
    from .convert.official import attngan_pipeline_from_official

    pipe = attngan_pipeline_from_official(args.checkpoint, text_encoder=args.text_encoder, captions=args.captions,
                                          tag=args.tag, mask_broadcast=args.mask_broadcast)
    folder = pipe.save_pretrained(args.output)
    print(f"wrote {folder} (load it with textgan.load_pretrained({str(folder)!r}) or --model {folder})")
    return 0


def _sisgan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the generator file as released: models/birds.pth or models/flowers.pth")
    p.add_argument("--text-embedding", required=True,
                   help="the visual-semantic embedding it was trained with: models/text_embedding_{birds,flowers}.pth")
    p.add_argument("--word-vectors", required=True, help="the fastText model (wiki.en.bin), a .vec file or textgan "
                   "word vectors; copied into the folder (memory-mapped when used)")
    p.add_argument("--discriminator", default=None, help="optional Discriminator state dict of a training run")
    p.add_argument("--image-size", type=int, default=64, help="model-side size in px (64, as trained)")
    p.add_argument("--resize-mode", choices=("crop", "stretch"), default="crop",
                   help="crop: the original test.py (scale, centre crop, paste the edit back); stretch: whole image")
    p.add_argument("--tag", default=None, help="pretrained tag these files are, e.g. sisgan-birds")
    p.add_argument("-o", "--output", required=True, help="folder to write")


def _convert_sisgan(args: argparse.Namespace) -> int:
    from .edit_pipeline import TextGuidedEditPipeline

    pipe = TextGuidedEditPipeline.from_official(
        args.checkpoint, text_embedding=args.text_embedding, word_vectors=args.word_vectors,
        discriminator=args.discriminator, tag=args.tag, image_size=args.image_size, resize_mode=args.resize_mode)
    folder = pipe.save_pretrained(args.output)
    print(f"wrote {folder} (use it with `textgan edit IMAGE SENTENCE --model {folder} -o OUT`)")
    return 0


def _edit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="the image to edit (any format PIL reads; converted to RGB)")
    p.add_argument("prompts", nargs="+", metavar="SENTENCE", help="what the edited image should show")
    p.add_argument("--model", required=True, help="SISGAN folder (textgan convert sisgan), tag or hf-hub:org/name")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="an image file (one sentence) or a folder")
    p.add_argument("--resize-mode", choices=("crop", "stretch"), default=None, help="default: the model's")
    p.add_argument("--device", default=None)
    p.add_argument("-q", "--quiet", action="store_true")


def _cmd_edit(args: argparse.Namespace) -> int:
    import torch

    import textgan
    from .edit_pipeline import TextGuidedEditPipeline

    pipe = textgan.load_pretrained(args.model, revision=args.revision, device=args.device)
    if not isinstance(pipe, TextGuidedEditPipeline):
        raise ValueError(f"--model {args.model}: a {type(pipe).__name__}, not an image-editing model; "
                         "`textgan generate` makes images from sentences")
    out = pipe(args.image, args.prompts, generator=torch.Generator().manual_seed(args.seed),
               resize_mode=args.resize_mode, progress=False if args.quiet else None)
    target = Path(args.output)
    if len(out.images) == 1 and target.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        target.parent.mkdir(parents=True, exist_ok=True)
        paths = [target]
    else:
        target.mkdir(parents=True, exist_ok=True)
        paths = [target / f"{i:03d}.png" for i in range(len(out.images))]
    for image, path in zip(out.images, paths):
        image.save(path)
        if not args.quiet:
            print(path)
    return 0


def _tf_inspect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="TF checkpoint: prefix, .index, V1 file, or a folder with a 'checkpoint' file")
    p.add_argument("--tensor", default=None, help="also print the values of this tensor")
    p.add_argument("--no-verify", action="store_true", help="skip the CRC-32C checks")


def _tf_inspect(args: argparse.Namespace) -> int:
    from .convert.tf import inspect_checkpoint

    return inspect_checkpoint(args.checkpoint, tensor=args.tensor, verify=not args.no_verify)


def _reed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the .t7 file as released (or a PyTorch port's .pth)")
    p.add_argument("-o", "--output", required=True, help="folder to write")


def _gan_int_cls_arguments(p: argparse.ArgumentParser) -> None:
    _reed_arguments(p)
    p.add_argument("--text-encoder", help="the char-CNN-RNN .t7 the generator was trained with (lm_sje_*.t7); "
                                           "without it only the network itself is converted")
    p.add_argument("--discriminator", help="the matching ..._net_D.t7, saved alongside (optional)")
    p.add_argument("--tag", default=None, help="pretrained tag these files are, e.g. gan-int-cls-birds")
    p.add_argument("--tokenizer", default="default", choices=("default", "lua-demo", "pytorch-port"),
                   help="text front-end: default (lower-case, unknown characters -> zero columns), lua-demo "
                        "(txt2img_demo.lua: no lower-casing), pytorch-port (unknown -> space)")


def _convert_reed(args: argparse.Namespace) -> int:
    from ._serialization import save_model
    from .models.gan_int_cls import gan_int_cls_pipeline, load_reed_module

    if args.family == "gan-int-cls" and args.text_encoder:
        folder = gan_int_cls_pipeline(args.checkpoint, args.text_encoder, tag=args.tag, tokenizer=args.tokenizer,
                                      discriminator=args.discriminator).save_pretrained(args.output)
        print(f"wrote {folder} (load it with textgan.load_pretrained({str(folder)!r}) or --model {folder})")
        return 0
    module = load_reed_module(args.checkpoint, "text_encoder" if args.family == "char-cnn-rnn" else "network")
    folder = save_model(module, args.output)
    print(f"wrote {folder} (load it with textgan.create_model({module.registry_name!r}, pretrained={str(folder)!r}))")
    return 0


def _stackgan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="netG_epoch_90.pth (PyTorch COCO release: a whole STAGE2_G) or, for stackgan-tf, "
                                      "birds_model_164000.ckpt / flowers_model_130000.ckpt")
    p.add_argument("--text-encoder", required=True, help="Reed's char-CNN-RNN .t7 giving the 1024-d embeddings")
    p.add_argument("--discriminator", default=None, help="netD_epoch_last.pth, saved alongside (optional, PyTorch)")
    p.add_argument("--tag", default=None, help="pretrained tag these files are, e.g. stackgan-coco")
    p.add_argument("--tokenizer", default="default", choices=("default", "lua-demo", "pytorch-port"),
                   help="char-CNN-RNN text front-end (see `textgan convert gan-int-cls --help`)")
    p.add_argument("-o", "--output", required=True, help="folder to write")


def _convert_stackgan(args: argparse.Namespace) -> int:
    from .models.stackgan_pipeline import stackgan_pipeline

    pipe = stackgan_pipeline(args.checkpoint, args.text_encoder, tag=args.tag, tokenizer=args.tokenizer,
                             variant="tf" if args.family == "stackgan-tf" else "pytorch",
                             discriminator=args.discriminator)
    folder = pipe.save_pretrained(args.output)
    print(f"wrote {folder} (load it with textgan.load_pretrained({str(folder)!r}) or --model {folder})")
    return 0


def _stackgan_v2_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="StackGAN-v2 netG_*.pth ('module.' keys; birds netG_210000.pth, or an "
                                      "unconditional dog/cat/bedroom/church netG) or a netD*.pth")
    p.add_argument("--text-encoder", default=None, help="char-CNN-RNN .t7 (1024-d) for a text pipeline (birds); "
                                                          "without it only the network is converted")
    p.add_argument("--tag", default=None, help="pretrained tag these files are, e.g. stackgan-v2-birds")
    p.add_argument("-o", "--output", required=True, help="folder to write")


def _convert_stackgan_v2(args: argparse.Namespace) -> int:
    from ._serialization import save_model
    from .convert.official import from_official
    from .models.stackgan_v2 import stackgan_v2_pipeline

    if args.text_encoder:
        folder = stackgan_v2_pipeline(args.checkpoint, args.text_encoder, tag=args.tag).save_pretrained(args.output)
        print(f"wrote {folder} (load it with textgan.load_pretrained({str(folder)!r}) or --model {folder})")
        return 0
    from ._weights import load_torch_file

    sd = load_torch_file(args.checkpoint)
    is_d = isinstance(sd, dict) and any(k.split(".", 1)[-1].startswith("img_code_s16.") for k in sd)
    module = from_official("stackgan_v2_discriminator" if is_d else "stackgan_v2", sd, source=str(args.checkpoint))
    folder = save_model(module, args.output)
    print(f"wrote {folder} (load it with textgan.create_model({module.registry_name!r}, pretrained={str(folder)!r}))")
    return 0


# `textgan convert KIND ...`: kind -> (help, add_arguments(parser), run(args) -> exit code)
CONVERT_COMMANDS = {
    "dfgan": ("DF-GAN 2022 state_epoch_*.pth + DAMSM text encoder -> textgan folder",
              _pipeline_arguments, _convert_pipeline),
    "dfgan2020": ("DF-GAN 2020 netG.pth + DAMSM text encoder -> textgan folder",
                  _pipeline_arguments, _convert_pipeline),
    "ssagan": ("SSA-GAN netG_XXX.pth + its (fine-tuned) DAMSM text encoder -> textgan folder",
               _pipeline_arguments, _convert_pipeline),
    "sema": ("SEMA netG.pth + DAMSM text encoder -> textgan folder", _pipeline_arguments, _convert_pipeline),
    "attngan": ("AttnGAN bird_AttnGAN2.pth / coco_AttnGAN2.pth + DAMSM text encoder -> textgan folder",
                _attngan_arguments, _convert_attngan),
    "sisgan": ("SISGAN {birds,flowers}.pth + text_embedding_*.pth + fastText wiki.en.bin -> textgan folder",
               _sisgan_arguments, _convert_sisgan),
    "char-cnn-rnn": ("Reed's char-CNN-RNN text encoder .t7 (lm_sje_*.t7, coco *_net_T.t7) -> textgan folder",
                     _reed_arguments, _convert_reed),
    "gan-int-cls": ("GAN-INT-CLS *_net_G.t7 (+ --text-encoder lm_sje_*.t7 for a pipeline) -> textgan folder",
                    _gan_int_cls_arguments, _convert_reed),
    "stackgan": ("StackGAN-Pytorch netG_epoch_90.pth (COCO) + char-CNN-RNN .t7 -> textgan folder",
                 _stackgan_arguments, _convert_stackgan),
    "stackgan-tf": ("StackGAN TensorFlow birds/flowers .ckpt + char-CNN-RNN .t7 -> textgan folder",
                    _stackgan_arguments, _convert_stackgan),
    "stackgan-v2": ("StackGAN-v2 netG_*.pth / netD*.pth (+ --text-encoder .t7 for the birds pipeline) -> textgan "
                    "folder", _stackgan_v2_arguments, _convert_stackgan_v2),
    "tf-inspect": ("print the names, dtypes and shapes in a TensorFlow checkpoint (like TF's inspect_checkpoint)",
                   _tf_inspect_arguments, _tf_inspect),
}


def _truncation(value: str):
    if value.lower() in ("none", "default"):
        return None
    if value.lower() in ("off", "false", "no"):
        return False
    return float(value)


def _cmd_train(args: argparse.Namespace) -> int:
    from .train.recipes import run_recipe

    run_recipe(args.recipe, args.out, data=args.data, overrides=args.overrides, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textgan", description="Text-to-image GANs from the authors' weights.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered models (or pretrained tags with --pretrained)")
    p.add_argument("pattern", nargs="?", default=None, help="shell wildcard, e.g. 'dfgan*'")
    p.add_argument("--pretrained", action="store_true", help="list pretrained tags instead of models")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("generate", help="generate images from sentences")
    p.add_argument("prompts", nargs="+", metavar="PROMPT")
    p.add_argument("--model", default="shapes-dfgan64",
                   help="pretrained tag, local folder or hf-hub:org/name (default: the embedded shapes-dfgan64)")
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

    p = sub.add_parser("edit", help="edit an image to match a sentence (SISGAN)")
    _edit_arguments(p)
    p.set_defaults(func=_cmd_edit)

    p = sub.add_parser("train", help="train a recipe (textgan/train/configs); torchrun-ready", allow_abbrev=False,
                       description="textgan train RECIPE --data shapes --out DIR [--key value ...]; recipe keys "
                                   "override as --section.name value or --name value (textgan.train.recipes)")
    p.add_argument("recipe", help="packaged recipe name or a recipe JSON file")
    p.add_argument("--data", default=None, help="dataset: 'shapes' (or 'shapes:center'), or a folder as "
                                                "'cub:PATH', 'flowers:PATH', 'coco:PATH'")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics.csv, samples, pipeline/")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train, allow_extra=True)

    from .metrics import _cli as eval_cli  # light: imports nothing heavy until run

    p = sub.add_parser("eval", aliases=["evaluate"], help="FID / Inception Score of images or of a pipeline's samples")
    eval_cli.add_arguments(p)
    p.set_defaults(func=eval_cli.run)

    p = sub.add_parser("convert", help="convert the authors' files into a textgan folder")
    kinds = p.add_subparsers(dest="family", required=True, metavar="KIND")
    for kind, (text, add_arguments, run) in CONVERT_COMMANDS.items():
        k = kinds.add_parser(kind, help=text, description=text)
        add_arguments(k)
        k.set_defaults(func=run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .errors import TextganError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "allow_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
    try:
        return args.func(args)
    except (TextganError, FileNotFoundError, ValueError) as e:
        print(f"textgan {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
