"""StackGAN-v2 birds generator (3 branches, 256 px): images/s and peak memory, the authors' G_NET against textgan's.

    python benchmarks/stackgan_v2.py --official-code /work/official/stackgan2/code [--batch-sizes 1 16]
        [--repeats 5] [--threads N] [--no-memory] [--json out.json]

``--official-code`` holds hanzhanggit/StackGAN-v2@6228e34 ``code/model.py``, unmodified; it is imported from there
(never part of textgan) through ``tests/data/parity_extra/make_keys_stackgan_v2.load_official``, which supplies
the global ``cfg`` (``birds_3stages.yml``: GF 64, Z 100, EMBEDDING_DIM 128, R_NUM 2, 3 branches, TEXT 1024) and
a stub ``torchvision`` (model.py imports it for the unused ``INCEPTION_V3``).

Measured: the authors' ``G_NET`` (default init, BN statistics from one train-mode pass), textgan's converted with
``from_official("stackgan_v2", ...)`` run (a) as is (op-by-op, bit-exact) and (b) ``for_inference()`` (BN folded,
phase up-sampling, NHWC). The CA ε is injected into the authors' ``CA_NET`` so all three compute the same images.
Timed round by round in a rotating order after a warm-up under ``no_grad``; medians over ``--repeats``; the
speed-up is the median of the per-round ratios. Max abs difference over the three images. Peak memory: a fresh
subprocess per (implementation, batch) resets VmHWM, runs two forwards and reports the growth over the RSS before.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data" / "parity_extra"))
from make_keys_stackgan_v2 import CONFIGS, load_official  # noqa: E402


def _inputs(batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 100, generator=g), torch.randn(batch, 1024, generator=g) * 0.2,
            torch.randn(batch, 128, generator=g))


def _inject(model, eps):
    model.CA_NET.reparametrize = lambda self, mu, logvar: eps.clone().mul(logvar.mul(0.5).exp_()).add_(mu)


def _build(args, seed: int = 0):
    import textgan

    model, _ = load_official(args.official_code, CONFIGS["birds"])
    torch.manual_seed(seed)
    official = model.G_NET()
    z, t, eps = _inputs(8, seed + 1)
    _inject(model, eps)
    with torch.no_grad():  # BN statistics from one train-mode pass, as a trained model has
        for mod in official.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.momentum = None
                mod.reset_running_stats()
        official.train()
        official(z, t)
    official.eval()
    plain = textgan.convert.from_official("stackgan_v2", {"module." + k: v for k, v in official.state_dict().items()})
    return model, official, plain, plain.for_inference()


def _interleaved(fns: dict, repeats: int):
    names = list(fns)
    for n in names:
        fns[n]()
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            fns[n]()
            times[n].append(time.perf_counter() - t0)
    return times


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return -1


def _child(args) -> None:
    impl, batch = args.child[0], int(args.child[1])
    model, official, plain, fused = _build(args)
    net = {"official": official, "textgan": plain, "textgan_fused": fused}[impl]
    del official, plain, fused
    z, t, eps = _inputs(batch)
    _inject(model, eps)
    call = (lambda: net(z, t)) if impl == "official" else (lambda: net(z, t, eps))
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _status("VmRSS")
    with torch.no_grad():
        call()
        call()
    print(json.dumps({"peak_rss": _status("VmHWM"), "rss_before": before, "hwm_reset": reset}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official-code", type=Path, required=True, help="folder with StackGAN-v2's code/model.py")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        return _child(args)
    model, official, plain, fused = _build(args)
    res = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "load_average": os.getloadavg()[0], "params": sum(p.numel() for p in official.parameters()), "batches": {}}
    for batch in args.batch_sizes:
        z, t, eps = _inputs(batch)
        _inject(model, eps)
        with torch.no_grad():
            want = official(z, t)[0]
            diffs = {name: max(float((a - b).abs().max()) for a, b in zip(net(z, t, eps)[0], want))
                     for name, net in (("textgan", plain), ("textgan_fused", fused))}
            times = _interleaved({"official": lambda: official(z, t), "textgan": lambda: plain(z, t, eps),
                                  "textgan_fused": lambda: fused(z, t, eps)}, args.repeats)
        r = res["batches"][batch] = {"max_abs_diff": diffs}
        for name, ts in times.items():
            r[f"{name}_images_per_s"] = batch / statistics.median(ts)
            if name != "official":
                r[f"{name}_speedup"] = statistics.median(o / x for o, x in zip(times["official"], ts))
        print(f"batch {batch}: {json.dumps(r)}", file=sys.stderr)
    if not args.no_memory:
        res["memory"] = []
        for batch in args.batch_sizes:
            for impl in ("official", "textgan", "textgan_fused"):
                cmd = [sys.executable, __file__, "--official-code", str(args.official_code), "--child", impl,
                       str(batch)]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                m = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                res["memory"].append({"batch": batch, "impl": impl, "peak_rss_mib": m["peak_rss"] / 2 ** 20,
                                      "growth_mib": (m["peak_rss"] - m["rss_before"]) / 2 ** 20,
                                      "hwm_reset": m["hwm_reset"]})
    _report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


def _report(res) -> None:
    print(f"StackGAN-v2 birds G_NET ({res['params'] / 1e6:.2f} M parameters), torch {res['torch']}, "
          f"{res['threads']} thread(s), load average {res['load_average']:.1f}\n")
    print("| batch | authors' G_NET | textgan (default, exact) | textgan fused | fused speed-up | max abs diff "
          "(default / fused) |\n|---:|---:|---:|---:|---:|---|")
    for batch, r in res["batches"].items():
        print(f"| {batch} | {r['official_images_per_s']:.2f} img/s | {r['textgan_images_per_s']:.2f} img/s "
              f"({r['textgan_speedup']:.2f}x) | {r['textgan_fused_images_per_s']:.2f} img/s | "
              f"**{r['textgan_fused_speedup']:.2f}x** | {r['max_abs_diff']['textgan']:.1e} / "
              f"{r['max_abs_diff']['textgan_fused']:.1e} |")
    if "memory" in res:
        print("\n| batch | implementation | peak RSS MiB | growth while generating MiB |\n|---:|---|---:|---:|")
        for m in res["memory"]:
            print(f"| {m['batch']} | {m['impl']} | {m['peak_rss_mib']:.0f} | {m['growth_mib']:.0f} |")


if __name__ == "__main__":
    main()
