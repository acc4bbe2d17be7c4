"""Train DF-GAN on CUB-200-2011 with ``textgan.train`` (the packaged ``dfgan`` recipe), one process or many.

    # one process
    python examples/train_dfgan_cub_torchrun.py --data data/birds --text-encoder DAMSM_DIR --out runs/dfgan-cub
    # 4 GPUs (or CPU processes, gloo) on one machine
    torchrun --standalone --nproc_per_node 4 examples/train_dfgan_cub_torchrun.py --data data/birds --out runs/dfgan-cub
    # CI: the tiny CUB replica of ../shared/datasets, two CPU processes, two steps
    python examples/train_dfgan_cub_torchrun.py --fast

``--data`` is a CUB folder in any layout ``textgan.data.CUB200`` reads (AttnGAN's ``data/birds`` with
``CUB_200_2011/``, Reed's ``cub_icml``, ...). ``--text-encoder`` is a DAMSM text encoder folder (from
``textgan train damsm`` or a converted release); without it the recipe's text encoder starts from random weights
and stays frozen, which only makes sense for a smoke test. Other recipe keys override as ``--section.name value``.
Rerunning the same command with the same ``--out`` resumes exactly from the last checkpoint. At the end, rank 0
writes ``OUT/pipeline``: ``textgan.load_pretrained("OUT/pipeline")``.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from textgan.train import run_recipe

ROOT = Path(__file__).resolve().parents[1]
REPLICA = Path(os.environ.get("TEXTGAN_DATASETS_DIR", ROOT.parent / "shared" / "datasets")) / "cub"
TINY = ["--model.ngf=2", "--model.ndf=2", "--model.nz=4", "--model.imsize=32", "--trainer.steps=2",
        "--trainer.batch_size=4", "--trainer.log_every=1", "--trainer.checkpoint_every=2", "--trainer.num_workers=0"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the CUB-200-2011 folder")
    parser.add_argument("--out", default="runs/dfgan-cub")
    parser.add_argument("--text-encoder", help="a DAMSM text encoder folder or checkpoint (model.text_encoder)")
    parser.add_argument("--fast", action="store_true", help="tiny run on the CUB replica with 2 CPU processes (CI)")
    parser.add_argument("--nproc", type=int, default=2, help="processes for --fast")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args, overrides = parser.parse_known_args(argv)  # the rest: recipe overrides (--trainer.steps 1000)

    if args.fast and "LOCAL_RANK" not in os.environ:  # relaunch ourselves under torchrun, as a user would
        if not REPLICA.is_dir():
            print(f"--fast needs the CUB replica at {REPLICA} (set TEXTGAN_DATASETS_DIR)")
            return
        out = tempfile.mkdtemp(prefix="textgan-dfgan-cub-")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
               __file__, "--data", str(REPLICA), "--out", out, "--quiet", *TINY]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run(cmd, check=True, env=env)
        print("pipeline written to", Path(out) / "pipeline")
        return
    if not args.data:
        parser.error("--data is required (or --fast)")
    overrides += [f"--model.text_encoder={args.text_encoder}"] if args.text_encoder else []
    trainer = run_recipe("dfgan", args.out, data=f"cub:{args.data}", overrides=overrides,
                         progress=not args.quiet and os.environ.get("LOCAL_RANK", "0") == "0")
    if trainer.rank == 0:
        print(f"rank 0 of {trainer.world_size}: trained to step {trainer.step}; "
              f"pipeline in {Path(args.out) / 'pipeline'}")


if __name__ == "__main__":
    main()
