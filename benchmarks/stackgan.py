"""Generation speed and peak memory: the authors' StackGAN-Pytorch Stage-II generator against textgan's (COCO size).

    python benchmarks/stackgan.py --official-code /work/official/stackgan/code --batch-sizes 1 16 --rounds 8

``--official-code`` is a folder holding the authors' ``model.py`` (hanzhanggit/StackGAN-Pytorch@e72ef88
``code/model.py``, unmodified) and a ``miscc/config.py`` that defines ``cfg`` with the ``coco_eval.yml`` values
(the authors' config.py needs easydict and yaml; any object with ``cfg.GAN.GF_DIM`` ... works: CUDA False,
Z_DIM 100, GAN.GF_DIM 192, GAN.CONDITION_DIM 128, GAN.R_NUM 2, TEXT.DIMENSION 1024). Nothing of the authors'
code is part of textgan.

What is measured (the released COCO configuration: ``STAGE2_G(STAGE1_G())``, 57.2 M parameters, 256 px):

1. The authors' generator with random weights (N(0, 1/fan_in), BatchNorm statistics and scales away from
   identity, each tanh input scaled to std 0.8 so that images are not saturated) is saved as the released file
   ``netG_epoch_90.pth`` (plain state dict with ``STAGE1_G.*`` keys, no ``num_batches_tracked``, as torch 0.2).
2. textgan converts it (``textgan.convert.from_official("stackgan", path)``, the path ``textgan convert
   stackgan`` takes): the plain generator, and ``generator.optimize_for_inference()`` (optimised; see
   ``textgan/models/stackgan_fast.py``).
3. Throughput (images/s) on the same text embeddings, noise and conditioning-augmentation ε (the authors'
   module draws ε inside with ``normal_()``; the global RNG is reseeded so that textgan gets the same draws),
   interleaved round by round after a warm-up; medians over rounds; ``ratio`` is the median over rounds of
   (official time / textgan time) within a round.
4. Max abs difference of each textgan 256 px image from the official one.
5. Peak memory: each configuration in a fresh subprocess that loads its generator, resets the kernel's
   peak-RSS mark (``/proc/self/clear_refs``), generates twice and reads ``VmHWM``, and its growth over the RSS
   just before generating.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

TEXT, NZ, COND = 1024, 100, 128


def load_official(folder: str):
    path = Path(folder)
    if not (path / "model.py").is_file() or not (path / "miscc" / "config.py").is_file():
        raise SystemExit(f"--official-code {folder}: needs the authors' model.py and a miscc/config.py with cfg")
    sys.path.insert(0, str(path))
    import importlib

    return importlib.import_module("model")


def random_weights(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * mod.weight[0].numel() ** -0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.05)
            elif isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) * 1.5 + 0.5)
        for conv in (net.STAGE1_G.img[0], net.img[0]):  # tanh inputs at std 0.8
            seen = {}
            hook = conv.register_forward_hook(lambda m, i, o: seen.update(std=o.std().item()))
            net.eval()(torch.randn(2, TEXT, generator=g), torch.randn(2, NZ, generator=g))
            hook.remove()
            conv.weight.mul_(0.8 / seen["std"])
    return net


def build_released_file(official, work: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    net = random_weights(official.STAGE2_G(official.STAGE1_G()), seed)
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, work / "netG_epoch_90.pth")
    return work / "netG_epoch_90.pth"


def official_generator(official, pth: Path):
    """What the authors' sample() does on CPU: STAGE2_G(STAGE1_G()), load_state_dict, eval."""
    net = official.STAGE2_G(official.STAGE1_G())
    net.load_state_dict(torch.load(pth, map_location="cpu"), strict=False)  # torch-0.2 file: no BN counters
    return net.eval()


def textgan_generator(pth: Path, optimised: bool):
    from textgan.convert import from_official

    gen = from_official("stackgan", pth)
    return gen.optimize_for_inference() if optimised else gen


def _eps(batch: int, seed: int):
    """The authors' two draws (Stage-I CA, then Stage-II CA), from the global RNG as their module makes them."""
    torch.manual_seed(seed)
    return torch.FloatTensor(batch, COND).normal_(), torch.FloatTensor(batch, COND).normal_()


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, clock) -> Dict[str, List[float]]:
    names = list(fns)
    for n in names:
        fns[n]()
    times: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            t = clock()
            fns[n]()
            times[n].append(clock() - t)
    return times


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return -1


