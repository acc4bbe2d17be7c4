"""Tiny tasks and runs shared by the training tests (imported by the spawned processes too)."""
from __future__ import annotations

import os
import sys

import torch

from textgan.train.tasks import DFGANTask, ShapesCaptions, ShapesImages, ShapesTextEncoderTask
from textgan.train.trainer import Trainer


def text_encoder_run(out_dir, steps=3, batch_size=8, resume=True, callbacks=()):
    """The attribute text-encoder task, tiny and without dropout (per-sample losses: DDP-equivalent)."""
    task = ShapesTextEncoderTask(embedding_dim=8, hidden_dim=8, dropout=0.0, lr=1e-2, seed=0)
    data = ShapesCaptions("train", length=32, seed=0)
    return Trainer(task, data, out_dir, batch_size=batch_size, steps=steps, seed=0, checkpoint_every=0,
                   log_every=1, progress=False, resume=resume, callbacks=callbacks), task


def dfgan_run(out_dir, steps=6, callbacks=(), form="2022"):
    """A 32 px DF-GAN with EMA, 16 images, batch 4: 4 steps an epoch, so 6 steps cross an epoch."""
    task = DFGANTask(form=form, ngf=2, ndf=2, nz=4, imsize=32, encoder_dim=6, seed=0)
    data = ShapesImages("train", size=32, length=16, seed=0)
    # checkpoints at steps 3 and 6: step 3 is mid-epoch, so resuming needs the sampler position
    return Trainer(task, data, out_dir, batch_size=4, steps=steps, seed=0, checkpoint_every=3, log_every=1,
                   ema_decay=0.9, progress=False, callbacks=callbacks), task


def _ddp_worker(rank, world, port, out_dir, result_path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    trainer, task = text_encoder_run(out_dir, resume=False)
    trainer.fit()
    state = {f"{name}.{k}": v for name, m in task.modules.items() for k, v in m.state_dict().items()}
    torch.save(state, f"{result_path}.{rank}")
    torch.distributed.destroy_process_group()


def _kill_at(step):
    def cb(trainer, s, losses):
        if s == step:
            sys.stdout.flush()
            os.kill(os.getpid(), 9)
    return cb


def _killed_run(out_dir, kill_step, threads):
    """A dfgan run that SIGKILLs its own process after ``kill_step`` (no clean-up, as a crash)."""
    torch.set_num_threads(int(threads))  # as the parent: another thread count can change float sums
    trainer, _ = dfgan_run(out_dir, callbacks=[_kill_at(int(kill_step))])
    trainer.fit()


if __name__ == "__main__":  # python _helpers.py OUT_DIR KILL_STEP THREADS: a dfgan run killed at KILL_STEP
    _killed_run(*sys.argv[1:4])
