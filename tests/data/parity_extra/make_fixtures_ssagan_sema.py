#!/usr/bin/env python
"""Make the SSA-GAN and SEMA extra parity fixtures in this folder by running the AUTHORS' code at other sizes.

The official code is NOT part of this repository and is never imported from it. Extract it yourself:

    git -C <mirror of wtliao/text2image> archive 3063e27 model.py sync_batchnorm | tar -x -C /work/official/ssagan/3063e27
    git -C <mirror of yuanrr/SEMA> archive 97b227e model.py | tar -x -C /work/official/sema/97b227e

    python make_fixtures_ssagan_sema.py --ssagan-code /work/official/ssagan/3063e27 \
        --sema-code /work/official/sema/97b227e [--out DIR] [--only ID ...]

The files must be unmodified (their git blob ids are checked). The script applies, in memory only, the patch the
shared fixtures used: the hard-coded widths become module constants with the official values as defaults
(SSA-GAN: sentence 256 -> _COND_DIM, affine hidden 256 -> _AFF_HIDDEN, and here also the mask-predictor hidden
100 -> _MASK_HIDDEN; SEMA: affine input 356 -> _AFF_IN, hidden 256 -> _AFF_HIDDEN). With the defaults the patched
code is the official code. Everything else (fixture format, init, verification) is make_fixtures.py's.
"""
import argparse
import json
import math
import platform
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import Spec, build, git_blob_sha1  # noqa: E402

SSAGAN_REPO, SSAGAN_COMMIT = "wtliao/text2image", "3063e27258e3c3af28be16ddf81a64ee6b2d1f3d"
SEMA_REPO, SEMA_COMMIT = "yuanrr/SEMA", "97b227ee9eaaca5bdd7fe857925ef2eafcecf8cd"
BLOB = {"ssagan/model.py": "d52d79cd2bb039720fb0e960504f9a5529f760c0",
        "sema/model.py": "060cac0cfd9c56c88acb81690e16a5577d195dd9"}

# (old text, new text, expected count) applied to the official source before it is executed
SSAGAN_PATCH = [
    ("nn.Linear(256, 256)", "nn.Linear(_COND_DIM, _AFF_HIDDEN)", 2),
    ("nn.Linear(256, num_features)", "nn.Linear(_AFF_HIDDEN, num_features)", 2),
    ("nn.Conv2d(ndf * 16 + 256, ndf * 2, 3, 1, 1, bias=False)", "nn.Conv2d(ndf * 16 + _COND_DIM, ndf * 2, 3, 1, 1, bias=False)", 1),
    ("y = y.view(-1, 256, 1, 1)", "y = y.view(-1, _COND_DIM, 1, 1)", 1),
    ("nn.Conv2d(8 * ngf, 100, 3, 1, 1)", "nn.Conv2d(8 * ngf, _MASK_HIDDEN, 3, 1, 1)", 1),
    ("nn.Conv2d(out_ch, 100, 3, 1, 1)", "nn.Conv2d(out_ch, _MASK_HIDDEN, 3, 1, 1)", 1),
    ("BatchNorm(100)", "BatchNorm(_MASK_HIDDEN)", 2),
    ("nn.Conv2d(100, 1, 1, 1, 0)", "nn.Conv2d(_MASK_HIDDEN, 1, 1, 1, 0)", 2),
]
SEMA_PATCH = [
    ("nn.Linear(356, 256)", "nn.Linear(_AFF_IN, _AFF_HIDDEN)", 2),
    ("nn.Linear(256, num_features)", "nn.Linear(_AFF_HIDDEN, num_features)", 2),
]
SSAGAN_CONSTANTS = "_COND_DIM = 256\n_AFF_HIDDEN = 256\n_MASK_HIDDEN = 100\n"
SEMA_CONSTANTS = "_AFF_IN = 356\n_AFF_HIDDEN = 256\n"


def patch_words(patch, constants):
    return ([f"module constants added before the code: {constants.strip().replace(chr(10), ', ')} (the official literals)"]
            + [f"{old!r} -> {new!r} ({n}x)" for old, new, n in patch]
            + ["applied in memory to the unmodified file (git blob checked); with the defaults it is the official code"])


def load_patched(name, path, patch, constants, blob, search_path=None):
    src = Path(path).read_text()
    if git_blob_sha1(path) != blob:
        sys.exit(f"{path} is not the unmodified official file (git blob {blob})")
    for old, new, n in patch:
        assert src.count(old) == n, (path, old, src.count(old))
        src = src.replace(old, new)
    if search_path:
        sys.path.insert(0, str(search_path))
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    exec(compile(constants + src, str(path), "exec"), mod.__dict__)
    return mod


def randomize(net, gen, affine_bias_one=False):
    """make_fixtures.randomize, extended to BatchNorms without learnable scale/shift (SSA-GAN's affines)."""
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) / math.sqrt(mod.weight[0].numel()))
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.05)
            elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
                if mod.affine:
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


