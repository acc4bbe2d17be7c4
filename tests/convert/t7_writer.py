"""A small Torch7 writer, for tests only: builds ``.t7`` files in the layouts the Lua code saved.

* :func:`write` produces ``torch.save``'s binary format (x86-64: little-endian, 4-byte int, 8-byte long):
  every table, torch object and function gets a reference index when first written and is written as that
  index afterwards, so shared and recursive structure survives; tables are written in dict order.
* :func:`from_torchfile` turns what ``torchfile.load`` returned back into writable objects, which lets the
  tests check that this writer reproduces the real files of ``shared/torch7`` byte for byte.
* nn module constructors with the fields Lua's ``nn`` gives them, an emulation of nngraph's ``gModule``
  construction (nodes, the BFS-built backward graph, its reverse and both topological sorts, as in
  torch/nngraph and torch/graph), Lua's ``getParameters()`` flattening, and builders of Reed's networks:
  char-CNN-RNN (HybridCNN / HybridCNNLong + FixedRNN / FixedGRU, saved as ``{protos = {enc_doc = ...}}``) and
  GAN-INT-CLS generator and discriminator (``main_cls_int.lua`` / ``main_cls.lua``, cudnn-converted, CUDA-typed).

Nothing here is used by the library; the converters never see this code.
"""
from __future__ import annotations

import struct
from collections import deque
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

TYPE_NIL, TYPE_NUMBER, TYPE_STRING, TYPE_TABLE, TYPE_TORCH, TYPE_BOOLEAN, TYPE_RECUR_FUNCTION = 0, 1, 2, 3, 4, 5, 8

_DTYPES = {np.dtype(np.uint8): "Byte", np.dtype(np.int8): "Char", np.dtype(np.int16): "Short",
           np.dtype(np.int32): "Int", np.dtype(np.int64): "Long", np.dtype(np.float32): "Float",
           np.dtype(np.float64): "Double"}


class Table(dict):
    """A Lua table (hashable by identity, so that tables can be keys)."""

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other


class Obj:
    """An instance of a torch class: written as its version, class name and a table of its fields."""

    def __init__(self, typename: str, fields: Optional[Dict] = None, version: int = 1):
        self.typename, self.version = typename, version
        self.fields = Table(fields or {})


class Storage:
    def __init__(self, data: np.ndarray, cuda: bool = False):
        self.data = np.ascontiguousarray(data).reshape(-1)
        self.cuda = cuda

    @property
    def typename(self) -> str:
        kind = _DTYPES[self.data.dtype]
        if self.cuda:
            return "torch.CudaStorage" if kind == "Float" else f"torch.Cuda{kind}Storage"
        return f"torch.{kind}Storage"


class Tensor:
    """A Torch7 tensor: a view (sizes, strides in elements, 0-based offset) of a :class:`Storage`."""

    def __init__(self, storage: Optional[Storage], size: Sequence[int], stride: Sequence[int], offset: int = 0,
                 dtype=None, cuda: Optional[bool] = None):
        self.storage, self.size, self.stride, self.offset = storage, list(size), list(stride), offset
        self.dtype = np.dtype(dtype) if dtype is not None else storage.data.dtype
        self.cuda = storage.cuda if cuda is None and storage is not None else bool(cuda)

    @property
    def typename(self) -> str:
        kind = _DTYPES[self.dtype]
        if self.cuda:
            return "torch.CudaTensor" if kind == "Float" else f"torch.Cuda{kind}Tensor"
        return f"torch.{kind}Tensor"

    def numpy(self) -> np.ndarray:
        if self.storage is None:
            return np.empty(0, self.dtype)
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(self.storage.data[self.offset:], self.size,
                                               [s * item for s in self.stride]).copy()


