"""Fuzzing every reader of foreign bytes (fuzz_targets.TARGETS) with the seeded mutator of fuzzlib.py, plus one
hand-made file per reader fix whose length field claims far more than the file holds (10^12 bytes and the like).

Default run: a few hundred mutations per reader (about 25 s in all). ``-m fuzz_long`` (or
``benchmarks/fuzz_long.py``, which records its results) runs many more. Each run happens in a forked child with
a capped address space and a per-case timer, so a hang, a crash or an allocation of what a corrupt header
claims is reported as a failure instead of stalling or killing the test run.
"""
import json
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_targets as T  # noqa: E402
import fuzzlib as F  # noqa: E402

from textgan.errors import CheckpointError, TextganError  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="the harness forks a child per reader (Linux)")

#: cases per reader in the default run; the slow ones (a model load per case) get fewer
CI_CASES = {"model .safetensors (load_pretrained)": 40, "config.json (load_pretrained)": 120,
            "archives (safe_extract)": 120, "dataset layout (read_pickles)": 120, "torch7 (.t7)": 150}
CI_DEFAULT = 150
LONG_CASES = 5000
LONG_SLOW = {"model .safetensors (load_pretrained)": 1000, "config.json (load_pretrained)": 2000,
             "archives (safe_extract)": 2000, "dataset layout (read_pickles)": 2000}


def _check(result):
    assert result["n_failures"] == 0, f"{result['name']}: {result['n_failures']} failures, e.g. {result['failures']}"
    assert result["cases"] > 0 and sum(result["outcomes"].values()) == result["cases"]
    assert result["outcomes"].get("error", 0) > 0  # the mutations do reach the readers' checks


@pytest.mark.parametrize("target", T.TARGETS, ids=[t.name for t in T.TARGETS])
def test_fuzz_reader(target, tmp_path):
    _check(F.run_target(target, tmp_path, CI_CASES.get(target.name, CI_DEFAULT), seed=2026))


@pytest.mark.fuzz_long
@pytest.mark.parametrize("target", T.TARGETS, ids=[t.name for t in T.TARGETS])
def test_fuzz_reader_long(target, tmp_path):
    _check(F.run_target(target, tmp_path, LONG_SLOW.get(target.name, LONG_CASES), seed=7))


def test_mutator_is_deterministic_and_varied():
    import random

    raw = bytes(range(200)) + b" 123 456\n"
    a = [F.mutate(raw, random.Random(5), text=True) for _ in range(3)]
    b = [F.mutate(raw, random.Random(5), text=True) for _ in range(3)]
    assert a == b
    rnd = random.Random(1)
    kinds = {F.mutate(raw, rnd, text=True)[0] for _ in range(400)}
    assert {"flip", "truncate", "huge_int", "varint", "huge_number", "splice"} <= kinds


def test_harness_reports_hangs_crashes_and_undocumented_errors(tmp_path):
    """The harness itself: an undocumented exception, a hang and a big allocation are all failures."""
    def seeds(work):
        return [F.Seed({"x.bin": b"abc"}, ["x.bin"], "x.bin")]

    def raises_key_error(path):
        raise KeyError("undocumented")

    def hangs(path):
        import time
        time.sleep(60)

    def allocates(path):
        return bytearray(4 << 30)  # 4 GiB: over the child's cap

    old = F.CASE_SECONDS
    F.CASE_SECONDS = 0.2
    try:
        for fn, what in ((raises_key_error, "unexpected KeyError"), (hangs, "hang"), (allocates, "memory")):
            r = F.run_target(F.Target("t", seeds, fn, (TextganError,)), tmp_path / what.split()[-1], 2)
            assert r["n_failures"] == 2 and all(f[2].startswith(what) for f in r["failures"]), r
    finally:
        F.CASE_SECONDS = old


# ---------------------------------------------------------------------------------------------------------
# one file per reader whose length field claims far more than the file holds: a documented error, no
# allocation of the claim (no MemoryError anywhere in the chain under a 256 MiB address-space cap), fast


def _bounded(fn, expected=TextganError):
    info = F.run_once(fn)
    assert info["exception"] is not None, "the reader accepted the file"
    classes = info["classes"]
    assert f"{expected.__module__}.{expected.__qualname__}" in classes, info
    assert not info["memory"], f"the reader tried to allocate the claimed size: {info}"
    assert info["peak_rss_mib"] < 64, info
    return info["message"]


def _t7_string(s: bytes) -> bytes:
    return struct.pack("<i", len(s)) + s


def test_torch7_storage_claiming_1e12_elements(tmp_path):
    from textgan.convert import read_torch7

    path = tmp_path / "huge.t7"
    path.write_bytes(struct.pack("<ii", 4, 1) + _t7_string(b"V 1") + _t7_string(b"torch.FloatStorage")
                     + struct.pack("<q", 10 ** 12) + bytes(16))
    assert "storage claims 1000000000000" in _bounded(lambda: read_torch7(path), CheckpointError)


