#!/usr/bin/env python
"""Make the StackGAN-v2 (StackGAN++) parity fixtures in this folder by running the AUTHORS' code.

The official code is NOT part of this repository and is never imported from it. Extract it yourself:

    git -C <mirror of hanzhanggit/StackGAN-v2> show 6228e34:code/model.py > /work/official/stackgan2/code/model.py

    python tests/data/parity_extra/make_fixtures_stackgan_v2.py --code /work/official/stackgan2/code [--out DIR]

``model.py`` must be unmodified (blob id checked). The global ``cfg`` and the torchvision stub come from
``make_keys_stackgan_v2.load_official`` (model.py is re-imported for each fixture, since ``NEXT_STAGE_G``'s
default ``num_residual`` is read from the cfg at import); the init is that of the StackGAN v1 fixtures
(``make_fixtures_stackgan.init``). As for every StackGAN fixture, ``CA_NET.reparametrize`` is replaced by the
same arithmetic with an injected ε (``eps.mul(logvar.mul(0.5).exp_()).add_(mu)``, input ``eps``).
"""
import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures_stackgan import init  # noqa: E402
from make_keys_stackgan_v2 import BLOB, REPO, load_official  # noqa: E402

SPECS = [  # id, module, cfg (EMBEDDING_DIM, GF/DF_DIM, Z_DIM, R_NUM, B_CONDITION, BRANCH_NUM, TEXT), batch, seed
    ("stackgan_v2_G.cond_gf4_e6_z5_t12_r2_br3_b1", "G", dict(GF_DIM=4, EMBEDDING_DIM=6, Z_DIM=5, TEXT=12, R_NUM=2,
                                                             B_CONDITION=True, BRANCH_NUM=3), 1, 601),
    ("stackgan_v2_G.uncond_gf4_z7_r1_br3_b1", "G", dict(GF_DIM=4, Z_DIM=7, R_NUM=1, B_CONDITION=False,
                                                        BRANCH_NUM=3), 1, 602),
    ("stackgan_v2_G.cond_gf6_e5_z4_t9_r0_br2_b3", "G", dict(GF_DIM=6, EMBEDDING_DIM=5, Z_DIM=4, TEXT=9, R_NUM=0,
                                                            B_CONDITION=True, BRANCH_NUM=2), 3, 603),
    ("stackgan_v2_G.uncond_gf3_z6_br1_b4", "G", dict(GF_DIM=3, Z_DIM=6, B_CONDITION=False, BRANCH_NUM=1), 4, 604),
    ("stackgan_v2_D.im64_cond_df3_e5_b4", 64, dict(DF_DIM=3, EMBEDDING_DIM=5, B_CONDITION=True), 4, 611),
    ("stackgan_v2_D.im64_uncond_df4_b3", 64, dict(DF_DIM=4, B_CONDITION=False), 3, 612),
    ("stackgan_v2_D.im128_uncond_df2_b2", 128, dict(DF_DIM=2, B_CONDITION=False), 2, 613),
    ("stackgan_v2_D.im128_cond_df2_e4_b1", 128, dict(DF_DIM=2, EMBEDDING_DIM=4, B_CONDITION=True), 1, 614),
    ("stackgan_v2_D.im256_cond_df2_e7_b1", 256, dict(DF_DIM=2, EMBEDDING_DIM=7, B_CONDITION=True), 1, 615),
]
_DEFAULTS = dict(EMBEDDING_DIM=128, DF_DIM=64, GF_DIM=64, Z_DIM=100, R_NUM=2, B_CONDITION=True, BRANCH_NUM=3,
                 TEXT=1024)


