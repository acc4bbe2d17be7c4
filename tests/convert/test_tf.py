"""TensorFlow checkpoints without TensorFlow: the TF-written fixtures, our writer's harder cases, CRC, snappy,
the mapping helpers and ``textgan convert tf-inspect``.

The harness (``pytest -m tf``) reads every checkpoint in ``$TEXTGAN_TF_DIR/manifest.json`` (default
``../shared/tf``) and compares it bit for bit with its ``expected.safetensors``, one test per checkpoint.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tf_writer as W  # noqa: E402

from textgan.cli import main  # noqa: E402
from textgan.convert import ChecksumError, read_tensorlayer_npz, read_tf_checkpoint  # noqa: E402
from textgan.convert import _snappy, tf_mapping as M  # noqa: E402
from textgan.convert._crc32c import crc32c, crc32c_numpy, crc32c_py, mask, unmask  # noqa: E402
from textgan.errors import CheckpointError  # noqa: E402

TF_DIR = Path(os.environ.get("TEXTGAN_TF_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "tf"))
MANIFEST = json.loads((TF_DIR / "manifest.json").read_text()) if (TF_DIR / "manifest.json").is_file() else {}
CHECKPOINTS = sorted(k for k, v in MANIFEST.items() if isinstance(v, dict) and "files" in v)
needs_fixtures = pytest.mark.skipif(not MANIFEST, reason=f"no TF fixtures at {TF_DIR} (set TEXTGAN_TF_DIR)")


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Bit-exact: dtype, shape and the raw bytes (so -0.0 / NaN payloads count)."""
    if got.dtype != want.dtype or got.shape != want.shape:
        return False
    a, b = got.contiguous().reshape(-1), want.contiguous().reshape(-1)
    if a.numel() == 0:
        return True
    if a.dtype == torch.bool:
        return torch.equal(a, b)
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def _expected(folder: Path):
    f = safe_open(str(folder / "expected.safetensors"), "pt")
    meta = f.metadata() or {}
    tensors = {k: f.get_tensor(k) for k in f.keys()}
    strings = {}
    shapes = json.loads(meta.get("string_shapes", "{}"))
    lengths = json.loads(meta.get("string_lengths", "{}"))
    for name in json.loads(meta.get("string_keys", "[]")):
        raw = bytes(tensors.pop(name).numpy())
        if name in lengths:
            parts, pos = [], 0
            for n in lengths[name]:
                parts.append(raw[pos:pos + n])
                pos += n
            arr = np.empty(len(parts), dtype=object)
            arr[:] = parts
            strings[name] = arr.reshape(shapes[name])
        else:
            strings[name] = raw
    return tensors, strings, meta


# ------------------------------------------------------------------ the harness over the shared fixtures

@pytest.mark.tf
@needs_fixtures
@pytest.mark.parametrize("fixture", CHECKPOINTS)
def test_fixture_reads_bit_exactly(fixture):
    entry = MANIFEST[fixture]
    tensors, strings, meta = _expected(TF_DIR / fixture)
    if "prefix" not in entry:  # the TensorLayer .npz fixture
        for name in entry["files"]:
            if name.endswith(".npz"):
                got = read_tensorlayer_npz(TF_DIR / fixture / name)
                for key, value in got.items():
                    if key in tensors:
                        assert _same(value, tensors[key]), key
        got = read_tensorlayer_npz(TF_DIR / fixture / "net_g.npz")
        assert list(got) == list(tensors)
        return
    ckpt = read_tf_checkpoint(TF_DIR / entry["prefix"])
    order = json.loads(meta["names_in_list_variables_order"]) if "names_in_list_variables_order" in meta else None
    assert list(ckpt) == (order or sorted(set(tensors) | set(strings), key=str.encode))
    listing = {name: (dtype, tuple(shape)) for name, dtype, shape in entry["listing"]} if "listing" in entry else {}
    for name, (dtype, shape) in listing.items():
        assert ckpt.dtypes[name] == dtype and ckpt.shapes[name] == shape, name
    bad = []
    for name in ckpt:
        value = ckpt[name]
        if name in strings:
            want = strings[name]
            if isinstance(want, bytes):
                ok = value == want
            else:
                ok = value.shape == want.shape and list(value.flat) == list(want.flat)
        else:
            ok = _same(value, tensors[name]) and ckpt.shapes[name] == tuple(value.shape)
        if not ok:
            bad.append(name)
    assert not bad, f"{fixture}: {len(bad)} tensors differ: {bad[:5]}"
    ckpt.close()


