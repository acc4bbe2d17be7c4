"""AttnGAN birds generator (3 stages): images/s and peak memory, the authors' G_NET against textgan's.

    python benchmarks/attngan.py --official-code /work/official/attngan/code [--pythonpath DIR_WITH_easydict]
        [--batch-sizes 1 16] [--repeats 5] [--threads 1] [--json out.json]

``--official-code`` is the ``code/`` folder of taoxugit/AttnGAN@0d000e6 with the Python 3 patches of
``miscc/config.py`` described in tests/data/parity_extra/README.md (its ``miscc/config.py`` needs ``easydict``).
It is imported from there and is never part of textgan. Its ``model.py`` imports torchvision at the top for
``CNN_ENCODER`` only; torchvision cannot be imported next to this CPU torch build, so this script puts an empty
stub ``torchvision`` module into ``sys.modules`` before importing it (``G_NET`` never touches it).

What is measured, for the released birds configuration (``eval_bird.yml``: GF_DIM 32, Z_DIM 100,
CONDITION_DIM 100, EMBEDDING_DIM 256, R_NUM 2, 3 stages; 7.1 M parameters, 64/128/256 px):

1. The authors' ``G_NET`` built with their code, default init, its BatchNorm statistics set by one
   train-mode pass (so that eval-mode BN is not the identity); textgan's generator converted from its state
   dict with ``textgan.convert.from_official("attngan", ...)``, run (a) as is (the default op-by-op path, which
   reproduces the authors' outputs bit for bit) and (b) with ``fused_inference = True`` (BN folded,
   sub-pixel up-sampling, channels-last; see textgan/models/attngan.py).
2. Inputs: DAMSM-like sentence and word features for captions of 12, 9, 7 ... words (zero-padded, padding
   mask True), z and the CA ε drawn once and injected into the authors' ``CA_NET`` (its ``reparametrize``
   is replaced by the same arithmetic with the given ε) so that all three compute the same images.
   The authors' attention-mask broadcast is used by all three.
3. Throughput: the three are timed round by round in a rotating order after a warm-up, ``torch.no_grad``;
   medians over ``--repeats`` rounds; ``speed-up`` is the median over rounds of (official / textgan) within
   one round, which cancels the slow drifts of a shared machine.
4. Max abs difference of every textgan image (all three stages) from the official one.
5. Peak memory: each (implementation, batch) runs in a fresh subprocess that builds the generator, resets the
   kernel's peak-RSS mark (``/proc/self/clear_refs``), runs two forwards and reads ``VmHWM``; reported as the
   growth over the RSS just before generating (the activations and workspaces), and the whole peak.
6. Conversion: ``from_official`` of a released-layout ``bird_AttnGAN2.pth`` (bare state dict, legacy non-zip
   pickle, protocol 2, no ``num_batches_tracked``), median of ``--repeats``.

Prints a markdown report; ``--json PATH`` also writes every number.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BIRDS = {"GAN.GF_DIM": 32, "GAN.Z_DIM": 100, "GAN.CONDITION_DIM": 100, "TEXT.EMBEDDING_DIM": 256, "GAN.R_NUM": 2,
         "TREE.BRANCH_NUM": 3}


def _official(code: Path, pythonpath):
    """The authors' model module, imported from ``code`` (outside textgan), with a torchvision stub."""
    for p in filter(None, [pythonpath, str(code)]):
        if p not in sys.path:
            sys.path.insert(0, p)
    if "torchvision" not in sys.modules:
        stub = types.ModuleType("torchvision")
        stub.models = types.ModuleType("torchvision.models")
        sys.modules["torchvision"], sys.modules["torchvision.models"] = stub, stub.models
    from miscc.config import cfg, cfg_from_file  # noqa: E402  (the authors' code)

    cfg_from_file(str(code / "cfg" / "eval_bird.yml"))
    cfg.CUDA = False
    for key, value in BIRDS.items():
        section, name = key.split(".")
        cfg[section][name] = value
    import model  # noqa: E402

    return model


