"""SISGAN speed: fastText word-vector lookups (textgan vs the fastText package) and edits/s.

    python benchmarks/sisgan.py [--words 200000] [--bucket 2000000] [--rounds 7] [--threads 1] [--json out.json]

1. Word vectors. A fastText ``.bin`` of wiki.en's shape (300-d, minn 3, maxn 6, 2,000,000 n-gram buckets;
   ``--words`` dictionary entries, wiki.en has 2.5 M, which only changes a hash-table's size) is written
   with random vectors (lookup speed does not depend on the values). Both libraries open it; then, in
   interleaved rounds (medians reported):

   * single in-vocabulary / out-of-vocabulary words: ``model.get_word_vector(w)`` vs ``wv[w]``;
   * whole sentences (the captions of the shared CUB replica, plus random out-of-vocabulary tokens mixed
     in): ``np.stack([model.get_word_vector(w) for w in words])`` vs ``wv.get_word_vectors(words)``;
   * textgan with nothing cached (``cache_size=0``: every lookup hashes the word's n-grams in Python and sums
     its rows; fastText hashes the n-grams of every dictionary word once, while loading) and with its
     default cache after the words were seen once (a word's vector is then a dict access), which is what a
     dataset of captions, repeating its words, sees.

   Every vector textgan returned is checked against fastText's (max abs difference printed).
2. Edits/s: the full-size released architecture (VGG-16-BN encoder, 31.0 M parameters, 64 px) with random
   weights, through :class:`textgan.TextGuidedEditPipeline` (tokenise, look up, GRU, resize in and out) and
   the bare generator forward, at batch 1 and 16.

Needs ``fasttext-wheel`` for part 1 (``pip install fasttext-wheel``); part 2 needs only textgan.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import string
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _captions():
    folder = ROOT.parent / "shared" / "datasets" / "cub" / "text"
    lines = [line for p in sorted(folder.rglob("*.txt")) for line in p.read_text().splitlines() if line.strip()]
    if not lines:  # no replica here: caption-like sentences
        lines = ["this small bird has a red crown and a white belly", "a yellow bird with black wings and a short beak"]
    return lines


def _write_large_bin(path, words, bucket, dim):
    """A fastText .bin (format 12, skipgram) with random vectors, written in chunks (the matrix is GBs)."""
    import struct

    from textgan.text.word_vectors import FASTTEXT_MAGIC

    rows = len(words) + bucket
    with open(path, "wb") as f:
        f.write(struct.pack("<ii", FASTTEXT_MAGIC, 12))
        f.write(struct.pack("<12id", dim, 5, 1, 1, 5, 1, 2, 2, bucket, 3, 6, 100, 1e-4))
        f.write(struct.pack("<iiiqq", len(words), len(words), 0, 10 ** 9, -1))
        f.write(b"".join(w.encode() + b"\x00" + struct.pack("<qb", 1000, 0) for w in words))
        f.write(bytes([0]) + struct.pack("<qq", rows, dim))
        rng = np.random.default_rng(0)
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            f.write((rng.standard_normal((n, dim), dtype=np.float32) * 0.1).astype("<f4").tobytes())
        f.write(bytes([0]) + struct.pack("<qq", 1, dim) + bytes(4 * dim))


def _timeit(fn, repeat):
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t) / repeat


def word_vector_benchmark(args, report):
    import fasttext

    from textgan.text import WordVectors, sisgan_tokenize

    captions = [sisgan_tokenize(c) for c in _captions()]
    caption_words = sorted({w for c in captions for w in c})
    rng = random.Random(0)
    filler = {"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10))) for _ in range(args.words)}
    vocab = ["</s>"] + caption_words + sorted(filler - set(caption_words))[: args.words - len(caption_words) - 1]
    oov = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 11))) + "q" for _ in range(2000)]
    oov = [w for w in oov if w not in set(vocab)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wiki_like.bin"
        _write_large_bin(path, vocab, args.bucket, 300)
        t = time.perf_counter()
        model = fasttext.load_model(str(path))
        load_ft = time.perf_counter() - t
        t = time.perf_counter()
        WordVectors.load(path)
        load_tg = time.perf_counter() - t
        cold = WordVectors.load(path, cache_size=0)
        t = time.perf_counter()
        pre = WordVectors.load(path, cache_size=0, precompute_subwords=True)
        load_pre = time.perf_counter() - t
        t = time.perf_counter()
        WordVectors.load(path, cache_size=0, precompute_vectors=True).save(Path(tmp) / "table.safetensors")
        convert_table = time.perf_counter() - t
        t = time.perf_counter()
        tab = WordVectors.load(Path(tmp) / "table.safetensors", cache_size=0)  # memory-mapped, table included
        load_tab = time.perf_counter() - t
        warm = WordVectors.load(path)
        invocab = [rng.choice(vocab[1:]) for _ in range(2000)]
        # sentences: every caption, a fifth of them with an out-of-vocabulary token (typos, rare words)
        sentences = [c + ([rng.choice(oov)] if i % 5 == 0 else []) for i, c in enumerate(captions)]
        all_words = [w for s in sentences for w in s]
        err = max(float(np.abs(wv.get_word_vectors(ws) - np.stack([model.get_word_vector(w) for w in ws])).max())
                  for ws in (invocab, oov, all_words) for wv in (warm, pre, tab))
        warm.get_word_vectors(all_words + invocab + oov)  # a warm cache, as after the first epoch
        cases = {
            "in-vocabulary word": (invocab, len(invocab)),
            "out-of-vocabulary word": (oov, len(oov)),
        }
        results = {}
        for label, (words, count) in cases.items():
            runs = {"fastText": [], "textgan (no cache)": [], "textgan (precomputed)": [], "textgan (table)": [],
                    "textgan (cache)": []}
            for _ in range(args.rounds):
                runs["fastText"].append(count / _timeit(lambda: [model.get_word_vector(w) for w in words], 1))
                runs["textgan (no cache)"].append(count / _timeit(lambda: [cold[w] for w in words], 1))
                runs["textgan (precomputed)"].append(count / _timeit(lambda: [pre[w] for w in words], 1))
                runs["textgan (table)"].append(count / _timeit(lambda: [tab[w] for w in words], 1))
                runs["textgan (cache)"].append(count / _timeit(lambda: [warm[w] for w in words], 1))
            results[label + "s/s"] = {k: statistics.median(v) for k, v in runs.items()}
        runs = {"fastText": [], "textgan (no cache)": [], "textgan (precomputed)": [], "textgan (table)": [],
                    "textgan (cache)": []}
        for _ in range(args.rounds):
            runs["fastText"].append(len(sentences) / _timeit(
                lambda: [np.stack([model.get_word_vector(w) for w in s]) for s in sentences], 1))
            runs["textgan (no cache)"].append(len(sentences) / _timeit(
                lambda: [cold.get_word_vectors(s) for s in sentences], 1))
            runs["textgan (precomputed)"].append(len(sentences) / _timeit(
                lambda: [pre.get_word_vectors(s) for s in sentences], 1))
            runs["textgan (table)"].append(len(sentences) / _timeit(
                lambda: [tab.get_word_vectors(s) for s in sentences], 1))
            runs["textgan (cache)"].append(len(sentences) / _timeit(
                lambda: [warm.get_word_vectors(s) for s in sentences], 1))
        results["sentences/s, one per call"] = {k: statistics.median(v) for k, v in runs.items()}

        def fasttext_batch(batch):  # the same padded (B, T, 300) array, built word by word
            out = np.zeros((len(batch), max(map(len, batch)), 300), np.float32)
            for i, s in enumerate(batch):
                out[i, :len(s)] = np.stack([model.get_word_vector(w) for w in s])
            return out

        batches = [sentences[s:s + 64] for s in range(0, len(sentences), 64)]
        runs = {"fastText": [], "textgan (no cache)": [], "textgan (precomputed)": [], "textgan (table)": [],
                    "textgan (cache)": []}
        for _ in range(args.rounds):
            for name, fn in (("fastText", fasttext_batch), ("textgan (no cache)", lambda b: cold.lookup(b)),
                             ("textgan (precomputed)", lambda b: pre.lookup(b)),
                             ("textgan (table)", lambda b: tab.lookup(b)),
                             ("textgan (cache)", lambda b: warm.lookup(b))):
                runs[name].append(len(sentences) / _timeit(lambda: [fn(b) for b in batches], 1))
        results["sentences/s, 64 per call, padded (B, T, 300)"] = {k: statistics.median(v) for k, v in runs.items()}
    report["word_vectors"] = {
        "model": f"{len(vocab)} words, {args.bucket} buckets, 300-d, minn 3, maxn 6",
        "sentences": len(sentences), "mean words per sentence": round(len(all_words) / len(sentences), 1),
        "load_s": {"fastText": load_ft, "textgan (memory-mapped)": load_tg,
                   "textgan (precompute_subwords=True)": load_pre,
                   "textgan (precompute_vectors=True, then save)": convert_table,
                   "textgan (saved file with the table, memory-mapped)": load_tab}, "max_abs_diff": err,
        "throughput": results,
    }


def edit_benchmark(args, report):
    from PIL import Image

    from textgan import TextGuidedEditPipeline
    from textgan.models.sisgan import SISGANGenerator
    from textgan.text import SISGANTextEncoder, WordVectors

    torch.manual_seed(0)
    gen = SISGANGenerator().eval()
    enc = SISGANTextEncoder().eval()
    words = ["</s>", "this", "bird", "has", "a", "red", "head", "and", "white", "belly"]
    wv = WordVectors(words, np.random.default_rng(0).standard_normal((len(words) + 1000, 300), dtype=np.float32),
                     minn=3, maxn=6, bucket=1000)
    pipe = TextGuidedEditPipeline(wv, enc, gen)
    image = Image.fromarray((np.random.default_rng(1).random((375, 500, 3)) * 255).astype(np.uint8))
    prompt = "this bird has a red head and a white belly"
    results = {}
    for batch in args.batch_sizes:
        images = [image] * batch
        x = torch.randn(batch, 3, 64, 64)
        t = torch.randn(batch, 300)
        z = torch.randn(batch, 128)
        with torch.inference_mode():
            gen(x, t, z)
            pipe(images, prompt, generator=torch.Generator().manual_seed(0), progress=False)
            fwd, full = [], []
            for _ in range(args.rounds):
                fwd.append(batch / _timeit(lambda: gen(x, t, z), 1))
                full.append(batch / _timeit(lambda: pipe(images, prompt, generator=torch.Generator().manual_seed(0),
                                                         batch_size=batch, progress=False), 1))
        results[f"batch {batch}"] = {"generator forward edits/s": statistics.median(fwd),
                                     "pipeline edits/s (500x375 JPEG-size input)": statistics.median(full)}
    report["edits"] = {"model": "SISGANGenerator(use_vgg=True), full size, 64 px", "results": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", type=int, default=200_000)
    ap.add_argument("--bucket", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--skip-word-vectors", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (1 on a shared, loaded machine)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} threads, numpy {np.__version__}"}
    if not args.skip_word_vectors:
        word_vector_benchmark(args, report)
    edit_benchmark(args, report)
    print(f"machine: {report['machine']}")
    if "word_vectors" in report:
        w = report["word_vectors"]
        print(f"\nword vectors: {w['model']}; {w['sentences']} sentences, {w['mean words per sentence']} words each")
        print(f"load: fastText {w['load_s']['fastText']:.2f} s, textgan {w['load_s']['textgan (memory-mapped)']:.2f} s, "
              f"precomputed {w['load_s']['textgan (precompute_subwords=True)']:.2f} s, table: computed and saved "
              f"{w['load_s']['textgan (precompute_vectors=True, then save)']:.2f} s, opened "
              f"{w['load_s']['textgan (saved file with the table, memory-mapped)']:.2f} s;"
              f" max |textgan - fastText| = {w['max_abs_diff']:.1e}\n")
        print("| lookups | fastText | textgan, first lookup | textgan, precompute_subwords | textgan, saved table |"
              " textgan, words seen before |\n| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, r in w["throughput"].items():
            cells = [f"{r[k]:,.0f}" if k in r else "-"
                     for k in ("fastText", "textgan (no cache)", "textgan (precomputed)", "textgan (table)",
                               "textgan (cache)")]
            print(f"| {label} | " + " | ".join(cells) + " |")
    print("\n| edits | generator forward | whole pipeline |\n| --- | ---: | ---: |")
    for label, r in report["edits"]["results"].items():
        print(f"| {label} | {r['generator forward edits/s']:.1f}/s | "
              f"{r['pipeline edits/s (500x375 JPEG-size input)']:.1f}/s |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