@needs_fixtures
def test_every_fixture_is_in_the_harness():
    on_disk = {p.name for p in TF_DIR.iterdir() if (p / "expected.safetensors").is_file()}
    assert on_disk <= set(CHECKPOINTS)
    for name in ("v2_many_vars", "v2_sharded", "v2_partitioned", "v2_snappy_index", "v1_saver"):
        assert name in CHECKPOINTS


@needs_fixtures
def test_fixture_structure():
    """The harness really covers a 2-block index, snappy blocks, 2 shards, slices and V1."""
    many = read_tf_checkpoint(TF_DIR / "v2_many_vars")._reader.table
    snappy = read_tf_checkpoint(TF_DIR / "v2_snappy_index")._reader.table
    assert len(many._handles) == len(snappy._handles) == 2
    kinds = {snappy._buf[off + size] for off, size in snappy._handles}
    assert kinds == {1} and {many._buf[off + size] for off, size in many._handles} == {0}
    sharded = read_tf_checkpoint(TF_DIR / "v2_sharded")._reader
    assert sharded.num_shards == 2 and {e.shard_id for e in sharded.entries.values()} == {0, 1}
    part = read_tf_checkpoint(TF_DIR / "v2_partitioned")._reader
    assert len(part.entries["emb/table"].slices) == 3 and len(part.slices) == 3
    v1 = read_tf_checkpoint(TF_DIR / "v1_saver")
    assert v1.format == "v1" and len(v1._reader.meta["part/table"][2]) == 2


# ------------------------------------------------------------------ what a path may name

@needs_fixtures
def test_path_forms(tmp_path):
    basic = TF_DIR / "v2_saver_basic"
    for path in (basic / "model.ckpt-42", basic / "model.ckpt-42.index", basic / "model.ckpt-42.meta", basic,
                 basic / "model.ckpt-42.data-00000-of-00001", basic / "checkpoint", str(basic / "model.ckpt-42")):
        ckpt = read_tf_checkpoint(path)
        assert ckpt.format == "v2" and ckpt.path == basic / "model.ckpt-42" and len(ckpt) == 10
    # the v1 'checkpoint' file holds /home/researcher/... (another machine): resolved next to the file
    assert "/home/researcher/" in (TF_DIR / "v1_saver" / "checkpoint").read_text()
    v1 = read_tf_checkpoint(TF_DIR / "v1_saver")
    assert v1.format == "v1" and v1.path == TF_DIR / "v1_saver" / "model_100.ckpt"
    assert read_tf_checkpoint(TF_DIR / "v2_object_keras").path == TF_DIR / "v2_object_keras" / "ckpt-1"
    # a folder without a 'checkpoint' file but with one .index
    folder = tmp_path / "copy"
    shutil.copytree(TF_DIR / "v2_sharded", folder)
    (folder / "checkpoint").unlink()
    assert read_tf_checkpoint(folder).path == folder / "sharded.ckpt"
    with pytest.raises(FileNotFoundError, match="no TensorFlow checkpoint"):
        read_tf_checkpoint(tmp_path / "nothing.ckpt")
    (folder / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/gone.ckpt"\n')
    with pytest.raises(FileNotFoundError, match="gone.ckpt"):
        read_tf_checkpoint(folder)
    with pytest.raises(FileNotFoundError):
        read_tf_checkpoint(tmp_path / "empty-dir-does-not-exist")


@needs_fixtures
def test_listing_without_data(tmp_path):
    """shapes/dtypes come from the index: they work with the data shard gone; reading then says what is missing."""
    folder = tmp_path / "c"
    shutil.copytree(TF_DIR / "v2_saver_basic", folder)
    (folder / "model.ckpt-42.data-00000-of-00001").unlink()
    ckpt = read_tf_checkpoint(folder / "model.ckpt-42")
    assert ckpt.shapes["g_net/conv/kernel_hwio"] == (3, 3, 2, 4) and ckpt.dtypes["outer/h_f16"] == "float16"
    assert ckpt.tf_dtype("outer/h_f16") == "DT_HALF"
    with pytest.raises(CheckpointError, match="data-00000-of-00001 is missing"):
        ckpt["outer/inner/w_f32"]
    with pytest.raises(KeyError):
        ckpt["nope"]


@needs_fixtures
def test_checksum_errors_and_verify_off(tmp_path):
    folder = tmp_path / "c"
    shutil.copytree(TF_DIR / "v2_saver_basic", folder)
    ckpt = read_tf_checkpoint(folder)
    good = ckpt["g_net/conv/kernel_hwio"].clone()
    entry = ckpt._reader.entries["g_net/conv/kernel_hwio"]
    data = folder / "model.ckpt-42.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x10
    data.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="checksum mismatch for tensor 'g_net/conv/kernel_hwio'"):
        read_tf_checkpoint(folder)["g_net/conv/kernel_hwio"]
    loose = read_tf_checkpoint(folder, verify=False)["g_net/conv/kernel_hwio"]
    assert not torch.equal(loose, good) and loose.shape == good.shape
    with pytest.raises(ChecksumError, match="'g_net/conv/kernel_hwio'"):  # the run check falls back per tensor
        read_tf_checkpoint(folder).read_all()
    index = folder / "model.ckpt-42.index"
    raw = bytearray(index.read_bytes())
    raw[20] ^= 1
    index.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="table block"):
        read_tf_checkpoint(folder)
    assert issubclass(ChecksumError, CheckpointError) and issubclass(ChecksumError, ValueError)


