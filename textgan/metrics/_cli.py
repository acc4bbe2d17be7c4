"""``textgan eval fid|is|r-precision`` (also ``textgan evaluate``): images from a folder, or sampled from a
pipeline in one streaming pass, scored under a named protocol."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List

METRICS = {"fid": "fid", "is": "is", "inception-score": "is", "r-precision": "rprec", "rprec": "rprec"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("metric", choices=sorted(METRICS), help="fid, is (inception-score) or r-precision (rprec)")
    src = p.add_argument_group("images (one of)")
    src.add_argument("--images", help="a folder of images")
    src.add_argument("--model", help="pretrained tag or folder: sample --n images from this pipeline")
    p.add_argument("--data", help="with --model: a text file of captions, one per line (cycled to reach --n)")
    p.add_argument("--reference", help="FID: a .npz with mu/sigma (pytorch-fid / DF-GAN) or a folder of images")
    p.add_argument("--protocol", default=None,
                   help="FID: tf (default), legacy-t2i, clean; IS: coco (default), birds, flowers")
    p.add_argument("--n", type=int, default=None, help="number of images (default: all in --images)")
    p.add_argument("--inception-weights", default=None,
                   help="weights file of the protocol's network (default: download the original with checksum); "
                        "IS birds/flowers: the TF checkpoint prefix model.ckpt-5000")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--splits", type=int, default=None, help="IS splits (10)")
    p.add_argument("--seed", type=int, default=0, help="with --model: seed of batch k is seed + k")
    p.add_argument("--save-stats", default=None, help="FID: also write the images' statistics to this .npz")
    p.add_argument("--image-encoder", default=None,
                   help="r-precision: the DAMSM image_encoder*.pth (the text encoder is the pipeline's)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


class _PipelineBatches:
    """Batch ``k`` = the pipeline's images for captions ``k·B ...`` with seed ``seed + k``: any rank can make
    any batch, so ``torchrun`` shards sampling too and the result equals one process's."""

    def __init__(self, pipe, captions: List[str], n: int, batch_size: int, seed: int, output_type: str) -> None:
        self.pipe, self.captions, self.n, self.bs, self.seed = pipe, captions, n, batch_size, seed
        self.output_type = output_type
        self.total = n

    def __len__(self) -> int:
        return -(-self.n // self.bs)

    def get(self, k: int):
        import torch

        count = min(self.bs, self.n - k * self.bs)
        prompts = [self.captions[(k * self.bs + i) % len(self.captions)] for i in range(count)]
        out = self.pipe(prompts, generator=torch.Generator().manual_seed(self.seed + k), output_type=self.output_type,
                        progress=False)
        return out.images


def _source(args: argparse.Namespace):
    if bool(args.images) == bool(args.model):
        raise SystemExit("textgan eval: give exactly one of --images DIR or --model TAG_OR_DIR")
    if args.images:
        return args.images
    import textgan
    from .features import _Batches

    if not args.data or not args.n:
        raise SystemExit("textgan eval --model needs --data CAPTIONS.txt and --n NUMBER_OF_IMAGES")
    captions = [line.strip() for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not captions:
        raise SystemExit(f"{args.data}: no captions (one per line)")
    pipe = textgan.load_pretrained(args.model, device=args.device)
    # DF-GAN scores the generator's float output (legacy-t2i); the other protocols read saved 8-bit images
    output_type = "pt" if args.protocol == "legacy-t2i" else "pil"
    sampler = _PipelineBatches(pipe, captions, args.n, args.batch_size, args.seed, output_type)
    return _Batches(len(sampler), sampler.get, sampler.total)


def run(args: argparse.Namespace) -> int:
    from . import fid, fid_statistics, inception_score

    metric = METRICS[args.metric]
    progress = not args.quiet
    if metric == "rprec":
        result = _r_precision(args)
        print(json.dumps(result.as_dict()) if args.json else str(result))
        return 0
    source = _source(args)
    n = args.n if args.images else None
    if metric == "fid":
        protocol = args.protocol or "tf"
        if args.reference is None and not args.save_stats:
            raise SystemExit("textgan eval fid: give --reference STATS.npz|DIR (and/or --save-stats OUT.npz)")
        if args.reference is None:
            stats = fid_statistics(source, protocol=protocol, n=n, inception_weights=args.inception_weights,
                                   batch_size=args.batch_size, device=args.device, progress=progress)
            print(f"wrote {stats.save(args.save_stats)} ({stats})")
            return 0
        from .features import FeatureExtractor, feature_statistics

        extractor = FeatureExtractor(protocol, args.inception_weights, device=args.device)
        stats = feature_statistics(source, extractor, batch_size=args.batch_size, n=n, progress=progress)
        if args.save_stats:
            stats.save(args.save_stats)
        result = fid(stats, args.reference, protocol=protocol, inception_weights=args.inception_weights,
                     batch_size=args.batch_size, device=args.device, progress=progress)
        result.n = int(stats.n)
    elif metric == "is":
        result = inception_score(source, protocol=args.protocol or "coco", splits=args.splits, n=n,
                                 inception_weights=args.inception_weights, device=args.device, progress=progress)
    else:  # pragma: no cover - handled above
        raise AssertionError(metric)
    print(json.dumps(result.as_dict()) if args.json else str(result))
    return 0



def _r_precision(args: argparse.Namespace):
    """Sample one image per caption line (cycled to --n) and score it against its caption and 99 captions of
    other lines with the pipeline's DAMSM text encoder and the given image encoder."""
    import torch

    import textgan
    from ..convert import from_official
    from . import r_precision

    if not (args.model and args.data and args.image_encoder):
        raise SystemExit("textgan eval r-precision needs --model TAG_OR_DIR, --data CAPTIONS.txt and "
                         "--image-encoder image_encoder*.pth")
    captions = [line.strip() for line in Path(args.data).read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(captions) < 2:
        raise SystemExit(f"{args.data}: r-precision needs at least 2 different captions (one per line)")
    n = args.n or len(captions)
    pipe = textgan.load_pretrained(args.model, device=args.device)
    sampler = _PipelineBatches(pipe, captions, n, args.batch_size, args.seed, "pt")
    images = torch.cat([sampler.get(k) for k in range(len(sampler))]) * 2 - 1  # the generator's [-1, 1]
    prompts = [captions[i % len(captions)] for i in range(n)]
    ids, lengths = pipe.tokenizer(prompts)
    image_encoder = from_official("damsm_image_encoder", args.image_encoder)
    return r_precision(images, ids, lengths, image_encoder=image_encoder, text_encoder=pipe.text_encoder,
                       class_ids=[i % len(captions) for i in range(n)],
                       generator=torch.Generator().manual_seed(args.seed), folds=min(10, n // 2))
