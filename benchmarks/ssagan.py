"""Generation speed and peak memory: the authors' SSA-GAN NetG against textgan's generator (birds size).

    python benchmarks/ssagan.py --official-code /work/official/ssagan/3063e27 --batch-sizes 1 16 --rounds 12

``--official-code`` is a folder holding the authors' ``model.py`` and its ``sync_batchnorm/`` package
(wtliao/text2image@3063e27, e.g. ``git archive 3063e27 model.py sync_batchnorm | tar -x -C DIR``). It is
imported from there unmodified and needs only torch and numpy; no import had to be stubbed. Nothing of the
authors' code is part of textgan.

What is measured (the released birds/COCO configuration: ngf 64, nz 100, 256-d sentences, 256 px):

1. The authors' ``NetG(64, 100)`` with random weights initialised like the parity fixtures (BatchNorm
   statistics, residual scales and affines away from their identity init, images not saturated) is saved
   as the released file: ``netG_550.pth`` with DataParallel ``module.`` keys, next to a DAMSM
   ``text_encoder_550.pth`` of the birds vocabulary size.
2. textgan converts them through its public path (``textgan.convert.pipeline_from_official("ssagan")``,
   ``save_pretrained``) and loads the folder with ``textgan.load_pretrained``: ``pipe.generator`` (plain)
   and ``pipe.generator.optimize_for_inference()`` (optimised; see ``OptimizedSSAGANGenerator``).
3. Throughput (images/s) of the three on the same noise and sentences, interleaved round by round
   (rotating the order) after a warm-up; medians over rounds. ``ratio`` is the median over rounds of
   (official time / textgan time) within a round, which cancels slow drifts of a shared machine.
4. Max abs difference of each textgan image from the official image.
5. Peak memory: each configuration runs in a fresh subprocess that loads its generator, resets the kernel's
   peak-RSS mark (``/proc/self/clear_refs``), generates twice and reads ``VmHWM`` (peak resident set size of
   the whole process) and its growth over the RSS just before generating.

Prints a markdown table; ``--json PATH`` also writes every number.
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

NGF, NZ, COND = 64, 100, 256
VOCAB = 5450  # CUB birds DAMSM vocabulary size (text_encoder200.pth)


def load_official(folder: str):
    """Import the authors' model.py (with its sync_batchnorm package next to it)."""
    path = Path(folder)
    if not (path / "model.py").is_file() or not (path / "sync_batchnorm").is_dir():
        raise SystemExit(f"--official-code {folder}: needs model.py and sync_batchnorm/ of wtliao/text2image@3063e27")
    sys.path.insert(0, str(path))
    import importlib

    return importlib.import_module("model")


def random_weights(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The parity fixtures' init at full size: N(0, 1/fan_in) weights, N(0, 0.05²) biases, BatchNorm statistics
    and scales away from identity, residual scales U(0.5, 1); the last convolution is scaled so that images
    are not saturated (std 0.8 before tanh). Speed does not depend on the values; errors would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * mod.weight[0].numel() ** -0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.05)
            elif isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                if mod.affine:
                    mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) * 1.5 + 0.5)
        for name, p in net.named_parameters():
            if name.endswith("gamma"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.5)
        seen = {}
        hook = net.conv_img[2].register_forward_hook(lambda m, i, o: seen.update(std=o.std().item()))
        net.eval()(torch.randn(2, NZ, generator=g), torch.randn(2, COND, generator=g))
        hook.remove()
        net.conv_img[2].weight.mul_(0.8 / seen["std"])
        net.conv_img[2].bias.mul_(0.8 / seen["std"])
    return net


def build_released_files(official, work: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    net = random_weights(official.NetG(NGF, NZ), seed)
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, work / "netG_550.pth")
    from textgan.text import DAMSMTextEncoder, Vocabulary

    torch.save(DAMSMTextEncoder(VOCAB).state_dict(), work / "text_encoder_550.pth")
    Vocabulary(["<end>"] + [f"word{i}" for i in range(1, VOCAB)]).save(work / "vocab.json")
    return work / "netG_550.pth"


def official_generator(official, pth: Path):
    """What the authors' sampling does, minus the DataParallel wrapper: NetG, strip 'module.', load."""
    net = official.NetG(NGF, NZ)
    net.load_state_dict({k[7:]: v for k, v in torch.load(pth, map_location="cpu").items()})
    return net.eval()