def tensor(x: Any, cuda: bool = False, dtype=np.float32) -> Tensor:
    """A fresh contiguous Torch7 tensor holding ``x``; ``tensor([])`` is Lua's empty ``torch.Tensor()``."""
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
    a = a.astype(dtype if a.dtype.kind == "f" or a.size == 0 else a.dtype)
    if a.size == 0:
        return Tensor(None, [], [], 0, dtype=a.dtype, cuda=cuda)
    strides = [int(np.prod(a.shape[i + 1:])) for i in range(a.ndim)]
    return Tensor(Storage(a, cuda), a.shape, strides, 0)


class TdsVec(list):
    pass


class TdsHash(dict):
    pass


class Function:
    def __init__(self, dumped: bytes, upvalues: Any):
        self.dumped, self.upvalues = dumped, upvalues


# ------------------------------------------------------------------------------------------- the format


class _Writer:
    def __init__(self):
        self.out, self.index = bytearray(), {}

    def int(self, v):
        self.out += struct.pack("<i", v)

    def long(self, v):
        self.out += struct.pack("<q", v)

    def string(self, s):
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        self.int(len(b))
        self.out += b

    def _ref(self, typeidx, obj) -> bool:
        """Write the type and reference index; True if the object was already written (nothing else follows)."""
        self.int(typeidx)
        if id(obj) in self.index:
            self.int(self.index[id(obj)][0])
            return True
        self.index[id(obj)] = (len(self.index) + 1, obj)  # keep obj alive so ids stay unique
        self.int(self.index[id(obj)][0])
        return False

    def _class(self, version, name):
        self.string(f"V {version}")
        self.string(name)

    def obj(self, x):
        if x is None:
            self.int(TYPE_NIL)
        elif isinstance(x, (bool, np.bool_)):
            self.int(TYPE_BOOLEAN)
            self.int(1 if x else 0)
        elif isinstance(x, (int, float, np.integer, np.floating)):
            self.int(TYPE_NUMBER)
            self.out += struct.pack("<d", float(x))
        elif isinstance(x, (str, bytes)):
            self.int(TYPE_STRING)
            self.string(x)
        elif isinstance(x, (np.ndarray, torch.Tensor)):
            raise TypeError("wrap arrays with t7_writer.tensor(...) so that their storage is explicit")
        elif isinstance(x, Function) or type(x).__name__ == "LuaFunction":
            if not self._ref(TYPE_RECUR_FUNCTION, x):
                self.string(x.dumped)
                self.obj(x.upvalues)
        elif isinstance(x, (TdsVec, TdsHash)):
            if not self._ref(TYPE_TORCH, x):
                self._class(0, "tds.Vec" if isinstance(x, TdsVec) else "tds.Hash")
                self.int(len(x))
                self.obj(None)
                for k, v in (x.items() if isinstance(x, TdsHash) else ((None, v) for v in x)):
                    if isinstance(x, TdsHash):
                        self.obj(k)
                    self.obj(v)
        elif isinstance(x, Tensor):
            if not self._ref(TYPE_TORCH, x):
                self._class(1, x.typename)
                self.int(len(x.size))
                for v in x.size + x.stride:
                    self.long(v)
                self.long(x.offset + 1)
                self.obj(x.storage)
        elif isinstance(x, Storage):
            if not self._ref(TYPE_TORCH, x):
                self._class(1, x.typename)
                self.long(x.data.size)
                self.out += x.data.astype(x.data.dtype.newbyteorder("<")).tobytes()
        elif isinstance(x, Obj):
            if not self._ref(TYPE_TORCH, x):
                self._class(x.version, x.typename)
                self.obj(x.fields)
        elif isinstance(x, (dict, list)):
            if not self._ref(TYPE_TABLE, x):
                items = list(x.items()) if isinstance(x, dict) else list(enumerate(x, 1))
                self.int(len(items))
                for k, v in items:
                    self.obj(k)
                    self.obj(v)
        else:
            raise TypeError(f"cannot write {type(x).__name__}")


def dumps(obj: Any) -> bytes:
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100_000))
    try:
        w = _Writer()
        w.obj(obj)
        return bytes(w.out)
    finally:
        sys.setrecursionlimit(old)


def write(obj: Any, path) -> None:
    with open(path, "wb") as f:
        f.write(dumps(obj))


