"""FID, Inception Score and R-precision with ``textgan.metrics``, each under a named protocol.

    # FID of a pipeline's samples against reference statistics (DF-GAN's protocol and file)
    python examples/evaluate_metrics.py --model dfgan-birds --captions test_captions.txt --n 30000 \
        --reference bird_val256_FIDK0.npz --protocol legacy-t2i
    # FID between two image folders, TF-FID protocol (pytorch-fid / TTUR numbers)
    python examples/evaluate_metrics.py --images samples/ --reference real/ --protocol tf
    python examples/evaluate_metrics.py --fast    # CI: the embedded model, tiny random-weight networks

Without ``--inception-weights`` the protocol's original Inception file is downloaded (with its checksum). With
``--fast`` every network is a small random one, so the numbers only show the calls: they mean nothing.
"""
import argparse
import tempfile
from pathlib import Path

import torch

import textgan
import textgan.metrics as M


def samples(pipe, captions, n: int, seed: int, batch_size: int = 16):
    """Batches of ``n`` images in [0, 1] from ``pipe``, cycling through ``captions`` (batch k uses seed + k)."""
    for k, start in enumerate(range(0, n, batch_size)):
        prompts = [captions[i % len(captions)] for i in range(start, min(n, start + batch_size))]
        yield pipe(prompts, output_type="pt", generator=torch.Generator().manual_seed(seed + k), progress=False).images


def fast(work: Path) -> None:
    import warnings

    from textgan.metrics.inception import FIDInceptionV3, random_inception

    warnings.simplefilter("ignore", M.SingularCovarianceWarning)  # 16 images: the covariances are singular

    pipe = textgan.load_pretrained()  # the embedded Shapes model
    captions = ["a large red circle on a white background", "a small blue square on a black background",
                "a large yellow triangle on a black background", "a small green circle on a white background"]
    fid_w = work / "fid_tiny.pth"  # pytorch-fid's network (FID "tf" and IS "coco"), width / 16, random weights
    torch.save(random_inception(FIDInceptionV3, width_divisor=16, seed=0).state_dict(), fid_w)

    real = [Shapes_image(i) for i in range(16)]
    stats = M.fid_statistics(real, protocol="tf", inception_weights=fid_w)
    stats.save(work / "reference.npz")  # mu / sigma, readable by pytorch-fid and DF-GAN
    print(M.fid(samples(pipe, captions, 16, seed=0), work / "reference.npz", protocol="tf", inception_weights=fid_w))
    print(M.inception_score(samples(pipe, captions, 16, seed=1), protocol="coco", splits=2, inception_weights=fid_w))

    # R-precision: the true caption among mismatched ones, ranked by DAMSM image / text encoders
    torch.manual_seed(0)
    text_encoder = pipe.text_encoder
    image_encoder = textgan.create_model("damsm_image_encoder", nef=text_encoder.hidden_dim, width_divisor=16,
                                         input_size=107).eval()
    images = torch.cat(list(samples(pipe, captions, 8, seed=2))) * 2 - 1  # [-1, 1], the generator's range
    ids, lengths = pipe.tokenizer([captions[i % 4] for i in range(8)])
    print(M.r_precision(images, ids, lengths, image_encoder=image_encoder, text_encoder=text_encoder,
                        class_ids=[i % 4 for i in range(8)], num_mismatched=3, folds=2,
                        generator=torch.Generator().manual_seed(0)))


def Shapes_image(i: int):  # noqa: N802 - a Shapes test image as PIL
    from textgan.data import Shapes

    return Shapes("test", size=64, length=16, transform=lambda pil: pil)[i]["image"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", help="a folder of generated images")
    parser.add_argument("--model", help="or: a pipeline (tag / folder) to sample from")
    parser.add_argument("--captions", help="with --model: a text file, one caption per line")
    parser.add_argument("--n", type=int, default=30000)
    parser.add_argument("--reference", help="FID reference: a .npz (mu, sigma) or an image folder")
    parser.add_argument("--protocol", default="tf", choices=M.PROTOCOLS)
    parser.add_argument("--inception-weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="tiny random networks and the embedded model (CI)")
    args = parser.parse_args(argv)
    if args.fast:
        fast(Path(tempfile.mkdtemp(prefix="textgan-metrics-")))
        return
    if not args.reference or not (args.images or args.model):
        parser.error("give --reference and --images or --model (or --fast)")
    if args.images:
        images = args.images
    else:
        captions = [line.strip() for line in open(args.captions) if line.strip()]
        images = samples(textgan.load_pretrained(args.model), captions, args.n, args.seed)
    print(M.fid(images, args.reference, protocol=args.protocol, n=args.n if args.model else None,
                inception_weights=args.inception_weights, progress=True))


if __name__ == "__main__":
    main()