def _inputs(batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = [max(1, 12 - 3 * (i % 4)) for i in range(batch)]  # 12, 9, 6, 3, 12, ...
    lengths.sort(reverse=True)  # the authors sort batches by caption length
    longest = max(lengths)
    mask = torch.arange(longest)[None] >= torch.tensor(lengths)[:, None]
    words = (torch.randn(batch, 256, longest, generator=g) * 0.2).masked_fill(mask[:, None], 0.0)
    return (torch.randn(batch, 100, generator=g), torch.randn(batch, 256, generator=g) * 0.2, words, mask,
            torch.randn(batch, 100, generator=g))


def _build(args, seed: int = 0):
    """(official G_NET, textgan plain, textgan fused), same weights, eval mode."""
    import textgan

    model = _official(args.official_code, args.pythonpath)
    torch.manual_seed(seed)
    official = model.G_NET()
    z, s, w, m, eps = _inputs(8, seed=seed + 1)
    _inject(model, eps)
    with torch.no_grad():  # BN statistics from one train-mode pass, as a trained model has
        for mod in official.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.momentum = None
                mod.reset_running_stats()
        official.train()
        official(z, s, w, m)
    official.eval()
    plain = textgan.convert.from_official("attngan", official.state_dict())
    fused = textgan.convert.from_official("attngan", official.state_dict())
    fused.fused_inference = True
    return model, official, plain, fused


def _inject(model, eps):
    # the authors draw eps inside CA_NET; give them ours (their arithmetic: eps * exp(0.5 * logvar) + mu)
    model.CA_NET.reparametrize = lambda self, mu, logvar: eps.clone().mul(logvar.mul(0.5).exp_()).add_(mu)


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
    """One memory measurement: ``--child IMPL BATCH``."""
    impl, batch = args.child[0], int(args.child[1])
    model, official, plain, fused = _build(args)
    net = {"official": official, "textgan": plain, "textgan_fused": fused}[impl]
    del official, plain, fused
    inputs = _inputs(batch)
    _inject(model, inputs[4])
    call = (lambda: net(*inputs[:4])) if impl == "official" else (lambda: net(*inputs))
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
    ap.add_argument("--official-code", type=Path, required=True, help="taoxugit/AttnGAN code/ folder (patched config.py)")
    ap.add_argument("--pythonpath", default=None, help="a folder holding easydict, if it is not installed")
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
    import textgan

    model, official, plain, fused = _build(args)
    res = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
           "cpu": _cpu(), "load_average": os.getloadavg()[0],
           "params": sum(p.numel() for p in official.parameters()), "batches": {}}
    for batch in args.batch_sizes:
        inputs = _inputs(batch)
        _inject(model, inputs[4])
        with torch.no_grad():
            want = official(*inputs[:4])[0]
            diffs = {name: max(float((a - b).abs().max()) for a, b in zip(net(*inputs)[0], want))
                     for name, net in (("textgan", plain), ("textgan_fused", fused))}
            times = _interleaved({"official": lambda: official(*inputs[:4]), "textgan": lambda: plain(*inputs),
                                  "textgan_fused": lambda: fused(*inputs)}, args.repeats)
        r = res["batches"][batch] = {"max_abs_diff": diffs}
        for name, ts in times.items():
            r[f"{name}_images_per_s"] = batch / statistics.median(ts)
            if name != "official":
                r[f"{name}_speedup"] = statistics.median(o / t for o, t in zip(times["official"], ts))
        print(f"batch {batch}: {json.dumps(r)}", file=sys.stderr)
    if not args.no_memory:
        res["memory"] = []
        for batch in args.batch_sizes:
            for impl in ("official", "textgan", "textgan_fused"):
                cmd = [sys.executable, __file__, "--official-code", str(args.official_code), "--child", impl, str(batch)]
                if args.pythonpath:
                    cmd += ["--pythonpath", args.pythonpath]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                m = json.loads(out.strip().splitlines()[-1])
                res["memory"].append({"batch": batch, "impl": impl, "peak_rss_mib": m["peak_rss"] / 2 ** 20,
                                      "growth_mib": (m["peak_rss"] - m["rss_before"]) / 2 ** 20,
                                      "hwm_reset": m["hwm_reset"]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bird_AttnGAN2.pth"
        legacy = {k: v for k, v in official.state_dict().items() if not k.endswith("num_batches_tracked")}
        torch.save(legacy, path, _use_new_zipfile_serialization=False, pickle_protocol=2)
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            textgan.convert.from_official("attngan", path)
            ts.append(time.perf_counter() - t0)
        res["conversion"] = {"file_mib": path.stat().st_size / 2 ** 20, "from_official_s": statistics.median(ts)}
    _report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return platform.processor()


def _report(res) -> None:
    print(f"AttnGAN birds G_NET ({res['params'] / 1e6:.2f} M parameters), torch {res['torch']}, "
          f"{res['threads']} thread(s), {res['cpu']}, load average {res['load_average']:.1f}\n")
    print("| batch | authors' G_NET | textgan (default, exact) | textgan fused | fused speed-up | max abs diff "
          "(default / fused) |")
    print("|---:|---:|---:|---:|---:|---|")
    for batch, r in res["batches"].items():
        print(f"| {batch} | {r['official_images_per_s']:.2f} img/s | {r['textgan_images_per_s']:.2f} img/s "
              f"({r['textgan_speedup']:.2f}x) | {r['textgan_fused_images_per_s']:.2f} img/s | "
              f"**{r['textgan_fused_speedup']:.2f}x** | {r['max_abs_diff']['textgan']:.1e} / "
              f"{r['max_abs_diff']['textgan_fused']:.1e} |")
    if "memory" in res:
        print("\n| batch | implementation | peak RSS MiB | growth while generating MiB |\n|---:|---|---:|---:|")
        for m in res["memory"]:
            print(f"| {m['batch']} | {m['impl']} | {m['peak_rss_mib']:.0f} | {m['growth_mib']:.0f} |")
    c = res["conversion"]
    print(f"\nfrom_official of a released-layout bird_AttnGAN2.pth ({c['file_mib']:.1f} MiB): "
          f"{c['from_official_s'] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