# ------------------------------------------------------------------ our writer: what the fixtures do not cover

def _all_dtypes(rng):
    out = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "f16": rng.standard_normal((2, 3)).astype(np.float16),
        "i8": rng.integers(-128, 128, 7).astype(np.int8),
        "i16": rng.integers(-2 ** 15, 2 ** 15, 7).astype(np.int16),
        "i32": np.array([-2 ** 31, 2 ** 31 - 1, 0, -1], dtype=np.int32),
        "i64": np.array([-2 ** 63, 2 ** 63 - 1, 2 ** 62, -5], dtype=np.int64),
        "u8": rng.integers(0, 256, 9).astype(np.uint8),
        "u16": np.array([0, 65535, 7], dtype=np.uint16),
        "u32": np.array([0, 2 ** 32 - 1], dtype=np.uint32),
        "u64": np.array([0, 2 ** 64 - 1], dtype=np.uint64),
        "flag": np.array([True, False, True]),
        "c64": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "c128": rng.standard_normal(2) + 1j,
        "scalar": np.float32(2.5).reshape(()),
        "empty": np.zeros((0, 3), np.float32),
        "bf16": ("bfloat16", torch.randn(4, 2).to(torch.bfloat16).view(torch.uint16).numpy()),
    }
    words = np.empty((2, 2), dtype=object)
    words[:] = [[b"", b"alpha"], [b"\x00\xff" * 40, b"z" * 300]]
    out["words"] = words
    out["one_word"] = b"hello"
    return out


def _check_against(ckpt, tensors):
    assert set(ckpt) == set(tensors)
    for name, value in tensors.items():
        got = ckpt[name]
        if isinstance(value, W.Partitioned):
            value = value.value
        if isinstance(value, tuple):  # raw bfloat16 bits
            assert got.dtype == torch.bfloat16 and np.array_equal(got.view(torch.uint16).numpy(), value[1])
        elif isinstance(value, bytes):
            assert got == value
        elif value.dtype == object:
            assert got.shape == value.shape and list(got.flat) == list(value.flat)
        else:
            assert got.dtype == torch.from_numpy(np.ascontiguousarray(value)).dtype, name
            assert tuple(got.shape) == value.shape and ckpt.shapes[name] == value.shape, name
            assert np.array_equal(got.numpy(), value) or np.array_equal(got.numpy(), value, equal_nan=True), name