def from_torchfile(x: Any, _memo=None) -> Any:
    """What ``torchfile.load(..., use_list_heuristic=False)`` returned, as writable objects."""
    import torchfile

    memo = {} if _memo is None else _memo
    if x is None or isinstance(x, (bool, int, float, bytes)):
        return x
    if id(x) in memo:
        return memo[id(x)]
    if isinstance(x, np.ndarray):
        storages = memo.setdefault("storages", {})
        root = x
        while getattr(root, "base", None) is not None:
            root = root.base
        if root is x and x.size == 0:  # torchfile's stand-in for an empty tensor
            out = memo[id(x)] = Tensor(None, [], [], 0, dtype=x.dtype)
            return out
        if id(root) not in storages:
            storages[id(root)] = (Storage(root), root)
        storage = storages[id(root)][0]
        if root is x:  # a storage object
            memo[id(x)] = storage
            return storage
        item = x.itemsize
        offset = (x.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // item
        out = memo[id(x)] = Tensor(storage, x.shape, [s // item for s in x.strides], offset)
        return out
    if isinstance(x, torchfile.TorchObject):
        out = memo[id(x)] = Obj(x.torch_typename().decode(), None, x._version_number)
        out.fields = from_torchfile(x._obj, memo)
        return out
    if isinstance(x, torchfile.LuaFunction):
        out = memo[id(x)] = Function(x.dumped, None)
        out.upvalues = from_torchfile(x.upvalues, memo)
        return out
    if isinstance(x, dict):
        out = memo[id(x)] = Table()
        for k, v in x.items():
            out[from_torchfile(k, memo)] = from_torchfile(v, memo)
        return out
    if isinstance(x, list):
        out = memo[id(x)] = []
        out.extend(from_torchfile(v, memo) for v in x)
        return out
    raise TypeError(type(x).__name__)


# ------------------------------------------------------------------------------------------- nn modules


def _base(cuda: bool) -> Dict:
    return {"output": tensor([], cuda), "gradInput": tensor([], cuda), "train": False}


def module(typename: str, cuda: bool = False, version: int = 1, **fields) -> Obj:
    return Obj(typename, {**_base(cuda), **fields}, version)


def linear(w, b, cuda=False) -> Obj:
    return module("nn.Linear", cuda, weight=tensor(w, cuda), bias=tensor(b, cuda),
                  gradWeight=tensor(np.zeros_like(np.asarray(w)), cuda), gradBias=tensor(np.zeros_like(np.asarray(b)), cuda))


def temporal_convolution(weight_out_in_k, bias) -> Obj:
    """From a Conv1d-layout (out, in, kW) weight to Lua's frame-major (out, kW*in)."""
    w = np.asarray(weight_out_in_k)
    out, cin, kw = w.shape
    lua_w = w.transpose(0, 2, 1).reshape(out, kw * cin)
    return module("nn.TemporalConvolution", inputFrameSize=cin, outputFrameSize=out, kW=kw, dW=1,
                  weight=tensor(lua_w), bias=tensor(bias), gradWeight=tensor(np.zeros_like(lua_w)),
                  gradBias=tensor(np.zeros_like(np.asarray(bias))))


def simple(name: str, cuda=False, **fields) -> Obj:
    return module(name if "." in name else f"nn.{name}", cuda, **fields)


def sequential(*mods, cuda=False, name="nn.Sequential") -> Obj:
    return module(name, cuda, modules=list(mods))


def conv(w, b, stride=1, pad=0, cuda=False, prefix="nn") -> Obj:
    w = np.asarray(w)
    return module(f"{prefix}.SpatialConvolution", cuda, nInputPlane=w.shape[1], nOutputPlane=w.shape[0],
                  kW=w.shape[3], kH=w.shape[2], dW=stride, dH=stride, padW=pad, padH=pad,
                  weight=tensor(w, cuda), bias=tensor(b, cuda), gradWeight=tensor(np.zeros_like(w), cuda),
                  gradBias=tensor(np.zeros_like(np.asarray(b)), cuda))


def full_conv(w, b, stride=1, pad=0, cuda=False, prefix="nn") -> Obj:
    w = np.asarray(w)
    return module(f"{prefix}.SpatialFullConvolution", cuda, nInputPlane=w.shape[0], nOutputPlane=w.shape[1],
                  kW=w.shape[3], kH=w.shape[2], dW=stride, dH=stride, padW=pad, padH=pad, adjW=0, adjH=0,
                  weight=tensor(w, cuda), bias=tensor(b, cuda), gradWeight=tensor(np.zeros_like(w), cuda),
                  gradBias=tensor(np.zeros_like(np.asarray(b)), cuda))


def batch_norm(bn: torch.nn.Module, spatial: bool, version: int = 2, cuda=False, prefix="nn") -> Obj:
    """Lua BatchNorm from a torch BatchNorm; version 1 stores ``running_std = 1/sqrt(var + eps)``."""
    name = f"{prefix}.{'Spatial' if spatial else ''}BatchNormalization"
    f = dict(eps=bn.eps, momentum=0.1, affine=True, weight=tensor(bn.weight, cuda), bias=tensor(bn.bias, cuda),
             gradWeight=tensor(np.zeros(bn.num_features), cuda), gradBias=tensor(np.zeros(bn.num_features), cuda),
             running_mean=tensor(bn.running_mean, cuda))
    if version >= 2:
        f["running_var"] = tensor(bn.running_var, cuda)
    else:
        f["running_std"] = tensor((bn.running_var.double() + bn.eps).pow(-0.5), cuda)
    return module(name, cuda, version=version, **f)


# ------------------------------------------------------------------------------------------- nngraph


def _node(data: Table) -> Obj:
    data.setdefault("annotations", Table(_debugLabel="[t7_writer]:0_"))
    data.setdefault("mapindex", Table())
    return Obj("nngraph.Node", {"data": data, "id": 0, "children": Table(), "visited": False, "marked": False})


def _add(node: Obj, child: Obj, domap: bool = False) -> None:
    children = node.fields["children"]
    if child not in children:
        children[len([k for k in children if isinstance(k, int)]) + 1] = child
        children[child] = len([k for k in children if isinstance(k, int)])
    if domap:
        mapindex = node.fields["data"]["mapindex"]
        n = len([k for k in mapindex if isinstance(k, int)]) + 1
        mapindex[n] = child.fields["data"]
        mapindex[child.fields["data"]] = n


def _kids(node: Obj) -> List[Obj]:
    c = node.fields["children"]
    return [c[i] for i in range(1, len([k for k in c if isinstance(k, int)]) + 1)]


def call(mod: Obj, *inputs: Obj, label: str = "[t7_writer]:0_") -> Obj:
    """``mod(inputs)`` in nngraph: a node holding ``mod`` whose inputs are ``inputs`` (in order)."""
    node = _node(Table(module=mod, annotations=Table(_debugLabel=label)))
    for i in inputs:
        _add(node, i, True)
    return node


class _Graph:
    def __init__(self):
        self.nodes, self.node_index, self.edges = [], {}, []

    def add(self, frm: Obj, to: Obj) -> None:
        self.edges.append((frm, to))
        for n in (frm, to):
            if id(n) not in self.node_index:
                self.nodes.append(n)
                self.node_index[id(n)] = len(self.nodes)
        _add(frm, to)
        frm.fields["id"], to.fields["id"] = self.node_index[id(frm)], self.node_index[id(to)]

    def reverse(self):
        rg, mapnodes = _Graph(), {}
        for frm, to in self.edges:
            for n in (frm, to):
                if id(n) not in mapnodes:
                    mapnodes[id(n)] = _node(n.fields["data"])
            rg.add(mapnodes[id(to)], mapnodes[id(frm)])
        return rg, mapnodes

    def roots(self):
        froms = {id(f): f for f, _ in self.edges}
        for _, t in self.edges:
            froms.pop(id(t), None)
        return sorted(froms.values(), key=lambda n: self.node_index[id(n)])

    def topsort(self):
        rg, mapnodes = self.reverse()
        rmap = {id(v): self.nodes[self.node_index[k] - 1] for k, v in
                ((k, v) for k, v in mapnodes.items())}
        roots = rg.roots()
        order, visited = [], set()

        def visit(n):  # nngraph's dfs: pre marks visited, post appends
            if id(n) in visited:
                return
            visited.add(id(n))
            for c in _kids(n):
                visit(c)
            if id(n) in rmap:
                order.append(rmap[id(n)])

        for r in roots:
            visit(r)
        return order

    def to_obj(self) -> Obj:
        nodes, edges = Table(), Table()
        for i, n in enumerate(self.nodes, 1):
            nodes[i], nodes[n] = n, i
        for i, (f, t) in enumerate(self.edges, 1):
            e = Obj("graph.Edge", {"from": f, "to": t})
            edges[i], edges[e] = e, i
        return Obj("graph.Graph", {"nodes": nodes, "edges": edges})


def _bfs_graph(root: Obj) -> _Graph:
    g, queue, marked = _Graph(), deque([root]), {id(root)}
    while queue:
        node = queue.popleft()
        for child in _kids(node):
            g.add(node, child)
            if id(child) not in marked:
                marked.add(id(child))
                queue.append(child)
    return g


def identity_input() -> Obj:
    """``nn.Identity()()``: a graph input."""
    return call(simple("Identity"))


def gmodule(inputs: Sequence[Obj], outputs: Sequence[Obj]) -> Obj:
    """``nn.gModule(inputs, outputs)`` as nngraph builds it (field set of the nngraph the real files used)."""
    outnode = _node(Table(input=[], annotations=Table(_debugLabel="[[C]]:-1_")))
    for o in outputs:
        _add(outnode, o, True)
    innode = _node(Table(input=[], annotations=Table(_debugLabel="[[C]]:-1_")))
    if len(inputs) == 1:
        _add(inputs[0], innode, True)
    else:
        mnode = _node(Table(nSplitOutputs=len(inputs), annotations=Table(_debugLabel="[[C]]:-1_ split-mnode")))
        _add(mnode, innode, True)
        for i, node in enumerate(inputs, 1):
            sel = _node(Table(selectindex=i, input=[], annotations=Table(_debugLabel=f"[[C]]:-1_-{i}")))
            _add(sel, mnode, True)
            _add(node, sel, True)
    bg = _bfs_graph(outnode)
    fg, _ = bg.reverse()
    forward, backward = fg.topsort(), bg.topsort()
    modules = []
    for n in forward:
        n.fields["data"]["forwardNodeId"] = n.fields["id"]
        if "module" in n.fields["data"]:
            modules.append(n.fields["data"]["module"])
    return Obj("nn.gModule", {"nInputs": len(inputs), "outnode": outnode, "fg": fg.to_obj(), "modules": modules,
                              "verbose": False, "bg": bg.to_obj(), "backwardnodes": backward,
                              "innode": fg.roots()[0], "forwardnodes": forward})


def parameters(root: Any, names=("weight", "bias")) -> List[Tensor]:
    """Every ``names`` tensor in a module tree (each tensor object once), depth-first."""
    out, seen = [], set()

    def walk(x):
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, Obj):
            for k in names:
                if isinstance(x.fields.get(k), Tensor) and x.fields[k].storage is not None:
                    out.append(x.fields[k])
            walk(x.fields)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(root)
    return out


def flatten_parameters(root: Any) -> Storage:
    """Lua's ``getParameters()``: every parameter (and, separately, every gradient) becomes a view into one flat
    storage, shared ones (same storage and offset) onto the same slice. Returns the parameters' storage."""
    flat = None
    for names in (("weight", "bias"), ("gradWeight", "gradBias")):
        params = parameters(root, names)
        slots, chunks, total = {}, [], 0
        for t in params:
            key = (id(t.storage), t.offset)
            if key not in slots:
                slots[key] = total
                chunk = t.numpy().reshape(-1)
                chunks.append(chunk)
                total += chunk.size
        storage = Storage(np.concatenate(chunks).astype(params[0].dtype), params[0].cuda)
        for t in params:
            t.offset = slots[(id(t.storage), t.offset)]
            t.storage = storage
            t.stride = [int(np.prod(t.size[i + 1:])) for i in range(len(t.size))]
        flat = flat or storage
    return flat


def shared(mod: Obj) -> Obj:
    """A copy of ``mod`` whose weight, bias and their gradients are new tensors viewing the same storages
    (Lua's ``:share(m, 'weight', 'bias', 'gradWeight', 'gradBias')``)."""
    fields = Table(mod.fields)
    for k in ("weight", "bias", "gradWeight", "gradBias"):
        t = mod.fields[k]
        fields[k] = Tensor(t.storage, t.size, t.stride, t.offset)
    fields["output"], fields["gradInput"] = tensor([]), tensor([])
    return Obj(mod.typename, fields, mod.version)


# ------------------------------------------------------------------------------------ Reed's networks


def _wrap(lin: Obj) -> Obj:
    return sequential(lin)


def fixed_rnn(nstep: int, i2h: Obj, h2h: Obj) -> Obj:
    """CVPR ``modules/FixedRNN.lua``: unrolled ReLU RNN, steps share i2h/h2h, output = mean of the states."""
    inputs = [identity_input() for _ in range(nstep)]
    relu, total = [], None
    for i, x in enumerate(inputs):
        ih = call(_wrap(i2h if i == 0 else shared(i2h)), x)
        if i == 0:
            relu.append(call(simple("ReLU", threshold=0, val=0, inplace=False), ih))
        else:
            hh = call(_wrap(h2h if i == 1 else shared(h2h)), relu[i - 1])
            relu.append(call(simple("ReLU", threshold=0, val=0, inplace=False), call(simple("CAddTable"), ih, hh)))
        total = relu[0] if i == 0 else call(simple("CAddTable"), total, relu[i])
    return gmodule(inputs, [call(simple("MulConstant", constant_scalar=1.0 / nstep, inplace=False), total)])


def fixed_gru(nstep: int, lin: Dict[str, Obj], avg: bool = True) -> Obj:
    """ICML/CVPR ``modules/FixedGRU.lua`` with the six shared Linears ``lin[role]``."""
    inputs = [identity_input() for _ in range(nstep)]
    first = {}

    def step_linear(role, x):
        m = lin[role] if role not in first else shared(lin[role])
        first[role] = True
        return call(_wrap(m), x)

    hids = []
    for i, x in enumerate(inputs):
        if i == 0:
            hids.append(call(simple("Tanh"), step_linear("i2h", x)))
            continue
        h = hids[i - 1]
        add = lambda a, b: call(simple("CAddTable"), a, b)  # noqa: E731
        update = call(simple("Sigmoid"), add(step_linear("i2h_update", x), step_linear("h2h_update", h)))
        reset = call(simple("Sigmoid"), add(step_linear("i2h_reset", x), step_linear("h2h_reset", h)))
        gated = call(simple("CMulTable"), reset, h)
        cand = call(simple("Tanh"), add(step_linear("i2h", x), step_linear("h2h", gated)))
        zh = call(simple("CMulTable"), update, cand)
        one_minus = call(simple("AddConstant", constant_scalar=1, inplace=False),
                         call(simple("MulConstant", constant_scalar=-1, inplace=False), update))
        hids.append(add(zh, call(simple("CMulTable"), one_minus, h)))
    if avg:
        hid = hids[0]
        for h in hids[1:]:
            hid = call(simple("CAddTable"), hid, h)
        hid = call(simple("MulConstant", constant_scalar=1.0 / nstep, inplace=False), hid)
    else:
        hid = hids[-1]
    return gmodule(inputs, [hid])


def hybrid_cnn(convs: Sequence[tuple], rnn: Obj, proj: Obj, pool3: bool, dropout: float = 0.0) -> Obj:
    """CVPR ``HybridCNN.lua`` (``pool3``) / ICML ``HybridCNNLong.lua``: the ``enc_doc`` gModule.
    ``convs`` = three (weight (out, in, 4), bias) in Conv1d layout."""
    x = identity_input()
    net = [temporal_convolution(*convs[0]), simple("Threshold", threshold=1e-6, val=0, inplace=False),
           simple("TemporalMaxPooling", kW=3, dW=3),
           temporal_convolution(*convs[1]), simple("Threshold", threshold=1e-6, val=0, inplace=False),
           simple("TemporalMaxPooling", kW=3, dW=3),
           temporal_convolution(*convs[2]), simple("Threshold", threshold=1e-6, val=0, inplace=False)]
    if pool3:
        net.append(simple("TemporalMaxPooling", kW=3, dW=2))
    h1 = call(simple("SplitTable", dimension=2), call(sequential(*net), x))
    r2 = call(rnn, h1)
    out = call(proj, call(simple("Dropout", p=dropout, v2=True, noise=tensor([])), r2))
    return gmodule([x], [out])


def char_cnn_rnn_from_state(sd: Dict[str, torch.Tensor], pool3: bool, gru: bool, avg: bool = True,
                            flatten: bool = True) -> Obj:
    """An ``enc_doc`` gModule holding the weights of an MDM-layout state dict (``conv1.weight`` ...)."""
    n = lambda k: sd[k].detach().numpy()  # noqa: E731
    convs = [(n(f"conv{i}.weight"), n(f"conv{i}.bias")) for i in (1, 2, 3)]
    if gru:
        roles = ["i2h_update", "h2h_update", "i2h_reset", "h2h_reset", "i2h", "h2h"]
        lin = {r: linear(n(f"rnn.{r}.weight"), n(f"rnn.{r}.bias")) for r in roles}
        steps = None
    else:
        lin = {r: linear(n(f"rnn.{r}.weight"), n(f"rnn.{r}.bias")) for r in ("i2h", "h2h")}
    doc = 201
    t = (((doc - 3) // 3 - 3) // 3) - 3
    steps = (t - 3) // 2 + 1 if pool3 else t
    rnn = fixed_gru(steps, lin, avg) if gru else fixed_rnn(steps, lin["i2h"], lin["h2h"])
    enc = hybrid_cnn(convs, rnn, linear(n("emb_proj.weight"), n("emb_proj.bias")), pool3)
    if flatten:
        flatten_parameters(enc)
    return enc


def sje_checkpoint(enc_doc: Obj, doc_length: int = 201) -> Table:
    """The table CVPR ``train_sje_hybrid.lua`` saves: protos (enc_doc, enc_image), opt, losses, vocab."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
    vocab = Table({ch: i for i, ch in enumerate(alphabet, 1)})
    return Table(protos=Table(enc_doc=enc_doc, enc_image=sequential(simple("Identity"))),
                 opt=Table(doc_length=doc_length, cnn_dim=enc_doc.fields["modules"][-1].fields["weight"].size[1],
                           learning_rate=0.0007, symmetric=1, batch_size=40, savefile="sje_hybrid"),
                 train_losses=Table({1: 3.2, 2: 2.9}), val_loss=1.5, val_losses=Table(), i=16400, epoch=200.5,
                 vocab=vocab)


def _lua_residual(block, act: Obj, cuda: bool, prefix: str) -> List[Obj]:
    body = []
    for i in (1, 2, 3):
        c, b = getattr(block, f"conv{i}"), getattr(block, f"bn{i}")
        body += [conv(c.weight.detach(), c.bias.detach(), 1, c.padding[0], cuda, prefix),
                 batch_norm(b, True, cuda=cuda, prefix=prefix)]
        if i < 3:
            body.append(act)
    return [module("nn.ConcatTable", cuda, modules=[simple("Identity", cuda), sequential(*body, cuda=cuda)]),
            simple("CAddTable", cuda, gradInput=[])]


def lua_generator(g, cuda: bool = True, cudnn: bool = True, bn_version: int = 2, flatten: bool = True) -> Obj:
    """``netG`` of icml2016 ``main_cls_int.lua`` holding the weights of a ``GANINTCLSLuaGenerator``, saved as
    the released files are: cudnn-converted and CUDA-typed (``use_cudnn=1``), parameters flattened."""
    p = "cudnn" if cudnn else "nn"
    relu = lambda: simple(f"{p}.ReLU", cuda, threshold=0, val=0, inplace=True)  # noqa: E731
    d = lambda m: full_conv(m.weight.detach(), m.bias.detach(), m.stride[0], m.padding[0], cuda, p)  # noqa: E731
    bn = lambda m: batch_norm(m, True, bn_version, cuda, p)  # noqa: E731
    fcg = sequential(linear(g.fcG.weight.detach(), g.fcG.bias.detach(), cuda),
                     simple("LeakyReLU", cuda, negval=0.2, inplace=True), cuda=cuda)
    mods = [module("nn.ParallelTable", cuda, modules=[simple("Identity", cuda), fcg]),
            simple("JoinTable", cuda, dimension=2, size=Storage(np.zeros(0, np.int64)), gradInput=[]),
            d(g.deconv1), bn(g.bn1)]
    for block in g.res1:
        mods += _lua_residual(block, relu(), cuda, p)
    mods += [relu(), d(g.deconv2), bn(g.bn2)]
    for block in g.res2:
        mods += _lua_residual(block, relu(), cuda, p)
    mods += [relu(), d(g.deconv3), bn(g.bn3), relu(), d(g.deconv4), bn(g.bn4), relu(), d(g.deconv5),
             simple(f"{p}.Tanh", cuda)]
    net = sequential(*mods, cuda=cuda)
    if flatten:
        flatten_parameters(net)
    return net


def lua_discriminator(dnet, cuda: bool = True, cudnn: bool = True, bn_version: int = 2, flatten: bool = True) -> Obj:
    """``netD`` of ``main_cls_int.lua`` (``main_cls.lua`` with ``text_bn=False, act3=True``)."""
    p = "cudnn" if cudnn else "nn"
    lrelu = lambda: simple("LeakyReLU", cuda, negval=0.2, inplace=True)  # noqa: E731
    c = lambda m: conv(m.weight.detach(), m.bias.detach(), m.stride[0], m.padding[0], cuda, p)  # noqa: E731
    bn = lambda m: batch_norm(m, True, bn_version, cuda, p)  # noqa: E731
    conv_d = [c(dnet.conv1), lrelu(), c(dnet.conv2), bn(dnet.bn2), lrelu(), c(dnet.conv3), bn(dnet.bn3)]
    if dnet.config["act3"]:
        conv_d.append(lrelu())
    conv_d += [c(dnet.conv4), bn(dnet.bn4)]
    for block in dnet.res:
        conv_d += _lua_residual(block, lrelu(), cuda, p)
    conv_d.append(lrelu())
    fc_d = [linear(dnet.fcD.weight.detach(), dnet.fcD.bias.detach(), cuda)]
    if dnet.fcD_bn is not None:
        fc_d.append(batch_norm(dnet.fcD_bn, False, bn_version, cuda, p))
    fc_d += [lrelu(), simple("Replicate", cuda, nfeatures=4, dim=3), simple("Replicate", cuda, nfeatures=4, dim=4)]
    mods = [module("nn.ParallelTable", cuda, modules=[sequential(*conv_d, cuda=cuda), sequential(*fc_d, cuda=cuda)]),
            simple("JoinTable", cuda, dimension=2, size=Storage(np.zeros(0, np.int64)), gradInput=[]),
            c(dnet.conv5), bn(dnet.bn5), lrelu(), c(dnet.conv6), simple(f"{p}.Sigmoid", cuda),
            simple("View", cuda, size=Storage(np.array([1], np.int64)), numElements=1, numInputDims=3)]
    net = sequential(*mods, cuda=cuda)
    if flatten:
        flatten_parameters(net)
    return net
