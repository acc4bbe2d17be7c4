#!/usr/bin/env python
"""Make the extra parity fixtures in this folder by running the AUTHORS' code at other sizes.

The official code is NOT part of this repository and is never imported from it. Extract it yourself
(see README.md beside this script for the commits and the small patches) and point this script at it:

    python make_fixtures.py --dfgan-repo-code /path/DF-GAN --attngan-code /path/AttnGAN/code \
        [--pythonpath DIR_WITH_easydict] [--out DIR] [--batch-256 N] [--only ID ...]

Layout expected under --dfgan-repo-code:
    78f14fd/code/models/GAN.py   (tobran/DF-GAN@78f14fd, unmodified)
    9015356/code/model.py        (tobran/DF-GAN@9015356, _COND_DIM/_AFF_HIDDEN patch, see README)
and under --attngan-code (taoxugit/AttnGAN@0d000e6 code/): model.py, GlobalAttention.py, miscc/, cfg/DAMSM/bird.yml.

Every fixture is written as ID.safetensors (state/<official state_dict key>, input/<name>, output/<name>)
plus ID.json, in the format of the shared fixtures (shared/parity/README.md).
"""
import argparse
import hashlib
import importlib.util
import json
import math
import platform
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import save_file

DFGAN_REPO = "tobran/DF-GAN"
DFGAN_2022 = "78f14fd72cb70172d2067791c9df386f03f5124b"
DFGAN_2020 = "9015356a1011f439bf1c8a4bc1bbb889d45ad3c8"
ATTNGAN_REPO = "taoxugit/AttnGAN"
ATTNGAN_COMMIT = "0d000e652b407e976cb88fab299e8566f3de8a37"

# git blob ids of the files at those commits (the unmodified ones are checked before use)
BLOB = {
    "dfgan2022/code/models/GAN.py": "640de6884b8ab834d946fe07a2ddca5f253bd1d4",
    "dfgan2020/code/model.py": "9f9abb3fd6cbd028678a73de958bbbf5aa84bf41",
    "attngan/code/model.py": "09bde34eb006b6c96c9d5db99086bc24b472df22",
    "attngan/code/miscc/config.py": "797319ba5bf4dc18314afea9303877029d695709",
    "attngan/code/GlobalAttention.py": "501fb720d1311d4c1557069a0b30a4310312c521",
}

MODE = "model.eval(); torch.no_grad(); float32; CPU; torch.set_num_threads(1)"
NOISE = "none: forward() draws no random numbers; noise is an explicit input"
LAYOUT_2022 = ("Released (README of 78f14fd): a torch.save dict {'model': {'netG','netD','netC'}, 'optimizers': "
               "{...}, 'epoch'}; keys may carry a 'module.' prefix (DDP), stripped by lib/utils.py:load_model_weights. "
               "Keys here are the bare ones.")
LAYOUT_2020 = ("2020 release (README of 9015356): a bare NetG state_dict (netG.pth), no 'module.' prefix, no EMA.")
PATCH_2022 = ["none (code/models/GAN.py imported unmodified; its git blob id is checked against "
              + BLOB["dfgan2022/code/models/GAN.py"] + "; it already takes cond_dim/imsize as arguments)"]
PATCH_2020 = [
    "code/model.py: two module-level constants added after the imports, _COND_DIM and _AFF_HIDDEN, both "
    "defaulting to 256 (the official literal)",
    "class affine: the in_features of linear1 in fc_gamma and fc_beta (literal 256) now read _COND_DIM; the hidden "
    "width (literal 256: out_features of linear1, in_features of linear2) now reads _AFF_HIDDEN",
    "class D_GET_LOGITS: the extra input channels of joint_conv[0] (literal 256) and the width used when reshaping "
    "the sentence vector to (B, 256, 1, 1) now read _COND_DIM",
    "the fixture sets _COND_DIM / _AFF_HIDDEN on the imported module to the reduced values before construction; "
    "with the defaults the patched file computes exactly what the official file (git blob "
    + BLOB["dfgan2020/code/model.py"] + ") computes",
]
PATCH_ATTNGAN = [
    "code/miscc/config.py: a.iteritems() -> a.items(); b.has_key(k) -> (k in b); yaml.load(f) -> "
    "yaml.load(f, Loader=yaml.SafeLoader)  (Python 3 / PyYAML>=6; only used to read cfg/DAMSM/bird.yml)",
    "code/model.py: NOT edited (its git blob id is checked against " + BLOB["attngan/code/model.py"] + "). Its "
    "top-level `from torchvision import models` (used only by CNN_ENCODER, not by RNN_ENCODER) cannot be satisfied "
    "next to this CPU torch, so before importing model.py the script puts a stub module `torchvision` (with an "
    "empty submodule `torchvision.models`) into sys.modules; RNN_ENCODER never touches it.",
    "code/GlobalAttention.py: NOT edited (imported by model.py, unused by RNN_ENCODER).",
    "easydict (needed by miscc/config.py) installed from PyPI outside the repository.",
]