def memory_worker(args) -> None:
    pth = Path(args.folder) / "netG_epoch_90.pth"
    gen = (official_generator(load_official(args.official_code), pth) if args.variant == "official"
           else textgan_generator(pth, args.variant == "optimised"))
    text, noise = torch.randn(args.batch, TEXT), torch.randn(args.batch, NZ)
    e1, e2 = _eps(args.batch, 0)
    call = (lambda: gen(text, noise)) if args.variant == "official" else (lambda: gen(text, noise, e2, e1))
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    before = _status("VmRSS")
    with torch.inference_mode():
        for _ in range(2):
            call()
    print(json.dumps({"peak_rss": _status("VmHWM"), "rss_before": before, "hwm_reset": reset}))


def machine() -> str:
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads, "
            f"{torch.backends.cpu.get_cpu_capability()}), Python {platform.python_version()}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official-code", required=True, help="folder with the authors' model.py and miscc/config.py")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=8, help="timed rounds at batch 1; batch b gets max(3, rounds // b)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall clock, or this process's CPU time (steadier on a busy machine; use with --threads 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--_memory-worker", dest="memory_worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_worker:
        return memory_worker(args)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    official = load_official(args.official_code)
    tmp = tempfile.TemporaryDirectory(prefix="textgan-bench-stackgan-")
    work = Path(tmp.name)
    pth = build_released_file(official, work, args.seed)
    results = {"machine": machine(), "command": "python benchmarks/stackgan.py " + " ".join(sys.argv[1:]),
               "clock": args.clock, "load_average_start": os.getloadavg()[0], "speed": [], "memory": []}
    models = {"official": official_generator(official, pth), "textgan": textgan_generator(pth, False),
              "textgan optimised": textgan_generator(pth, True)}
    for batch in args.batch_sizes:
        g = torch.Generator().manual_seed(args.seed + batch)
        text, noise = torch.randn(batch, TEXT, generator=g), torch.randn(batch, NZ, generator=g)
        e1, e2 = _eps(batch, args.seed)
        calls = {"official": lambda: models["official"](text, noise),
                 "textgan": lambda: models["textgan"](text, noise, e2, e1),
                 "textgan optimised": lambda: models["textgan optimised"](text, noise, e2, e1)}
        with torch.inference_mode():
            torch.manual_seed(args.seed)  # the official module draws the same two ε inside
            ref = calls["official"]()[1]
            diffs = {n: (calls[n]()[1] - ref).abs().max().item() for n in calls if n != "official"}
            rounds = max(3, args.rounds // batch)
            times = interleaved(calls, rounds, clock)
        row = {"batch": batch, "rounds": rounds, "max_abs_diff": diffs, "image_std": ref.std().item(),
               "images_per_s": {n: batch / statistics.median(t) for n, t in times.items()},
               "ratio": {n: statistics.median(a / b for a, b in zip(times["official"], t))
                         for n, t in times.items() if n != "official"}, "times": times}
        results["speed"].append(row)
        print(f"# batch {batch}: " + ", ".join(f"{n} {v:.3f} img/s" for n, v in row["images_per_s"].items()),
              file=sys.stderr, flush=True)
    del models
    gc.collect()
    if not args.no_memory:
        env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}))
        for batch in args.batch_sizes:
            for variant in ("official", "textgan", "optimised"):
                cmd = [sys.executable, os.path.abspath(__file__), "--_memory-worker", "--official-code",
                       args.official_code, "--folder", str(work), "--variant", variant, "--batch", str(batch)]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
                results["memory"].append({"batch": batch, "variant": variant, **json.loads(out.strip().splitlines()[-1])})
    results["load_average_end"] = os.getloadavg()[0]

    mib = lambda x: f"{x / 2 ** 20:.0f}"  # noqa: E731
    print(f"{results['machine']}; clock: {args.clock}; load average {results['load_average_start']:.1f} -> "
          f"{results['load_average_end']:.1f}\n")
    print("| batch | official img/s | textgan img/s (×) | textgan optimised img/s (×) | max abs diff (plain / optimised) |")
    print("|---|---|---|---|---|")
    for row in results["speed"]:
        ips, r, d = row["images_per_s"], row["ratio"], row["max_abs_diff"]
        print(f"| {row['batch']} | {ips['official']:.3f} | {ips['textgan']:.3f} ({r['textgan']:.2f}×) | "
              f"{ips['textgan optimised']:.3f} ({r['textgan optimised']:.2f}×) | "
              f"{d['textgan']:.1e} / {d['textgan optimised']:.1e} |")
    if results["memory"]:
        print("\n| batch | variant | peak RSS MiB | growth while generating MiB |\n|---|---|---|---|")
        for m in results["memory"]:
            print(f"| {m['batch']} | {m['variant']} | {mib(m['peak_rss'])} | {mib(m['peak_rss'] - m['rss_before'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    tmp.cleanup()


if __name__ == "__main__":
    main()
