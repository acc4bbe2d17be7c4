"""`textgan convert` on files in the authors' layouts, then `textgan generate`, and the errors on bad input."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATASETS_DIR, PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.text import Vocabulary  # noqa: E402

CUB_CAPTIONS = DATASETS_DIR / "cub" / "captions.pickle"
COCO_CAPTIONS = DATASETS_DIR / "coco" / "captions.pickle"


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


def _damsm_state(vocab_size, hidden, seed=0):
    torch.manual_seed(seed)
    enc = textgan.create_model("damsm_text_encoder", vocab_size=vocab_size, hidden_dim=hidden)
    return enc.state_dict()


def _adam_state(params):
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.0, 0.9))
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    return opt.state_dict()


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    """DF-GAN 2022 state_epoch file (DDP `module.` keys, optimizers, epoch) + a DAMSM text_encoder*.pth."""
    folder = tmp_path_factory.mktemp("official")
    g, _, _ = _fixture("dfgan_G")
    d, _, _ = _fixture("dfgan_D")
    c, _, _ = _fixture("dfgan_C")
    prefixed = lambda sd: {"module." + k: v for k, v in sd.items()}  # noqa: E731
    params_g = [torch.nn.Parameter(v.clone()) for v in g.values()]
    params_d = [torch.nn.Parameter(v.clone()) for v in list(d.values()) + list(c.values())]
    torch.save({"model": {"netG": prefixed(g), "netD": prefixed(d), "netC": prefixed(c)},
                "optimizers": {"optimizer_G": _adam_state(params_g), "optimizer_D": _adam_state(params_d)},
                "epoch": 1220}, folder / "state_epoch_1220.pth")
    cond_dim = g["GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight"].shape[1] - g["fc.weight"].shape[1]
    vocab = Vocabulary.from_captions_pickle(CUB_CAPTIONS)
    torch.save(_damsm_state(len(vocab), cond_dim), folder / "text_encoder200.pth")
    g2020, _, _ = _fixture("dfgan2020_G")
    torch.save(g2020, folder / "netG.pth")
    return folder


@pytest.fixture(scope="module")
def converted(official_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "dfgan-tiny"
    rc = main(["convert", "dfgan", str(official_files / "state_epoch_1220.pth"),
               "--text-encoder", str(official_files / "text_encoder200.pth"), "--captions", str(CUB_CAPTIONS),
               "--tag", "dfgan-birds", "-o", str(out)])
    assert rc == 0
    return out


def test_convert_writes_a_complete_folder(converted):
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "model.safetensors", "text_encoder.safetensors", "discriminator.safetensors",
            "condition_head.safetensors", "vocab.json", "README.md"} <= names
    assert not [n for n in names if n.endswith(".tmp")]


def test_converted_generator_reproduces_the_official_outputs(converted):
    pipe = textgan.load_pretrained(converted, with_discriminator=True)
    _, inputs, outputs = _fixture("dfgan_G")
    with torch.no_grad():
        img = pipe.generator(inputs["noise"], inputs["sent_emb"])
    torch.testing.assert_close(img, outputs["img"], atol=1e-5, rtol=1e-4)
    _, inputs, outputs = _fixture("dfgan_D")
    with torch.no_grad():
        torch.testing.assert_close(pipe.discriminator(inputs["img"]), outputs["features"], atol=1e-5, rtol=1e-4)


def test_cli_generate_writes_images(converted, tmp_path, capsys):
    out = tmp_path / "bird.png"
    assert main(["generate", "a small bird with a red head", "--model", str(converted), "--seed", "0",
                 "-o", str(out), "-q"]) == 0
    image = Image.open(out)
    assert image.size == (256, 256) and image.mode == "RGB"
    folder = tmp_path / "many"
    assert main(["generate", "a small bird", "this bird is white", "--model", str(converted), "-n", "2",
                 "--seed", "1", "-o", str(folder), "-q"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["000_00.png", "000_01.png", "001_00.png", "001_01.png"]


def test_console_script_runs_as_a_subprocess(converted, tmp_path):
    out = tmp_path / "sub.png"
    result = subprocess.run([sys.executable, "-m", "textgan", "generate", "a bird", "--model", str(converted),
                             "--seed", "3", "-o", str(out), "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (256, 256)


def test_cli_list(capsys):
    assert main(["list"]) == 0
    assert "dfgan2020_discriminator" in capsys.readouterr().out
    assert main(["list", "--pretrained"]) == 0
    assert "dfgan-birds" in capsys.readouterr().out


def test_convert_2020_bare_generator(official_files, tmp_path):
    g, inputs, outputs = _fixture("dfgan2020_G")
    cond = g["block0.affine0.fc_gamma.linear1.weight"].shape[1]
    vocab = Vocabulary.from_captions_pickle(CUB_CAPTIONS)
    torch.save(_damsm_state(len(vocab), cond), tmp_path / "te.pth")
    assert main(["convert", "dfgan2020", str(official_files / "netG.pth"), "--text-encoder", str(tmp_path / "te.pth"),
                 "--captions", str(CUB_CAPTIONS), "-o", str(tmp_path / "out")]) == 0
    pipe = textgan.load_pretrained(tmp_path / "out")
    assert pipe.truncation is None  # 2020 samples plain normal noise
    with torch.no_grad():
        torch.testing.assert_close(pipe.generator(inputs["noise"], inputs["sent_emb"]), outputs["img"],
                                   atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------------------- bad input


def _convert(args, capsys):
    rc = main(["convert"] + [str(a) for a in args])
    return rc, capsys.readouterr().err


def test_convert_errors_name_the_file(official_files, tmp_path, capsys):
    te = official_files / "text_encoder200.pth"
    # a checkpoint of another architecture
    rc, err = _convert(["dfgan", official_files / "netG.pth", "--text-encoder", te, "--captions", CUB_CAPTIONS,
                        "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "netG.pth" in err
    assert "dfgan2020" in err
    # truncated
    data = (official_files / "state_epoch_1220.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    rc, err = _convert(["dfgan", tmp_path / "cut.pth", "--text-encoder", te, "--captions", CUB_CAPTIONS,
                        "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "cut.pth" in err and "truncated" in err
    # not a checkpoint at all
    (tmp_path / "notes.pth").write_text("these are not weights\n")
    rc, err = _convert(["dfgan", tmp_path / "notes.pth", "--text-encoder", te, "--captions", CUB_CAPTIONS,
                        "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "notes.pth" in err
    # a vocabulary that does not match the encoder
    rc, err = _convert(["dfgan", official_files / "state_epoch_1220.pth", "--text-encoder", te,
                        "--captions", COCO_CAPTIONS, "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "captions.pickle" in err and "text_encoder200.pth" in err
    # the text encoder in place of the generator
    rc, err = _convert(["dfgan", te, "--text-encoder", te, "--captions", CUB_CAPTIONS, "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "text_encoder200.pth" in err
    # missing file
    rc, err = _convert(["dfgan", tmp_path / "nope.pth", "--text-encoder", te, "--captions", CUB_CAPTIONS,
                        "-o", tmp_path / "x"], capsys)
    assert rc == 2 and "nope.pth" in err
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_pickled_code_in_a_checkpoint_is_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    torch.save({"model": {"netG": Evil()}}, tmp_path / "evil.pth")
    with pytest.raises(textgan.errors.UnsafePickleError, match="evil.pth"):
        textgan.convert.from_official("dfgan", tmp_path / "evil.pth")
    assert not marker.exists()


def test_generate_rejects_empty_and_unknown_prompts(converted, tmp_path, capsys):
    pipe = textgan.load_pretrained(converted)
    with pytest.raises(textgan.errors.EmptyPromptError, match="prompt 0"):
        pipe("")
    with pytest.raises(textgan.errors.EmptyPromptError, match="zzzqqq"):
        pipe(["a bird", "zzzqqq xxyyzz"])
    with pytest.raises(textgan.errors.EmptyPromptError):
        pipe([])
    rc = main(["generate", "   ", "--model", str(converted), "-o", str(tmp_path / "e.png")])
    assert rc == 2 and "prompt" in capsys.readouterr().err


def test_load_rejects_a_vocabulary_that_does_not_fit(converted, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(converted, broken)
    Vocabulary.from_captions_pickle(COCO_CAPTIONS).save(broken / "vocab.json")
    with pytest.raises(textgan.errors.VocabularyError, match="vocab.json"):
        textgan.load_pretrained(broken)


def test_load_rejects_truncated_or_mismatched_weights(converted, tmp_path):
    import json
    import shutil

    broken = tmp_path / "truncated"
    shutil.copytree(converted, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(textgan.errors.CheckpointError, match="model.safetensors"):
        textgan.load_pretrained(broken)
    other = tmp_path / "other"
    shutil.copytree(converted, other)
    config = json.loads((other / "config.json").read_text())
    config["components"]["generator"]["config"]["ngf"] = 5
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(textgan.errors.StateDictMismatchError, match="model.safetensors") as info:
        textgan.load_pretrained(other)
    assert info.value.mismatched


def test_load_rejects_a_folder_that_is_not_a_pipeline(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        textgan.load_pretrained(tmp_path)