# ----------------------------------------------------------------------------------------------- helpers
def git_blob_sha1(path):
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def stats(t):
    d = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if t.is_floating_point():
        f = t.double()
        d.update(mean=round(f.mean().item(), 6), std=round(f.std().item(), 6) if f.numel() > 1 else 0.0,
                 min=round(f.min().item(), 6), max=round(f.max().item(), 6))
    else:
        d.update(min=int(t.min()), max=int(t.max()))
        if t.dim() == 1:
            d["values"] = t.tolist()
    return d


def randomize(net, gen, affine_bias_one):
    """The shared fixtures' init: Conv/Linear weight ~ N(0, 1/fan_in), bias ~ N(0, 0.05^2), 'gamma' ~ U(0.5, 1)."""
    with torch.no_grad():
        for mname, mod in net.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                w = mod.weight
                fan_in = w[0].numel()
                w.copy_(torch.randn(w.shape, generator=gen) / math.sqrt(fan_in))
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.05)
            elif isinstance(mod, nn.modules.batchnorm._BatchNorm):  # none of these modules has one
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=gen) * 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=gen) * 1.5 + 0.5)
                mod.num_batches_tracked.fill_(int(torch.randint(1, 10000, (1,), generator=gen)))
            for pname, p in mod.named_parameters(recurse=False):
                if pname == "gamma":
                    p.copy_(torch.rand(p.shape, generator=gen) * 0.5 + 0.5)
        if affine_bias_one:
            for name, p in net.named_parameters():
                if name.endswith("fc_gamma.linear2.bias"):
                    p.add_(1.0)


INIT_TEXT = ("torch.manual_seed({s}) before construction; then every Conv2d/Linear weight ~ N(0,(gain/sqrt(fan_in))^2) "
             "with gain=1.0, every bias ~ N(0,0.05^2), every scalar parameter named \"gamma\" ~ U(0.5,1.0), "
             "BatchNorm weight ~ U(0.5,1.5), bias ~ N(0,0.1^2), running_mean ~ N(0,0.2^2), running_var ~ U(0.5,2.0), "
             "num_batches_tracked = random int (torch.Generator seed {s1}){plus}. Inputs drawn with torch.Generator "
             "seed {s2}.{scale}")
PLUS_ONE = "; then 1.0 added to every fc_gamma.linear2.bias (mimics the official init bias=1 of the multiplicative branch)"


def scale_last_conv(net, conv_name, forward, inputs, target_std=0.8):
    """Scale weight and bias of the conv right before tanh so its output std is target_std on these inputs."""
    conv = dict(net.named_modules())[conv_name]
    seen = {}
    h = conv.register_forward_hook(lambda m, i, o: seen.__setitem__("std", o.detach().double().std().item()))
    with torch.no_grad():
        forward(net, {k: v.clone() for k, v in inputs.items()})
    h.remove()
    factor = target_std / seen["std"]
    with torch.no_grad():
        conv.weight.mul_(factor)
        conv.bias.mul_(factor)
    return factor


