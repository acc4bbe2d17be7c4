"""Read every legacy format textgan converts, without its framework: a DF-GAN ``.pth`` training dict, a
Python 2 ``captions.pickle``, a Lua Torch7 ``.t7`` module, TensorFlow checkpoints (V1 and V2) and TensorLayer
``.npz`` files. Then a whole DF-GAN release becomes a pipeline folder, as ``textgan convert dfgan`` does.

    python examples/convert_legacy_formats.py --fast     # CI: small files written in a temporary folder

The small files are made here (the Torch7 and TensorFlow ones with the test writers in ``tests/convert/``, which
write the frameworks' byte formats); with real releases, pass your files to the same calls.
"""
import argparse
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import textgan
from textgan.convert import (from_lua_module, from_official, pipeline_from_official, read_tensorlayer_npz,
                             read_tensorlayer_params, read_tf_checkpoint, read_torch7)
from textgan.errors import UnsafePickleError
from textgan.text import load_captions_pickle

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "convert"))  # the test writers of the Torch7 and TF byte formats


def dfgan_release(folder: Path):
    """A DF-GAN 2022 ``state_epoch_*.pth`` (DDP ``module.`` keys), a DAMSM encoder and a Python 2 captions pickle."""
    torch.manual_seed(0)
    G = textgan.create_model("dfgan", ngf=4, nz=8, cond_dim=16, imsize=64)
    D = textgan.create_model("dfgan_discriminator", ndf=4, imsize=64)
    C = textgan.create_model("dfgan_condition_head", ndf=4, cond_dim=16)
    ddp = lambda m: {f"module.{k}": v for k, v in m.state_dict().items()}  # noqa: E731
    torch.save({"model": {"netG": ddp(G), "netD": ddp(D), "netC": ddp(C)}, "optimizers": {}, "epoch": 1220},
               folder / "state_epoch_1220.pth")
    words = ["<end>", "a", "small", "red", "bird", "with", "black", "wings"]
    encoder = textgan.create_model("damsm_text_encoder", vocab_size=len(words), embedding_dim=8, hidden_dim=16)
    torch.save(encoder.state_dict(), folder / "text_encoder200.pth")
    ixtoword = dict(enumerate(words))
    train, test = [[1, 2, 3, 4]], [[1, 4, 5, 6, 7]]  # captions as word indices
    with open(folder / "captions_DAMSM.pickle", "wb") as f:  # [train, test, ixtoword, wordtoix], Python 2's protocol
        pickle.dump([train, test, ixtoword, {w: i for i, w in ixtoword.items()}], f, protocol=2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="(the run is always small; accepted for CI)")
    parser.add_argument("--workdir", help="where to write the small files (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="textgan-legacy-"))
    work.mkdir(parents=True, exist_ok=True)

    # 1. PyTorch .pth as the authors saved it: torch.load(weights_only=True), module. stripped, sizes inferred
    dfgan_release(work)
    G = from_official("dfgan", work / "state_epoch_1220.pth")
    print("DF-GAN .pth      ->", type(G).__name__, G.config)

    # 2. Python 2 pickle: a restricted unpickler (no code runs); a pickle that asks for code is refused
    train, test, vocab = load_captions_pickle(work / "captions_DAMSM.pickle")
    print("captions.pickle  ->", len(vocab), "words, first train caption:", " ".join(vocab.decode(train[0])))
    (work / "evil.pickle").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    try:
        load_captions_pickle(work / "evil.pickle")
    except UnsafePickleError as e:
        print("evil.pickle      -> refused:", str(e).splitlines()[0][:100])

    # 3. Lua Torch7 .t7: read the object tree, then turn an nn module into PyTorch
    import t7_writer as t7

    rng = np.random.default_rng(0)
    net = t7.sequential(t7.linear(rng.standard_normal((4, 3)).astype(np.float32), np.zeros(4, np.float32)),
                        t7.simple("ReLU"), cuda=False)
    t7.write(net, work / "net.t7")
    lua = read_torch7(work / "net.t7")
    module = from_lua_module(lua)
    print("Torch7 .t7       ->", lua.typename, "->", module, "output", tuple(module(torch.randn(2, 3)).shape))

    # 4. TensorFlow checkpoints, V2 (.index + .data) and V1 (one file), read lazily
    import tf_writer as tfw

    values = {"g_net/fc/weights": rng.standard_normal((8, 4)).astype(np.float32),
              "g_net/fc/biases": np.zeros(4, np.float32), "global_step": np.array(42, np.int64)}
    tfw.write_v2(work / "model.ckpt-42", values)
    tfw.write_v1(work / "model_100.ckpt", values)
    for name in ("model.ckpt-42", "model_100.ckpt"):
        ckpt = read_tf_checkpoint(work / name)
        shapes = {k: tuple(np.shape(ckpt[k])) for k in sorted(ckpt)}
        print(f"TF {name:14s}->", shapes)

    # 5. TensorLayer .npz: save_npz (a positional list) and save_npz_dict (names)
    params = [rng.standard_normal((3, 3, 3, 8)).astype(np.float32), np.zeros(8, np.float32)]
    arr = np.empty(len(params), dtype=object)
    arr[:] = params
    np.savez(work / "net_g.npz", params=arr)
    named = {"generator/conv1/W_conv2d:0": params[0], "generator/conv1/b_conv2d:0": params[1]}
    np.savez(work / "net_g_dict.npz", **named)
    print("TensorLayer npz  ->", [tuple(p.shape) for p in read_tensorlayer_params(work / "net_g.npz")],
          sorted(read_tensorlayer_npz(work / "net_g_dict.npz")))

    # 6. A whole release -> a pipeline folder (what `textgan convert dfgan ...` writes) -> generate
    pipe = pipeline_from_official("dfgan", work / "state_epoch_1220.pth", text_encoder=work / "text_encoder200.pth",
                                  captions=work / "captions_DAMSM.pickle")
    folder = pipe.save_pretrained(work / "dfgan-birds")
    again = textgan.load_pretrained(folder)
    image = again("a small red bird", generator=torch.Generator().manual_seed(0), progress=False).images[0]
    print("pipeline folder  ->", sorted(p.name for p in Path(folder).iterdir()), "image", image.size)


if __name__ == "__main__":
    main()
