#!/usr/bin/env python
"""Make the StackGAN extra parity fixtures in this folder by running the AUTHORS' StackGAN-Pytorch code.

The official code is NOT part of this repository and is never imported from it. Extract it yourself:

    git -C <mirror of hanzhanggit/StackGAN-Pytorch> show e72ef88:code/model.py > /work/official/stackgan/code/model.py

    python make_fixtures_stackgan.py --code /work/official/stackgan/code [--out DIR]

``model.py`` must be unmodified (its git blob id is checked). It reads the module-global ``cfg`` of
``miscc.config``; instead of the authors' config.py (easydict + yaml) this script puts a module with a plain
``cfg`` object into ``sys.modules['miscc.config']`` and sets, for each fixture, the values listed in its JSON
(``CUDA`` False). As for the shared fixtures, ``CA_NET.reparametrize`` is replaced by the same arithmetic with
an injected ε (``eps.mul(logvar.mul(0.5).exp_()).add_(mu)``), Stage-I's ε first, then Stage-II's.
"""
import argparse
import hashlib
import json
import platform
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO = ("hanzhanggit/StackGAN-Pytorch", "e72ef88446e7bcd84a7b88060053edad72fecf6a")
BLOB = {"code/model.py": "cbfd50087826be779f67be966b7163b59e86ee45"}


class _Cfg(dict):
    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def blob(path):
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_official(code: Path):
    cfg = _Cfg(CUDA=False, Z_DIM=100, GAN=_Cfg(GF_DIM=192, DF_DIM=96, CONDITION_DIM=128, R_NUM=2),
               TEXT=_Cfg(DIMENSION=1024))
    pkg = types.ModuleType("miscc")
    pkg.__path__ = []
    conf = types.ModuleType("miscc.config")
    conf.cfg = cfg
    sys.modules.update({"miscc": pkg, "miscc.config": conf})
    sys.path.insert(0, str(code))
    import importlib

    model = importlib.import_module("model")
    queue = []

    def reparametrize(self, mu, logvar):  # the official arithmetic, with the fixture's ε
        return queue.pop(0).mul(logvar.mul(0.5).exp_()).add_(mu)

    model.CA_NET.reparametrize = reparametrize
    return model, cfg, queue


def init(net, seed, tanh_convs=(), probe=None):
    """The shared fixtures' init: N(0, 1/fan_in) weights, N(0, 0.05²) biases, BN weight U(0.7, 1.3), bias
    N(0, 0.1²), running mean N(0, 0.2²), var U(0.6, 1.6); convs before a tanh scaled to output std 0.8."""
    g = torch.Generator().manual_seed(seed + 1)
    net.eval()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * mod.weight[0].numel() ** -0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.05)
            elif isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) * 0.6 + 0.7)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.1)
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.6)
        for conv in tanh_convs:
            seen = {}
            hook = conv.register_forward_hook(lambda m, i, o: seen.update(std=o.std().item()))
            probe()
            hook.remove()
            conv.weight.mul_(0.8 / seen["std"])
    return net.eval()


def make(model, cfg, queue, fid, kind, c, batch, seed):
    cfg.Z_DIM, cfg.TEXT.DIMENSION = c.get("Z_DIM", 100), c.get("TEXT", 1024)
    cfg.GAN.GF_DIM, cfg.GAN.DF_DIM = c.get("GF_DIM", 192), c.get("DF_DIM", 96)
    cfg.GAN.CONDITION_DIM, cfg.GAN.R_NUM = c["COND"], c.get("R_NUM", 2)
    torch.manual_seed(seed)
    ig = torch.Generator().manual_seed(seed + 1000)
    text = torch.randn(batch, cfg.TEXT.DIMENSION, generator=ig)
    eps = lambda: torch.randn(batch, cfg.GAN.CONDITION_DIM, generator=ig)  # noqa: E731
    if kind == "ca_net":
        ctor = lambda: model.CA_NET()  # noqa: E731
        inputs = {"text_embedding": text, "eps": eps()}

        def forward(net, x):
            queue[:] = [x["eps"]]
            c_code, mu, logvar = net(x["text_embedding"])
            return {"c_code": c_code, "mu": mu, "logvar": logvar}
        net = init(ctor(), seed)
    elif kind in ("stage1_G", "stage2_G"):
        ctor = (lambda: model.STAGE1_G()) if kind == "stage1_G" else (lambda: model.STAGE2_G(model.STAGE1_G()))
        inputs = {"text_embedding": text, "noise": torch.randn(batch, cfg.Z_DIM, generator=ig), "eps": eps()}
        if kind == "stage2_G":
            inputs["eps_stage1"] = eps()

        def forward(net, x):
            queue[:] = [x["eps"]] if kind == "stage1_G" else [x["eps_stage1"], x["eps"]]
            s1, img, mu, logvar = net(x["text_embedding"], x["noise"])
            out = {"fake_img": img, "mu": mu, "logvar": logvar}
            if kind == "stage2_G":
                out["stage1_img"] = s1
            return out
        net = ctor()
        tanh = [net.img[0]] if kind == "stage1_G" else [net.STAGE1_G.img[0], net.img[0]]
        init(net, seed, tanh, lambda: forward(net, inputs))
    else:
        ctor = (lambda: model.STAGE1_D()) if kind == "stage1_D" else (lambda: model.STAGE2_D())
        size = 64 if kind == "stage1_D" else 256
        inputs = {"image": torch.rand(batch, 3, size, size, generator=ig) * 2 - 1, "c_code": eps()}

        def forward(net, x):
            code = net(x["image"])
            out = {"img_embedding": code, "cond_logits": net.get_cond_logits(code, x["c_code"])}
            if net.get_uncond_logits is not None:
                out["uncond_logits"] = net.get_uncond_logits(code)
            return out
        net = init(ctor(), seed)
    with torch.no_grad():
        outputs = forward(net, inputs)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    fresh = ctor()  # verification: reload into a fresh official module
    fresh.load_state_dict(state, strict=True)
    fresh.eval()
    with torch.no_grad():
        again = forward(fresh, inputs)
    diffs = {k: float((again[k] - outputs[k]).abs().max()) for k in again}
    assert all(d == 0.0 for d in diffs.values()), (fid, diffs)
    return state, inputs, outputs, diffs, dict(cfg_used={"Z_DIM": cfg.Z_DIM, "TEXT.DIMENSION": cfg.TEXT.DIMENSION,
                                                          "GAN.GF_DIM": cfg.GAN.GF_DIM, "GAN.DF_DIM": cfg.GAN.DF_DIM,
                                                          "GAN.CONDITION_DIM": cfg.GAN.CONDITION_DIM,
                                                          "GAN.R_NUM": cfg.GAN.R_NUM, "CUDA": False})


