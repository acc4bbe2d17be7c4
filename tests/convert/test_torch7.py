"""Torch7 reading (textgan.convert.read_torch7), the Lua nn → PyTorch mapping, the test writer, and bad input."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import t7_writer as w  # noqa: E402
from _paths import SHARED  # noqa: E402

from textgan.cli import main  # noqa: E402
from textgan.convert import char_cnn_rnn_from_torch7, from_lua_module, gan_int_cls_from_torch7, read_torch7  # noqa: E402
from textgan.convert.torch7 import LuaFunction, LuaTable, Torch7Object  # noqa: E402
from textgan.errors import ArchitectureMismatchError, CheckpointError  # noqa: E402

T7 = SHARED / "torch7"
FLOAT_VALUES = [[[0.8635312, 0.53612185, 0.4820634, 0.5423465], [0.33597437, 0.8148993, 0.46810812, 0.22627884],
                 [0.2564105, 0.88279045, 0.16968895, 0.4918524]],
                [[0.21364617, 0.8193004, 0.59356725, 0.95846003], [0.19001973, 0.6521647, 0.87296087, 0.6823452],
                 [0.5583874, 0.9572979, 0.26755267, 0.13664843]]]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small convolutions on a shared 2-core machine run far faster on one thread (no OpenMP spinning)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------- the real files' README values


def test_plain_values_and_tables():
    assert read_torch7(T7 / "hello=123.t7") == {"hello": 123}
    assert read_torch7(T7 / "hello=123.t7").hello == 123
    assert read_torch7(T7 / "list_table.t7") == ["hello", "world", "third item", 123]
    assert read_torch7(T7 / "map_table1.t7") == {0: "zero", 1: "hello", 2: "world", 3: "third item", 4: 123}
    assert read_torch7(T7 / "map_table2.t7") == {1: "hello", 2: "world", 3: "third item", 4: 123, "a": "non number key"}
    assert read_torch7(T7 / "tds_hash.t7") == {1: 2, 2: 3, 10: 11}
    assert read_torch7(T7 / "tds_vec.t7") == [123, 456]


def test_lists_of_tensors(tmp_path):
    """A Lua list of tensors (Reed's COCO val_captions.t7 holds two) reads as a list of torch tensors: torchfile's
    own list heuristic fails on it under numpy 2 ("invalid __array_struct__")."""
    rows = [np.full((1, 4), i, np.float32) for i in range(3)]
    w.write(w.Table({"fea_txt": w.Table({i + 1: w.tensor(r) for i, r in enumerate(rows)}),
                     "raw_txt": w.Table({1: "a bird", 2: "a cat", 3: "a dog"}), "empty": w.Table()}), tmp_path / "l.t7")
    t = read_torch7(tmp_path / "l.t7")
    assert [x.tolist() for x in t.fea_txt] == [r.tolist() for r in rows] and t.raw_txt == ["a bird", "a cat", "a dog"]
    assert t.empty == []


def test_recursive_structure_keeps_identity():
    t = read_torch7(T7 / "recursive_kv_table.t7")
    assert isinstance(t, LuaTable) and len(t) == 1
    (key, value), = t.items()
    assert key is t and value is t and t[t] is t
    a = read_torch7(T7 / "recursive_class.t7")
    assert isinstance(a, Torch7Object) and a.typename == "A" and a.a is a


def test_functions_and_classes():
    f = read_torch7(T7 / "function.t7")
    assert isinstance(f, LuaFunction) and f.size == 218 and len(f.dumped) == 218 and f.dumped.startswith(b"\x1bLJ\x01")
    assert f.upvalues == []
    g = read_torch7(T7 / "function_upvals.t7")
    assert g.size == 89 and g.upvalues == [{"name": "asdf", "value": 123}]
    c = read_torch7(T7 / "custom_class.t7")
    assert (c.typename, c.version, dict(c)) == ("Blah", 1, {})
    n = read_torch7(T7 / "nngraph_node.t7")
    assert (n.typename, n.version, n.id, n.children, n.visited, n.marked) == ("nngraph.Node", 1, 0, [], False, False)
    assert sorted(n.data) == ["annotations", "mapindex"] and n.data.mapindex == []
    assert n.data.annotations["hello"] == 123 and n.data.annotations["_debugLabel"].endswith("/trepl/init.lua]:588_")


def test_tensors_are_copied_torch_tensors():
    x = read_torch7(T7 / "floattensor.t7")
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (2, 3, 4) and x.is_contiguous()
    assert torch.equal(x, torch.tensor(FLOAT_VALUES))
    assert math.isclose(float(x.sum()), 12.972416, rel_tol=1e-6)
    d = read_torch7(T7 / "doubletensor.t7")
    assert d.dtype == torch.float64 and torch.equal(d, torch.tensor([[1, 2, 3], [4, 5, 6.9]], dtype=torch.float64))


def test_gmodule_fields_order_and_forward():
    g = read_torch7(T7 / "gmodule_with_linear_identity.t7")
    assert (g.typename, g.version, g.nInputs) == ("nn.gModule", 1, 2)
    assert sorted(g) == ["backwardnodes", "bg", "fg", "forwardnodes", "innode", "modules", "nInputs", "outnode", "verbose"]
    assert [m.typename for m in g.modules] == ["nn.Identity", "nn.Identity", "nn.Linear", "nn.CAddTable"]
    assert [n.id for n in g.forwardnodes] == [9, 7, 5, 3, 8, 6, 4, 1, 2]
    assert [n.id for n in g.backwardnodes] == [1, 2, 3, 5, 4, 6, 8, 7, 9]
    assert (g.innode.id, g.outnode.id) == (9, 1)
    lin = g.modules[2]
    assert torch.equal(lin.weight, torch.tensor([[-0.024837296921759844], [0.17503953725099564]], dtype=torch.float64))
    assert torch.equal(lin.bias, torch.tensor([0.05159847717732191, -0.2536714617162943], dtype=torch.float64))
    # node.children holds [i] = child and [child] = i: the child nodes are keys, by identity
    assert g.forwardnodes[0].children[1] is g.forwardnodes[1] and g.forwardnodes[0].children[g.forwardnodes[1]] == 1
    net = from_lua_module(g, dtype=torch.float64)
    a, b = torch.randn(4, 1, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    torch.testing.assert_close(net([a, b]), b + a @ lin.weight.T + lin.bias)


def test_every_file_reads():
    files = sorted(T7.glob("*.t7"))
    assert len(files) == 15
    for f in files:
        read_torch7(f)


# ------------------------------------------------------------------------------- the writer


@pytest.mark.parametrize("name", sorted(p.name for p in T7.glob("*.t7")))
def test_writer_reproduces_the_real_files_byte_for_byte(name):
    raw = (T7 / name).read_bytes()
    obj = w.from_torchfile(torchfile.load(str(T7 / name), use_list_heuristic=False))
    if name.startswith("tds_"):  # torchfile hides these classes: say which one
        obj = (w.TdsVec if "vec" in name else w.TdsHash)(obj)
    assert w.dumps(obj) == raw


def test_writer_output_round_trips_through_torchfile(tmp_path):
    storage = w.Storage(np.arange(10, dtype=np.float32))
    obj = w.Table(a=1.5, b=[1, "two", True], t=w.Tensor(storage, [2, 3], [3, 1], 2),
                  u=w.Tensor(storage, [3], [2], 1), m=w.linear(np.ones((2, 3)), np.zeros(2)))
    obj["self"] = obj
    w.write(obj, tmp_path / "x.t7")
    back = torchfile.load(str(tmp_path / "x.t7"))
    assert back[b"a"] == 1.5 and back[b"b"] == [1, b"two", True] and back[b"self"] is back
    np.testing.assert_array_equal(back[b"t"], np.arange(2, 8, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(back[b"u"], np.array([1, 3, 5], np.float32))
    assert back[b"m"].torch_typename() == b"nn.Linear" and back[b"m"].weight.shape == (2, 3)


def test_nngraph_emulation_matches_the_real_gmodule():
    ia, ib = w.simple("Identity"), w.simple("Identity")
    a, b = w.call(ia), w.call(ib)
    c = w.call(w.linear(np.ones((2, 1)), np.zeros(2)), a)
    g = w.gmodule([a, b], [w.call(w.simple("CAddTable"), b, c)])
    assert [n.fields["id"] for n in g.fields["forwardnodes"]] == [9, 7, 5, 3, 8, 6, 4, 1, 2]
    assert [n.fields["id"] for n in g.fields["backwardnodes"]] == [1, 2, 3, 5, 4, 6, 8, 7, 9]
    assert g.fields["modules"][0] is ib and g.fields["modules"][1] is ia
    assert (g.fields["innode"].fields["id"], g.fields["outnode"].fields["id"]) == (9, 1)


def _role_indices(gm, base):
    by_storage = {id(m.fields["weight"].storage): r for r, m in base.items()}
    return {i: by_storage[id(m.fields["modules"][0].fields["weight"].storage)]
            for i, m in enumerate(gm.fields["modules"]) if m.typename == "nn.Sequential"}


def test_emulated_rnn_graphs_put_the_linears_where_the_port_extracts_them():
    lin = lambda: w.linear(np.random.randn(3, 3), np.random.randn(3))  # noqa: E731
    roles = ["i2h_update", "h2h_update", "i2h_reset", "h2h_reset", "i2h", "h2h"]
    base = {r: lin() for r in roles}
    got = _role_indices(w.fixed_gru(18, base), base)
    # martinduartemore/char_cnn_rnn_pytorch utils.extract_char_cnn_rnn_weights (0-based module indices)
    assert {got[1], got[4], got[5], got[9], got[10], got[14]} == set(roles)
    assert (got[1], got[4], got[5], got[9], got[10], got[14]) == ("i2h", "i2h_update", "h2h_update", "i2h_reset",
                                                                   "h2h_reset", "h2h")
    base = {"i2h": lin(), "h2h": lin()}
    got = _role_indices(w.fixed_rnn(8, base["i2h"], base["h2h"]), base)
    assert (got[1], got[5]) == ("i2h", "h2h")
    enc = w.hybrid_cnn([(np.zeros((3, 70, 4)), np.zeros(3)), (np.zeros((3, 3, 4)), np.zeros(3)),
                        (np.zeros((3, 3, 4)), np.zeros(3))], w.fixed_rnn(8, base["i2h"], base["h2h"]),
                       w.linear(np.zeros((5, 3)), np.zeros(5)), pool3=True)
    assert [m.typename for m in enc.fields["modules"]] == ["nn.Identity", "nn.Sequential", "nn.SplitTable",
                                                           "nn.gModule", "nn.Dropout", "nn.Linear"]


def test_shared_storages_come_back_as_independent_copies(tmp_path):
    net = w.sequential(w.linear(np.random.randn(4, 3), np.random.randn(4)))
    net.fields["modules"].append(w.shared(net.fields["modules"][0]))
    flat = w.flatten_parameters(net)  # getParameters(): one flat storage, the shared Linear onto the same slice
    assert flat.data.size == 16
    w.write(net, tmp_path / "n.t7")
    a, b = (m.weight for m in read_torch7(tmp_path / "n.t7").modules)
    assert torch.equal(a, b) and a._base is None and a.data_ptr() != b.data_ptr()
    a.add_(1.0)
    assert not torch.equal(a, b)


def test_cuda_tensors_read_as_cpu(tmp_path):
    w.write(w.Table(x=w.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), cuda=True)), tmp_path / "c.t7")
    x = read_torch7(tmp_path / "c.t7").x
    assert x.device.type == "cpu" and x.dtype == torch.float32 and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    # cutorch's CudaLongTensor (max-pooling indices of GPU-trained nets), which torchfile itself lacks
    idx = w.tensor(np.array([3, 1], np.int64), cuda=True)
    assert idx.typename == "torch.CudaLongTensor"
    w.write(w.simple("TemporalMaxPooling", cuda=True, kW=3, dW=3, indices=idx), tmp_path / "p.t7")
    assert read_torch7(tmp_path / "p.t7").indices.tolist() == [3, 1]


# ------------------------------------------------------------------------------- the Lua nn mapping


def _read(tmp_path, obj):
    w.write(obj, tmp_path / "m.t7")
    return read_torch7(tmp_path / "m.t7")


def test_temporal_convolution_frame_major_weight(tmp_path):
    torch.manual_seed(0)
    weight, bias = torch.randn(5, 3, 4), torch.randn(5)
    lua = _read(tmp_path, w.temporal_convolution(weight.numpy(), bias.numpy()))
    assert tuple(lua.weight.shape) == (5, 12)  # (out, kW * in), frames concatenated
    x = torch.randn(2, 9, 3)  # (B, T, C), time-major as in Lua
    # Lua: y[t, o] = b[o] + sum_k sum_i W[o, k * in + i] * x[t + k, i]
    ref = torch.stack([bias + sum(lua.weight.float()[:, k * 3:(k + 1) * 3] @ x[:, t + k].T for k in range(4)).T
                       for t in range(6)], 1)
    torch.testing.assert_close(from_lua_module(lua)(x), ref)
    torch.testing.assert_close(from_lua_module(lua)(x[0]), ref[0])


@pytest.mark.parametrize("version", [1, 2])
def test_batch_norm_layouts(tmp_path, version):
    bn = torch.nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_()
        bn.bias.normal_()
    lua = _read(tmp_path, w.batch_norm(bn, spatial=True, version=version))
    assert lua.version == version and (("running_std" in lua) == (version == 1))
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(from_lua_module(lua)(x), bn(x), atol=1e-6, rtol=1e-5)


def test_convolutions_and_activations(tmp_path):
    torch.manual_seed(0)
    conv, deconv = torch.nn.Conv2d(3, 4, 3, 2, 1), torch.nn.ConvTranspose2d(4, 2, 4, 2, 1)
    x = torch.randn(2, 3, 8, 8)
    lua_conv = _read(tmp_path, w.conv(conv.weight.detach(), conv.bias.detach(), 2, 1, cuda=True, prefix="cudnn"))
    lua_deconv = _read(tmp_path, w.full_conv(deconv.weight.detach(), deconv.bias.detach(), 2, 1))
    with torch.no_grad():
        torch.testing.assert_close(from_lua_module(lua_deconv)(from_lua_module(lua_conv)(x)), deconv(conv(x)))
    th = from_lua_module(_read(tmp_path, w.simple("Threshold", threshold=1e-6, val=0, inplace=False)))
    assert th(torch.tensor([1e-7, 2e-6, -1.0])).tolist() == pytest.approx([0.0, 2e-6, 0.0])
    lr = from_lua_module(_read(tmp_path, w.simple("LeakyReLU", negval=0.2, inplace=True)))
    assert lr(torch.tensor([-1.0, 2.0])).tolist() == pytest.approx([-0.2, 2.0])


def test_table_modules(tmp_path):
    net = w.sequential(
        w.module("nn.ParallelTable", modules=[w.simple("Identity"), w.sequential(w.linear(np.eye(3), np.zeros(3)))]),
        w.simple("JoinTable", dimension=2, size=w.Storage(np.zeros(0, np.int64)), gradInput=[]))
    noise, text = torch.randn(2, 5, 1, 1), torch.randn(2, 3)
    out = from_lua_module(_read(tmp_path, net))([noise, text])  # Lua joins by element count: (2, 8, 1, 1)
    assert out.shape == (2, 8, 1, 1) and torch.equal(out[:, :5], noise) and torch.allclose(out[:, 5:, 0, 0], text)
    rep = w.sequential(w.simple("Replicate", nfeatures=4, dim=3), w.simple("Replicate", nfeatures=4, dim=4),
                       w.simple("View", size=w.Storage(np.array([-1], np.int64)), numElements=1, numInputDims=2))
    y = from_lua_module(_read(tmp_path, rep))(text)
    assert y.shape == (2, 3, 16) and torch.equal(y[:, :, 5], text)


def test_unknown_module_names_class_and_place(tmp_path):
    net = w.sequential(w.simple("Identity"), w.sequential(w.simple("Tanh"), w.simple("SpatialMaxPooling", kW=2)))
    with pytest.raises(ArchitectureMismatchError, match=r"net\.modules\[2\]\.modules\[2\].*'nn\.SpatialMaxPooling'"):
        from_lua_module(_read(tmp_path, net))


# ------------------------------------------------------------------------------- bad input


def test_truncated_files_are_reported(tmp_path):
    raw = (T7 / "floattensor.t7").read_bytes()
    for cut in (3, 20, 60, 120, len(raw) - 1):  # inside the header, the class name, the sizes, the storage data
        (tmp_path / "cut.t7").write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=r"cut\.t7.*truncated"):
            read_torch7(tmp_path / "cut.t7")
    raw = (T7 / "gmodule_with_linear_identity.t7").read_bytes()
    (tmp_path / "g.t7").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        char_cnn_rnn_from_torch7(tmp_path / "g.t7")


def test_ascii_empty_missing_and_foreign_files(tmp_path):
    (tmp_path / "ascii.t7").write_bytes(b"3\n1\n1\n2\n5\nhello1\n123\n")
    with pytest.raises(CheckpointError, match=r"ASCII.*torchfile.*torch\.load\('ascii\.t7', 'ascii'\)"):
        read_torch7(tmp_path / "ascii.t7")
    (tmp_path / "empty.t7").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_torch7(tmp_path / "empty.t7")
    with pytest.raises(FileNotFoundError, match="nope.t7"):
        read_torch7(tmp_path / "nope.t7")
    (tmp_path / "zip.t7").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(CheckpointError, match="not a Torch7 binary file"):
        read_torch7(tmp_path / "zip.t7")


def test_half_tensors_say_so(tmp_path):
    obj = w.Obj("torch.HalfTensor", {})
    w.write(obj, tmp_path / "h.t7")
    with pytest.raises(CheckpointError, match="half-precision"):
        read_torch7(tmp_path / "h.t7")


def test_unrelated_networks_are_refused():
    g = T7 / "gmodule_with_linear_identity.t7"
    with pytest.raises(ArchitectureMismatchError, match="gmodule_with_linear_identity.t7"):
        char_cnn_rnn_from_torch7(g)
    with pytest.raises(ArchitectureMismatchError, match="not a GAN-INT-CLS network"):
        gan_int_cls_from_torch7(g)
    with pytest.raises(ArchitectureMismatchError, match="not a char-CNN-RNN file"):
        char_cnn_rnn_from_torch7(T7 / "hello=123.t7")


def test_cli_reports_bad_files(tmp_path, capsys):
    (tmp_path / "ascii.t7").write_bytes(b"4\n1\n3\nV 1\n")
    assert main(["convert", "char-cnn-rnn", str(tmp_path / "ascii.t7"), "-o", str(tmp_path / "out")]) == 2
    assert "ASCII" in capsys.readouterr().err
    assert main(["convert", "gan-int-cls", str(T7 / "list_table.t7"), "-o", str(tmp_path / "out")]) == 2
    assert "not a GAN-INT-CLS network" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