def specs(ssa, sema):
    randn = lambda *s: (lambda g: torch.randn(*s, generator=g))  # noqa: E731
    image = lambda *s: (lambda g: torch.tanh(torch.randn(*s, generator=g)))  # noqa: E731
    mask = lambda *s: (lambda g: torch.sigmoid(torch.randn(*s, generator=g)))  # noqa: E731
    src = lambda repo, commit, cls: {"repo": repo, "commit": commit, "file": "model.py", "class": cls,  # noqa: E731
                                     "ref": f"{repo}@{commit}:model.py:{cls}"}
    ssa_layout = ("SSA-GAN release: bare state_dicts of DataParallelWithCallback(NetG) / nn.DataParallel(NetD), keys "
                  "'module.' + the keys here.")
    sema_layout = "SEMA release: a bare NetG state_dict (netG.pth), no prefix; no discriminator released."
    out = []

    def with_sizes(mod, **sizes):
        def make(factory):
            def build_it():
                for k, v in sizes.items():
                    setattr(mod, k, v)
                return factory()
            return build_it
        return make

    def ssa_g(net, x):
        img, masks = net(x["noise"], x["sent_emb"])
        res = {"img": img}
        res.update({f"mask_{m.shape[-1]}": m for m in masks})
        return res

    ngf, nz, cond, hid, mh, b = 2, 6, 10, 9, 7, 1
    out.append(Spec(
        "ssagan_G.ngf2_nz6_c10_h9_m7_b1", 5000,
        with_sizes(ssa, _COND_DIM=cond, _AFF_HIDDEN=hid, _MASK_HIDDEN=mh)(lambda: ssa.NetG(ngf, nz)),
        {"noise": randn(b, nz), "sent_emb": randn(b, cond)}, ssa_g,
        {"tests": "SSA-GAN NetG at other widths (mask-predictor hidden 7 instead of 100), batch 1: image and the 7 "
                  "sigmoid fusion masks.",
         "source": src(SSAGAN_REPO, SSAGAN_COMMIT, "NetG"),
         "config_used": {"ngf": ngf, "nz": nz, "cond_dim": cond, "affine_hidden": hid, "mask_hidden": mh,
                         "imsize": 256, "batch": b},
         "constructor_call": f"NetG(ngf={ngf}, nz={nz}) with _COND_DIM={cond}, _AFF_HIDDEN={hid}, _MASK_HIDDEN={mh}",
         "forward_call": "img, masks = netG(noise, sent_emb); masks = [mask_4, ..., mask_256]",
         "meaning": {"noise": "z, (B, nz)", "sent_emb": "(B, cond_dim)", "img": "(B, 3, 256, 256) in [-1,1]"},
         "released_checkpoint_layout": ssa_layout, "notes": ["BatchNorms are SynchronizedBatchNorm2d (eval: F.batch_norm)"],
         "patches": patch_words(SSAGAN_PATCH, SSAGAN_CONSTANTS)},
        last_conv="conv_img.2", post_init=randomize))

    for fid, seed, cin, cout, pm, b, hw in [("ssagan_block.same_ch_b3", 5100, 6, 6, True, 3, (5, 7)),
                                            ("ssagan_block.nomask_b1", 5110, 5, 3, False, 1, (4, 4))]:
        out.append(Spec(
            fid, seed,
            with_sizes(ssa, _COND_DIM=cond, _AFF_HIDDEN=hid, _MASK_HIDDEN=mh)(
                lambda cin=cin, cout=cout, pm=pm: ssa.G_Block(cin, cout, predict_mask=pm)),
            {"x": randn(b, cin, *hw), "y": randn(b, cond), "fusion_mask": mask(b, 1, *hw)},
            (lambda net, x: dict(zip(("out", "mask_logits"), [t for t in net(x["x"], x["y"], x["fusion_mask"])
                                                              if t is not None]))),
            {"tests": "SSA-GAN G_Block " + ("with identity shortcut (no c_sc) and mask predictor" if pm else
                                            "without mask predictor (as block6), learnable shortcut"),
             "source": src(SSAGAN_REPO, SSAGAN_COMMIT, "G_Block"),
             "config_used": {"in_ch": cin, "out_ch": cout, "cond_dim": cond, "affine_hidden": hid, "mask_hidden": mh,
                             "predict_mask": pm, "batch": b, "spatial": list(hw)},
             "constructor_call": f"G_Block({cin}, {cout}, predict_mask={pm}) with _COND_DIM={cond}, _AFF_HIDDEN={hid}, "
                                 f"_MASK_HIDDEN={mh}",
             "forward_call": "out, mask_logits = block(x, y, fusion_mask)" + ("" if pm else "  (mask_logits is None)"),
             "meaning": {"x": "(B, in_ch, H, W)", "y": "(B, cond_dim)", "fusion_mask": "sigmoid mask (B, 1, H, W)"},
             "released_checkpoint_layout": ssa_layout, "notes": [],
             "patches": patch_words(SSAGAN_PATCH, SSAGAN_CONSTANTS)},
            post_init=randomize))

    out.append(Spec(
        "ssagan_D.ndf3_c5_b1", 5200, with_sizes(ssa, _COND_DIM=5, _AFF_HIDDEN=hid, _MASK_HIDDEN=mh)(lambda: ssa.NetD(3)),
        {"img": image(1, 3, 256, 256), "sent_emb": randn(1, 5)},
        lambda net, x: (lambda f: {"features": f, "logits": net.COND_DNET(f, x["sent_emb"])})(net(x["img"])),
        {"tests": "SSA-GAN NetD + COND_DNET at ndf 3, sentence 5, batch 1.",
         "source": src(SSAGAN_REPO, SSAGAN_COMMIT, "NetD"),
         "config_used": {"ndf": 3, "cond_dim": 5, "batch": 1},
         "constructor_call": "NetD(ndf=3) with _COND_DIM=5", "forward_call": "f = netD(img); logits = netD.COND_DNET(f, sent_emb)",
         "meaning": {"img": "(B, 3, 256, 256) in [-1,1]", "features": "(B, 16*ndf, 4, 4)", "logits": "(B, 1, 1, 1)"},
         "released_checkpoint_layout": ssa_layout, "notes": [], "patches": patch_words(SSAGAN_PATCH, SSAGAN_CONSTANTS)},
        post_init=randomize))

    out.append(Spec(
        "sema_G.ngf2_nz6_c10_h9_b1", 5300,
        with_sizes(sema, _AFF_IN=6 + 10, _AFF_HIDDEN=9)(lambda: sema.NetG(2, 6)),
        {"noise": randn(1, 6), "sent_emb": randn(1, 10)}, lambda net, x: {"img": net(x["noise"], x["sent_emb"])},
        {"tests": "SEMA NetG at other widths (nz 6, sentence 10, affine hidden 9), batch 1.",
         "source": src(SEMA_REPO, SEMA_COMMIT, "NetG"),
         "config_used": {"ngf": 2, "nz": 6, "cond_dim": 10, "affine_in": 16, "affine_hidden": 9, "imsize": 256, "batch": 1},
         "constructor_call": "NetG(ngf=2, nz=6) with _AFF_IN=16, _AFF_HIDDEN=9",
         "forward_call": "img = netG(noise, sent_emb)",
         "meaning": {"noise": "z, (B, nz)", "sent_emb": "(B, cond_dim)", "img": "(B, 3, 256, 256) in [-1,1]"},
         "released_checkpoint_layout": sema_layout, "notes": [], "patches": patch_words(SEMA_PATCH, SEMA_CONSTANTS)},
        affine_bias_one=True, last_conv="conv_img.1",
        post_init=lambda net, gen: randomize(net, gen, affine_bias_one=True)))

    out.append(Spec(
        "sema_resD.same_ch_b3", 5400, lambda: sema.resD(6, 6), {"x": randn(3, 6, 8, 6)},
        lambda net, x: {"out": net(x["x"])},
        {"tests": "SEMA resD with fin == fout: conv_s exists but is unused; batch 3, 8x6 map.",
         "source": src(SEMA_REPO, SEMA_COMMIT, "resD"),
         "config_used": {"fin": 6, "fout": 6, "downsample": True, "batch": 3, "spatial": [8, 6]},
         "constructor_call": "resD(fin=6, fout=6, downsample=True)", "forward_call": "out = resD(x)",
         "meaning": {"x": "(B, fin, H, W)", "out": "(B, fout, H/2, W/2)"},
         "released_checkpoint_layout": "SEMA released no discriminator weights.", "notes": [],
         "patches": patch_words(SEMA_PATCH, SEMA_CONSTANTS)},
        post_init=randomize))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ssagan-code", required=True, type=Path, help="folder with model.py and sync_batchnorm/ of 3063e27")
    ap.add_argument("--sema-code", required=True, type=Path, help="folder with model.py of 97b227e")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ssa = load_patched("official_ssagan_model", args.ssagan_code / "model.py", SSAGAN_PATCH, SSAGAN_CONSTANTS,
                       BLOB["ssagan/model.py"], search_path=args.ssagan_code)
    sema = load_patched("official_sema_model", args.sema_code / "model.py", SEMA_PATCH, SEMA_CONSTANTS,
                        BLOB["sema/model.py"])
    env = {"torch_version": torch.__version__, "python": platform.python_version(),
           "official_files_git_blob_sha1": {f"{SSAGAN_REPO}@3063e27:model.py": BLOB["ssagan/model.py"],
                                            f"{SEMA_REPO}@97b227e:model.py": BLOB["sema/model.py"]}}
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in specs(ssa, sema):
        if args.only and spec.fid not in args.only:
            continue
        path = build(spec, args.out, env)
        meta_path = args.out / f"{spec.fid}.json"
        meta = json.loads(meta_path.read_text())
        meta["made_by"] = "tests/data/parity_extra/make_fixtures_ssagan_sema.py"
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"{path.name:45s} {path.stat().st_size:>9d} bytes")


if __name__ == "__main__":
    main()