SPECS = [  # id, official module, cfg values, batch, seed
    ("stackgan_ca_net.t40_c12_b6", "ca_net", dict(TEXT=40, COND=12), 6, 501),
    ("stackgan_stage1_G.gf6_c10_z7_b4", "stage1_G", dict(GF_DIM=6, COND=10, Z_DIM=7, TEXT=24), 4, 502),
    ("stackgan_stage2_G.gf4_c6_r3_b1", "stage2_G", dict(GF_DIM=4, COND=6, R_NUM=3, Z_DIM=9, TEXT=20), 1, 503),
    ("stackgan_stage2_G.gf8_c5_r0_b1", "stage2_G", dict(GF_DIM=8, COND=5, R_NUM=0, Z_DIM=3, TEXT=12), 1, 504),
    ("stackgan_stage1_D.df3_c5_b5", "stage1_D", dict(DF_DIM=3, COND=5), 5, 505),
    ("stackgan_stage2_D.df2_c7_b1", "stage2_D", dict(DF_DIM=2, COND=7), 1, 506),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=Path, required=True, help="folder holding the authors' code/model.py")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    assert blob(args.code / "model.py") == BLOB["code/model.py"], f"{args.code / 'model.py'} is not the official file"
    torch.set_num_threads(1)
    model, cfg, queue = load_official(args.code)
    names = {"ca_net": "CA_NET", "stage1_G": "STAGE1_G", "stage2_G": "STAGE2_G(STAGE1_G())", "stage1_D": "STAGE1_D",
             "stage2_D": "STAGE2_D"}
    for fid, kind, c, batch, seed in SPECS:
        state, inputs, outputs, diffs, extra = make(model, cfg, queue, fid, kind, c, batch, seed)
        tensors = {f"state/{k}": v.contiguous() for k, v in state.items()}
        tensors.update({f"input/{k}": v.contiguous() for k, v in inputs.items()})
        tensors.update({f"output/{k}": v.contiguous() for k, v in outputs.items()})
        path = args.out / f"{fid}.safetensors"
        save_file(tensors, str(path), metadata={"format": "textgan-parity-v1", "fixture_id": fid})
        meta = {"id": fid, "prefix": fid.split(".")[0], "source": f"{REPO[0]}@{REPO[1]}:code/model.py:{names[kind]}",
                **extra, "constructor": f"{names[kind]}()  # reads the module-global cfg above",
                "noise_injection": "CA_NET.reparametrize replaced: eps.mul(logvar.mul(0.5).exp_()).add_(mu) with "
                                   "input/eps (Stage-II: input/eps_stage1 for the Stage-I CA first, then input/eps)",
                "init": f"torch.manual_seed({seed}); construct; see init() in the script (Generator seed {seed + 1})",
                "inputs": {k: list(v.shape) for k, v in inputs.items()},
                "outputs": {k: list(v.shape) for k, v in outputs.items()},
                "mode": "eval() + torch.no_grad(), one thread",
                "verify": {"method": "reloaded into a fresh official module, load_state_dict(strict=True), same "
                                     "forward", "max_abs_diff": diffs},
                "torch_version": torch.__version__, "python": platform.python_version(),
                "official_files_git_blob_sha1": BLOB, "made_by": "tests/data/parity_extra/make_fixtures_stackgan.py",
                "file": {"name": path.name, "bytes": path.stat().st_size,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        print(f"{fid}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