@pytest.mark.parametrize("big_endian", [False, True])
def test_v2_every_dtype(tmp_path, big_endian):
    tensors = _all_dtypes(np.random.default_rng(0))
    W.write_v2(tmp_path / "m.ckpt", tensors, big_endian=big_endian)
    ckpt = read_tf_checkpoint(tmp_path / "m.ckpt")
    _check_against(ckpt, tensors)
    assert ckpt.dtypes["bf16"] == "bfloat16" and ckpt.dtypes["words"] == "string" and ckpt.shapes["scalar"] == ()


@pytest.mark.parametrize("compression", ["none", "snappy", "alternate", "auto"])
def test_v2_multi_block_index_sharded_partitioned(tmp_path, compression):
    rng = np.random.default_rng(1)
    tensors = {f"generator/stage_{i // 50:02d}/block_{i:04d}/" + "long_scope/" * (i % 5) + "kernel":
               rng.standard_normal((i % 4 + 1, 3)).astype(np.float32) for i in range(400)}
    tensors["emb/table"] = W.Partitioned(rng.standard_normal((7, 6)).astype(np.float32), {0: [3, 5], 1: [2]})
    tensors["emb/cols"] = W.Partitioned(np.arange(24, dtype=np.int64).reshape(2, 12), {1: [4, 8]})
    W.write_v2(tmp_path / "m.ckpt", tensors, num_shards=3, compression=compression, block_size=4096,
               reverse_data_order=True)
    assert len(list(tmp_path.glob("m.ckpt.data-*-of-00003"))) == 3
    ckpt = read_tf_checkpoint(tmp_path / "m.ckpt.index")
    assert len(ckpt._reader.table._handles) > 5  # many data blocks
    _check_against(ckpt, tensors)
    fast = read_tf_checkpoint(tmp_path / "m.ckpt")
    everything = fast.read_all()
    assert len(fast._reader._verified) > 100  # most tensors were covered by run checks
    assert all(torch.equal(everything[k], ckpt[k]) for k in tensors)
    assert not any(n.startswith("\x00") for n in ckpt)


def test_v2_missing_slice_and_bad_coverage(tmp_path):
    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    W.write_v2(tmp_path / "m.ckpt", {"t": W.Partitioned(value, {0: [2]})})
    index = (tmp_path / "m.ckpt.index").read_bytes()
    ckpt = read_tf_checkpoint(tmp_path / "m.ckpt")
    assert ckpt.shapes == {"t": (4, 3)} and torch.equal(ckpt["t"], torch.from_numpy(value))
    # drop one slice entry: rewrite the index without it
    from textgan.convert._tf_table import Table
    items = [(k, bytes(v)) for k, (_, v) in Table(index, "x").entries.items()]
    items = [it for it in items if it[0] != items[1][0]] if items[1][0].startswith(b"\x00") else items[:-1]
    W.write_table(tmp_path / "m.ckpt.index", items)
    with pytest.raises(CheckpointError, match="missing|do not cover|hold"):
        read_tf_checkpoint(tmp_path / "m.ckpt")["t"]


def test_v1_every_dtype_partitioned_and_unpacked(tmp_path):
    tensors = _all_dtypes(np.random.default_rng(2))
    tensors["part/table"] = W.Partitioned(np.random.default_rng(3).standard_normal((5, 4)), {0: [2], 1: [1, 3]})
    for packed in (True, False):
        W.write_v1(tmp_path / f"model_{packed}.ckpt", tensors, packed=packed, block_size=512)
        ckpt = read_tf_checkpoint(tmp_path / f"model_{packed}.ckpt")
        assert ckpt.format == "v1"
        _check_against(ckpt, tensors)


def test_v1_shards_and_snappy(tmp_path):
    rng = np.random.default_rng(4)
    a = {"a/w": rng.standard_normal((3, 3)).astype(np.float32), "a/b": np.zeros(300, np.float32)}
    b = {"b/w": rng.integers(0, 9, (4,)).astype(np.int32)}
    W.write_v1(tmp_path / "model.ckpt-00000-of-00002", a, compression="snappy")
    W.write_v1(tmp_path / "model.ckpt-00001-of-00002", b, compression="auto")
    ckpt = read_tf_checkpoint(tmp_path / "model.ckpt")
    _check_against(ckpt, {**a, **b})


