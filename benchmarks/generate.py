"""Generation speed, peak memory and load time: the authors' DF-GAN NetG against textgan's generator.

    python benchmarks/generate.py --official-code /path/to/DF-GAN/code/models --batch-sizes 1 16 --repeats 10

``--official-code`` is a folder holding the authors' ``GAN.py`` (``code/models`` of a tobran/DF-GAN checkout,
or any folder you copied that one file to), or the file itself; it is imported from there and only needs
torch and numpy. Nothing of the authors' code is part of textgan.

What is measured (the full-size birds/COCO generator: ngf 32, nz 100, 256-d sentences, 256 px):

1. A realistic released file is built with the authors' classes: ``{'model': {'netG', 'netD', 'netC'},
   'optimizers': {'optimizer_G', 'optimizer_D'}, 'epoch'}`` with ``module.`` (DDP) keys and the authors'
   Adam states after one step, all of full size (netG ngf 32, netD ndf 32 at 256 px, netC ndf 32). The
   weights are random (the affines' output layers are perturbed away from their identity initialisation, as in
   a trained model); speed does not depend on their values.
2. textgan converts it through its public path (``textgan.convert``, then ``save_pretrained`` /
   ``save_model``), and loads it back with ``textgan.load_pretrained`` (``pipe.generator``, ``pipe.optimize()``).
3. Throughput (images/s) of the authors' ``NetG`` with those weights, textgan's plain generator and textgan's
   optimised generator, on the same noise and sentences, interleaved round by round (rotating the order)
   after warm-up; medians over rounds. ``ratio`` is the median over rounds of (official time / textgan time)
   within the same round, which cancels slow drifts of a shared machine.
4. Max abs difference of each textgan output from the official output.
5. Peak memory: each configuration runs in a fresh subprocess that loads the generator, resets the kernel's
   peak-RSS mark (``/proc/self/clear_refs``), runs two forwards and reads ``VmHWM`` (peak resident set size,
   the whole process) and its growth over the RSS just before generating.
6. Load time, warm page cache (median of ``--load-repeats``), and cold (the file's pages dropped with
   ``posix_fadvise(DONTNEED)`` before each read): ``torch.load`` of the released .pth, vs textgan loading
   the saved folder.

Prints a markdown report; ``--json PATH`` also writes every number.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
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

NGF, NZ, COND, IMSIZE, NDF = 32, 100, 256, 256, 32
VOCAB = 5450  # CUB birds DAMSM vocabulary size (text_encoder200.pth)


# ----------------------------------------------------------------------------------------------- setup


def load_official(path: str):
    """Import the authors' GAN.py from a file or a folder (``GAN.py`` or ``models/GAN.py`` inside)."""
    p = Path(path)
    candidates = [p] if p.is_file() else [p / "GAN.py", p / "models" / "GAN.py", p / "code" / "models" / "GAN.py"]
    for c in candidates:
        if c.is_file():
            spec = importlib.util.spec_from_file_location("dfgan_official_GAN", c)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit(f"--official-code {path}: no GAN.py there (give tobran/DF-GAN's code/models folder or the file)")


