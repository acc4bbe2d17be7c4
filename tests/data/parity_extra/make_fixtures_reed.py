#!/usr/bin/env python
"""Make the char-CNN-RNN and GAN-INT-CLS extra parity fixtures in this folder by running the AUTHORS' PyTorch code.

The official code is NOT part of this repository and is never imported from it. Extract it yourself:

    git -C <mirror of martinduartemore/char_cnn_rnn_pytorch> archive f44f613 char_cnn_rnn utils.py \
        | tar -x -C /work/official/reed/mdm
    git -C <mirror of bojito/text-to-image-synthesis> archive 40aa60f models/gan_model.py | tar -x -C /work/official/reed/boj

    python make_fixtures_reed.py --mdm /work/official/reed/mdm --boj /work/official/reed/boj [--out DIR]

The files must be unmodified (their git blob ids are checked). As for the shared fixtures, the hard-coded widths
become constructor arguments whose defaults are the official values (applied in memory):
``char_cnn_rnn(dataset, model_type, conv1_dim=384, conv2_dim=512, rnn_dim_override=None, emb_dim=1024)`` and
``generator(ngf=64)`` / ``discriminator(ndf=64)``. Text inputs are made with the port's own ``str_to_labelvec`` and
``prepare_text`` from strings with capitals, digits, punctuation and characters outside the alphabet.
"""
import argparse
import hashlib
import importlib.util
import json
import platform
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

MDM = ("martinduartemore/char_cnn_rnn_pytorch", "f44f613d330f94f9d351060c07a848ba6df590d9")
BOJ = ("bojito/text-to-image-synthesis", "40aa60f2c1e44c29079e2f2c1ca453bf3153d9ab")
BLOB = {"char_cnn_rnn/char_cnn_rnn.py": "f1012bf8b8243d974a3003454bb1627e3c1123c3",
        "char_cnn_rnn/net_modules/fixed_gru.py": "489f84df0da05f2527ed4a70b1708a91e97a7522",
        "char_cnn_rnn/net_modules/fixed_rnn.py": "a25d65bd83df342d921fd52fe1dc69ef7d768718",
        "models/gan_model.py": "5b180824beea422885f00ff239ed6b537be65710"}
MDM_PATCH = [
    ("def __init__(self, dataset, model_type):",
     "def __init__(self, dataset, model_type, conv1_dim=384, conv2_dim=512, rnn_dim_override=None, emb_dim=1024):", 1),
    ("        self.dataset = dataset\n", "        rnn_dim = rnn_dim_override or rnn_dim\n        self.dataset = dataset\n", 1),
    ("nn.Conv1d(70, 384, kernel_size=4)", "nn.Conv1d(70, conv1_dim, kernel_size=4)", 1),
    ("nn.Conv1d(384, 512, kernel_size=4)", "nn.Conv1d(conv1_dim, conv2_dim, kernel_size=4)", 1),
    ("nn.Conv1d(512, rnn_dim, kernel_size=4)", "nn.Conv1d(conv2_dim, rnn_dim, kernel_size=4)", 1),
    ("nn.Linear(rnn_dim, 1024)", "nn.Linear(rnn_dim, emb_dim)", 1),
]
BOJ_PATCH = [
    ("\tdef __init__(self):\n\t\tsuper(generator, self).__init__()", "\tdef __init__(self, ngf=64):\n\t\tsuper(generator, self).__init__()", 1),
    ("\t\tself.ngf = 64", "\t\tself.ngf = ngf", 1),
    ("\tdef __init__(self):\n\t\tsuper(discriminator, self).__init__()", "\tdef __init__(self, ndf=64):\n\t\tsuper(discriminator, self).__init__()", 1),
    ("\t\tself.ndf = 64", "\t\tself.ndf = ndf", 1),
]
TEXTS = [
    "This Bird Has A RED Crown, 2 White Wing-Bars & a short (pointed) beak!!",
    "flower #42: petals=5; stamens>10... ~yellow~ [center] {rare} `tick` \"quoted\" 'single' a/b\\c|d_e@f$g%h^i*j+k<l>",
    "caf\u00e9 na\u00efve \u2014 emoji \U0001F33C and tab\there,\nnewline \u00dcBER",
    "0123456789 " * 20,
    "x",
    ("a" * 100) + "-" + ("b" * 100),
]


def blob(path):
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def patched(path, patch):
    src = Path(path).read_text()
    for old, new, n in patch:
        assert src.count(old) == n, (path, old)
        src = src.replace(old, new)
    return src


