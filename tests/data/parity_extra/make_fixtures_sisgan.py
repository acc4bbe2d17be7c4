#!/usr/bin/env python
"""Make the extra SISGAN parity fixtures in this folder by running the AUTHORS' code at other sizes.

The official code is NOT part of this repository and is never imported from it. Extract
``woozzu/dong_iccv_2017@e7f371aefb3aa2208df832ed779c16027c8f3600:model.py`` (git blob
4727113bc4bab3dd11dfbbb2006b84bba4b0eb35) yourself and apply, by hand, the same small patch the shared
fixtures used (../../../shared/parity/sisgan_*.json, "patches"); every forward stays unchanged:

* Python 3: ``range(23) + range(24, 33)`` becomes ``list(range(23)) + list(range(24, 33))``;
* ``ResidualBlock.__init__(self, c=512)``: its four literal 512 become ``c``;
* ``Generator.__init__(self, use_vgg=True, g1=128, g2=256, g3=512)``: in the plain encoder 128/256/512 become
  g1/g2/g3; in ``residual_blocks`` ``Conv2d(512 + 128, 512)``/``BatchNorm2d(512)`` become g3 + 128 / g3 and
  each ``ResidualBlock()`` becomes ``ResidualBlock(g3)``; in the decoder 512/256/128 become g3/g2/g1 (the
  128 of the text path, ``Linear(300, 128)``, stays);
* ``Discriminator.__init__(self, d1=64, d2=128, d3=256, d4=512, db=128)``: the encoder's 64/128/256/512
  become d1..d4, the residual branch's 512/128 become d4/db, the classifier's ``512 + 128``/512 become
  ``d4 + 128``/d4 (the text compression ``Linear(300, 128)`` stays).

torchvision (for ``vgg16``/``vgg16_bn``, pure Python builders only) is imported with
``torch.library.register_fake`` made a no-op, because the CPU torch wheel lacks torchvision's C ops; the
``pretrained=True`` calls are redirected to ``weights=None`` (no download), and the VGG widths are reduced by
temporarily replacing ``torchvision.models.vgg.cfgs["D"]``, as for the shared ``sisgan_G_vgg``.

    python make_fixtures_sisgan.py --sisgan-code /work/official/sisgan/patched \\
        --pythonpath /work/official/sisgan/pydeps [--out DIR] [--only ID ...]

Init as the shared fixtures: ``torch.manual_seed(seed)``, construction (the original's ``init_weights``),
then with a ``torch.Generator`` seeded 1: BatchNorm running_mean ~ 0.2·N(0,1), running_var ~ U(0.5, 2),
bias ~ 0.1·N(0,1), then every 1-D bias still exactly 0 ~ 0.05·N(0,1). The generator's internal
``torch.randn(B, 128)`` is replaced during the call by the stored ``input/z``.
"""
import argparse
import hashlib
import importlib.util
import json
import platform
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO, COMMIT, BLOB = "woozzu/dong_iccv_2017", "e7f371aefb3aa2208df832ed779c16027c8f3600", "4727113bc4bab3dd11dfbbb2006b84bba4b0eb35"
VGG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

FIXTURES = {
    # id: (kind, constructor kwargs, extra, seed)
    "sisgan_G.g8_12_20_b1_32x48": ("G", dict(use_vgg=False, g1=8, g2=12, g3=20), dict(batch=1, hw=(32, 48)), 101),
    "sisgan_G.g5_7_9_b4": ("G", dict(use_vgg=False, g1=5, g2=7, g3=9), dict(batch=4, hw=(64, 64)), 102),
    "sisgan_G_vgg.v6_10_12_20_b2_96x64": (
        "G", dict(use_vgg=True, g1=7, g2=9, g3=20),
        dict(batch=2, hw=(96, 64), cfg=[6, 6, "M", 10, 10, "M", 12, 12, 12, "M", 20, 20, 20, "M", 20, 20, 20, "M"]), 103),
    "sisgan_D.d5_7_9_11_db3_b2_128": ("D", dict(d1=5, d2=7, d3=9, d4=11, db=3), dict(batch=2, hw=(128, 128)), 104),
    "sisgan_D.d4_6_8_10_db5_b5": ("D", dict(d1=4, d2=6, d3=8, d4=10, db=5), dict(batch=5, hw=(64, 64)), 105),
    "sisgan_vse_text.e12_b5_mixed": ("T", dict(embed_ndim=12), dict(lengths=[7, 1, 3, 7, 5], width=9), 106),
    "sisgan_vse_text.e20_b1_full": ("T", dict(embed_ndim=20), dict(lengths=[6], width=6), 107),
}


