"""Training speed of DF-GAN 2022 on CPU: textgan's step against the authors' step, and the data loader.

    python benchmarks/train.py --official-code /path/to/DF-GAN/code/models --sizes 64 256 --batch-size 8

``--official-code`` is a folder holding the authors' ``GAN.py`` (tobran/DF-GAN@78f14fd ``code/models``) or the
file; it is imported from there (torch only). Nothing of the authors' code is part of textgan.

Both sides train the same full-width models (ngf = ndf = 32, z 100, 256-d sentences; 64 or 256 px) from the
same initial weights on the same batches. One step is DF-GAN 2022's ``train`` (code/lib/modules.py):

* **official**: the authors' ``NetG``/``NetD``/``NetC`` driven the way their loop drives them — D on the
  real images and the rolled mismatches, G forward, D on the detached fakes, MA-GP through
  ``torch.autograd.grad(create_graph=True)``, one D+C Adam step, then D on the fakes and one G step;
* **textgan**: :class:`textgan.train.tasks.DFGANTask.train_step` (the same losses from textgan.losses)
  inside :class:`textgan.train.Trainer`'s step context.

Sentence embeddings are given (the frozen text encoder is outside both timings, as the authors compute it
under ``no_grad`` in ``prepare_data``). Rounds alternate the two sides; medians over rounds; ``ratio`` is
textgan's images/s over the official's within each round (median), which cancels drifts of a shared machine.
Times are the process's CPU time by default (``--clock cpu``; one thread), which other processes on a shared
machine do not inflate; ``--clock wall`` measures wall-clock time. ``--ablation`` adds textgan's step with its
speed-ups (channels_last, G's step with D frozen, fused Adam) switched off one by one.

The data loader: images/s of ``DataLoader(ShapesImages(size), batch_size, num_workers)`` alone, to show it
is not the bottleneck (it must exceed the training images/s).

Prints a markdown table; ``--json PATH`` writes every number.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def _import_official(path: str):
    p = Path(path)
    candidates = [p] if p.is_file() else [p / "GAN.py", p / "models" / "GAN.py", p / "code" / "models" / "GAN.py"]
    for c in candidates:
        if c.is_file():
            spec = importlib.util.spec_from_file_location("dfgan_official_GAN", c)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise SystemExit(f"--official-code {path}: no GAN.py there (give tobran/DF-GAN's code/models folder or the file)")


def _official_step(G, D, C, optG, optD, imgs, sent, noise):
    """DF-GAN 2022's training step as the authors' loop runs it (see the module docstring)."""
    imgs = imgs.requires_grad_()
    sent = sent.requires_grad_()
    real_features = D(imgs)
    pred_real = C(real_features, sent)
    err_real = F.relu(1.0 - pred_real).mean()
    mis = torch.cat((real_features[1:], real_features[0:1]), dim=0)
    err_mis = F.relu(1.0 + C(mis, sent)).mean()
    fake = G(noise, sent)
    err_fake = F.relu(1.0 + C(D(fake.detach()), sent)).mean()
    grads = torch.autograd.grad(pred_real, (imgs, sent), torch.ones(pred_real.size()), retain_graph=True,
                                create_graph=True, only_inputs=True)
    grad = torch.cat((grads[0].view(grads[0].size(0), -1), grads[1].view(grads[1].size(0), -1)), dim=1)
    gp = 2.0 * torch.mean(torch.sqrt(torch.sum(grad ** 2, dim=1)) ** 6)
    err_d = err_real + (err_fake + err_mis) / 2.0 + gp
    optD.zero_grad()
    err_d.backward()
    optD.step()
    err_g = -C(D(fake), sent).mean()
    optG.zero_grad()
    err_g.backward()
    optG.step()


def _loader_rate(size: int, batch: int, workers: int, batches: int) -> float:
    from textgan.train.tasks import ShapesImages

    loader = torch.utils.data.DataLoader(ShapesImages("train", size=size, length=batch * (batches + 2)), batch_size=batch,
                                         num_workers=workers)
    it = iter(loader)
    next(it)  # worker start-up is not part of the rate
    t = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += next(it)["image"].shape[0]
    return n / (time.perf_counter() - t)


#: --ablation: textgan's step with its speed-ups switched off one at a time (fused Adam, D frozen in G's step,
#: channels_last), to show what each contributes
ABLATION = {"textgan": {}, "textgan, contiguous (no channels_last)": {"channels_last": False},
            "textgan, no channels_last, D not frozen": {"channels_last": False, "freeze": False},
            "textgan, none (for-loop Adam, D not frozen, contiguous)": {"channels_last": False, "freeze": False,
                                                                         "fused": False}}


def _textgan_runner(size: int, batch: int, steps: int, imgs, sent, channels_last=True, freeze=True, fused=True):
    import contextlib

    import textgan.train.tasks as tasks_mod
    from textgan.train.tasks import DFGANTask
    from textgan.train.trainer import StepContext, frozen

    torch.manual_seed(0)
    task = DFGANTask(form="2022", ngf=32, ndf=32, nz=100, imsize=size, encoder_dim=256, seed=0,
                     channels_last=channels_last)
    if not fused:
        task.optimizers = {"g": torch.optim.Adam(task.netG.parameters(), lr=1e-4, betas=(0.0, 0.9)),
                           "d": torch.optim.Adam(list(task.netD.parameters()) + list(task.netC.parameters()),
                                                 lr=4e-4, betas=(0.0, 0.9))}

    class _T:  # the bits of Trainer a StepContext reads
        device = torch.device("cpu")
        world_size = 1
        steps_per_epoch = 1
        scalers: dict = {}
        task_generator = torch.Generator().manual_seed(0)
        optimizers = task.optimizers

        @staticmethod
        def _autocast():
            return contextlib.nullcontext()

    ctx = StepContext(_T())
    task._encode = lambda b: sent  # sentences are given (the frozen encoder is not timed)
    batch_dict = {"image": imgs, "ids": torch.zeros(batch, 18, dtype=torch.long),
                  "length": torch.ones(batch, dtype=torch.long)}

    def run():
        tasks_mod.frozen = frozen if freeze else (lambda *m: contextlib.nullcontext())
        try:
            for _ in range(steps):
                task.train_step(batch_dict, ctx)
        finally:
            tasks_mod.frozen = frozen
    return task, run


def bench(size: int, batch: int, rounds: int, steps: int, official, ablation: bool = False,
          clock=time.process_time) -> dict:
    imgs = torch.rand(batch, 3, size, size) * 2 - 1
    sent = torch.randn(batch, 256)
    variants = ABLATION if ablation else {"textgan": {}}
    runners = {name: _textgan_runner(size, batch, steps, imgs, sent, **kw) for name, kw in variants.items()}
    task = runners["textgan"][0]
    oG, oD, oC = official.NetG(32, 100, 256, size, 3), official.NetD(32, size, 3), official.NetC(32, 256)
    # same initial weights on both sides (textgan's names follow the authors')
    oG.load_state_dict(task.netG.state_dict())
    oD.load_state_dict(task.netD.state_dict())
    oC.load_state_dict(task.netC.state_dict())
    optG = torch.optim.Adam(oG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    optD = torch.optim.Adam(list(oD.parameters()) + list(oC.parameters()), lr=4e-4, betas=(0.0, 0.9))

    def run_official():
        for _ in range(steps):
            _official_step(oG, oD, oC, optG, optD, imgs.clone(), sent.clone(), torch.randn(batch, 100))

    order = [("official", run_official)] + [(name, r[1]) for name, r in runners.items()]
    for _, fn in order:
        fn()  # warm-up
    times = {name: [] for name, _ in order}
    for r in range(rounds):
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            t = clock()
            fn()
            times[name].append(clock() - t)
    rate = {k: [steps * batch / t for t in v] for k, v in times.items()}
    out = {"size": size, "batch": batch, "steps_per_round": steps, "rounds": rounds,
           "official_images_per_s": statistics.median(rate["official"])}
    for name in runners:  # "textgan" keeps the keys of earlier runs; ablation rows are named
        rate_key, ratio_key = ("textgan_images_per_s", "ratio") if name == "textgan" else \
            (f"images_per_s[{name}]", f"ratio[{name}]")
        out[rate_key] = statistics.median(rate[name])
        out[ratio_key] = statistics.median(t / g for t, g in zip(times["official"], times[name]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official-code", required=True, help="folder with the authors' GAN.py (code/models), or the file")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2, help="training steps per round and side")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2, help="data-loader workers for the loader measurement")
    ap.add_argument("--json", default=None)
    ap.add_argument("--ablation", action="store_true", help="also time textgan with each speed-up switched off")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="cpu: process CPU time (default; on a shared machine other processes' load does not "
                         "enter, which wall-clock time cannot avoid); wall: time.perf_counter")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    official = _import_official(args.official_code)
    rows = []
    for size in args.sizes:
        r = bench(size, args.batch_size, args.rounds, args.steps, official, args.ablation,
                  time.process_time if args.clock == "cpu" else time.perf_counter)
        r["clock"] = args.clock
        r["loader_images_per_s"] = _loader_rate(size, args.batch_size, args.workers, 8)
        r["loader_workers"] = args.workers
        rows.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, batch {args.batch_size}\n")
    print("| size | official img/s | textgan img/s | ratio (textgan/official) | loader img/s (workers) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['official_images_per_s']:.2f} | {r['textgan_images_per_s']:.2f} | "
              f"{r['ratio']:.3f} | {r['loader_images_per_s']:.1f} ({r['loader_workers']}) |")
        for k in r:
            if k.startswith("ratio["):
                name = k[len("ratio["):-1]
                print(f"|   {name} | | {r[f'images_per_s[{name}]']:.2f} | {r[k]:.3f} | |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "threads": torch.get_num_threads(),
                                               "torch": torch.__version__}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