def load_mdm(root):
    pkg = types.ModuleType("char_cnn_rnn")
    pkg.__path__ = [str(root / "char_cnn_rnn")]
    sys.modules["char_cnn_rnn"] = pkg
    mod = types.ModuleType("char_cnn_rnn.char_cnn_rnn")
    mod.__package__ = "char_cnn_rnn"
    exec(compile(patched(root / "char_cnn_rnn/char_cnn_rnn.py", MDM_PATCH), "char_cnn_rnn.py", "exec"), mod.__dict__)
    sys.modules["char_cnn_rnn.char_cnn_rnn"] = mod
    pkg.char_cnn_rnn = mod.char_cnn_rnn
    sys.modules["torchfile"] = sys.modules.get("torchfile") or types.ModuleType("torchfile")
    spec = importlib.util.spec_from_file_location("mdm_utils", root / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)  # only for utils.init_weights
    return mod, utils


def load_boj(root):
    mod = types.ModuleType("gan_model")
    exec(compile(patched(root / "models/gan_model.py", BOJ_PATCH), "gan_model.py", "exec"), mod.__dict__)
    return mod


def char_fixture(mdm, utils, fid, dataset, model_type, widths, texts, seed):
    c1, c2, r, e = widths
    torch.manual_seed(seed)
    net = mdm.char_cnn_rnn(dataset, model_type, conv1_dim=c1, conv2_dim=c2, rnn_dim_override=r, emb_dim=e)
    net.apply(utils.init_weights)
    net.eval()
    labels = torch.stack([mdm.str_to_labelvec(s, 201) for s in texts])
    onehot = torch.stack([mdm.prepare_text(s) for s in texts])
    captured = {}
    net.rnn.register_forward_hook(lambda m, i, o: captured.update(rnn_input=i[0].clone(), rnn_output=o.clone()))
    with torch.no_grad():
        emb = net(onehot)
        batched = dict(captured)
        per, per_rnn = [], []
        for i in range(len(texts)):
            per.append(net(onehot[i:i + 1]))
            per_rnn.append(captured["rnn_output"])
    outputs = {"embedding": emb, "embedding_per_sample": torch.cat(per), "rnn_input": batched["rnn_input"],
               "rnn_output": batched["rnn_output"], "rnn_output_per_sample": torch.cat(per_rnn)}
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    meta = {
        "source": f"{MDM[0]}@{MDM[1]}:char_cnn_rnn/char_cnn_rnn.py:char_cnn_rnn ({dataset!r}, {model_type!r})",
        "constructor": f"char_cnn_rnn({dataset!r}, {model_type!r}, conv1_dim={c1}, conv2_dim={c2}, "
                       f"rnn_dim_override={r}, emb_dim={e})",
        "init": f"torch.manual_seed({seed}); construct; net.apply(utils.init_weights) (the port's uniform(-0.08, 0.08))",
        "forward_call": "net.eval(); torch.no_grad(); net(input/onehot) on the whole batch, and net(onehot[i:i+1]) per sample",
        "inputs": {"texts (not stored as tensor)": texts,
                   "labels": "int64 (B, 201): char_cnn_rnn.str_to_labelvec(s, 201) (lower-cased, unknown -> space)",
                   "onehot": "float32 (B, 70, 201): torch.stack([char_cnn_rnn.prepare_text(s) for s in texts])"},
        "outputs": {"embedding": "batched call", "embedding_per_sample": "one call per sample",
                    "rnn_input": "input of net.rnn (batched)", "rnn_output": "output of net.rnn (batched)",
                    "rnn_output_per_sample": "output of net.rnn, one call per sample"},
        "batch_dependence": {"max_abs_diff(embedding, embedding_per_sample)":
                             float((outputs["embedding"] - outputs["embedding_per_sample"]).abs().max())},
        "patches": [f"{a!r} -> {b!r}" for a, b, _ in MDM_PATCH],
    }
    return state, {"labels": labels, "onehot": onehot}, outputs, meta, (lambda: mdm.char_cnn_rnn(
        dataset, model_type, conv1_dim=c1, conv2_dim=c2, rnn_dim_override=r, emb_dim=e))


