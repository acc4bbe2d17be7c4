"""End to end for StackGAN: an official-layout netG_epoch_90.pth (a whole STAGE2_G with STAGE1_G.* keys, as
StackGAN-Pytorch saves it) + a Reed char-CNN-RNN .t7 -> `textgan convert stackgan` -> load_pretrained -> 256 px."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import PARITY_DIR, SHARED  # noqa: E402
from convert import t7_writer as w  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import from_official  # noqa: E402
from textgan.errors import ArchitectureMismatchError  # noqa: E402
from textgan.text.charcnnrnn import CharCNNRNN  # noqa: E402

TF_TINY = SHARED / "tf" / "stackgan_tiny_v1"


def _state(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    return {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}


def _encoder_t7(path, emb_dim, seed=0):
    torch.manual_seed(seed)
    enc = CharCNNRNN(conv1_dim=10, conv2_dim=9, cnn_dim=7, emb_dim=emb_dim, rnn_type="gru", pool3=False).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.uniform_(-0.3, 0.3)
    w.write(w.sje_checkpoint(w.char_cnn_rnn_from_state(enc.state_dict(), pool3=False, gru=True)), path)
    return enc


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stackgan")
    # the 2017 file: torch 0.2 had no num_batches_tracked
    sd = {k: v for k, v in _state("stackgan_stage2_G").items() if not k.endswith("num_batches_tracked")}
    assert any(k.startswith("STAGE1_G.") for k in sd)
    torch.save(sd, tmp / "netG_epoch_90.pth")
    enc = _encoder_t7(tmp / "lm_sje_coco.t7", emb_dim=sd["ca_net.fc.weight"].shape[1])
    assert main(["convert", "stackgan", str(tmp / "netG_epoch_90.pth"), "--text-encoder", str(tmp / "lm_sje_coco.t7"),
                 "--tag", "stackgan-coco", "-o", str(tmp / "out")]) == 0
    return tmp, enc


def test_pipeline_makes_256px_images_deterministic_under_a_seed(converted):
    tmp, _ = converted
    pipe = textgan.load_pretrained(str(tmp / "out"))
    assert type(pipe).__name__ == "StackGANPipeline" and pipe.tag == "stackgan-coco"
    prompts = ["a man riding a wave on a surfboard", "a plate of food"]
    a = pipe(prompts, generator=torch.Generator().manual_seed(0), output_type="pt")
    b = pipe(prompts, generator=torch.Generator().manual_seed(0), output_type="pt", batch_size=1)
    c = pipe(prompts, generator=torch.Generator().manual_seed(1), output_type="pt")
    assert a.images.shape == (2, 3, 256, 256)
    torch.testing.assert_close(a.images, b.images, atol=1e-5, rtol=0)  # batching changes only float rounding
    assert not torch.allclose(a.images, c.images)
    pil = pipe(prompts[0], generator=torch.Generator().manual_seed(0)).images[0]
    assert pil.size == (256, 256)


def test_pipeline_image_is_the_converted_generator_on_the_drawn_noise(converted):
    tmp, enc = converted
    pipe = textgan.load_pretrained(str(tmp / "out"))
    netg = from_official("stackgan", tmp / "netG_epoch_90.pth")
    out = pipe("a red bus", generator=torch.Generator().manual_seed(3), output_type="pt")
    noise, extra = pipe._draw(1, torch.Generator().manual_seed(3), None)
    assert torch.equal(noise, out.noise)
    ids, _ = pipe.tokenizer(["a red bus"])
    with torch.no_grad():
        sent = enc(ids)[1]
        c1 = netg.STAGE1_G.ef_dim
        _, img, _, _ = netg(sent, noise, extra[:, c1:], extra[:, :c1])
    torch.testing.assert_close(out.images, img.add(1).mul(0.5).clamp(0, 1), atol=1e-5, rtol=1e-4)


def test_generation_from_precomputed_embeddings(converted):
    tmp, _ = converted
    pipe = textgan.load_pretrained(str(tmp / "out"))
    emb = np.random.RandomState(0).randn(2, 10, 1024).astype(np.float32)  # char-CNN-RNN-embeddings.pickle layout
    every = pipe.from_embeddings(emb, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert every.images.shape == (20, 3, 256, 256) and every.prompts[11] == "embedding 1/1"
    one = pipe.from_embeddings(emb, caption_index=1, generator=torch.Generator().manual_seed(0), output_type="np")
    assert one.images.shape == (2, 256, 256, 3)
    again = pipe.from_embeddings(torch.from_numpy(emb[:, 1]), generator=torch.Generator().manual_seed(0),
                                 output_type="np")
    np.testing.assert_array_equal(one.images, again.images)
    with pytest.raises(ValueError, match="1024"):
        pipe.from_embeddings(emb[..., :100])


def test_cli_generate_and_optimized_pipeline(converted, tmp_path):
    tmp, _ = converted
    assert main(["generate", "a dog on a couch", "--model", str(tmp / "out"), "-o", str(tmp_path / "x.png"),
                 "--optimize", "-q"]) == 0
    pipe = textgan.load_pretrained(str(tmp / "out"))
    plain = pipe("a dog on a couch", generator=torch.Generator().manual_seed(0), output_type="pt").images
    fast = pipe.optimize()("a dog on a couch", generator=torch.Generator().manual_seed(0), output_type="pt").images
    torch.testing.assert_close(fast, plain, atol=1e-4, rtol=0)


def test_convert_errors_for_the_wrong_stage_or_release(converted, tmp_path, capsys):
    tmp, _ = converted
    stage1 = _state("stackgan_stage1_G")
    torch.save(stage1, tmp_path / "netG_epoch_120.pth")  # a Stage-I run's file where Stage-II is expected
    args = ["--text-encoder", str(tmp / "lm_sje_coco.t7"), "-o", str(tmp_path / "o")]
    assert main(["convert", "stackgan", str(tmp_path / "netG_epoch_120.pth")] + args) == 2
    assert "Stage-I generator" in capsys.readouterr().err
    with pytest.raises(ArchitectureMismatchError, match="whole Stage-II generator"):
        from_official("stackgan_stage1", tmp / "netG_epoch_90.pth")
    # the TF birds release asked for as the PyTorch COCO model
    assert main(["convert", "stackgan", str(TF_TINY / "stackgan_tiny.ckpt")] + args) == 2
    err = capsys.readouterr().err
    assert "TensorFlow checkpoint" in err and "stackgan-tf" in err
    with pytest.raises(ArchitectureMismatchError, match="stackgan_tf"):
        textgan.convert.from_official("stackgan", TF_TINY / "stackgan_tiny.ckpt")


def test_convert_tf_release(tmp_path):
    _encoder_t7(tmp_path / "enc.t7", emb_dim=32)
    assert main(["convert", "stackgan-tf", str(TF_TINY / "stackgan_tiny.ckpt"), "--text-encoder",
                 str(tmp_path / "enc.t7"), "-o", str(tmp_path / "out")]) == 0
    pipe = textgan.load_pretrained(str(tmp_path / "out"))
    assert pipe.generator.registry_name == "stackgan_tf"
    a = pipe("this bird is red", generator=torch.Generator().manual_seed(0), output_type="pt").images
    b = pipe("this bird is red", generator=torch.Generator().manual_seed(0), output_type="pt").images
    assert a.shape == (1, 3, 256, 256) and torch.equal(a, b)
    _, extra = pipe._draw(64, torch.Generator().manual_seed(0), None)
    assert extra.abs().max() <= 2.0  # tf.truncated_normal


def test_factory_loads_both_stages_from_the_converted_folder(converted):
    tmp, _ = converted
    g2 = textgan.stackgan(pretrained=str(tmp / "out"))
    g1 = textgan.stackgan(pretrained=str(tmp / "out"), stage=1)
    ref = from_official("stackgan", tmp / "netG_epoch_90.pth")
    assert g2.config == ref.config and g1.config == ref.STAGE1_G.config
    for k, v in ref.state_dict().items():
        assert torch.equal(g2.state_dict()[k], v)
