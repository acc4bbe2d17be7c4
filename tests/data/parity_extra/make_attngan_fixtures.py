#!/usr/bin/env python
"""Make the extra AttnGAN parity fixtures in this folder by running the AUTHORS' code at other sizes.

The official code is NOT part of this repository and is never imported from it. Extract
taoxugit/AttnGAN@0d000e652b407e976cb88fab299e8566f3de8a37 ``code/`` (model.py, GlobalAttention.py, miscc/,
cfg/) yourself, apply the Python 3 patches of the shared fixtures (README.md beside this script: config.py
``iteritems`` / ``has_key`` / ``yaml.load``; losses.py ``torch.ByteTensor(masks)`` -> ``torch.BoolTensor``),
and point this script at it:

    python make_attngan_fixtures.py --attngan-code /path/AttnGAN/code [--pythonpath DIR_WITH_easydict] [--out DIR]

What differs from the shared fixtures (other widths, seeds, batch sizes, caption lengths, stage counts,
spatial sizes, Inception width, input size, gammas) is listed per fixture in ``FIXTURES`` and in each JSON.
``model.py`` imports torchvision at the top for CNN_ENCODER; a stub module is put into ``sys.modules`` first and
CNN_ENCODER is given a narrow Inception-v3 built from the stub's ``inception_v3`` (see ``_inception``), which
follows torchvision's architecture and names (the official constructor only copies its submodules).
"""
import argparse
import hashlib
import json
import math
import platform
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

REPO, COMMIT = "taoxugit/AttnGAN", "0d000e652b407e976cb88fab299e8566f3de8a37"
PATCHES = [
    "code/miscc/config.py: a.iteritems() -> a.items(); b.has_key(k) -> (k in b); yaml.load(f) -> "
    "yaml.load(f, Loader=yaml.SafeLoader)",
    "code/miscc/losses.py: torch.ByteTensor(masks) -> torch.BoolTensor(masks) (two places; torch>=2 masked_fill_)",
    "code/model.py, code/GlobalAttention.py: not edited",
]


