"""A small trainer for the recipes: one process or many under ``torchrun``, with exact resume.

* **Distributed.** Under ``torchrun --nproc_per_node=N`` (``WORLD_SIZE`` > 1 in the environment) the trainer
  joins a process group (``gloo`` on CPU, ``nccl`` on GPU), splits each global batch over the ranks with
  :class:`ResumableSampler` (the distributed sampler: rank r takes every N-th item of the epoch's
  permutation, so the ranks' batches together are the single-process batch) and averages gradients over the
  ranks before every optimiser step with one all-reduce per optimiser — the averaging
  :class:`~torch.nn.parallel.DistributedDataParallel` performs. GAN steps run a module several times
  per backward and MA-GP differentiates through a gradient (``create_graph=True``), which DDP's reducer
  hooks do not support, so the averaging is explicit. Parameters are broadcast from rank 0 at start.
* **Checkpoints** (``out_dir/checkpoints/last.pt`` and ``step_XXXXXXX.pt``) are written by rank 0 through a
  temporary file and ``os.replace`` (never half-written). They hold every module, optimiser, scheduler,
  grad scaler and EMA, the step, the sampler position and each rank's random state (Python, NumPy, torch,
  CUDA and the task's generator), so a resumed run takes exactly the steps an uninterrupted run takes.
* **Logging**: a progress bar (tqdm), ``metrics.csv`` (step, epoch, images/s, the task's losses averaged
  over ranks) and TensorBoard when ``torch.utils.tensorboard`` can be imported; sample grids
  (``samples/step_XXXXXXX.png``) from the task's ``sample`` with fixed inputs.
* **Mixed precision** (``amp="auto"``): float16 autocast with a grad scaler on CUDA; off on CPU (where
  float16 is not supported for training and bfloat16 is slower on most CPUs; ``amp="bf16"`` forces it).

A task (see :class:`Task`) owns the models and optimisers and implements one training step through
:meth:`StepContext.backward_step`, which does the scaling, gradient averaging and optimiser step.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = ["Task", "StepContext", "Trainer", "ResumableSampler", "save_image_grid", "atomic_save",
           "distributed_info", "adam", "frozen"]


def distributed_info() -> Dict[str, int]:
    """``{"rank", "world_size", "local_rank"}`` from torchrun's environment (1 process if unset)."""
    return {"rank": int(os.environ.get("RANK", 0)), "world_size": int(os.environ.get("WORLD_SIZE", 1)),
            "local_rank": int(os.environ.get("LOCAL_RANK", 0))}


def atomic_save(obj: Any, path: os.PathLike) -> None:
    """``torch.save`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ResumableSampler(torch.utils.data.Sampler):
    """Distributed, seeded, resumable sampler.

    Epoch ``e`` uses ``randperm(n)`` from a generator seeded with ``seed + e`` (or ``range(n)`` without
    ``shuffle``), cut to a multiple of ``num_replicas``; rank ``r`` takes items ``r, r + N, r + 2N, ...``
    and starts at ``offset`` (items already consumed this epoch, for resuming).
    """

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True):
        if length < num_replicas:
            raise ValueError(f"ResumableSampler: {length} items cannot be split over {num_replicas} processes")
        self.length, self.num_replicas, self.rank, self.seed, self.shuffle = length, num_replicas, rank, seed, shuffle
        self.epoch, self.offset = 0, 0

    def indices(self, epoch: int) -> List[int]:
        """This rank's whole index list for ``epoch``."""
        if self.shuffle:
            order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
        else:
            order = list(range(self.length))
        order = order[: self.length - self.length % self.num_replicas]
        return order[self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch)[self.offset:])

    def __len__(self) -> int:
        return self.length // self.num_replicas - self.offset

    def set_epoch(self, epoch: int, offset: int = 0) -> None:
        self.epoch, self.offset = epoch, offset


