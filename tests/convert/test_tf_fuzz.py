"""Fuzzing the TensorFlow readers: mutated copies of real checkpoints (flipped bytes, truncations, insertions,
wrong lengths) must give a value or a :class:`~textgan.errors.CheckpointError` -- never another exception, a
hang or a crash -- and a flipped byte that a checksum covers must be reported as a :class:`ChecksumError`.

The default run does a few thousand mutations of the small shared fixtures and of writer-made files with
snappy blocks, several blocks, strings and slices (about 15 s); ``-m slow`` runs many more.
"""
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tf_writer as W  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
import fuzzlib  # noqa: E402  (the seeded byte mutator shared with tests/security)

from textgan.convert import ChecksumError, read_tensorlayer_npz, read_tf_checkpoint  # noqa: E402
from textgan.errors import CheckpointError  # noqa: E402

TF_DIR = Path(os.environ.get("TEXTGAN_TF_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "tf"))
SHARED = [("v2_saver_basic", "model.ckpt-42"), ("v2_sharded", "sharded.ckpt"), ("v2_partitioned", "part.ckpt"),
          ("v1_saver", "model_100.ckpt"), ("v2_object_keras", "ckpt-1")]
CASE_SECONDS = 5.0  # per-mutation guard: a hang fails the test instead of stalling CI


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _made(folder: Path):
    """Writer-made checkpoints covering what the small shared files do not: snappy + multi-block indexes,
    strings, partitioned variables, V1 with snappy blocks."""
    rng = np.random.default_rng(0)
    words = np.empty(3, dtype=object)
    words[:] = [b"a", b"", b"long string" * 5]
    tensors = {f"net/layer_{i:02d}/" + "scope/" * (i % 3) + "w": rng.standard_normal((i % 3 + 1, 2)).astype(np.float32)
               for i in range(24)}
    tensors.update(words=words, part=W.Partitioned(np.arange(12, dtype=np.int64).reshape(4, 3), {0: [1, 3]}),
                   half=rng.standard_normal(5).astype(np.float16))
    (folder / "v2snappy").mkdir()
    W.write_v2(folder / "v2snappy" / "m.ckpt", tensors, num_shards=2, compression="alternate", block_size=300)
    (folder / "v1snappy").mkdir()
    v1 = {k: v for k, v in tensors.items() if k != "words"}
    W.write_v1(folder / "v1snappy" / "m.ckpt", v1, compression="snappy", block_size=200)
    return [(folder / "v2snappy", "m.ckpt"), (folder / "v1snappy", "m.ckpt")]


def _exercise(prefix: Path, verify: bool) -> None:
    ckpt = read_tf_checkpoint(prefix, verify=verify)
    try:
        dict(ckpt.shapes), dict(ckpt.dtypes)
        if verify:
            ckpt.read_all()  # run-wise CRCs, then per-tensor checks where a run does not match
        for name in ckpt:
            ckpt[name]
    finally:
        ckpt.close()


def _numeric_ranges(prefix: Path):
    """{data file name: [(start, stop), ...]} of the numeric tensors (a flip there must fail the tensor CRC)."""
    ckpt = read_tf_checkpoint(prefix)
    out = {}
    if ckpt.format == "v2":
        r = ckpt._reader
        entries = list(r.entries.items()) + [(n, e) for (n, _), e in r.slices.items()]
        for name, e in entries:
            if e.size and not e.slices and ckpt.dtypes.get(name) != "string":
                file = f"{Path(str(prefix)).name}.data-{e.shard_id:05d}-of-{r.num_shards:05d}"
                out.setdefault(file, []).append((e.offset, e.offset + e.size))
    return out


def _mutate(raw: bytes, rnd: random.Random):
    """(kind, flipped position or None, bytes): a third of the cases flip one byte at a known place (a flip in
    a numeric tensor must be reported as a bad checksum); the rest are the security harness's mutations."""
    if raw and rnd.random() < 1 / 3:
        b = bytearray(raw)
        pos = rnd.randrange(len(b))
        b[pos] ^= rnd.randrange(1, 256)
        return "flip", pos, bytes(b)
    kind, mutated = fuzzlib.mutate(raw, rnd)
    return ("mutation-" + kind), None, mutated


def _fuzz(cases, tmp_path, count: int, seed: int):
    rnd = random.Random(seed)
    failures, checked, outcomes = [], 0, Counter()
    work = []
    tmp_path.mkdir(parents=True, exist_ok=True)
    for src, prefix in cases:
        dst = tmp_path / f"{src.name}-{len(work)}"
        shutil.copytree(src, dst)
        files = sorted(p.name for p in dst.iterdir() if p.name.startswith(prefix) and not p.name.endswith(".meta"))
        work.append((dst, dst / prefix, files, _numeric_ranges(dst / prefix)))
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i in range(count):
            folder, prefix, files, ranges = work[i % len(work)]
            target = folder / rnd.choice(files)
            original = target.read_bytes()
            kind, pos, mutated = _mutate(original, rnd)
            target.write_bytes(mutated)
            is_table = not target.name.split(".")[-1].startswith("data-")
            try:
                for verify in (True, False):
                    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
                    outcome = "ok"
                    try:
                        _exercise(prefix, verify)
                    except ChecksumError:
                        outcome = "checksum"
                    except CheckpointError:
                        outcome = "error"
                    except _Hang:
                        failures.append((target.name, kind, pos, verify, "hang"))
                        continue
                    except Exception as e:  # anything else is a bug
                        failures.append((target.name, kind, pos, verify, f"{type(e).__name__}: {e}"[:200]))
                        continue
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    outcomes[outcome] += 1
                    if verify and kind == "flip":
                        covered = (pos < len(original) - 48 if is_table
                                   else any(a <= pos < b for a, b in ranges.get(target.name, [])))
                        if covered:
                            checked += 1
                            if outcome != "checksum":
                                failures.append((target.name, kind, pos, verify, f"flip not reported as a "
                                                                                  f"checksum error: {outcome}"))
            finally:
                target.write_bytes(original)
    finally:
        signal.signal(signal.SIGALRM, old)
    return failures, checked, outcomes


def _cases(tmp_path):
    cases = [(TF_DIR / d, p) for d, p in SHARED if (TF_DIR / d).is_dir()]
    made = tmp_path / "made"
    made.mkdir()
    return cases + _made(made)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer for the per-case time guard")
def test_fuzz_mutations_give_only_documented_errors(tmp_path):
    start = time.perf_counter()
    failures, checked, outcomes = _fuzz(_cases(tmp_path), tmp_path, count=2000, seed=1234)
    assert not failures, f"{len(failures)} bad outcomes, e.g. {failures[:5]}"
    assert checked > 300  # enough single-byte flips landed under a checksum
    assert min(outcomes["ok"], outcomes["error"], outcomes["checksum"]) > 100, outcomes
    assert time.perf_counter() - start < 120


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer for the per-case time guard")
def test_fuzz_many_mutations(tmp_path):
    failures, _, _ = _fuzz(_cases(tmp_path), tmp_path, count=20000, seed=99)
    assert not failures, f"{len(failures)} bad outcomes, e.g. {failures[:5]}"
    big = [(TF_DIR / d, "many.ckpt") for d in ("v2_snappy_index", "v2_many_vars") if (TF_DIR / d).is_dir()]
    if big:  # 2,100 tensors per open: fewer mutations
        failures, _, _ = _fuzz(big, tmp_path / "big", count=300, seed=5)
        assert not failures, f"{len(failures)} bad outcomes, e.g. {failures[:5]}"


def test_fuzz_npz(tmp_path):
    """TensorLayer .npz files: mutated zips and pickles give CheckpointError (or UnsafePickleError) only."""
    src = TF_DIR / "tensorlayer_npz"
    if not src.is_dir():
        pytest.skip(f"no fixtures at {TF_DIR}")
    rnd = random.Random(7)
    bad = []
    for name in ("net_g.npz", "net_g_dict.npz"):
        original = (src / name).read_bytes()
        target = tmp_path / name
        for _ in range(300):
            kind, pos, mutated = _mutate(original, rnd)
            target.write_bytes(mutated)
            try:
                read_tensorlayer_npz(target)
            except CheckpointError:
                pass
            except Exception as e:
                bad.append((name, kind, pos, f"{type(e).__name__}: {e}"[:200]))
    assert not bad, bad[:5]