def test_torch7_string_and_size_array_claims(tmp_path):
    from textgan.convert import read_torch7

    string = tmp_path / "string.t7"
    string.write_bytes(struct.pack("<ii", 2, 2 ** 31 - 1) + b"abc")  # TYPE_STRING of 2 GiB
    assert "string claims" in _bounded(lambda: read_torch7(string), CheckpointError)
    tensor = tmp_path / "tensor.t7"
    tensor.write_bytes(struct.pack("<ii", 4, 1) + _t7_string(b"V 1") + _t7_string(b"torch.FloatTensor")
                       + struct.pack("<i", 2 ** 31 - 1) + bytes(32))  # ndim 2^31-1: 16 GiB of sizes
    assert "size/stride array claims" in _bounded(lambda: read_torch7(tensor), CheckpointError)


def _npy(shape, dtype="<f4", data=b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def test_npz_array_and_member_claims(tmp_path):
    from textgan.convert import read_tensorlayer_npz

    path = tmp_path / "shape.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", _npy((10 ** 6, 10 ** 6), data=bytes(16)))  # 4 TB claimed, 16 bytes there
    assert "truncated" in _bounded(lambda: read_tensorlayer_npz(path), CheckpointError)
    # a member whose uncompressed size field claims 4 GiB from a few compressed bytes (zip bomb shape)
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", _npy((4,), data=bytes(16)))
    raw = bytearray(bomb.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header and central directory
        at = raw.index(sig)
        raw[at + offset:at + offset + 4] = struct.pack("<I", 0xFFFFFFF0)
    bomb.write_bytes(bytes(raw))
    assert "zip bomb" in _bounded(lambda: read_tensorlayer_npz(bomb), CheckpointError)
    # a corrupt deflate stream is a CheckpointError too (it was a bare zlib.error)
    bad = tmp_path / "deflate.npz"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", _npy((64,), data=bytes(256)))
    raw = bytearray(bad.read_bytes())
    start = raw.index(b"PK\x03\x04") + 30 + len("w.npy")
    raw[start + 2:start + 6] = b"\xff\xff\xff\xff"
    bad.write_bytes(bytes(raw))
    _bounded(lambda: read_tensorlayer_npz(bad), CheckpointError)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d", b"\x95", b"B", b"X"],
                         ids=["BINBYTES8", "BINUNICODE8", "FRAME", "BINBYTES", "BINUNICODE"])
def test_pickle_length_claims(tmp_path, opcode):
    """CPython's unpickler may *reserve* a BINBYTES claim before reading (the claim is refused past the address
    space, and nothing is touched either way): a CheckpointError, and resident memory does not grow."""
    from textgan._pickle import safe_load

    size = struct.pack("<Q", 10 ** 12) if opcode in (b"\x8e", b"\x8d", b"\x95") else struct.pack("<I", 2 ** 32 - 1)
    path = tmp_path / "claim.pickle"
    path.write_bytes(b"\x80\x04" + opcode + size + b"abc")
    info = F.run_once(lambda: safe_load(path))
    assert "textgan.errors.CheckpointError" in info["classes"], info
    assert info["peak_rss_mib"] < 64, info


def test_vec_header_claiming_1e12_values(tmp_path):
    from textgan.text import WordVectors

    path = tmp_path / "huge.vec"
    path.write_text("2 1000000000000\nbird 0.1\n")
    assert "more than the" in _bounded(lambda: WordVectors.load(path), CheckpointError)
    path.write_text("1000000000000 300\nbird 0.1\n")
    _bounded(lambda: WordVectors.load(path), CheckpointError)


def test_word_vector_safetensors_offsets_past_the_end(tmp_path):
    from textgan.text import WordVectors

    seed = next(s for s in T._fasttext_seeds(tmp_path) if s.entry.endswith(".safetensors"))
    data = seed.files[seed.entry]
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header["words"]["data_offsets"] = [0, 10 ** 12]
    header["input_matrix"]["shape"] = [10 ** 6, 10 ** 6]
    blob = json.dumps(header).encode()
    out = tmp_path / "bad.safetensors"
    out.write_bytes(struct.pack("<Q", len(blob)) + blob + data[8 + n:])
    _bounded(lambda: WordVectors.load(out), CheckpointError)
    out.write_bytes(struct.pack("<Q", 10 ** 12) + b"{}")  # the header length itself
    _bounded(lambda: WordVectors.load(out), CheckpointError)


def _png(width: int, height: int, idat: bytes = b"") -> bytes:
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat or zlib.compress(b"\x00" * 7)) + chunk(b"IEND", b""))


def test_images_claiming_billions_of_pixels(tmp_path):
    from textgan.data._images import load_rgb
    from textgan.edit_pipeline import _open_rgb

    path = tmp_path / "bomb.png"
    path.write_bytes(_png(100_000, 100_000))
    assert "pixels" in _bounded(lambda: _open_rgb(path, 0), ValueError)
    _bounded(lambda: load_rgb(path), TextganError)
    # an IDAT chunk whose length field claims 2 GiB: PIL skips it with read(length); from memory, not a file
    raw = bytearray(_png(4, 4))
    at = raw.index(b"IDAT") - 4
    raw[at:at + 4] = struct.pack(">I", 2 ** 31 - 1)
    path.write_bytes(bytes(raw))
    info = F.run_once(lambda: _open_rgb(path, 0))
    assert not info["memory"] and info["peak_rss_mib"] < 64, info
    info = F.run_once(lambda: load_rgb(path))
    assert not info["memory"] and info["peak_rss_mib"] < 64, info