def save_image_grid(images: torch.Tensor, path: os.PathLike, nrow: int = 8, value_range=(-1.0, 1.0)) -> None:
    """Save (N, C, H, W) images (``value_range``, default [-1, 1]) as one PNG grid with 2-pixel gaps."""
    from PIL import Image

    lo, hi = value_range
    x = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = torch.zeros(c, rows * (h + 2) + 2, cols * (w + 2) + 2)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[:, 2 + r * (h + 2): 2 + r * (h + 2) + h, 2 + q * (w + 2): 2 + q * (w + 2) + w] = x[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[..., 0] if c == 1 else arr).save(path)


class Task:
    """What a recipe trains. Subclasses fill :attr:`modules` (every ``nn.Module`` with state),
    :attr:`optimizers` (name → optimiser), optionally :attr:`schedulers` (name → LR scheduler, stepped once
    per training step) and :attr:`ema_module` (the name in ``modules`` whose EMA the trainer keeps), and
    implement :meth:`train_step`; :meth:`sample` is optional (sample grids)."""

    modules: Dict[str, nn.Module]
    optimizers: Dict[str, torch.optim.Optimizer]
    schedulers: Dict[str, Any] = {}
    ema_module: Optional[str] = None

    def train_step(self, batch: Mapping[str, Any], ctx: "StepContext") -> Dict[str, torch.Tensor]:
        """One step on the local batch; returns the losses to log (scalars)."""
        raise NotImplementedError

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> Optional[torch.Tensor]:
        """Images in [-1, 1] for a sample grid from fixed inputs ``batch`` (``modules`` has the EMA where kept)."""
        return None

    def collate(self, items: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """Batch dataset items (default: stack tensors, list the rest)."""
        out: Dict[str, Any] = {}
        for key in items[0]:
            vals = [it[key] for it in items]
            if isinstance(vals[0], torch.Tensor):
                out[key] = torch.stack(vals)
            elif isinstance(vals[0], (int, float)) and not isinstance(vals[0], bool):
                out[key] = torch.tensor(vals)
            else:
                out[key] = vals
        return out


class StepContext:
    """What a task's :meth:`Task.train_step` uses: the device, the task's random generator, autocast and
    :meth:`backward_step`."""

    def __init__(self, trainer: "Trainer") -> None:
        self._t = trainer
        self.device: torch.device = trainer.device
        self.generator: torch.Generator = trainer.task_generator
        self.step: int = 0
        self.world_size: int = trainer.world_size
        # where the step lies in its epoch (per-epoch schedules and the DAMSM optimiser reset use these)
        self.epoch: int = 0
        self.batch_in_epoch: int = 0
        self.steps_per_epoch: int = getattr(trainer, "steps_per_epoch", 1)

    def autocast(self):
        """Autocast context for the forward passes (a no-op unless mixed precision is on)."""
        return self._t._autocast()

    def backward_step(self, loss: torch.Tensor, optimizer: str, *, retain_graph: bool = False,
                      clip_grad_norm: Optional[float] = None, clip_params: Optional[Sequence[torch.Tensor]] = None
                      ) -> None:
        """``loss.backward()``, average the gradients over ranks, optimiser step, zero the gradients.

        ``clip_grad_norm``: clip the total gradient norm of ``clip_params`` (default: all of the optimiser's
        parameters) to this value after averaging, as AttnGAN's DAMSM pretraining clips its RNN (0.25)."""
        t = self._t
        opt = t.optimizers[optimizer]
        scaler = t.scalers.get(optimizer)
        (scaler.scale(loss) if scaler is not None else loss).backward(retain_graph=retain_graph)
        if t.world_size > 1:
            _average_gradients(opt, t.world_size)
        if clip_grad_norm is not None:
            if scaler is not None:
                scaler.unscale_(opt)
            params = clip_params if clip_params is not None else [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(list(params), clip_grad_norm)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)


def adam(params, lr: float, betas=(0.9, 0.999), **kwargs) -> torch.optim.Adam:
    """``torch.optim.Adam`` with the fused kernel (one pass over every tensor: about 3x faster than the default
    for-loop update on CPU for DF-GAN's 5 M-parameter G; the same update up to float rounding). Betas are
    made floats (``Adam`` rejects ``(0, 0.9)`` from JSON integers)."""
    betas = tuple(float(b) for b in betas)
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr, betas=betas, **kwargs)


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Parameters of ``modules`` do not require grad inside the block (then as before): G's step back-propagates
    through D to the images without computing D's weight gradients, which the step would discard."""
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def _average_gradients(opt: torch.optim.Optimizer, world_size: int) -> None:
    params = [p for g in opt.param_groups for p in g["params"]]
    has = [p.grad is not None for p in params]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(world_size)
    i = 0
    for p, h in zip(params, has):
        n = p.numel()
        if h:  # the same code path on every rank, so a parameter without grad has none anywhere
            p.grad.copy_(flat[i:i + n].view_as(p))
        i += n