# ----------------------------------------------------------------------------------------------- fixtures
class Spec:
    """One fixture: how to build the official module, its inputs, its forward call and its description."""

    def __init__(self, fid, seed, make, inputs, forward, meta, affine_bias_one=False, last_conv=None,
                 post_init=None):
        self.fid, self.seed, self.make, self.inputs, self.forward = fid, seed, make, inputs, forward
        self.meta, self.affine_bias_one, self.last_conv, self.post_init = meta, affine_bias_one, last_conv, post_init


def dfgan_specs(g22, g20, b256=1):
    def randn(*shape):
        return lambda g: torch.randn(*shape, generator=g)

    def image(*shape):
        return lambda g: torch.tanh(torch.randn(*shape, generator=g))

    def src(commit, file, cls):
        return {"repo": DFGAN_REPO, "commit": commit, "file": file, "class": cls,
                "ref": f"{DFGAN_REPO}@{commit}:{file}:{cls}"}

    s22 = lambda cls: src(DFGAN_2022, "code/models/GAN.py", cls)  # noqa: E731
    s20 = lambda cls: src(DFGAN_2020, "code/model.py", cls)  # noqa: E731
    specs = []

    def gen_fwd(net, x):
        return {"img": net(x["noise"], x["sent_emb"])}

    for fid, seed, ngf, nz, cond, imsize, b in [("dfgan_G.ngf3_im64_b3", 3000, 3, 5, 7, 64, 3),
                                                 ("dfgan_G.ngf2_im128_b1", 3010, 2, 10, 6, 128, 1)]:
        specs.append(Spec(
            fid, seed, (lambda ngf=ngf, nz=nz, cond=cond, imsize=imsize: g22.NetG(ngf, nz, cond, imsize, 3)),
            {"noise": randn(b, nz), "sent_emb": randn(b, cond)}, gen_fwd,
            {"tests": f"DF-GAN (2022 code) generator at imsize {imsize}: fc -> {int(math.log2(imsize)) - 2} "
                      "upsampling G_Blocks (DFBLK fusion) -> to_rgb; condition = cat(noise, sent).",
             "source": s22("NetG"),
             "config_used": {"ngf": ngf, "nz": nz, "cond_dim": cond, "imsize": imsize, "ch_size": 3, "batch": b},
             "constructor_call": f"NetG({ngf}, {nz}, {cond}, {imsize}, 3)  # (ngf, nz, cond_dim, imsize, ch_size)",
             "forward_call": "img = netG(noise, sent_emb)",
             "meaning": {"noise": "z, (B, nz)", "sent_emb": "sentence embedding, (B, cond_dim)",
                         "img": f"generated image in [-1,1] (tanh), (B, 3, {imsize}, {imsize})"},
             "released_checkpoint_layout": LAYOUT_2022,
             "notes": ["condition fed to every affine is torch.cat((noise, sent_emb), dim=1); affine input width "
                       "= nz + cond_dim",
                       f"number of G_Blocks = log2(imsize) - 2 = {int(math.log2(imsize)) - 2} (get_G_in_out_chs)"],
             "patches": PATCH_2022},
            affine_bias_one=True, last_conv="to_rgb.1"))

    def d_fwd(net, x):
        return {"features": net(x["img"])}

    for fid, seed, ndf, imsize, b in [("dfgan_D.ndf3_im64_b3", 3100, 3, 64, 3),
                                      ("dfgan_D.ndf2_im128_b1", 3110, 2, 128, 1)]:
        specs.append(Spec(
            fid, seed, (lambda ndf=ndf, imsize=imsize: g22.NetD(ndf, imsize, 3)),
            {"img": image(b, 3, imsize, imsize)}, d_fwd,
            {"tests": f"DF-GAN (2022 code) discriminator trunk NetD at imsize {imsize}: conv_img -> "
                      f"{int(math.log2(imsize)) - 2} D_Blocks ({imsize}->4), features (B, 8*ndf, 4, 4).",
             "source": s22("NetD"),
             "config_used": {"ndf": ndf, "imsize": imsize, "ch_size": 3, "batch": b},
             "constructor_call": f"NetD(ndf={ndf}, imsize={imsize}, ch_size=3)",
             "forward_call": "features = netD(img)",
             "meaning": {"img": f"image in [-1,1] = tanh(randn), (B, 3, {imsize}, {imsize})",
                         "features": "image features, (B, 8*ndf, 4, 4)"},
             "released_checkpoint_layout": LAYOUT_2022,
             "notes": ["every D_Block owns conv_s even when fin == fout (then unused but in the state_dict)",
                       f"number of D_Blocks = log2(imsize) - 2 = {int(math.log2(imsize)) - 2} (get_D_in_out_chs)"],
             "patches": PATCH_2022}))

    specs.append(Spec(
        "dfgan_C.ndf3_c7_b5", 3200, lambda: g22.NetC(3, 7),
        {"features": randn(5, 24, 4, 4), "sent_emb": randn(5, 7)},
        lambda net, x: {"logits": net(x["features"], x["sent_emb"])},
        {"tests": "DF-GAN (2022 code) NetC: sentence tiled to 4x4, concatenated after the features, conv3x3 -> "
                  "lrelu -> conv4x4 -> logit.",
         "source": s22("NetC"), "config_used": {"ndf": 3, "cond_dim": 7, "batch": 5},
         "constructor_call": "NetC(ndf=3, cond_dim=7)", "forward_call": "logits = netC(features, sent_emb)",
         "meaning": {"features": "NetD output, (B, 8*ndf, 4, 4)", "sent_emb": "(B, cond_dim)",
                     "logits": "(B, 1, 1, 1)"},
         "released_checkpoint_layout": LAYOUT_2022, "notes": [], "patches": PATCH_2022}))

    specs.append(Spec(
        "dfgan_affine.c5_f3_b4", 3300, lambda: g22.Affine(5, 3),
        {"x": randn(4, 3, 2, 9), "y": randn(4, 5)},
        lambda net, x: {"out": net(x["x"], x["y"])},
        {"tests": "DF-GAN (2022 code) Affine on a non-square map: fc_gamma(y) * x + fc_beta(y).",
         "source": s22("Affine"),
         "config_used": {"cond_dim": 5, "num_features": 3, "batch": 4, "spatial": [2, 9]},
         "constructor_call": "Affine(cond_dim=5, num_features=3)", "forward_call": "out = affine(x, y)",
         "meaning": {"x": "feature map (B, C, H, W)", "y": "condition (B, cond_dim)",
                     "out": "fc_gamma(y)[:, :, None, None] * x + fc_beta(y)[:, :, None, None]"},
         "notes": [], "patches": PATCH_2022},
        affine_bias_one=True))

    for fid, seed, cond, cin, cout, up, b, hw in [("dfgan_gblock.same_ch_noup", 3400, 6, 5, 5, False, 3, (4, 6)),
                                                  ("dfgan_gblock.up_6to3", 3410, 9, 6, 3, True, 1, (3, 4))]:
        specs.append(Spec(
            fid, seed, (lambda cond=cond, cin=cin, cout=cout, up=up: g22.G_Block(cond, cin, cout, upsample=up)),
            {"x": randn(b, cin, *hw), "y": randn(b, cond)},
            lambda net, x: {"out": net(x["x"], x["y"])},
            {"tests": "DF-GAN (2022 code) G_Block, " + (
                "in_ch == out_ch (identity shortcut, no c_sc) and upsample=False" if not up else
                "learnable 1x1 shortcut, nearest x2 upsample"),
             "source": s22("G_Block"),
             "config_used": {"cond_dim": cond, "in_ch": cin, "out_ch": cout, "upsample": up, "batch": b,
                             "spatial_in": list(hw)},
             "constructor_call": f"G_Block(cond_dim={cond}, in_ch={cin}, out_ch={cout}, upsample={up})",
             "forward_call": "out = gblock(x, y)",
             "meaning": {"x": "feature map (B, in_ch, H, W)", "y": "condition (B, cond_dim)",
                         "out": "(B, out_ch, 2H, 2W)" if up else "(B, out_ch, H, W)"},
             "notes": ["the harness must read config_used.upsample: the state_dict does not tell it"],
             "patches": PATCH_2022},
            affine_bias_one=True))

    def make20(cls, cond, hidden, *args):
        def make():
            g20._COND_DIM, g20._AFF_HIDDEN = cond, hidden
            return getattr(g20, cls)(*args)
        return make

    specs.append(Spec(
        f"dfgan2020_G.ngf2_nz6_c10_h9_b{b256}", 4000, make20("NetG", 10, 9, 2, 6),
        {"noise": randn(b256, 6), "sent_emb": randn(b256, 10)}, gen_fwd,
        {"tests": "DF-GAN 2020 generator: fc -> block0 at 4x4 -> 6x(nearest x2, G_Block) -> lrelu -> conv3x3 -> "
                  "tanh; 4 affines and a scalar gamma per block; condition = sentence only.",
         "source": s20("NetG"),
         "config_used": {"ngf": 2, "nz": 6, "cond_dim": 10, "affine_hidden": 9, "imsize": 256, "batch": b256},
         "constructor_call": "NetG(ngf=2, nz=6)  with model._COND_DIM=10, model._AFF_HIDDEN=9 (official: "
                             "hard-coded 256/256)",
         "forward_call": "img = netG(noise, sent_emb)",
         "meaning": {"noise": "z ~ randn, (B, nz)", "sent_emb": "sentence embedding, (B, cond_dim)",
                     "img": "(B, 3, 256, 256) in [-1,1]"},
         "released_checkpoint_layout": LAYOUT_2020,
         "notes": ["image size is fixed at 256 by the hard-wired 7 blocks (no imsize argument)",
                   f"batch {b256} (--batch-256): one 256x256 RGB output is 786 KB, so batch 1 by default keeps "
                   "the file small"],
         "patches": PATCH_2020},
        affine_bias_one=True, last_conv="conv_img.1"))

    def d20_fwd(net, x):
        feats = net(x["img"])
        return {"features": feats, "logits": net.COND_DNET(feats, x["sent_emb"])}

    specs.append(Spec(
        f"dfgan2020_D.ndf2_c10_b{b256}", 4100, make20("NetD", 10, 256, 2),
        {"img": image(b256, 3, 256, 256), "sent_emb": randn(b256, 10)}, d20_fwd,
        {"tests": "DF-GAN 2020 discriminator: NetD trunk (conv_img + 6 resD, 256->4, up to 16*ndf channels) and "
                  "its COND_DNET (D_GET_LOGITS) submodule.",
         "source": s20("NetD"), "config_used": {"ndf": 2, "cond_dim": 10, "imsize": 256, "batch": b256},
         "constructor_call": "NetD(ndf=2)  with model._COND_DIM=10 (official: hard-coded 256)",
         "forward_call": "features = netD(img); logits = netD.COND_DNET(features, sent_emb)",
         "meaning": {"img": "(B, 3, 256, 256) in [-1,1] = tanh(randn)", "sent_emb": "(B, cond_dim)",
                     "features": "(B, 16*ndf, 4, 4)", "logits": "(B, 1, 1, 1)"},
         "released_checkpoint_layout": LAYOUT_2020,
         "notes": [f"batch {b256} (--batch-256): one 256x256 RGB input is 786 KB, so batch 1 by default keeps "
                   "the file small"],
         "patches": PATCH_2020}))
    return specs