def test_variant_entries_are_skipped(tmp_path):
    variant_entry = W.f_varint(1, W.TF_DTYPES["variant"]) + W.f_bytes(2, W.shape_proto(()))
    W.write_v2(tmp_path / "m.ckpt", {"w": np.ones(2, np.float32)}, extra_entries=[(b"iterator", variant_entry)])
    with pytest.warns(UserWarning, match="skipped 1 variant"):
        ckpt = read_tf_checkpoint(tmp_path / "m.ckpt")
    assert list(ckpt) == ["w"] and ckpt.skipped == {"iterator": "variant"}
    with pytest.raises(KeyError, match="variant"):
        ckpt["iterator"]


def test_format_mixups(tmp_path):
    (tmp_path / "x.ckpt").write_bytes(b"\x93NUMPY not a checkpoint" * 4)
    with pytest.raises(CheckpointError, match="not a TensorFlow table"):
        read_tf_checkpoint(tmp_path / "x.ckpt")
    (tmp_path / "e.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError):
        read_tf_checkpoint(tmp_path / "e.ckpt")
    W.write_v2(tmp_path / "v2", {"w": np.ones(2, np.float32)})
    os.rename(tmp_path / "v2.index", tmp_path / "renamed")
    with pytest.raises(CheckpointError, match="not a V1 checkpoint"):
        read_tf_checkpoint(tmp_path / "renamed")


# ------------------------------------------------------------------ crc32c and snappy

def test_crc32c_reference_values():
    assert crc32c(b"123456789") == 0xE3069283 == crc32c_py(b"123456789")
    assert crc32c(b"") == 0 and crc32c(b"\x00" * 32) == 0x8A9136AA  # RFC 3720 B.4 test vectors
    assert crc32c(b"\xff" * 32) == 0x62A8AB43 and crc32c(bytes(range(32))) == 0x46DD794E
    assert mask(0) == 0xA282EAD8 and unmask(mask(0x12345678)) == 0x12345678


@pytest.mark.parametrize("n", [1, 63, 64, 65, 4095, 4096, 4097, 64 * 4096 + 3, 75_001, 300_017, 2_400_013])
def test_crc32c_vectorised_matches_bytewise(n):
    """Python loop, table kernel (> 4 KiB) and folding (> 128 KiB) agree, at any alignment and split."""
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    want = crc32c_py(data.tobytes())
    for fn in (crc32c, crc32c_numpy):  # google-crc32c when installed, and textgan's own kernels
        assert fn(data) == want == fn(data.tobytes()) == fn(memoryview(data.tobytes()))
        cut = n // 3 + 1  # an odd cut: the second part is not 8-byte aligned
        assert fn(data[cut:], fn(data[:cut])) == want


def test_crc32c_uses_google_crc32c_when_installed():
    from textgan.convert import _crc32c as C
    assert C._native_extend is not None, "google-crc32c is a dependency: its C extension should be used"


def test_crc32c_fold_constants():
    """Every fold distance D has x^(64 D) mod P of weight <= 7, and folding keeps the remainder."""
    from textgan.convert import _crc32c as C
    assert list(C._FOLD_WORDS) == sorted(set(C._FOLD_WORDS))
    for d in C._FOLD_WORDS:
        assert len(C._fold_terms(d)) in (1, 3, 5, 7), d
    words = np.random.default_rng(0).integers(0, 2 ** 63, 40_000, dtype=np.uint64)
    for d in (4748, 13156, 20000 - 1, 39_000):  # unlisted distances are correct too, only slower
        folded = C._fold_once(words, d)
        assert C._raw_tables(folded.view(np.uint8)) == C._raw_tables(words.view(np.uint8))
    for n in (C._FOLD_STOP + 1, 2 * C._FOLD_WORDS[0] - 1, 2 * C._FOLD_WORDS[0], 3 * C._FOLD_WORDS[2] + 7):
        part = words[:n]
        assert C._raw_tables(C._fold(part).view(np.uint8)) == C._raw_tables(part.view(np.uint8)), n


def test_snappy_round_trip_and_corruption():
    rng = np.random.default_rng(5)
    samples = [b"", b"a", b"abcabcabcabcabcabcabc" * 50, rng.integers(0, 4, 5000, dtype=np.uint8).tobytes(),
               rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), b"x" * 100_000]
    for s in samples:
        packed = W.snappy_compress(s)
        assert _snappy.decompress(packed) == s
    # an overlapping copy: literal "ab", then copy offset 2 length 10 -> "ababababab"
    assert _snappy.decompress(bytes([12, 1 << 2]) + b"ab" + bytes([2 | (9 << 2), 2, 0])) == b"ab" * 6
    for bad in (b"", b"\x05", bytes([10, 0]) + b"a", bytes([4, 2 | (3 << 2), 9, 0]), b"\xff\xff\xff\xff\xff\x0f",
                bytes([1, 0]) + b"ab"):
        with pytest.raises(_snappy.SnappyError):
            _snappy.decompress(bad)