class Trainer:
    """Runs a :class:`Task` over a dataset.

    Args:
        task: the models, optimisers and step.
        dataset: a map-style dataset of items the task's ``collate`` batches.
        out_dir: checkpoints, ``metrics.csv`` and samples go here.
        batch_size: the **global** batch (split evenly over the ranks).
        steps: total optimisation steps.
        seed: seeds the sampler, the task generator (``seed + 1000·rank``) and the global RNGs.
        num_workers: data-loader workers.
        checkpoint_every, log_every, sample_every: in steps (0 turns a feature off).
        keep_checkpoints: also keep ``step_XXXXXXX.pt`` files (``last.pt`` is always written).
        ema_decay: keep an EMA of ``task.ema_module`` with this decay (``None``: no EMA).
        amp: ``"auto"``, ``"off"``, ``"fp16"`` or ``"bf16"``.
        resume: continue from ``out_dir/checkpoints/last.pt`` when it exists (``True``), or from a given file.
        progress: show a progress bar (rank 0).
        device: default ``cuda:LOCAL_RANK`` when CUDA is available, else CPU.
        sample_batch: fixed inputs for :meth:`Task.sample` (default: the first 16 dataset items).
        callbacks: functions ``(trainer, step, losses)`` called after every step.
    """

    def __init__(self, task: Task, dataset, out_dir: os.PathLike, *, batch_size: int, steps: int, seed: int = 0,
                 num_workers: int = 0, checkpoint_every: int = 500, log_every: int = 10, sample_every: int = 0,
                 keep_checkpoints: bool = False, ema_decay: Optional[float] = None, amp: str = "auto",
                 resume: Any = True, progress: bool = True, device=None, sample_batch=None,
                 callbacks: Sequence[Callable] = ()) -> None:
        info = distributed_info()
        self.rank, self.world_size, self.local_rank = info["rank"], info["world_size"], info["local_rank"]
        if batch_size % self.world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the {self.world_size} processes")
        if device is None:
            device = f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.task, self.dataset, self.out_dir = task, dataset, Path(out_dir)
        self.batch_size, self.local_batch, self.steps, self.seed = batch_size, batch_size // self.world_size, steps, seed
        self.num_workers, self.checkpoint_every, self.log_every = num_workers, checkpoint_every, log_every
        self.sample_every, self.keep_checkpoints, self.progress = sample_every, keep_checkpoints, progress
        self.callbacks = list(callbacks)
        self.amp = self._amp_mode(amp)
        for m in task.modules.values():
            m.to(self.device)
        self.optimizers = task.optimizers
        self.scalers = {name: torch.amp.GradScaler("cuda") for name in self.optimizers} if self.amp == "fp16" else {}
        self.ema = None
        if ema_decay is not None:
            if task.ema_module is None:
                raise ValueError(f"ema_decay given but the task {type(task).__name__} names no ema_module")
            self.ema = copy.deepcopy(task.modules[task.ema_module]).eval().requires_grad_(False)
        self.ema_decay = ema_decay
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self._seed_everything()
        if self.world_size > 1:
            for m in task.modules.values():  # identical start on every rank, as DDP does
                for tensor in list(m.parameters()) + list(m.buffers()):
                    dist.broadcast(tensor.data, 0)
            if self.ema is not None:
                self.ema.load_state_dict(task.modules[task.ema_module].state_dict())
        self.sampler = ResumableSampler(len(dataset), self.world_size, self.rank, seed)
        self.steps_per_epoch = (len(dataset) // self.world_size) // self.local_batch
        if self.steps_per_epoch < 1:
            raise ValueError(f"the dataset ({len(dataset)} items) is smaller than one batch of {batch_size}")
        self.sample_batch = sample_batch
        self.ctx = StepContext(self)
        self._csv_keys: Optional[List[str]] = None
        self._tb = None
        if resume:
            path = Path(resume) if not isinstance(resume, bool) else self.out_dir / "checkpoints" / "last.pt"
            if path.exists():
                self.load_checkpoint(path)

    # ------------------------------------------------------------------ setup helpers
    def _amp_mode(self, amp: str) -> str:
        if amp not in ("auto", "off", "fp16", "bf16"):
            raise ValueError(f"amp must be 'auto', 'off', 'fp16' or 'bf16', got {amp!r}")
        if amp == "auto":
            return "fp16" if self.device.type == "cuda" else "off"
        if amp == "fp16" and self.device.type != "cuda":
            raise ValueError("amp='fp16' needs a CUDA device; use amp='bf16' or 'off' on CPU")
        return amp

    def _autocast(self):
        if self.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.float16 if self.amp == "fp16" else torch.bfloat16)

    def _seed_everything(self) -> None:
        s = self.seed + 1000 * self.rank
        random.seed(s)
        np.random.seed(s % 2 ** 32)
        torch.manual_seed(s)
        self.task_generator = torch.Generator(device="cpu").manual_seed(s)

    # ------------------------------------------------------------------ checkpoints
    def _rng_state(self) -> Dict[str, Any]:
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                 "task": self.task_generator.get_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _set_rng_state(self, state: Mapping[str, Any]) -> None:
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        self.task_generator.set_state(state["task"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    def state_dict(self) -> Dict[str, Any]:
        """Everything a resumed run needs (the calling rank's view; ``rng`` holds every rank's state)."""
        rng = [self._rng_state()]
        if self.world_size > 1:
            rng = [None] * self.world_size
            dist.all_gather_object(rng, self._rng_state())
        return {
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.world_size, "batch_size": self.batch_size, "seed": self.seed,
            "modules": {k: m.state_dict() for k, m in self.task.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.task.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "ema": None if self.ema is None else self.ema.state_dict(),
            "rng": rng,
        }

    def save_checkpoint(self) -> Optional[Path]:
        """Write ``checkpoints/last.pt`` (and ``step_XXXXXXX.pt`` with ``keep_checkpoints``) on rank 0."""
        state = self.state_dict()  # every rank takes part in gathering the RNG states
        if self.rank != 0:
            return None
        last = self.out_dir / "checkpoints" / "last.pt"
        atomic_save(state, last)
        if self.keep_checkpoints:
            atomic_save(state, self.out_dir / "checkpoints" / f"step_{self.step:07d}.pt")
        return last

    def load_checkpoint(self, path: os.PathLike) -> None:
        """Restore a :meth:`save_checkpoint` file; the world size and global batch must match."""
        from ..errors import CheckpointError

        from .._weights import load_trainer_checkpoint

        state = load_trainer_checkpoint(path)  # restricted unpickler: a shared checkpoint runs no code
        for key, want in (("world_size", self.world_size), ("batch_size", self.batch_size)):
            if state[key] != want:
                raise CheckpointError(f"{path}: written with {key}={state[key]}, this run has {want}; resume with "
                                      f"the same {key} (or start a new out_dir)")
        for k, m in self.task.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.task.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        for k, s in self.scalers.items():
            s.load_state_dict(state["scalers"][k])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self._set_rng_state(state["rng"][self.rank])

    # ------------------------------------------------------------------ the loop
    def _loader(self):
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch * self.local_batch)
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=self.local_batch, sampler=self.sampler, drop_last=True,
            num_workers=self.num_workers, collate_fn=self.task.collate, persistent_workers=False,
            pin_memory=self.device.type == "cuda",
            # its own generator: creating a loader must not draw from the global RNG (exact resume)
            generator=torch.Generator().manual_seed(self.seed + 7919 * self.epoch + 104729 * self.rank))

    def _to_device(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def _update_ema(self) -> None:
        decay = min(self.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up: early EMA follows the model
        with torch.no_grad():
            src = self.task.modules[self.task.ema_module]
            for pe, p in zip(self.ema.parameters(), src.parameters()):
                pe.lerp_(p.detach(), 1 - decay)
            for be, b in zip(self.ema.buffers(), src.buffers()):
                be.copy_(b)

    def _log(self, losses: Dict[str, float], rate: float) -> None:
        if self.rank != 0:
            return
        row = {"step": self.step, "epoch": self.epoch, "images_per_s": round(rate, 3), **losses}
        path = self.out_dir / "metrics.csv"
        if self._csv_keys is None:
            if path.exists():
                with open(path, newline="") as f:
                    self._csv_keys = next(csv.reader(f), None)
            if not self._csv_keys:
                self._csv_keys = list(row)
                self.out_dir.mkdir(parents=True, exist_ok=True)
                with open(path, "w", newline="") as f:
                    csv.writer(f).writerow(self._csv_keys)
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self._csv_keys])
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
            except Exception:  # tensorboard not installed
                self._tb = False
        if self._tb:
            for k, v in losses.items():
                self._tb.add_scalar(k, v, self.step)

    def _reduce(self, losses: Dict[str, torch.Tensor]) -> Dict[str, float]:
        keys = sorted(losses)
        vals = torch.stack([torch.as_tensor(losses[k], dtype=torch.float32).detach().cpu().reshape(()) for k in keys])
        if self.world_size > 1:
            dist.all_reduce(vals)
            vals /= self.world_size
        return {k: float(v) for k, v in zip(keys, vals)}

    def sample(self) -> Optional[Path]:
        """Write a sample grid for the current step (rank 0)."""
        if self.rank != 0:
            return None
        if self.sample_batch is None:
            n = min(16, len(self.dataset))
            self.sample_batch = self.task.collate([self.dataset[i] for i in range(n)])
        modules = dict(self.task.modules)
        if self.ema is not None:
            modules[self.task.ema_module] = self.ema
        with torch.no_grad():
            images = self.task.sample(self._to_device(self.sample_batch), modules)
        if images is None:
            return None
        path = self.out_dir / "samples" / f"step_{self.step:07d}.png"
        save_image_grid(images, path)
        return path

    def fit(self) -> Dict[str, float]:
        """Train until ``steps``; returns the last logged losses."""
        last: Dict[str, float] = {}
        bar = None
        if self.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.steps, initial=self.step, desc="textgan train", unit="step")
        t0, s0 = time.time(), self.step
        for m in self.task.modules.values():
            m.train()
        while self.step < self.steps:
            for batch in self._loader():
                batch = self._to_device(batch)
                self.ctx.step, self.ctx.epoch, self.ctx.batch_in_epoch = self.step, self.epoch, self.batch_in_epoch
                losses = self.task.train_step(batch, self.ctx)
                for s in self.task.schedulers.values():
                    s.step()
                self.step += 1
                self.batch_in_epoch += 1
                if self.ema is not None:
                    self._update_ema()
                if self.batch_in_epoch >= self.steps_per_epoch:
                    self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                if self.log_every and (self.step % self.log_every == 0 or self.step == self.steps):
                    last = self._reduce(losses)
                    self._log(last, (self.step - s0) * self.batch_size / max(time.time() - t0, 1e-9))
                    if bar is not None:
                        bar.set_postfix({k: f"{v:.3f}" for k, v in list(last.items())[:4]})
                if bar is not None:
                    bar.update(1)
                if self.checkpoint_every and (self.step % self.checkpoint_every == 0 or self.step == self.steps):
                    self.save_checkpoint()
                if self.sample_every and self.step % self.sample_every == 0:
                    self.sample()
                for cb in self.callbacks:
                    cb(self, self.step, losses)
                if self.step >= self.steps or self.batch_in_epoch == 0:
                    break
        if bar is not None:
            bar.close()
        if self._tb:
            self._tb.flush()
        return last