def _embedded_copy(tmp_path, edit):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(T.EMBEDDED, folder)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_config_with_implausible_sizes(tmp_path):
    import textgan

    def huge_layers(c):
        c["components"]["text_encoder"]["config"]["num_layers"] = 10 ** 20

    folder = _embedded_copy(tmp_path, huge_layers)
    assert "implausible" in _bounded(lambda: textgan.load_pretrained(folder), CheckpointError)

    def traversal(c):
        c["components"]["generator"]["file"] = "../../../etc/passwd"

    folder = _embedded_copy(tmp_path / "t", traversal)
    with pytest.raises(CheckpointError, match="relative paths inside the folder"):
        textgan.load_pretrained(folder)

    def nested(c):
        c["tokenizer"] = [1]

    folder = _embedded_copy(tmp_path / "n", nested)
    with pytest.raises(CheckpointError, match="malformed"):
        textgan.load_pretrained(folder)


def test_deeply_nested_json_is_a_checkpoint_error(tmp_path):
    import textgan
    from textgan.text import Vocabulary

    folder = _embedded_copy(tmp_path, lambda c: None)
    (folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(CheckpointError, match="not valid JSON"):
        textgan.load_pretrained(folder)
    (folder / "vocab.json").write_text("{\"a\":" * 200_000 + "1" + "}" * 200_000)
    with pytest.raises(TextganError, match="not a JSON vocabulary"):
        Vocabulary.load(folder / "vocab.json")


def test_corrupt_archives_are_unsafe_archive_errors(tmp_path):
    from textgan.data._archive import safe_extract
    from textgan.errors import UnsafeArchiveError

    import gzip
    import io
    import tarfile

    seeds = {name: data for s in T._archive_seeds(tmp_path) for name, data in s.files.items()}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    # header + one data block, no end-of-archive blocks: tarfile reads to the end, where gzip checks its CRC
    raw = bytearray(gzip.compress(buf.getvalue()[:1024]))
    raw[-8] ^= 0xFF
    (tmp_path / "crc.tgz").write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match="corrupt.*BadGzipFile"):
        safe_extract(tmp_path / "crc.tgz", tmp_path / "out1")
    raw = bytearray(seeds["d.zip"])
    at = raw.index(b"PK\x01\x02")
    raw[at + 10:at + 12] = struct.pack("<H", 99)  # an unknown compression method
    (tmp_path / "method.zip").write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match="corrupt"):
        safe_extract(tmp_path / "method.zip", tmp_path / "out2")


def test_seed_files_are_valid():
    """Each seed reads without error, so the mutations start from real files."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for target in T.TARGETS:
            for i, seed in enumerate(target.seeds(Path(d) / "seeds" / str(T.TARGETS.index(target)))):
                case = Path(d) / f"case-{T.TARGETS.index(target)}-{i}"
                for name, data in seed.files.items():
                    (case / name).parent.mkdir(parents=True, exist_ok=True)
                    (case / name).write_bytes(data)
                target.read(case / seed.entry if seed.entry else case)


def test_pickle_memo_index_claim_does_not_allocate_the_memo(tmp_path):
    """LONG_BINPUT 2^28: CPython's C unpickler would grow (and zero) a 2^29-entry memo, 4 GiB, from 12 bytes; the
    pure-Python unpickler, chosen when a size field claims more than the file, keeps a dict."""
    from textgan._pickle import claims_beyond, safe_load
    from textgan.text.vocab import load_captions_pickle

    data = b"\x80\x02N" + b"r" + struct.pack("<I", 2 ** 28) + b"."
    assert claims_beyond(data)
    path = tmp_path / "memo.pickle"
    path.write_bytes(data)
    info = F.run_once(lambda: safe_load(path))
    assert info["exception"] is None and info["peak_rss_mib"] < 64, info
    info = F.run_once(lambda: load_captions_pickle(path))
    assert "textgan.errors.VocabularyError" in info["classes"] and not info["memory"], info
    assert info["peak_rss_mib"] < 64, info


def test_fuzz_found_npz_fasttext_and_config_cases(tmp_path):
    import textgan
    from textgan.convert import read_tensorlayer_npz
    from textgan.errors import PretrainedNotFoundError
    from textgan.text import WordVectors

    seed = next(s for s in T._npz_seeds(tmp_path) if s.entry == "list.npz")
    raw = bytearray(seed.files["list.npz"])
    for sig, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        at = raw.index(sig)
        raw[at + flags] |= 1
    (tmp_path / "enc.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="encrypted"):
        read_tensorlayer_npz(tmp_path / "enc.npz")
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        WordVectors.load(tmp_path / "empty.bin")
    folder = _embedded_copy(tmp_path / "v", lambda c: c["tokenizer"].update(vocab="vocab.jsun"))
    with pytest.raises(PretrainedNotFoundError, match="tokenizer's file is missing"):
        textgan.load_pretrained(folder)