def trained_like(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights that look trained: affine output layers away from their identity init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "linear2" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
            elif name.endswith("gamma"):
                p.fill_(0.2)
    return module


def build_released_file(official, path: Path, seed: int) -> None:
    """The authors' state_epoch_*.pth layout, full size, with Adam states after one step."""
    torch.manual_seed(seed)
    netG = trained_like(official.NetG(NGF, NZ, COND, IMSIZE, 3), seed)
    netD = trained_like(official.NetD(NDF, IMSIZE, 3), seed + 1)
    netC = official.NetC(NDF, COND)
    # the authors' optimisers (code/src/train.py): Adam, G lr 1e-4, D (netD + netC) lr 4e-4, betas (0, 0.9)
    opt_g = torch.optim.Adam(netG.parameters(), lr=0.0001, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=0.0004, betas=(0.0, 0.9))
    g = torch.Generator().manual_seed(seed + 2)
    snapshot = {k: v.clone() for k, v in netG.state_dict().items()}
    for opt, nets in ((opt_g, (netG,)), (opt_d, (netD, netC))):
        for net in nets:
            for p in net.parameters():
                p.grad = torch.randn(p.shape, generator=g) * 1e-3
        opt.step()
    netG.load_state_dict(snapshot)  # the generator weights are the ones measured below
    ddp = lambda sd: {"module." + k: v for k, v in sd.items()}  # noqa: E731 (released files came from DDP)
    state = {"model": {"netG": ddp(netG.state_dict()), "netD": ddp(netD.state_dict()), "netC": ddp(netC.state_dict())},
             "optimizers": {"optimizer_G": opt_g.state_dict(), "optimizer_D": opt_d.state_dict()}, "epoch": 1220}
    torch.save(state, path)


def official_generator(official, pth: Path):
    """What the authors' sample/test scripts do: torch.load, NetG(...), strip 'module.', load_state_dict."""
    checkpoint = torch.load(pth, map_location="cpu")
    weights = {k[7:] if k.startswith("module.") else k: v for k, v in checkpoint["model"]["netG"].items()}
    netG = official.NetG(NGF, NZ, COND, IMSIZE, 3)
    netG.load_state_dict(weights)
    return netG.eval()


def save_textgan_folder(pth: Path, folder: Path, work: Path) -> str:
    """Convert the released file with textgan's public API; returns how (for the report)."""
    import textgan
    import textgan.convert as tc

    if hasattr(tc, "pipeline_from_official") and hasattr(textgan, "load_pretrained"):
        from textgan.text import DAMSMTextEncoder, Vocabulary

        # a DAMSM text encoder of the birds size and its vocabulary, as released next to the generator
        encoder = DAMSMTextEncoder(VOCAB)
        te_path = work / "text_encoder200.pth"
        torch.save(encoder.state_dict(), te_path)
        vocab_path = Vocabulary(["<end>"] + [f"word{i}" for i in range(1, VOCAB)]).save(work / "vocab.json")
        pipe = tc.pipeline_from_official("dfgan", pth, text_encoder=te_path, captions=vocab_path)
        pipe.save_pretrained(folder)
        return "pipeline"
    gen = tc.from_official("dfgan", pth)
    textgan.save_model(gen, folder)
    return "model"


def textgan_generator(folder: Path, how: str, optimised: bool):
    """textgan's generator loaded from the saved folder through the public API, plain or optimised."""
    import textgan

    if how == "pipeline":
        pipe = textgan.load_pretrained(folder)
        return pipe.optimize().generator if optimised else pipe.generator
    from textgan.optimize import optimize_for_inference

    plain = textgan.create_model("dfgan", pretrained=str(folder))
    return optimize_for_inference(plain) if optimised else plain


def manual_generator_load(folder: Path):
    """The mechanism under textgan's loaders: safetensors + a module built on the meta device + assign=True."""
    from safetensors.torch import load_file

    from textgan.models.dfgan import DFGANGenerator

    state = load_file(str(folder / "model.safetensors"))
    with torch.device("meta"):
        gen = DFGANGenerator(NGF, NZ, COND, IMSIZE, 3)
    gen.load_state_dict(state, strict=True, assign=True)
    return gen.eval()


# --------------------------------------------------------------------------------------------- timing


CLOCK = time.perf_counter


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> Dict[str, List[float]]:
    clock = CLOCK
    names = list(fns)
    for _ in range(warmup):
        for n in names:
            fns[n]()
    times: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            gc.collect()
            t = clock()
            fns[n]()
            times[n].append(clock() - t)
    return times


def median_ratio(num: List[float], den: List[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den))


def drop_page_cache(path: Path) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def ablation(og, plain, args) -> List[dict]:
    """Each optimisation of textgan.optimize turned off in turn (same weights, same inputs)."""
    import textgan.optimize as topt

    variants = {
        "all optimisations": {},
        "without channels_last": dict(channels_last=False),
        "without folding the up-sampling": dict(fold_upsample=False),
        "without fused conditioning": dict(fuse_conditioning=False),
        "without batch pieces (chunk_size=0)": dict(chunk_size=0),
        "4-phase conv instead of transposed conv": "phase",
    }
    built = {}
    for name, opts in variants.items():
        if opts == "phase":
            saved, topt._UPSAMPLE_MODE = topt._UPSAMPLE_MODE, "phase"
            try:
                built[name] = topt.optimize_for_inference(plain)
            finally:
                topt._UPSAMPLE_MODE = saved
        else:
            built[name] = topt.optimize_for_inference(plain, **opts)
    rows = []
    for batch in args.batch_sizes:
        g = torch.Generator().manual_seed(args.seed + batch)
        noise, sentence = torch.randn(batch, NZ, generator=g), torch.randn(batch, COND, generator=g)
        fns = {"official NetG": og, "textgan plain": plain, **built}
        if batch == 1:
            fns.pop("without batch pieces (chunk_size=0)")
        with torch.inference_mode():
            ref = og(noise, sentence)
            diffs = {n: (m(noise, sentence) - ref).abs().max().item() for n, m in fns.items()}
            times = interleaved({n: (lambda m=m: m(noise, sentence)) for n, m in fns.items()},
                                max(3, args.repeats // batch))
        base = times["all optimisations"]
        for n, t in times.items():
            rows.append({"batch": batch, "variant": n, "ms": statistics.median(t) * 1e3,
                         "vs_official": median_ratio(times["official NetG"], t),
                         "slowdown_vs_all": median_ratio(t, base), "max_abs_diff": diffs[n]})
        print(f"# ablation batch {batch} done", file=sys.stderr)
    return rows


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0]
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------------- memory


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return -1


def memory_worker(args) -> None:
    """Fresh process: load one generator, generate twice, print peak RSS (JSON on the last line)."""
    torch.manual_seed(0)
    folder, variant, batch = Path(args.folder), args.variant, args.batch
    if variant == "official":
        official = load_official(args.official_code)
        from safetensors.torch import load_file

        gen = official.NetG(NGF, NZ, COND, IMSIZE, 3)
        gen.load_state_dict(load_file(str(folder / "model.safetensors")))
        gen.eval()
    else:
        gen = textgan_generator(folder, args.how, optimised=variant == "fast")
    gen_inputs = (torch.randn(batch, NZ), torch.randn(batch, COND))
    gc.collect()
    reset = True
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        reset = False
    before = _status("VmRSS")
    with torch.inference_mode():
        for _ in range(2):
            gen(*gen_inputs)
    print(json.dumps({"peak_rss": _status("VmHWM"), "rss_before": before, "hwm_reset": reset}))


def measure_memory(args, folder: Path, how: str, variant: str, batch: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--_memory-worker", "--official-code", args.official_code,
           "--folder", str(folder), "--how", how, "--variant", variant, "--batch", str(batch)]
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------- main


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads, "
            f"{torch.backends.cpu.get_cpu_capability()}), Python {platform.python_version()}, {platform.system()}")


def mib(x: float) -> str:
    return f"{x / 2 ** 20:.0f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official-code", required=True, help="folder with the authors' GAN.py (code/models), or the file")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--repeats", type=int, default=10, help="timed rounds at batch 1; batch b gets max(3, repeats // b)")
    ap.add_argument("--load-repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time generation by wall clock (default) or by this process's CPU time, which a busy shared "
                         "machine disturbs less (meaningful with --threads 1: idle OpenMP threads spin)")
    ap.add_argument("--ablation", action="store_true",
                    help="also time textgan's optimised generator with each optimisation turned off in turn")
    ap.add_argument("--no-speed", action="store_true", help="skip the generation-speed measurements")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--no-load", action="store_true", help="skip the load-time measurements")
    ap.add_argument("--workdir", default=None, help="where the .pth and the textgan folder go (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write all results here")
    # internal: one memory measurement in a fresh process
    ap.add_argument("--_memory-worker", dest="memory_worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--folder", "--how", "--variant"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.memory_worker:
        return memory_worker(args)

    official = load_official(args.official_code)
    tmp = tempfile.TemporaryDirectory(prefix="textgan-bench-") if args.workdir is None else None
    work = Path(args.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    pth, folder = work / "state_epoch_1220.pth", work / "textgan-dfgan"
    t0 = time.perf_counter()
    build_released_file(official, pth, args.seed)
    how = save_textgan_folder(pth, folder, work)
    print(f"# built {pth.name} ({mib(pth.stat().st_size)} MiB) and converted it ({how}) in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    results = {"machine": machine(), "command": "python benchmarks/generate.py " + " ".join(sys.argv[1:]),
               "how": how, "clock": args.clock, "load_average_start": _loadavg(), "speed": [], "memory": [],
               "load": {}, "ablation": []}

    # ------------------------------------------------------------------ speed and parity
    og = official_generator(official, pth)
    plain, fast = textgan_generator(folder, how, False), textgan_generator(folder, how, True)
    models = {"official": og, "textgan": plain, "textgan optimised": fast}
    results["optimised"] = f"{type(fast).__name__}({fast.extra_repr()})"
    for batch in ([] if args.no_speed else args.batch_sizes):
        g = torch.Generator().manual_seed(args.seed + batch)
        noise, sentence = torch.randn(batch, NZ, generator=g), torch.randn(batch, COND, generator=g)
        with torch.inference_mode():
            ref = og(noise, sentence)
            diffs = {n: (m(noise, sentence) - ref).abs().max().item() for n, m in models.items() if n != "official"}

            def call(m):
                return lambda: m(noise, sentence)

            rounds = max(3, args.repeats // batch)
            times = interleaved({n: call(m) for n, m in models.items()}, rounds)
        row = {"batch": batch, "rounds": rounds, "max_abs_diff": diffs,
               "images_per_s": {n: batch / statistics.median(t) for n, t in times.items()},
               "ratio": {n: median_ratio(times["official"], times[n]) for n in models if n != "official"},
               "times": times}
        results["speed"].append(row)
        print(f"# batch {batch}: " + ", ".join(f"{n} {v:.2f} img/s" for n, v in row["images_per_s"].items()),
              file=sys.stderr)
    if args.ablation:
        results["ablation"] = ablation(og, plain, args)
    del og, plain, fast, models
    gc.collect()

    # ------------------------------------------------------------------ memory
    if not args.no_memory:
        for batch in args.batch_sizes:
            for variant in ("official", "textgan", "textgan optimised"):
                key = {"official": "official", "textgan": "textgan", "textgan optimised": "fast"}[variant]
                m = measure_memory(args, folder, how, key, batch)
                results["memory"].append({"batch": batch, "variant": variant, **m})

    # ------------------------------------------------------------------ load time
    if not args.no_load:
        import textgan

        loads = {
            "torch.load(.pth)": lambda: torch.load(pth, map_location="cpu"),
            "official: torch.load + NetG + load_state_dict": lambda: official_generator(official, pth),
            "safetensors + meta-device build + assign (generator)": lambda: manual_generator_load(folder),
        }
        if how == "pipeline":
            loads["textgan.load_pretrained(dir) (generator + text encoder + vocab)"] = \
                lambda: textgan.load_pretrained(folder)
        else:
            loads["textgan.create_model('dfgan', pretrained=dir)"] = \
                lambda: textgan.create_model("dfgan", pretrained=str(folder))
        CLOCK = time.perf_counter  # load times are always wall-clock
        warm = interleaved(loads, args.load_repeats)
        headline = list(loads)[-1]
        files = {"torch.load(.pth)": [pth], headline: sorted(p for p in folder.iterdir() if p.is_file())}

        def cold(name):
            def run():
                for f in files[name]:
                    drop_page_cache(f)
                return loads[name]()
            return run

        cold_times = interleaved({n: cold(n) for n in files}, max(3, args.load_repeats // 2), warmup=0) \
            if hasattr(os, "posix_fadvise") else {}
        results["load"] = {
            "pth_bytes": pth.stat().st_size,
            "folder_bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
            "warm": {n: statistics.median(t) for n, t in warm.items()},
            "warm_ratio": median_ratio(warm["torch.load(.pth)"], warm[headline]),
            "cold": {n: statistics.median(t) for n, t in cold_times.items()},
            "cold_ratio": median_ratio(cold_times["torch.load(.pth)"], cold_times[headline]) if cold_times else None,
            "headline": headline,
        }
    results["load_average_end"] = _loadavg()
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if tmp is not None:
        tmp.cleanup()


def report(r: dict) -> str:
    lines = [f"Machine: {r['machine']}; 1-min load average {r['load_average_start']} at the start, "
             f"{r.get('load_average_end', '?')} at the end", "", f"Command: `{r['command']}` (clock: {r['clock']})", "",
             f"textgan side: {r['how']} saved and loaded through the public API; optimised = `{r.get('optimised', '')}`", ""]
    if r["speed"]:
        lines += ["| batch | official NetG img/s | textgan img/s | textgan optimised img/s | optimised / official "
                  "| max abs diff (plain, optimised) | rounds |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in r["speed"]:
        ips, d = row["images_per_s"], row["max_abs_diff"]
        lines.append(f"| {row['batch']} | {ips['official']:.2f} | {ips['textgan']:.2f} | {ips['textgan optimised']:.2f} "
                     f"| **{row['ratio']['textgan optimised']:.2f}x** (plain {row['ratio']['textgan']:.2f}x) "
                     f"| {d['textgan']:.1e}, {d['textgan optimised']:.1e} | {row['rounds']} |")
    if r["ablation"]:
        lines += ["", "Ablation (each optimisation turned off in turn):", "",
                  "| batch | variant | ms / batch | speed-up vs official | time vs all optimisations | max abs diff |",
                  "|---:|---|---:|---:|---:|---:|"]
        for a in r["ablation"]:
            lines.append(f"| {a['batch']} | {a['variant']} | {a['ms']:.1f} | {a['vs_official']:.2f}x "
                         f"| {a['slowdown_vs_all']:.2f}x | {a['max_abs_diff']:.1e} |")
    if r["memory"]:
        lines += ["", "Peak memory (fresh process per row; VmHWM after loading the generator and running two forwards; "
                  "growth = peak - RSS just before generating):", "",
                  "| batch | model | peak RSS MiB | growth MiB |", "|---:|---|---:|---:|"]
        for m in r["memory"]:
            lines.append(f"| {m['batch']} | {m['variant']} | {mib(m['peak_rss'])} | {mib(m['peak_rss'] - m['rss_before'])} |")
    if r["load"]:
        ld = r["load"]
        lines += ["", f"Load time (released .pth {mib(ld['pth_bytes'])} MiB; textgan folder {mib(ld['folder_bytes'])} MiB):", "",
                  "| what | warm cache ms | cold cache ms |", "|---|---:|---:|"]
        for n, t in ld["warm"].items():
            c = ld["cold"].get(n)
            lines.append(f"| {n} | {t * 1e3:.1f} | {'' if c is None else f'{c * 1e3:.1f}'} |")
        cold = "" if ld["cold_ratio"] is None else f", cold cache **{ld['cold_ratio']:.1f}x**"
        lines += ["", f"torch.load(.pth) / {ld['headline']}: warm cache **{ld['warm_ratio']:.1f}x**{cold}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