def import_official(code_dir: Path, pythonpath):
    for p in pythonpath or []:
        sys.path.insert(0, p)
    real = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    try:
        import torchvision.models as tvm
    finally:
        torch.library.register_fake = real
    for name in ("vgg16", "vgg16_bn"):
        builder = getattr(tvm, name)
        setattr(tvm, name, (lambda b: lambda pretrained=False, **kw: b(weights=None, **kw))(builder))
    spec = importlib.util.spec_from_file_location("sisgan_official_model", code_dir / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, tvm


def randomize(module):
    g = torch.Generator().manual_seed(1)
    refilled = []
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(m.running_var.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        for name, p in module.named_parameters():
            if p.dim() == 1 and torch.count_nonzero(p) == 0:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
                refilled.append(name)
    return refilled


def build(official, tvm, kind, kwargs, extra, seed):
    saved = list(tvm.vgg.cfgs["D"])
    if "cfg" in extra:
        tvm.vgg.cfgs["D"] = extra["cfg"]
    try:
        torch.manual_seed(seed)
        if kind == "G":
            return official.Generator(**kwargs)
        if kind == "D":
            return official.Discriminator(**kwargs)
        return official.VisualSemanticEmbedding(**kwargs)
    finally:
        tvm.vgg.cfgs["D"] = saved


def run(official, module, kind, inputs):
    module.eval()
    with torch.no_grad():
        if kind == "G":
            calls, real = [], torch.randn

            def fake(*shape, **kw):
                calls.append(tuple(shape))
                return inputs["z"].clone()

            torch.randn = fake
            try:
                image, (mu, log_sigma) = module(inputs["image"], inputs["txt_feat"])
            finally:
                torch.randn = real
            assert calls == [tuple(inputs["z"].shape)], calls
            return {"image": image, "z_mean": mu, "z_log_stddev": log_sigma}
        if kind == "D":
            return {"logit": module(inputs["image"], inputs["txt_feat"])}
        gru, desc, lengths = module.txt_encoder, inputs["word_vectors"], inputs["lengths"]
        # train.py preprocess(): sort by length, pack, final hidden, squeeze, restore the order
        order = torch.argsort(lengths, descending=True, stable=True)
        back = torch.argsort(order)
        packed = torch.nn.utils.rnn.pack_padded_sequence(desc[order].transpose(0, 1), lengths[order])
        _, h = gru(packed)
        # VisualSemanticEmbedding.forward's text part: h0 = 0, every position
        _, h2 = gru(desc.transpose(0, 1), torch.zeros(1, desc.shape[0], module.embed_ndim))
        return {"txt_feat_packed": h.squeeze(0)[back], "txt_feat_unpacked": h2.squeeze(0)}


def make_inputs(kind, kwargs, extra, seed):
    g = torch.Generator().manual_seed(1000 + seed)
    if kind in ("G", "D"):
        b, (h, w) = extra["batch"], extra["hw"]
        if kind == "G" and kwargs["use_vgg"]:  # ImageNet-normalised, what train.py feeds with --use_vgg
            x = torch.rand(b, 3, h, w, generator=g)
            mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
            image = (x - mean) / std
        else:
            image = torch.rand(b, 3, h, w, generator=g) * 2 - 1
        inputs = {"image": image, "txt_feat": torch.tanh(torch.randn(b, 300, generator=g))}
        if kind == "G":
            inputs["z"] = torch.randn(b, 128, generator=g)
        return inputs
    lengths = torch.tensor(extra["lengths"], dtype=torch.int64)
    e = kwargs["embed_ndim"]
    vectors = 0.3 * torch.randn(len(lengths), extra["width"], e, generator=g)
    vectors[torch.arange(extra["width"])[None, :] >= lengths[:, None]] = 0.0  # data.py zero padding
    return {"word_vectors": vectors, "lengths": lengths}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sisgan-code", required=True, type=Path, help="folder with the patched model.py")
    ap.add_argument("--pythonpath", action="append", help="folder with torchvision (pure-Python builders)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    official, tvm = import_official(args.sisgan_code, args.pythonpath)
    for fid, (kind, kwargs, extra, seed) in FIXTURES.items():
        if args.only and fid not in args.only:
            continue
        module = build(official, tvm, kind, kwargs, extra, seed)
        refilled = randomize(module)
        state = module.state_dict()
        if kind == "T":
            state = {k: v for k, v in state.items() if k.startswith("txt_encoder.")}
        inputs = make_inputs(kind, kwargs, extra, seed)
        outputs = run(official, module, kind, inputs)
        fresh = build(official, tvm, kind, kwargs, extra, seed + 50)
        fresh.load_state_dict(state, strict=(kind != "T"))
        again = run(official, fresh, kind, inputs)
        diff = max(float((again[k] - v).abs().max()) for k, v in outputs.items())
        assert diff == 0.0, (fid, diff)
        tensors = {f"state/{k}": v.contiguous() for k, v in state.items()}
        tensors.update({f"input/{k}": v.contiguous() for k, v in inputs.items()})
        tensors.update({f"output/{k}": v.contiguous() for k, v in outputs.items()})
        path = args.out / f"{fid}.safetensors"
        save_file(tensors, str(path))
        meta = {
            "id": fid, "source": f"{REPO}@{COMMIT}:model.py", "official_blob": BLOB,
            "module": {"G": "Generator", "D": "Discriminator", "T": "VisualSemanticEmbedding.txt_encoder"}[kind],
            "config_used": {**kwargs, **{k: v for k, v in extra.items() if k != "hw"}, **(
                {"image_hw": list(extra["hw"])} if "hw" in extra else {})},
            "patches": "see make_fixtures_sisgan.py (Python 3 range fix; widths as keyword arguments with the "
                       "official defaults; forward unchanged); torchvision cfgs['D'] replaced for reduced VGG widths",
            "init": f"torch.manual_seed({seed}); construction (official init_weights); BatchNorm statistics, biases "
                    "and zero 1-D biases randomised as in the shared fixtures (generator seed 1)",
            "zero_biases_refilled": refilled,
            "forward_call": {"G": "G.eval(); no_grad; torch.randn patched to return input/z: image, (z_mean, "
                                  "z_log_stddev) = G(input/image, input/txt_feat)",
                             "D": "D.eval(); no_grad; logit = D(input/image, input/txt_feat) (squeezed)",
                             "T": "txt_feat_packed: train.py preprocess (sort, pack_padded_sequence, h_n, unsort); "
                                  "txt_feat_unpacked: GRU over every position with h0 = 0"}[kind],
            "inputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in inputs.items()},
            "outputs": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in outputs.items()},
            "verify": {"method": "fresh official module (other seed) + load_state_dict + same forward",
                       "max_abs_diff": diff},
            "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": 1},
            "file": path.name, "file_bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        print(fid, path.stat().st_size, "bytes, verified", diff)


if __name__ == "__main__":
    main()