# ------------------------------------------------------------------ a torchvision stand-in for CNN_ENCODER
def _install_torchvision_stub(width_divisor):
    """``torchvision.models.inception_v3`` for the official CNN_ENCODER, written from torchvision's published
    architecture (names, kernels, strides, paddings, BN eps 0.001) with every width divided by
    ``width_divisor`` (the narrowing rule of the shared attngan_cnn_encoder fixture)."""
    d = width_divisor

    class BasicConv2d(nn.Module):
        def __init__(self, i, o, **kw):
            super().__init__()
            self.conv = nn.Conv2d(i, o, bias=False, **kw)
            self.bn = nn.BatchNorm2d(o, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    def C(i, o, **kw):
        return BasicConv2d(i if i == 3 else i // d, o // d, **kw)

    class A(nn.Module):
        def __init__(self, i, pf):
            super().__init__()
            self.branch1x1 = C(i, 64, kernel_size=1)
            self.branch5x5_1 = C(i, 48, kernel_size=1)
            self.branch5x5_2 = C(48, 64, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = C(i, 64, kernel_size=1)
            self.branch3x3dbl_2 = C(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = C(96, 96, kernel_size=3, padding=1)
            self.branch_pool = C(i, pf, kernel_size=1)

        def forward(self, x):
            return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                              self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)

    class B(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch3x3 = C(i, 384, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = C(i, 64, kernel_size=1)
            self.branch3x3dbl_2 = C(64, 96, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = C(96, 96, kernel_size=3, stride=2)

        def forward(self, x):
            return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                              F.max_pool2d(x, 3, 2)], 1)

    class Cb(nn.Module):
        def __init__(self, i, c7):
            super().__init__()
            self.branch1x1 = C(i, 192, kernel_size=1)
            self.branch7x7_1 = C(i, c7, kernel_size=1)
            self.branch7x7_2 = C(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7_3 = C(c7, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_1 = C(i, c7, kernel_size=1)
            self.branch7x7dbl_2 = C(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_3 = C(c7, c7, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7dbl_4 = C(c7, c7, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7dbl_5 = C(c7, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch_pool = C(i, 192, kernel_size=1)

        def forward(self, x):
            dbl = x
            for k in range(1, 6):
                dbl = getattr(self, f"branch7x7dbl_{k}")(dbl)
            return torch.cat([self.branch1x1(x), self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))), dbl,
                              self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)

    class D(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch3x3_1 = C(i, 192, kernel_size=1)
            self.branch3x3_2 = C(192, 320, kernel_size=3, stride=2)
            self.branch7x7x3_1 = C(i, 192, kernel_size=1)
            self.branch7x7x3_2 = C(192, 192, kernel_size=(1, 7), padding=(0, 3))
            self.branch7x7x3_3 = C(192, 192, kernel_size=(7, 1), padding=(3, 0))
            self.branch7x7x3_4 = C(192, 192, kernel_size=3, stride=2)

        def forward(self, x):
            b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
            return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)

    class E(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.branch1x1 = C(i, 320, kernel_size=1)
            self.branch3x3_1 = C(i, 384, kernel_size=1)
            self.branch3x3_2a = C(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3_2b = C(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch3x3dbl_1 = C(i, 448, kernel_size=1)
            self.branch3x3dbl_2 = C(448, 384, kernel_size=3, padding=1)
            self.branch3x3dbl_3a = C(384, 384, kernel_size=(1, 3), padding=(0, 1))
            self.branch3x3dbl_3b = C(384, 384, kernel_size=(3, 1), padding=(1, 0))
            self.branch_pool = C(i, 192, kernel_size=1)

        def forward(self, x):
            b3 = self.branch3x3_1(x)
            dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                              self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl),
                              self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)

    class Inception3(nn.Module):
        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = C(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = C(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = C(32, 64, kernel_size=3, padding=1)
            self.Conv2d_3b_1x1 = C(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = C(80, 192, kernel_size=3)
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = A(192, 32), A(256, 64), A(288, 64)
            self.Mixed_6a = B(288)
            self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = Cb(768, 128), Cb(768, 160), Cb(768, 160), Cb(768, 192)
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = D(768), E(1280), E(2048)

    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")
    tv.models.inception_v3 = lambda *a, **k: Inception3()
    sys.modules["torchvision"], sys.modules["torchvision.models"] = tv, tv.models


# ----------------------------------------------------------------------------------------------- helpers
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


def init_like_shared(net, gen, calibrate):
    """Default init, then BN affine w ~ U(0.7,1.3), b ~ N(0,0.1); running stats = one train-mode pass of
    ``calibrate(net)`` (cumulative average of one batch), then perturbed: mean += N(0, 0.2·std), var ·= U(0.6, 1.6)."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.6 + 0.7)
            m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            m.reset_running_stats()
            m.momentum = None
        if bns:
            net.train()
            calibrate(net)
        for m in bns:
            std = m.running_var.sqrt()
            m.running_mean.add_(torch.randn(m.running_mean.shape, generator=gen) * 0.2 * std)
            m.running_var.mul_(torch.rand(m.running_var.shape, generator=gen) + 0.6)
            m.num_batches_tracked.zero_()
            m.momentum = 0.1
    net.eval()


def word_inputs(g, B, nef, lens):
    L = max(lens)
    words = torch.randn(B, nef, L, generator=g) * 0.5
    mask = torch.zeros(B, L, dtype=torch.bool)
    for i, n in enumerate(lens):
        words[i, :, n:] = 0  # as pad_packed_sequence leaves them
        mask[i, n:] = True
    return words, mask


# ------------------------------------------------------------------------------------------------ fixtures
def make_G(model, cfg, fid, seed, gf, emb, cond, z, rnum, branch, lens, note):
    cfg.GAN.GF_DIM, cfg.TEXT.EMBEDDING_DIM, cfg.GAN.CONDITION_DIM = gf, emb, cond
    cfg.GAN.Z_DIM, cfg.GAN.R_NUM, cfg.TREE.BRANCH_NUM = z, rnum, branch
    torch.manual_seed(seed)
    net = model.G_NET()
    gen = torch.Generator().manual_seed(seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    B = len(lens)
    inputs = {"z_code": torch.randn(B, z, generator=g), "sent_emb": torch.randn(B, emb, generator=g) * 0.5}
    inputs["word_embs"], inputs["mask"] = word_inputs(g, B, emb, lens)
    inputs["eps"] = torch.randn(B, cond, generator=g)
    inputs["cap_lens"] = torch.tensor(lens, dtype=torch.int64)
    cal = {"z": torch.randn(4, z, generator=gen), "s": torch.randn(4, emb, generator=gen) * 0.5}
    cal["w"], cal["m"] = word_inputs(gen, 4, emb, [max(lens)] * 4)
    cal_eps = torch.randn(4, cond, generator=gen)

    def run(net, x, eps):
        model.CA_NET.reparametrize = lambda self, mu, logvar: eps.clone().mul(logvar.mul(0.5).exp_()).add_(mu)
        return net(x[0], x[1], x[2], x[3])

    init_like_shared(net, gen, lambda n: run(n, (cal["z"], cal["s"], cal["w"], cal["m"]), cal_eps))

    def forward(net):
        imgs, atts, mu, logvar = run(net, (inputs["z_code"], inputs["sent_emb"], inputs["word_embs"],
                                           inputs["mask"]), inputs["eps"])
        out = {f"fake_img{k + 1}_{im.shape[-1]}": im for k, im in enumerate(imgs)}
        out.update({f"att{k + 1}": a for k, a in enumerate(atts)})
        out.update(mu=mu, logvar=logvar)
        return out

    meta = {"class": "G_NET", "file": "code/model.py", "config_file": "code/cfg/eval_bird.yml",
            "config_used": {"GAN.GF_DIM": gf, "TEXT.EMBEDDING_DIM": emb, "GAN.CONDITION_DIM": cond, "GAN.Z_DIM": z,
                            "GAN.R_NUM": rnum, "TREE.BRANCH_NUM": branch, "batch": B, "cap_lens": lens},
            "constructor_call": "G_NET()  # reads the cfg values above",
            "forward_call": "fake_imgs, att_maps, mu, logvar = net(input/z_code, input/sent_emb, input/word_embs, input/mask)",
            "noise_injection": ("CA_NET.reparametrize replaced at runtime by identical arithmetic with an injected "
                                "eps: c_code = eps.clone().mul(logvar.mul(0.5).exp_()).add_(mu), eps = input/eps"),
            "meaning": {"word_embs": "(B, EMB, max(cap_lens)), zero columns beyond each caption",
                        "mask": "bool (B, L), True at padding", "fake_img<k>_<size>": "fake_imgs[k-1]",
                        "att<k>": "att_maps[k-1] (B, L, size/2, size/2), with the official mask broadcast"},
            "notes": note}
    return fid, net, inputs, forward, meta, lambda: model.G_NET()


def make_D(model, cfg, fid, seed, cls, df, emb, size, B, note):
    cfg.GAN.DF_DIM, cfg.TEXT.EMBEDDING_DIM = df, emb
    torch.manual_seed(seed)
    net = getattr(model, cls)()
    gen = torch.Generator().manual_seed(seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    inputs = {"image": torch.tanh(torch.randn(B, 3, size, size, generator=g)),
              "sent_emb": torch.randn(B, emb, generator=g)}
    cal = torch.tanh(torch.randn(4, 3, size, size, generator=gen))
    init_like_shared(net, gen, lambda n: n.COND_DNET(n(cal), torch.randn(4, emb, generator=gen)))

    def forward(net):
        code = net(inputs["image"])
        return {"x_code4": code, "cond_logits": net.COND_DNET(code, inputs["sent_emb"]),
                "uncond_logits": net.UNCOND_DNET(code)}

    meta = {"class": cls, "file": "code/model.py", "config_file": "code/cfg/bird_attn2.yml",
            "config_used": {"GAN.DF_DIM": df, "TEXT.EMBEDDING_DIM": emb, "batch": B},
            "constructor_call": f"{cls}()  # b_jcu=True",
            "forward_call": ["x_code4 = net(input/image)", "cond_logits = net.COND_DNET(x_code4, input/sent_emb)",
                             "uncond_logits = net.UNCOND_DNET(x_code4)"], "notes": note}
    return fid, net, inputs, forward, meta, lambda: getattr(model, cls)()


def make_attention(GA, fid, seed, idf, cdf, B, h, w, lens, note):
    torch.manual_seed(seed)
    net = GA.GlobalAttentionGeneral(idf, cdf)
    g = torch.Generator().manual_seed(seed + 2)
    inputs = {"input": torch.randn(B, idf, h, w, generator=g)}
    inputs["context"], inputs["mask"] = word_inputs(g, B, cdf, lens)
    inputs["context"] = inputs["context"] * 2
    inputs["cap_lens"] = torch.tensor(lens, dtype=torch.int64)

    def forward(net):
        net.applyMask(inputs["mask"])
        wc, attn = net(inputs["input"], inputs["context"])
        net.applyMask(None)
        wc2, attn2 = net(inputs["input"], inputs["context"])
        return {"weightedContext": wc, "attn": attn, "nomask/weightedContext": wc2, "nomask/attn": attn2}

    meta = {"class": "GlobalAttentionGeneral", "file": "code/GlobalAttention.py",
            "config_used": {"idf": idf, "cdf": cdf, "batch": B, "spatial": [h, w], "cap_lens": lens},
            "constructor_call": f"GlobalAttentionGeneral(idf={idf}, cdf={cdf})",
            "forward_call": ["net.applyMask(input/mask); weightedContext, attn = net(input/input, input/context)",
                             "net.applyMask(None); nomask/weightedContext, nomask/attn = net(input/input, input/context)"],
            "notes": note}
    return fid, net, inputs, forward, meta, lambda: GA.GlobalAttentionGeneral(idf, cdf)


def make_cnn(model, cfg, fid, seed, d, nef, B, size, note):
    cfg.TRAIN.FLAG = True
    model.model_zoo.load_url = lambda url: model.models.inception_v3().state_dict()
    model.models.inception_v3 = sys.modules["torchvision"].models.inception_v3

    def build():
        net = model.CNN_ENCODER(nef)
        net.emb_features = model.conv1x1(768 // d, nef)  # heads rebuilt for the narrow trunk, as the shared fixture
        net.emb_cnn_code = nn.Linear(2048 // d, nef)
        return net

    torch.manual_seed(seed)
    net = build()
    net.init_trainable_weights()
    gen = torch.Generator().manual_seed(seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    inputs = {"image": torch.tanh(torch.randn(B, 3, size, size, generator=g))}
    cal = torch.tanh(torch.randn(4, 3, size, size, generator=gen))
    init_like_shared(net, gen, lambda n: n(cal))

    class Upsample(nn.Upsample):
        def __init__(self, *a, **k):
            super().__init__(*a, **{**k, "align_corners": True})

    def forward(net):
        feats, code = net(inputs["image"])
        plain = model.nn.Upsample
        model.nn.Upsample = Upsample
        try:
            feats_t, code_t = net(inputs["image"])
        finally:
            model.nn.Upsample = plain
        return {"features": feats, "cnn_code": code, "align_corners_true/features": feats_t,
                "align_corners_true/cnn_code": code_t}

    meta = {"class": "CNN_ENCODER", "file": "code/model.py", "config_file": "code/cfg/DAMSM/bird.yml",
            "config_used": {"nef": nef, "trunk_width_divisor": d, "batch": B, "input_size": size},
            "width_reduction": (f"every torchvision BasicConv2d(in, out) built as BasicConv2d(in if in == 3 else "
                                f"in // {d}, out // {d}); emb_features = conv1x1({768 // d}, nef), emb_cnn_code = "
                                f"Linear({2048 // d}, nef), init_trainable_weights() re-run"),
            "constructor_call": f"CNN_ENCODER(nef={nef})  # cfg.TRAIN.FLAG=True",
            "forward_call": "features, cnn_code = net(input/image)  (align_corners_true/*: nn.Upsample forced to "
                            "align_corners=True, the PyTorch 0.3 behaviour)", "notes": note}
    return fid, net, inputs, forward, meta, build


def make_losses(losses, cfg, fid, seed, B, nef, lens, class_ids, gammas, note):
    cfg.TRAIN.SMOOTH.GAMMA1, cfg.TRAIN.SMOOTH.GAMMA2, cfg.TRAIN.SMOOTH.GAMMA3 = gammas
    g = torch.Generator().manual_seed(seed + 2)
    T = max(lens)
    words = torch.randn(B, nef, T, generator=g)
    for i, n in enumerate(lens):
        words[i, :, n:] = 0
    inputs = {"img_features": torch.randn(B, nef, 17, 17, generator=g), "words_emb": words,
              "cnn_code": torch.randn(B, nef, generator=g), "sent_emb": torch.randn(B, nef, generator=g),
              "cap_lens": torch.tensor(lens, dtype=torch.int64), "labels": torch.arange(B),
              "class_ids": torch.tensor(class_ids, dtype=torch.int64), "mu": torch.randn(B, 7, generator=g),
              "logvar": torch.randn(B, 7, generator=g) * 0.5}

    def forward(_):
        out = {}
        for tag, cids in (("no_class_ids", None), ("with_class_ids", inputs["class_ids"].numpy())):
            w0, w1, maps = losses.words_loss(inputs["img_features"], inputs["words_emb"], inputs["labels"],
                                             inputs["cap_lens"], cids, B)
            s0, s1 = losses.sent_loss(inputs["cnn_code"], inputs["sent_emb"], inputs["labels"], cids, B)
            out.update({f"{tag}/w_loss0": w0, f"{tag}/w_loss1": w1, f"{tag}/s_loss0": s0, f"{tag}/s_loss1": s1})
            out.update({f"att_maps/{i}": m for i, m in enumerate(maps)})
        out["kl_loss"] = losses.KL_loss(inputs["mu"], inputs["logvar"])
        return out

    meta = {"class": "functions words_loss, sent_loss, KL_loss", "file": "code/miscc/losses.py",
            "config_model_relevant": {"TRAIN.SMOOTH.GAMMA1": gammas[0], "TRAIN.SMOOTH.GAMMA2": gammas[1],
                                      "TRAIN.SMOOTH.GAMMA3": gammas[2]},
            "config_used": {"batch": B, "nef": nef, "cap_lens": lens, "class_ids": class_ids},
            "forward_call": ["words_loss(img_features, words_emb, labels, cap_lens, class_ids, B)",
                             "sent_loss(cnn_code, sent_emb, labels, class_ids, B)", "KL_loss(mu, logvar)"],
            "notes": note}
    return fid, None, inputs, forward, meta, None


def fixtures(model, GA, losses, cfg):
    yield make_G(model, cfg, "attngan_G.s3_gf3_r1_b1_len1", 7000, 3, 10, 5, 7, 1, 3, [1],
                 "3 stages at other widths (GF 3, EMB 10, COND 5, Z 7), R_NUM 1, batch 1, a one-word caption")
    yield make_G(model, cfg, "attngan_G.s2_gf2_r3_b3_len18", 7010, 2, 12, 6, 9, 3, 2, [18, 7, 1],
                 "2 stages (128 px), R_NUM 3, batch 3 with caption lengths 18/7/1: mask broadcast (b+q) mod 3")
    yield make_G(model, cfg, "attngan_G.s2_gf2_r0_b2_len5", 7020, 2, 8, 4, 6, 0, 2, [5, 5],
                 "2 stages, R_NUM 0 (no residual blocks), batch 2 with equal lengths")
    yield make_G(model, cfg, "attngan_G.s1_gf4_b5", 7030, 4, 6, 3, 5, 2, 1, [3, 3, 2, 2, 1],
                 "1 stage (64 px only, no attention), batch 5")
    yield make_D(model, cfg, "attngan_D64.df3_e10_b1", 7100, "D_NET64", 3, 10, 64, 1, "batch 1, DF 3, EMB 10")
    yield make_D(model, cfg, "attngan_D128.df2_e6_b3", 7110, "D_NET128", 2, 6, 128, 3, "batch 3, DF 2, EMB 6")
    yield make_D(model, cfg, "attngan_D256.df2_e5_b1", 7120, "D_NET256", 2, 5, 256, 1, "batch 1, DF 2, EMB 5")
    yield make_attention(GA, "attngan_global_attention.i5_c7_b4_6x5_len18", 7200, 5, 7, 4, 6, 5, [18, 9, 3, 1],
                         "non-square 6x5 map (Q=30), batch 4, lengths 18/9/3/1: row b*30+q uses mask (2b+q) mod 4")
    yield make_cnn(model, cfg, "attngan_cnn_encoder.w16_nef12_b1_128px", 7300, 16, 12, 1, 128,
                   "trunk width /16, nef 12, batch 1, 128 px input (resized to 299 both ways)")
    yield make_losses(losses, cfg, "attngan_damsm_losses.b6_nef8_len18_g5", 7400, 6, 8, [18, 12, 7, 4, 2, 1],
                      [2, 9, 2, 4, 2, 9], (5.0, 5.0, 10.0),
                      "batch 6, lengths 18..1, a class shared by three samples and one by two, GAMMA1 5 (config.py default)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attngan-code", required=True, type=Path)
    ap.add_argument("--pythonpath", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    if args.pythonpath:
        sys.path.insert(0, str(args.pythonpath))
    sys.path.insert(0, str(args.attngan_code))
    torch.set_num_threads(1)
    _install_torchvision_stub(16)
    from miscc.config import cfg, cfg_from_file
    cfg_from_file(str(args.attngan_code / "cfg" / "eval_bird.yml"))
    cfg.CUDA = False
    import GlobalAttention as GA
    import model
    from miscc import losses
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": "cpu", "dtype": "float32",
           "threads": 1}
    for fid, net, inputs, forward, meta, rebuild in fixtures(model, GA, losses, cfg):
        if args.only and fid not in args.only:
            continue
        with torch.no_grad():
            outputs = forward(net)
            verification = {}
            if net is not None:  # reload into a fresh official module (other init) and run again
                torch.manual_seed(12345)
                fresh = rebuild()
                fresh.load_state_dict(net.state_dict(), strict=True)
                fresh.eval()
                again = forward(fresh)
                verification = {k: float((again[k] - v).abs().max()) for k, v in outputs.items()}
        tensors = {f"input/{k}": v.contiguous() for k, v in inputs.items()}
        tensors.update({f"output/{k}": v.detach().contiguous() for k, v in outputs.items()})
        if net is not None:
            tensors.update({f"state/{k}": v.contiguous() for k, v in net.state_dict().items()})
        path = args.out / f"{fid}.safetensors"
        save_file(tensors, str(path), metadata={"source": f"{REPO}@{COMMIT}"})
        data = path.read_bytes()
        doc = {"id": fid, "prefix": fid.split(".")[0], "source": {"repo": REPO, "commit": COMMIT, "file": meta["file"],
                                                                   "class": meta["class"]},
               **{k: v for k, v in meta.items() if k not in ("file", "class")},
               "inputs": {k: stats(v) for k, v in inputs.items()},
               "outputs": {k: stats(v) for k, v in outputs.items()},
               "mode": "eval() + torch.no_grad(); float32; CPU; torch.set_num_threads(1)",
               "init": ("torch.manual_seed(seed) before construction, PyTorch default init; BN affine weight~U(0.7,1.3), "
                        "bias~N(0,0.1); BN running stats = statistics of one train-mode pass on separate calibration "
                        "inputs, then perturbed (mean += N(0,0.2*std), var *= U(0.6,1.6)); num_batches_tracked = 0"),
               "patches": PATCHES, "environment": env,
               "verification": {"reloaded_into_fresh_official_module": net is not None, "max_abs_diff": verification},
               "file_size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        path.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{fid}: {len(data) / 1e6:.2f} MB, verification {max(verification.values(), default=0.0)}")


if __name__ == "__main__":
    main()