def attngan_specs(amodel, acfg, cfg_file):
    cfg = acfg.cfg
    specs = []
    for fid, seed, ntoken, ninput, nhidden, lens, words in [
            ("attngan_rnn_encoder.v37_b5", 5000, 37, 16, 20, [18, 9, 9, 3, 1], 18),
            ("attngan_rnn_encoder.v90_b2", 5010, 90, 24, 32, [7, 4], 18)]:
        def make(ntoken=ntoken, ninput=ninput, nhidden=nhidden):
            cfg.TEXT.EMBEDDING_DIM = nhidden
            return amodel.RNN_ENCODER(ntoken, ninput=ninput, nhidden=cfg.TEXT.EMBEDDING_DIM)

        def captions(g, ntoken=ntoken, lens=lens, words=words):
            caps = torch.zeros(len(lens), words, dtype=torch.int64)
            for i, n in enumerate(lens):
                caps[i, :n] = torch.randint(1, ntoken, (n,), generator=g)
            return caps

        def post_init(net, gen):  # as the shared fixture: official init_weights, then a stronger embedding
            with torch.no_grad():
                net.encoder.weight.copy_(torch.randn(net.encoder.weight.shape, generator=gen))

        B, half = len(lens), nhidden // 2
        specs.append(Spec(
            fid, seed, make,
            {"captions": captions, "cap_lens": (lambda g, lens=lens: torch.tensor(lens, dtype=torch.int64)),
             "hidden_h0": (lambda g, B=B, half=half: torch.zeros(2, B, half)),
             "hidden_c0": (lambda g, B=B, half=half: torch.zeros(2, B, half))},
            lambda net, x: dict(zip(("words_emb", "sent_emb"),
                                    net(x["captions"], x["cap_lens"], (x["hidden_h0"], x["hidden_c0"])))),
            {"tests": "AttnGAN / DAMSM text encoder RNN_ENCODER (embedding -> 1-layer bidirectional LSTM over a "
                      "packed sequence) at reduced vocabulary, embedding and hidden widths.",
             "source": {"repo": ATTNGAN_REPO, "commit": ATTNGAN_COMMIT, "file": "code/model.py",
                        "class": "RNN_ENCODER",
                        "ref": f"{ATTNGAN_REPO}@{ATTNGAN_COMMIT}:code/model.py:RNN_ENCODER"},
             "config_file": "code/cfg/DAMSM/bird.yml",
             "config_overrides": {"CUDA": False, "TEXT.EMBEDDING_DIM": nhidden},
             "config_used": {"ntoken": ntoken, "ninput": ninput, "nhidden": nhidden, "nhidden_per_direction": half,
                             "nlayers": 1, "bidirectional": True, "drop_prob": 0.5, "RNN_TYPE": "LSTM",
                             "TEXT.WORDS_NUM": words, "batch": B, "cap_lens": lens},
             "constructor_call": f"RNN_ENCODER({ntoken}, ninput={ninput}, nhidden=cfg.TEXT.EMBEDDING_DIM)  "
                                 f"# cfg.TEXT.EMBEDDING_DIM={nhidden}; drop_prob=0.5, nlayers=1, bidirectional=True",
             "forward_call": "words_emb, sent_emb = net(input/captions, input/cap_lens, "
                             "(input/hidden_h0, input/hidden_c0))",
             "meaning": {"captions": f"int64 [B, {words}] word ids in 1..ntoken-1, 0 = padding; rows sorted by "
                                     "length descending",
                         "cap_lens": f"int64 [B] = {lens} (non-increasing; pack_padded_sequence needs sorted lengths)",
                         "hidden_h0": f"float32 [2, B, {half}] zeros = net.init_hidden(B)[0]",
                         "hidden_c0": f"float32 [2, B, {half}] zeros = net.init_hidden(B)[1]",
                         "words_emb": f"float32 [B, {nhidden}, max(cap_lens)={max(lens)}] (pad_packed_sequence "
                                      "trims to the longest caption; padded steps are 0; channels [fwd | bwd])",
                         "sent_emb": f"float32 [B, {nhidden}] = h_n.transpose(0,1) of [fwd | bwd]"},
             "notes": ["eval(): the Dropout(0.5) on the word embeddings is off; the LSTM dropout arg is a no-op "
                       "with 1 layer"] + (["equal lengths (9, 9) and a length-1 caption in the batch"]
                                          if 1 in lens else []),
             "init_text": (f"torch.manual_seed({seed}); official init_weights (encoder U(-0.1,0.1)), then "
                           f"encoder.weight re-drawn N(0,1) (torch.Generator seed {seed + 1}) for a stronger test; "
                           f"default LSTM init. Inputs drawn with torch.Generator seed {seed + 2}."),
             "patches": PATCH_ATTNGAN,
             "runtime_monkeypatches": ["cfg.CUDA = False", f"cfg.TEXT.EMBEDDING_DIM = {nhidden}",
                                       "sys.modules['torchvision'] = stub (see patches)"],
             "config_model_relevant": {"RNN_TYPE": cfg.RNN_TYPE, "TEXT.WORDS_NUM": cfg.TEXT.WORDS_NUM,
                                       "TEXT.EMBEDDING_DIM": nhidden, "CUDA": False,
                                       "config_file": cfg_file}},
            post_init=post_init))
    return specs


