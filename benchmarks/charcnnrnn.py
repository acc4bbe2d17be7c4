"""char-CNN-RNN speed: sentences/s at batch 1 and 64, and the time to convert a full-size released-layout ``.t7``.

    python benchmarks/charcnnrnn.py [--official-code /work/official/reed/mdm] [--repeats 5] [--threads N] [--json PATH]

What is measured, for the full-size released encoders (``icml_birds``: HybridCNNLong + FixedGRU, 18 steps,
width 512, 4.05 M parameters; ``icml_flowers``: HybridCNN + FixedRNN, 8 steps, 2.99 M; random weights):

1. Encoder throughput (sentences/s, median over ``--repeats`` timed rounds after a warm-up) of textgan's
   ``CharCNNRNN`` on 201-character one-hot input, at batch 1 and 64, and of the same call with the
   ``CharTokenizer`` included (text → embedding).
   textgan and the port are timed round by round in a rotating order.
2. With ``--official-code`` (a folder holding martinduartemore/char_cnn_rnn_pytorch's ``char_cnn_rnn``
   package; it is imported from there and never part of textgan): the port's ``char_cnn_rnn`` with the same
   weights, at batch 1, and at batch 64 (for the GRU its batched call is the buggy one that mixes samples,
   whose states grow to (B, B, D); its correct use is one sentence per call, also timed), plus the max abs
   difference of textgan's output from the port's per-sample output.
3. Conversion: a full-size ``lm_sje_*`` checkpoint table is written in the released layout (nngraph gModules,
   weights flattened by ``getParameters()``; tests/convert/t7_writer.py), then timed (median of
   ``--repeats``): ``torchfile.load`` alone, ``textgan.convert.read_torch7`` and
   ``textgan.convert.char_cnn_rnn_from_torch7`` (read + graph analysis + strict load), warm page cache.

Prints a markdown report; ``--json PATH`` also writes every number.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "convert"))

CAPTIONS = ["this bird has a red crown, a short pointed beak and white wing bars.",
            "a flower with long thin pink petals and a yellow center.",
            "the small bird is mostly brown with darker streaks on its breast and a long tail.",
            "this flower has five broad white petals arranged around a cluster of bright yellow stamens."]


def _time(fn, repeats: int, number: int = 1) -> float:
    fn()  # warm-up
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def _interleaved(fns: dict, repeats: int, number: int = 1) -> dict:
    """Median seconds per call of each function, timed round by round in a rotating order (a shared machine's
    slow drifts then hit every candidate alike)."""
    names = list(fns)
    for n in names:
        fns[n]()  # warm-up
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            for _ in range(number):
                fns[n]()
            times[n].append((time.perf_counter() - t0) / number)
    return {n: statistics.median(v) for n, v in times.items()}


def _official(code: Path):
    sys.path.insert(0, str(code))
    from char_cnn_rnn.char_cnn_rnn import char_cnn_rnn  # noqa: E402  (the authors' port, outside textgan)

    return char_cnn_rnn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official-code", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import t7_writer as w  # tests/convert: the test-only Torch7 writer

    import torchfile

    import textgan
    from textgan.convert import char_cnn_rnn_from_torch7, read_torch7
    from textgan.models.charcnnrnn import char_cnn_rnn_variant
    from textgan.text import CharTokenizer

    official = _official(args.official_code) if args.official_code else None
    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
               "machine": platform.machine(), "variants": {}}
    tok = CharTokenizer()
    for variant, (dataset, model_type) in (("icml_birds", ("birds", "icml")), ("icml_flowers", ("flowers", "icml"))):
        torch.manual_seed(0)
        enc = char_cnn_rnn_variant(variant).eval()
        with torch.no_grad():
            for p in enc.parameters():
                p.uniform_(-0.08, 0.08)  # the authors' init range
        r = results["variants"][variant] = {"params": sum(p.numel() for p in enc.parameters())}
        port = None
        if official is not None:
            port = official(dataset, model_type).eval()
            port.load_state_dict(enc.state_dict())
        for batch in (1, 64):
            texts = [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]
            onehot = tok.one_hot(tok(texts)[0])
            fns = {"textgan": lambda: enc(onehot), "textgan_text": lambda: enc(tok(texts)[0])}
            if port is not None:
                fns["port"] = lambda: port(onehot)
                if batch > 1:
                    fns["port_per_sample"] = lambda: [port(onehot[i:i + 1]) for i in range(batch)]
            with torch.inference_mode():
                times = _interleaved(fns, args.repeats, 5 if batch == 1 else 1)
                for name, t in times.items():
                    r[f"{name}_b{batch}_sentences_per_s"] = batch / t
                if port is not None and batch > 1:
                    want = torch.cat(fns["port_per_sample"]())
                    r["max_abs_diff_vs_port_per_sample"] = float((enc(onehot)[1] - want).abs().max())
                    r["max_abs_diff_port_batched_vs_per_sample"] = float((port(onehot) - want).abs().max())
    # conversion of a full-size released-layout file (icml birds GRU, the largest graph)
    torch.manual_seed(0)
    enc = char_cnn_rnn_variant("icml_birds").eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lm_sje_nc4_cub_hybrid_gru18_a1_c512_0.00070_1_10_trainvalids.txt_iter30000.t7"
        t0 = time.perf_counter()
        w.write(w.sje_checkpoint(w.char_cnn_rnn_from_state(enc.state_dict(), pool3=False, gru=True)), path)
        c = results["conversion"] = {"file": path.name, "bytes": path.stat().st_size,
                                     "write_s": time.perf_counter() - t0}
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))  # torchfile reads recursively
        c["torchfile_load_s"] = _time(lambda: torchfile.load(str(path)), args.repeats)
        c["read_torch7_s"] = _time(lambda: read_torch7(path), args.repeats)
        c["char_cnn_rnn_from_torch7_s"] = _time(lambda: char_cnn_rnn_from_torch7(path), args.repeats)
        got = char_cnn_rnn_from_torch7(path)
        ids, _ = tok(CAPTIONS)
        with torch.inference_mode():
            c["max_abs_diff_converted_vs_direct"] = float((got(ids)[1] - enc(ids)[1]).abs().max())
        c["textgan_save_s"] = _time(lambda: textgan.save_model(got, Path(tmp) / "out"), args.repeats)
    _report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _report(r: dict) -> None:
    print(f"torch {r['torch']}, {r['threads']} threads, Python {r['python']}, {r['machine']}\n")
    print("| encoder | params | batch | textgan (one-hot) | textgan (text) | port, batched | port, per sample |")
    print("|---|---|---|---|---|---|---|")
    for name, v in r["variants"].items():
        for b in (1, 64):
            port = v.get(f"port_b{b}_sentences_per_s")
            per = v.get(f"port_per_sample_b{b}_sentences_per_s", port if b == 1 else None)
            fmt = lambda x: "-" if x is None else f"{x:,.0f}"  # noqa: E731
            print(f"| {name} | {v['params']:,} | {b} | {fmt(v[f'textgan_b{b}_sentences_per_s'])} | "
                  f"{fmt(v[f'textgan_text_b{b}_sentences_per_s'])} | {fmt(port)} | {fmt(per)} |")
    for name, v in r["variants"].items():
        if "max_abs_diff_vs_port_per_sample" in v:
            print(f"\n{name}: max |textgan - port per sample| = {v['max_abs_diff_vs_port_per_sample']:.2e}; "
                  f"max |port batched - port per sample| = {v['max_abs_diff_port_batched_vs_per_sample']:.2e}")
    c = r["conversion"]
    print(f"\nconversion of {c['file']} ({c['bytes'] / 1e6:.1f} MB, released layout): torchfile.load "
          f"{c['torchfile_load_s']:.2f} s, read_torch7 {c['read_torch7_s']:.2f} s, char_cnn_rnn_from_torch7 "
          f"{c['char_cnn_rnn_from_torch7_s']:.2f} s, save_model {c['textgan_save_s']:.2f} s; "
          f"max |converted - direct| = {c['max_abs_diff_converted_vs_direct']:.1e}")


if __name__ == "__main__":
    main()
