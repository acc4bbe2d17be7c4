"""Reed's char-CNN-RNN text encoders, registered as a model, and their converters.

The module itself is :class:`textgan.text.charcnnrnn.CharCNNRNN` (paper, repositories, quirks there). Released
weights (Reed, Google Drive; see ``shared/notes/reed_sisgan.md`` §1.1, §2.3) are Lua Torch7 files:

* checkpoint tables ``{protos = {enc_doc, enc_image}, opt, vocab, ...}`` of CVPR ``train_sje_hybrid.lua``
  (CVPR birds / flowers, ICML ``lm_sje_*`` birds and flowers), and
* the bare ``nn.gModule`` ``coco_gru18_..._net_T.t7`` of ICML ``main_txt_coco.lua``.

:func:`model_from_torch7` reads either (``textgan.convert.char_cnn_rnn_from_torch7``); the PyTorch port's
state dicts (``conv1.weight``, ``rnn.i2h.weight``, ...) go through ``from_official("char_cnn_rnn", ...)``.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .._registry import register_model
from .._weights import build_from_state_dict
from ..errors import ArchitectureMismatchError
from ..text.charcnnrnn import DOC_LENGTH, CharCNNRNN, cnn_steps

__all__ = ["VARIANTS", "char_cnn_rnn", "char_cnn_rnn_variant", "config_from_state_dict", "model_from_torch7"]

#: the released incarnations (MDM ``char_cnn_rnn.py``; ICML ``main_txt_coco.lua`` for COCO)
VARIANTS: Dict[str, Dict[str, object]] = {
    "cvpr": dict(cnn_dim=256, rnn_type="rnn", average=True, pool3=True),
    "icml_flowers": dict(cnn_dim=512, rnn_type="rnn", average=True, pool3=True),
    "icml_birds": dict(cnn_dim=512, rnn_type="gru", average=True, pool3=False),
    "icml_coco": dict(cnn_dim=512, rnn_type="gru", average=True, pool3=False),
}
HINT = ("the PyTorch port's state dicts come from its utils.extract_char_cnn_rnn_weights; Reed's released .t7 "
        "encoders go through textgan.convert.char_cnn_rnn_from_torch7 (`textgan convert char-cnn-rnn`)")
_GRU_ROLES = ("i2h_update", "h2h_update", "i2h_reset", "h2h_reset", "i2h", "h2h")


@register_model("char-cnn-rnn")
def char_cnn_rnn(*, alphabet_size: int = 70, conv1_dim: int = 384, conv2_dim: int = 512, cnn_dim: int = 512,
                 emb_dim: int = 1024, rnn_type: str = "gru", average: bool = True, pool3: bool = False,
                 doc_length: int = DOC_LENGTH, threshold: float = 1e-6) -> CharCNNRNN:
    """char-CNN-RNN text encoder (defaults: the ICML birds / COCO GRU encoder)."""
    return CharCNNRNN(alphabet_size, conv1_dim, conv2_dim, cnn_dim, emb_dim, rnn_type, average, pool3, doc_length,
                      threshold)


def char_cnn_rnn_variant(variant: str, **overrides) -> CharCNNRNN:
    """One of :data:`VARIANTS` (``"cvpr"``, ``"icml_flowers"``, ``"icml_birds"``, ``"icml_coco"``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return char_cnn_rnn(**{**VARIANTS[variant], **overrides})


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> torch.Size:
    if key not in sd:
        raise ArchitectureMismatchError(
            f"not a char-CNN-RNN state dict: key {key!r} is missing (first keys: {', '.join(list(sd)[:5])}); "
            "pass the PyTorch port's state dict, or the .t7 file to textgan.convert.char_cnn_rnn_from_torch7")
    return sd[key].shape


def config_from_state_dict(sd: Mapping[str, torch.Tensor], pool3: Optional[bool] = None) -> Dict[str, object]:
    """Constructor arguments of a PyTorch-port (``martinduartemore/char_cnn_rnn_pytorch``) state dict.

    The third max-pool leaves no weight behind; as in every release (and the port) it goes with FixedRNN
    and not with FixedGRU unless ``pool3`` says otherwise.
    """
    c1, c2, c3, proj = (_shape(sd, k) for k in ("conv1.weight", "conv2.weight", "conv3.weight", "emb_proj.weight"))
    gru = "rnn.i2h_update.weight" in sd
    _shape(sd, "rnn.h2h.weight")
    if len(c1) != 3 or c1[2] != 4:
        raise ArchitectureMismatchError(f"char-CNN-RNN: conv1.weight has shape {tuple(c1)}, expected (out, 70, 4)")
    return dict(alphabet_size=c1[1], conv1_dim=c1[0], conv2_dim=c2[0], cnn_dim=c3[0], emb_dim=proj[0],
                rnn_type="gru" if gru else "rnn", average=True, pool3=(not gru) if pool3 is None else pool3)


# ----------------------------------------------------------------------------------------------- Torch7


def _describe(obj) -> str:
    from ..convert.torch7 import LuaTable, Torch7Object

    if isinstance(obj, Torch7Object):
        return f"a {obj.typename}"
    if isinstance(obj, LuaTable):
        return f"a table with keys {sorted(map(str, obj))[:8]}"
    return f"a {type(obj).__name__}"


def _find_encoder(obj, source: str):
    from ..convert.torch7 import LuaTable, Torch7Object

    hint = ("expected a checkpoint table with protos.enc_doc (lm_sje_*.t7 of reedscot/cvpr2016 and icml2016) or "
            "a bare nn.gModule (ICML COCO coco_gru18_*_net_T.t7)")
    if isinstance(obj, LuaTable) and not isinstance(obj, Torch7Object):
        protos = obj.get("protos")
        if not isinstance(protos, LuaTable) or "enc_doc" not in protos:
            raise ArchitectureMismatchError(f"{source}: not a char-CNN-RNN file: {hint}, found {_describe(obj)}")
        opt = obj.get("opt") if isinstance(obj.get("opt"), LuaTable) else {}
        return protos["enc_doc"], int(opt.get("doc_length", DOC_LENGTH)), "protos.enc_doc"
    if isinstance(obj, Torch7Object) and obj.typename == "nn.gModule":
        return obj, DOC_LENGTH, "net"
    raise ArchitectureMismatchError(f"{source}: not a char-CNN-RNN file: {hint}, found {_describe(obj)}")


def _linear_of(module, where: str):
    """The nn.Linear of a graph node: the Linear itself or the Sequential that wraps it (FixedRNN/GRU)."""
    from ..convert.torch7 import lua_class, ordered

    if lua_class(module) == "Linear":
        return module
    kids = ordered(module.get("modules")) if lua_class(module) == "Sequential" else []
    if len(kids) == 1 and lua_class(kids[0]) == "Linear":
        return kids[0]
    raise ArchitectureMismatchError(f"{where}: expected an nn.Linear (or a Sequential of one), found {module.typename}")


def _rnn_roles(rnn, where: str) -> Tuple[str, bool, Dict[str, list]]:
    """Kind (``"rnn"``/``"gru"``), averaging and the Linears of each role, read off the graph's structure."""
    from ..convert.torch7 import graph_nodes

    nodes = graph_nodes(rnn, where)
    inputs = {n.position for n in nodes if n.cls == "Identity" and all(nodes[p].module is None for p in n.parents)}
    gru = any(n.cls == "Sigmoid" for n in nodes)
    roles: Dict[str, list] = {}
    for n in nodes:
        if n.cls not in ("Sequential", "Linear"):
            continue
        here = f"{where}.node[{n.position + 1}]"
        from_input = len(n.parents) == 1 and n.parents[0] in inputs
        act = nodes[n.children[0]] if len(n.children) == 1 else None
        if act is not None and act.cls == "CAddTable" and len(act.children) == 1:
            act = nodes[act.children[0]]
        side = "i2h" if from_input else "h2h"
        if not gru and act is not None and act.cls == "ReLU":
            role = side
        elif gru and act is not None and act.cls == "Tanh":
            role = side
        elif gru and act is not None and act.cls == "Sigmoid":
            # the update gate also feeds 1 - u (MulConstant(-1)); the reset gate only gates h
            role = side + ("_update" if any(nodes[c].cls == "MulConstant" for c in act.children) else "_reset")
        else:
            raise ArchitectureMismatchError(f"{here}: a Linear that feeds {act.cls if act else 'several nodes'}; "
                                            "this is not Reed's FixedRNN or FixedGRU")
        roles.setdefault(role, []).append(_linear_of(n.module, here))
    steps = len(inputs)
    want = {r: (steps if r == "i2h" else steps - 1) for r in (_GRU_ROLES if gru else ("i2h", "h2h"))}
    got = {r: len(roles.get(r, [])) for r in want}
    if got != want or set(roles) - set(want):
        raise ArchitectureMismatchError(f"{where}: expected {want} Linears per role for a {steps}-step "
                                        f"{'FixedGRU' if gru else 'FixedRNN'}, found {got}")
    last = nodes[nodes[-1].parents[0]] if nodes[-1].parents else None
    average = last is not None and last.cls == "MulConstant" and abs(float(last.module["constant_scalar"]) * steps - 1) < 1e-6
    if not gru and not average:
        raise ArchitectureMismatchError(f"{where}: a FixedRNN always ends in MulConstant(1/steps); this one does not")
    return ("gru" if gru else "rnn"), average, roles


def _conv_stack(seq, where: str) -> Tuple[List, float, bool]:
    """The three TemporalConvolutions of the CNN Sequential, its Threshold and whether it ends in a max-pool."""
    from ..convert.torch7 import lua_class, ordered

    kids = ordered(seq.get("modules"))
    names = [lua_class(k) for k in kids]
    expect = ["TemporalConvolution", "Threshold", "TemporalMaxPooling"] * 2 + ["TemporalConvolution", "Threshold"]
    pool3 = len(names) == 9
    if names[:8] != expect or (pool3 and names[8] != "TemporalMaxPooling") or len(names) not in (8, 9):
        raise ArchitectureMismatchError(
            f"{where}: the CNN is {names}, expected {expect} (+ TemporalMaxPooling for HybridCNN)")
    pools = [(int(kids[i]["kW"]), int(kids[i].get("dW", kids[i]["kW"]))) for i in (2, 5) + ((8,) if pool3 else ())]
    if pools[:2] != [(3, 3), (3, 3)] or (pool3 and pools[2] != (3, 2)):
        raise ArchitectureMismatchError(f"{where}: max-pools {pools}, expected (3, 3), (3, 3) [and (3, 2)]")
    ths = {(float(kids[i].get("threshold", 1e-6)), float(kids[i].get("val", 0))) for i in (1, 4, 7)}
    if len(ths) != 1 or next(iter(ths))[1] != 0.0:
        raise ArchitectureMismatchError(f"{where}: the Thresholds differ or replace by non-zero values: {ths}")
    for i in (0, 3, 6):
        if int(kids[i].get("kW", 0)) != 4 or int(kids[i].get("dW", 1)) != 1:
            raise ArchitectureMismatchError(f"{where}.modules[{i + 1}]: expected kernel 4, stride 1")
    return [(kids[i], f"{where}.modules[{i + 1}]") for i in (0, 3, 6)], next(iter(ths))[0], pool3


def model_from_torch7(obj, source: str, dtype: torch.dtype = torch.float32) -> CharCNNRNN:
    """A :class:`CharCNNRNN` from a read ``.t7`` (see the module docstring for the layouts)."""
    from ..convert.torch7 import linear, lua_class, ordered, temporal_convolution

    enc, doc_length, where = _find_encoder(obj, source)
    if lua_class(enc) not in ("gModule", "Sequential"):
        raise ArchitectureMismatchError(f"{source}: {where} is {_describe(enc)}, not an nn.gModule")
    tops = [(m, f"{where}.modules[{i}]") for i, m in enumerate(ordered(enc.get("modules")), 1)]
    cnn = [(m, w) for m, w in tops if lua_class(m) == "Sequential"
           and any(lua_class(k) == "TemporalConvolution" for k in ordered(m.get("modules")))]
    rnns = [(m, w) for m, w in tops if lua_class(m) == "gModule"]
    projs = [(m, w) for m, w in tops if lua_class(m) == "Linear"]
    if len(cnn) != 1 or len(rnns) != 1 or not projs:
        raise ArchitectureMismatchError(
            f"{source}: {where} holds {[lua_class(m) for m, _ in tops]}; a char-CNN-RNN has one Sequential of "
            "TemporalConvolutions, one RNN gModule and a final Linear")
    convs, threshold, pool3 = _conv_stack(*cnn[0])
    rnn_type, average, roles = _rnn_roles(*rnns[0])
    steps = int(rnns[0][0].get("nInputs", 0))
    if steps != cnn_steps(doc_length, pool3):
        raise ArchitectureMismatchError(f"{source}: the RNN has {steps} steps but {doc_length} characters leave "
                                        f"{cnn_steps(doc_length, pool3)} after the CNN")
    sd: Dict[str, torch.Tensor] = {}
    for i, (m, w) in enumerate(convs, 1):
        conv = temporal_convolution(m, w, dtype)
        sd[f"conv{i}.weight"], sd[f"conv{i}.bias"] = conv.weight.data, conv.bias.data
    for role, lins in roles.items():
        first = linear(lins[0], f"{rnns[0][1]} ({role})", dtype)
        for other in lins[1:]:  # the unrolled copies share their weights
            if not (torch.equal(other["weight"].to(dtype), first.weight.data)
                    and torch.equal(other["bias"].to(dtype), first.bias.data)):
                raise ArchitectureMismatchError(f"{rnns[0][1]}: the {role} Linears of the unrolled steps differ; "
                                                "Reed's RNNs share one set of weights over time")
        sd[f"rnn.{role}.weight"], sd[f"rnn.{role}.bias"] = first.weight.data, first.bias.data
    proj = linear(*projs[-1], dtype)
    sd["emb_proj.weight"], sd["emb_proj.bias"] = proj.weight.data, proj.bias.data
    config = dict(config_from_state_dict(sd, pool3=pool3), average=average, doc_length=doc_length, threshold=threshold)
    config["rnn_type"] = rnn_type
    return build_from_state_dict(CharCNNRNN, config, sd, f"{source} as a char-CNN-RNN")