def test_crc32c_streaming_and_threads(monkeypatch):
    """Long inputs: Horner streaming over 945 KB pieces, split between threads, equals the table kernel."""
    from textgan.convert import _crc32c as C
    assert C._fold_terms(C._STREAM_WORDS) == [1, 17, 19]
    monkeypatch.setenv("TEXTGAN_CRC_THREADS", "3")
    words = np.random.default_rng(1).integers(0, 2 ** 63, 8 * C._STREAM_WORDS + 12_345, dtype=np.uint64)
    want = C._raw_tables(words.view(np.uint8))
    assert C._raw_parallel(words) == want == C._raw_words(words)
    unaligned = words.view(np.uint8)[3:-2]
    assert C.crc32c_numpy(unaligned) == C.crc32c_numpy(unaligned.copy()) == C.crc32c(unaligned)


# ------------------------------------------------------------------ mapping helpers

def test_kernel_layouts_numerically():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6, 3)  # NHWC
    w = torch.randn(3, 2, 3, 4)  # HWIO
    want = torch.zeros(2, 3, 5, 4)  # TF VALID cross-correlation, NHWC out
    for i in range(3):
        for j in range(5):
            patch = x[:, i:i + 3, j:j + 2, :]
            want[:, i, j, :] = torch.einsum("nhwc,hwco->no", patch, w)
    got = F.conv2d(x.permute(0, 3, 1, 2), M.conv2d_kernel(w)).permute(0, 2, 3, 1)
    assert torch.allclose(got, want, atol=1e-5)
    # conv2d_transpose(filter [h, w, out, in]) is the adjoint of conv2d with that filter: same permutation
    f = torch.randn(4, 4, 2, 5)
    y = torch.randn(1, 2, 8, 8, requires_grad=True)
    conv = F.conv2d(y, M.conv2d_kernel(f), stride=2, padding=1)
    z = torch.randn_like(conv)
    (grad,) = torch.autograd.grad((conv * z).sum(), y)
    assert torch.allclose(F.conv_transpose2d(z, M.conv2d_transpose_kernel(f), stride=2, padding=1), grad, atol=1e-5)
    dense = torch.randn(6, 4)
    v = torch.randn(3, 6)
    assert torch.allclose(F.linear(v, M.dense_kernel(dense)), v @ dense, atol=1e-6)
    # FC reshaped to NHWC (TF) vs NCHW (PyTorch)
    fc = torch.randn(5, 2 * 3 * 4)
    tf_map = (v[:, :5] @ fc).reshape(3, 2, 3, 4).permute(0, 3, 1, 2)
    pt = F.linear(v[:, :5], M.nhwc_features_to_nchw(M.dense_kernel(fc), 2, 3, 4)).reshape(3, 4, 2, 3)
    assert torch.allclose(pt, tf_map, atol=1e-6)
    with pytest.raises(CheckpointError):
        M.conv2d_kernel(torch.zeros(3, 3))