def make(code, fid, kind, spec, batch, seed):
    c = {**_DEFAULTS, **spec}
    model, cfg = load_official(code, c)
    queue = []

    def reparametrize(self, mu, logvar):  # the official arithmetic, with the fixture's ε
        return queue.pop(0).mul(logvar.mul(0.5).exp_()).add_(mu)

    model.CA_NET.reparametrize = reparametrize
    torch.manual_seed(seed)
    ig = torch.Generator().manual_seed(seed + 1000)
    cond = c["B_CONDITION"]
    if kind == "G":
        ctor = model.G_NET
        inputs = {"z_code": torch.randn(batch, c["Z_DIM"], generator=ig)}
        if cond:
            inputs["text_embedding"] = torch.randn(batch, c["TEXT"], generator=ig)
            inputs["eps"] = torch.randn(batch, c["EMBEDDING_DIM"], generator=ig)

        def forward(net, x):
            queue[:] = [x["eps"]] if cond else []
            imgs, mu, logvar = net(x["z_code"], x.get("text_embedding"))
            out = {f"fake_img_{im.shape[-1]}": im for im in imgs}
            if cond:
                out.update(mu=mu, logvar=logvar)
            return out
        net = ctor()
        heads = [getattr(net, f"img_net{k}").img[0] for k in range(1, c["BRANCH_NUM"] + 1)]
        init(net, seed, heads, lambda: forward(net, inputs))
    else:
        ctor = getattr(model, f"D_NET{kind}")
        inputs = {"image": torch.rand(batch, 3, kind, kind, generator=ig) * 2 - 1}
        if cond:
            inputs["c_code"] = torch.randn(batch, c["EMBEDDING_DIM"], generator=ig)

        def forward(net, x):
            if not cond:
                return {"logits": net(x["image"])[0]}
            out = net(x["image"], x["c_code"])
            # the original's quirk: a conditional D called without c puts its conditional head on the image code
            return {"cond_logits": out[0], "uncond_logits": out[1], "logits_without_c": net(x["image"])[0]}
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
    return state, inputs, outputs, diffs, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=Path, required=True, help="folder holding the authors' code/model.py")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for fid, kind, spec, batch, seed in SPECS:
        state, inputs, outputs, diffs, c = make(args.code, fid, kind, spec, batch, seed)
        name = "G_NET()" if kind == "G" else f"D_NET{kind}()"
        tensors = {f"state/{k}": v.contiguous() for k, v in state.items()}
        tensors.update({f"input/{k}": v.contiguous() for k, v in inputs.items()})
        tensors.update({f"output/{k}": v.contiguous() for k, v in outputs.items()})
        path = args.out / f"{fid}.safetensors"
        save_file(tensors, str(path), metadata={"format": "textgan-parity-v1", "fixture_id": fid})
        forward = ("imgs, mu, logvar = G_NET(z_code[, text_embedding])" if kind == "G" else
                   "[cond, uncond] = D(image, c_code); [logits_without_c, _] = D(image)" if c["B_CONDITION"]
                   else "[logits] = D(image)")
        meta = {"id": fid, "prefix": fid.split(".")[0], "source": f"{REPO[0]}@{REPO[1]}:code/model.py:{name[:-2]}",
                "cfg_used": {("TEXT.DIMENSION" if k == "TEXT" else f"TREE.{k}" if k == "BRANCH_NUM" else f"GAN.{k}"): v
                             for k, v in c.items()} | {"CUDA": False},
                "constructor": f"{name}  # reads the module-global cfg above", "forward_call": forward,
                "noise_injection": "CA_NET.reparametrize replaced: eps.mul(logvar.mul(0.5).exp_()).add_(mu) with "
                                   "input/eps" if kind == "G" and c["B_CONDITION"] else "none",
                "init": f"torch.manual_seed({seed}); construct; make_fixtures_stackgan.init "
                        f"(Generator seed {seed + 1})",
                "inputs": {k: list(v.shape) for k, v in inputs.items()},
                "outputs": {k: list(v.shape) for k, v in outputs.items()},
                "mode": "eval() + torch.no_grad(), one thread",
                "verify": {"method": "reloaded into a fresh official module, load_state_dict(strict=True), same "
                                     "forward", "max_abs_diff": diffs},
                "torch_version": torch.__version__, "python": platform.python_version(),
                "official_files_git_blob_sha1": BLOB, "made_by": "tests/data/parity_extra/make_fixtures_stackgan_v2.py",
                "file": {"name": path.name, "bytes": path.stat().st_size,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        print(f"{fid}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