# ----------------------------------------------------------------------------------------------- run
def build(spec, out_dir, env):
    torch.manual_seed(spec.seed)
    net = spec.make()
    gen = torch.Generator().manual_seed(spec.seed + 1)
    if spec.post_init is None:
        randomize(net, gen, spec.affine_bias_one)
    else:
        spec.post_init(net, gen)
    ig = torch.Generator().manual_seed(spec.seed + 2)
    inputs = {k: f(ig) for k, f in spec.inputs.items()}
    net.eval()
    factor = None
    if spec.last_conv:
        factor = scale_last_conv(net, spec.last_conv, spec.forward, inputs)
    with torch.no_grad():
        outputs = {k: v.detach().contiguous() for k, v in spec.forward(net, {k: v.clone() for k, v in inputs.items()}).items()}
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}

    # verification: reload into a freshly constructed official module (different seed)
    torch.manual_seed(spec.seed + 777)
    net2 = spec.make()
    net2.load_state_dict(state, strict=True)
    net2.eval()
    with torch.no_grad():
        again = spec.forward(net2, {k: v.clone() for k, v in inputs.items()})
    diffs = {k: float((again[k] - outputs[k]).abs().max()) for k in outputs}
    assert all(d == 0.0 for d in diffs.values()), (spec.fid, diffs)

    tensors = {f"state/{k}": v for k, v in state.items()}
    tensors.update({f"input/{k}": v.contiguous() for k, v in inputs.items()})
    tensors.update({f"output/{k}": v for k, v in outputs.items()})
    st_path = out_dir / f"{spec.fid}.safetensors"
    save_file(tensors, str(st_path), metadata={"format": "textgan-parity-v1", "fixture_id": spec.fid})

    m = spec.meta
    meaning = m.get("meaning", {})
    params = dict(net.named_parameters())
    buffers = [k for k in state if k not in params]
    if "init_text" in m:
        init = m["init_text"]
    else:
        scale = "" if factor is None else (
            f" Finally the weight and bias of {spec.last_conv} (last conv before tanh) were multiplied by "
            f"{factor:.6f} so that its output std is 0.8 on these inputs.")
        init = INIT_TEXT.format(s=spec.seed, s1=spec.seed + 1, s2=spec.seed + 2,
                                plus=PLUS_ONE if spec.affine_bias_one else "", scale=scale)
    meta = {"id": spec.fid, "prefix": spec.fid.split(".")[0], "tests": m["tests"], "source": m["source"]}
    for k in ("config_file", "config_overrides", "config_model_relevant"):
        if k in m:
            meta[k] = m[k]
    meta.update({
        "config_used": m["config_used"],
        "constructor_call": m["constructor_call"],
        "forward_call": m["forward_call"],
        "inputs": {k: dict(stats(v), meaning=meaning.get(k, "")) for k, v in inputs.items()},
        "outputs": {k: dict(stats(v), meaning=meaning.get(k, "")) for k, v in outputs.items()},
        "mode": MODE,
        "init": init,
        "noise_patches": NOISE,
    })
    if "released_checkpoint_layout" in m:
        meta["released_checkpoint_layout"] = m["released_checkpoint_layout"]
    if "img" in outputs:
        meta["outputs"]["img"]["fraction_abs_above_0.99"] = round(float((outputs["img"].abs() > 0.99).double().mean()), 6)
    meta["state"] = {"num_state_keys": len(state), "num_parameters_tensors": len(params),
                     "num_buffer_tensors": len(buffers),
                     "num_parameter_elements": int(sum(p.numel() for p in params.values())),
                     "buffer_keys": buffers, "state_keys_in_order": list(state),
                     "shapes": {k: list(v.shape) for k, v in state.items()}}
    meta["notes"] = m.get("notes", [])
    meta.update(env)
    meta["patches_applied_to_official_code"] = m["patches"]
    if meta["prefix"] == "attngan_rnn_encoder":
        meta["patches_to_official_code"] = m["patches"]
        meta["runtime_monkeypatches"] = m["runtime_monkeypatches"]
    meta["verification"] = {"method": "saved state reloaded into a freshly constructed official module (different "
                                      "seed), load_state_dict(strict=True), same forward call",
                            "max_abs_diff": diffs}
    meta["file"] = {"name": st_path.name, "bytes": st_path.stat().st_size,
                    "sha256": hashlib.sha256(st_path.read_bytes()).hexdigest(),
                    "tensor_name_scheme": "state/<official state_dict key>, input/<name>, output/<name>"}
    meta["made_by"] = "tests/data/parity_extra/make_fixtures.py"
    (out_dir / f"{spec.fid}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return st_path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dfgan-repo-code", required=True, type=Path,
                    help="folder holding 78f14fd/code/models/GAN.py and 9015356/code/model.py (patched)")
    ap.add_argument("--attngan-code", required=True, type=Path, help="AttnGAN@0d000e6 code/ folder (config.py patched)")
    ap.add_argument("--pythonpath", action="append", default=[], help="extra sys.path entries (e.g. for easydict)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--batch-256", type=int, default=1,
                    help="batch size of the two 256-px DF-GAN 2020 fixtures (default 1: ~1 MB each; 3 gives ~2.6 MB)")
    ap.add_argument("--only", nargs="*", default=None, help="fixture ids to (re)make")
    args = ap.parse_args()
    sys.path[:0] = args.pythonpath
    torch.set_num_threads(1)

    gan22 = args.dfgan_repo_code / "78f14fd" / "code" / "models" / "GAN.py"
    mod20 = args.dfgan_repo_code / "9015356" / "code" / "model.py"
    amodel_py = args.attngan_code / "model.py"
    if git_blob_sha1(gan22) != BLOB["dfgan2022/code/models/GAN.py"]:
        sys.exit(f"{gan22} is not the unmodified file of {DFGAN_REPO}@{DFGAN_2022}")
    if git_blob_sha1(amodel_py) != BLOB["attngan/code/model.py"]:
        sys.exit(f"{amodel_py} is not the unmodified file of {ATTNGAN_REPO}@{ATTNGAN_COMMIT}")
    g22 = load_module("official_dfgan2022_GAN", gan22)
    g20 = load_module("official_dfgan2020_model", mod20)
    if not (hasattr(g20, "_COND_DIM") and hasattr(g20, "_AFF_HIDDEN")):
        sys.exit(f"{mod20} lacks the _COND_DIM/_AFF_HIDDEN patch described in README.md")

    # AttnGAN: model.py imports torchvision (for CNN_ENCODER only); stub it, RNN_ENCODER does not use it
    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")
    tv.__stub_for_parity__ = True
    sys.modules["torchvision"], sys.modules["torchvision.models"] = tv, tv.models
    sys.path.insert(0, str(args.attngan_code))
    acfg = importlib.import_module("miscc.config")
    cfg_file = args.attngan_code / "cfg" / "DAMSM" / "bird.yml"
    acfg.cfg_from_file(str(cfg_file))
    acfg.cfg.CUDA = False
    amodel = load_module("official_attngan_model", amodel_py)

    env = {"torch_version": torch.__version__, "python": platform.python_version(),
           "official_files_git_blob_sha1": {
               "tobran/DF-GAN@78f14fd:code/models/GAN.py": git_blob_sha1(gan22),
               "tobran/DF-GAN@9015356:code/model.py (patched copy; official blob "
               + BLOB["dfgan2020/code/model.py"] + ")": git_blob_sha1(mod20),
               "taoxugit/AttnGAN@0d000e6:code/model.py": git_blob_sha1(amodel_py)}}
    specs = dfgan_specs(g22, g20, args.batch_256) + attngan_specs(amodel, acfg, "code/cfg/DAMSM/bird.yml")
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        if args.only and spec.fid not in args.only:
            continue
        path = build(spec, args.out, env)
        print(f"{path.name:45s} {path.stat().st_size:>9d} bytes")


if __name__ == "__main__":
    main()