def test_batch_norm_ema_and_names():
    t = {"bn/gamma": torch.full((3,), 2.0), "bn/beta": torch.zeros(3), "bn/moving_mean": torch.ones(3),
         "bn/moving_variance": torch.ones(3) * 4, "pt/mean": torch.ones(2), "pt/variance": torch.ones(2),
         "slim/BatchNorm/beta": torch.ones(2), "slim/BatchNorm/moving_mean": torch.zeros(2),
         "slim/BatchNorm/moving_variance": torch.ones(2)}
    bn = M.batch_norm(t, "bn", prefix="norm.")
    assert set(bn) == {"norm.weight", "norm.bias", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"}
    assert torch.equal(bn["norm.running_var"], torch.ones(3) * 4)
    mod = torch.nn.BatchNorm1d(3)
    mod.load_state_dict({k[5:]: v for k, v in bn.items()})
    assert torch.equal(M.batch_norm(t, "slim/BatchNorm")["weight"], torch.ones(2))  # slim scale=False
    assert set(M.batch_norm(t, "pt")) >= {"running_mean", "running_var"}
    with pytest.raises(CheckpointError, match="no batch norm statistics"):
        M.batch_norm(t, "missing")
    ema = {"conv0/weights": torch.zeros(1), "conv0/weights/ExponentialMovingAverage": torch.ones(1),
           "logits/biases": torch.full((1,), 3.0)}
    picked = M.prefer_moving_average(ema)
    assert set(picked) == {"conv0/weights", "logits/biases"} and picked["conv0/weights"].item() == 1.0
    names = ["g/w", "g/w/Adam", "g/w/Adam_1", "beta1_power", "global_step", "g/b/biased", "g/b/local_step",
             "optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE", "g/b"]
    assert M.drop_training_state(names) == ["g/w", "g/b"]


@needs_fixtures
def test_prettytensor_scopes():
    ckpt = read_tf_checkpoint(TF_DIR / "stackgan_tiny_v1")
    convs = M.numbered_scopes(ckpt, "g_net", "custom_conv2d")
    assert len(convs) == 10 and convs[3] == "g_net/custom_conv2d_3/custom_conv2d_3"
    assert M.numbered_scopes(ckpt, "g_net", "fc_batch_norm") == ["g_net/fc_batch_norm"]
    assert len(M.numbered_scopes(ckpt, "hr_g_net", "custom_conv2d")) == 17
    bn = M.batch_norm(ckpt, M.numbered_scopes(ckpt, "hr_g_net", "conv_batch_norm")[0])
    assert bn["weight"].shape == bn["running_var"].shape
    hits = M.match_names(ckpt, r"g_net/custom_conv2d(?:_(\d+))?/custom_conv2d(?:_\d+)?/w")
    assert [h[0] for h in hits] == [c + "/w" for c in convs]
    full = json.loads((TF_DIR / "stackgan_reconstructed_varlist.json").read_text())["generators_test_phase"]
    names = [n if isinstance(n, str) else n[0] for n in full] if isinstance(full, list) else list(full)
    assert len(M.numbered_scopes(names, "hr_g_net", "custom_conv2d")) == 17
    assert M.lookup(ckpt, convs[0] + "/w").dim() == 4
    with pytest.raises(CheckpointError, match="tf-inspect"):
        M.lookup(ckpt, "g_net/nothing")


# ------------------------------------------------------------------ CLI

@needs_fixtures
def test_cli_tf_inspect(capsys):
    assert main(["convert", "tf-inspect", str(TF_DIR / "v2_saver_basic")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "g_net/conv/kernel_hwio (DT_FLOAT) [3,3,2,4]" in lines and "global_step (DT_INT64) []" in lines
    assert len(lines) == 10
    assert main(["convert", "tf-inspect", str(TF_DIR / "v1_saver" / "model_100.ckpt"), "--tensor", "i32"]) == 0
    assert "tensor_name:  i32" in capsys.readouterr().out
    assert main(["convert", "tf-inspect", str(TF_DIR / "v1_saver"), "--tensor", "nope"]) == 2
    assert main(["convert", "tf-inspect", str(TF_DIR / "missing-dir" / "x")]) == 2
    assert "no TensorFlow checkpoint" in capsys.readouterr().err