def convert(work: Path) -> Path:
    from textgan.convert import pipeline_from_official

    pipe = pipeline_from_official("ssagan", work / "netG_550.pth", text_encoder=work / "text_encoder_550.pth",
                                  captions=work / "vocab.json", tag="ssagan-birds")
    return pipe.save_pretrained(work / "textgan-ssagan")


def textgan_generator(folder: Path, optimised: bool, chunk_size: int = 1):
    import textgan

    gen = textgan.load_pretrained(folder).generator
    return gen.optimize_for_inference(chunk_size=chunk_size) if optimised else gen


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, clock) -> Dict[str, List[float]]:
    names = list(fns)
    for n in names:  # warm-up (oneDNN primitives, buffers)
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
    """Fresh process: load one generator, generate twice, print peak RSS (JSON on the last line)."""
    if args.variant == "official":
        gen = official_generator(load_official(args.official_code), Path(args.folder) / "netG_550.pth")
    else:
        chunk = int(args.variant.split("chunk ")[1]) if "chunk " in args.variant else 1
        gen = textgan_generator(Path(args.folder) / "textgan-ssagan", args.variant.startswith("optimised"), chunk)
    inputs = (torch.randn(args.batch, NZ), torch.randn(args.batch, COND))
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _status("VmRSS")
    with torch.inference_mode():
        for _ in range(2):
            gen(*inputs)
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
    ap.add_argument("--official-code", required=True, help="folder with the authors' model.py and sync_batchnorm/")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=12, help="timed rounds at batch 1; batch b gets max(3, rounds // b)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall clock, or this process's CPU time (steadier on a busy machine; use with --threads 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-size", type=int, default=0,
                    help="also time the optimised generator with this chunk_size (default: only chunk_size=1)")
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
    tmp = tempfile.TemporaryDirectory(prefix="textgan-bench-ssagan-")
    work = Path(tmp.name)
    pth = build_released_files(official, work, args.seed)
    folder = convert(work)
    results = {"machine": machine(), "command": "python benchmarks/ssagan.py " + " ".join(sys.argv[1:]),
               "clock": args.clock, "load_average_start": os.getloadavg()[0], "speed": [], "memory": []}
    models = {"official": official_generator(official, pth), "textgan": textgan_generator(folder, False),
              "textgan optimised": textgan_generator(folder, True)}
    if args.chunk_size > 1:
        models[f"textgan optimised, chunk {args.chunk_size}"] = textgan_generator(folder, True, args.chunk_size)
    for batch in args.batch_sizes:
        g = torch.Generator().manual_seed(args.seed + batch)
        noise, sentence = torch.randn(batch, NZ, generator=g), torch.randn(batch, COND, generator=g)
        with torch.inference_mode():
            ref = models["official"](noise, sentence)[0]
            diffs = {n: (m(noise, sentence) - ref).abs().max().item() for n, m in models.items() if n != "official"}
            rounds = max(3, args.rounds // batch)
            times = interleaved({n: (lambda m=m: m(noise, sentence)) for n, m in models.items()}, rounds, clock)
        row = {"batch": batch, "rounds": rounds, "max_abs_diff": diffs,
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
            extra = [f"optimised, chunk {args.chunk_size}"] if args.chunk_size > 1 else []
            for variant in ["official", "textgan", "optimised"] + extra:
                cmd = [sys.executable, os.path.abspath(__file__), "--_memory-worker", "--official-code",
                       args.official_code, "--folder", str(work), "--variant", variant, "--batch", str(batch)]
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
        for name in [n for n in ips if n.startswith("textgan optimised, ")]:
            print(f"| {row['batch']} | | {name}: | {ips[name]:.3f} ({r[name]:.2f}×) | {d[name]:.1e} |")
    if results["memory"]:
        print("\n| batch | variant | peak RSS MiB | growth while generating MiB |\n|---|---|---|---|")
        for m in results["memory"]:
            print(f"| {m['batch']} | {m['variant']} | {mib(m['peak_rss'])} | {mib(m['peak_rss'] - m['rss_before'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    tmp.cleanup()


if __name__ == "__main__":
    main()