def gan_fixture(boj, fid, part, width, batch, seed):
    torch.manual_seed(seed)
    net = boj.generator(ngf=width) if part == "G" else boj.discriminator(ndf=width)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                m.weight.normal_(0.0, 0.02, generator=g)
            elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.normal_(1.0, 0.02, generator=g)
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.uniform_(0.5, 2.0, generator=g)
    net.eval()
    ig = torch.Generator().manual_seed(seed + 2)
    embed = 0.3 * torch.randn(batch, 1024, generator=ig)
    with torch.no_grad():
        if part == "G":
            inputs = {"embed": embed, "z": torch.randn(batch, 100, 1, 1, generator=ig)}
            outputs = {"image": net(inputs["embed"], inputs["z"])}
        else:
            inputs = {"image": torch.rand(batch, 3, 64, 64, generator=ig) * 2 - 1, "embed": embed}
            score, feat = net(inputs["image"], inputs["embed"])
            outputs = {"score": score, "features": feat}
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    cls = "generator" if part == "G" else "discriminator"
    meta = {"source": f"{BOJ[0]}@{BOJ[1]}:models/gan_model.py:{cls}",
            "constructor": f"{cls}({'ngf' if part == 'G' else 'ndf'}={width})",
            "init": (f"torch.manual_seed({seed}); construct; with torch.Generator seed {seed + 1}: conv weights "
                     "N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0.1*N(0,1), running_mean 0.2*N(0,1), "
                     "running_var U(0.5, 2); Linear layers keep the PyTorch default"),
            "forward_call": "G.eval(); G(input/embed, input/z)" if part == "G" else "D.eval(); score, features = D(input/image, input/embed)",
            "inputs": {k: f"{tuple(v.shape)}" for k, v in inputs.items()},
            "outputs": {k: f"{tuple(v.shape)}" for k, v in outputs.items()},
            "patches": [f"{a!r} -> {b!r}" for a, b, _ in BOJ_PATCH]}
    return state, inputs, outputs, meta, (lambda: boj.generator(ngf=width) if part == "G" else boj.discriminator(ndf=width))


def write(out, fid, state, inputs, outputs, meta, make, forward):
    net = make()  # verification: reload into a fresh official module
    net.load_state_dict(state, strict=True)
    net.eval()
    with torch.no_grad():
        again = forward(net, inputs)
    diffs = {k: float((again[k] - outputs[k]).abs().max()) for k in again}
    assert all(d == 0.0 for d in diffs.values()), (fid, diffs)
    tensors = {f"state/{k}": v.contiguous() for k, v in state.items()}
    tensors.update({f"input/{k}": v.contiguous() for k, v in inputs.items()})
    tensors.update({f"output/{k}": v.contiguous() for k, v in outputs.items()})
    path = out / f"{fid}.safetensors"
    save_file(tensors, str(path), metadata={"format": "textgan-parity-v1", "fixture_id": fid})
    meta = {"id": fid, "prefix": fid.split(".")[0], **meta, "verify": {"method": "reloaded into a fresh official "
            "module, load_state_dict(strict=True), same forward", "max_abs_diff": diffs},
            "torch_version": torch.__version__, "python": platform.python_version(),
            "official_files_git_blob_sha1": BLOB, "made_by": "tests/data/parity_extra/make_fixtures_reed.py",
            "file": {"name": path.name, "bytes": path.stat().st_size,
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"{fid}: {path.stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mdm", type=Path, required=True)
    ap.add_argument("--boj", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    for rel, sha in BLOB.items():
        root = args.boj if rel.startswith("models/") else args.mdm
        assert blob(root / rel) == sha, f"{root / rel} is not the official file"
    torch.set_num_threads(1)
    mdm, utils = load_mdm(args.mdm)
    boj = load_boj(args.boj)
    char_specs = [
        ("charcnnrnn_cvpr.c24_40_r20_e64_b6", "flowers", "cvpr", (24, 40, 20, 64), TEXTS, 11),
        ("charcnnrnn_icml_birds.c20_36_r24_e48_b4", "birds", "icml", (20, 36, 24, 48), TEXTS[:4], 12),
        ("charcnnrnn_icml_birds.c16_16_r12_e32_b1", "birds", "icml", (16, 16, 12, 32), TEXTS[2:3], 13),
        ("charcnnrnn_icml_flowers.c16_32_r28_e40_b3", "flowers", "icml", (16, 32, 28, 40), TEXTS[3:], 14),
    ]

    def char_forward(net, inputs):
        with torch.no_grad():
            return {"embedding_per_sample": torch.cat([net(inputs["onehot"][i:i + 1])
                                                       for i in range(inputs["onehot"].shape[0])])}

    for fid, ds, mt, widths, texts, seed in char_specs:
        state, inputs, outputs, meta, make = char_fixture(mdm, utils, fid, ds, mt, widths, texts, seed)
        write(args.out, fid, state, inputs, outputs, meta, make, char_forward)
    for fid, part, width, batch, seed in (("ganintcls_G.ngf8_b5", "G", 8, 5, 21), ("ganintcls_G.ngf4_b1", "G", 4, 1, 22),
                                          ("ganintcls_D.ndf8_b5", "D", 8, 5, 23), ("ganintcls_D.ndf4_b1", "D", 4, 1, 24)):
        state, inputs, outputs, meta, make = gan_fixture(boj, fid, part, width, batch, seed)

        def forward(net, inp, part=part):
            if part == "G":
                return {"image": net(inp["embed"], inp["z"])}
            score, feat = net(inp["image"], inp["embed"])
            return {"score": score, "features": feat}

        write(args.out, fid, state, inputs, outputs, meta, make, forward)


if __name__ == "__main__":
    main()
