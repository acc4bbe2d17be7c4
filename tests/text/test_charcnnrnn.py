"""char-CNN-RNN: tokenizer quirks, batch invariance, the released variants, and converting Reed's .t7 encoders."""
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))
import t7_writer as w  # noqa: E402
from _paths import PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import char_cnn_rnn_from_torch7, read_torch7, from_lua_module  # noqa: E402
from textgan.errors import ArchitectureMismatchError, EmptyPromptError  # noqa: E402
from textgan.models.charcnnrnn import VARIANTS, char_cnn_rnn_variant  # noqa: E402
from textgan.text import TOKENIZER_TYPES, CharCNNRNN, CharTokenizer  # noqa: E402
from textgan.text.charcnnrnn import REED_ALPHABET, cnn_steps  # noqa: E402

STRINGS = ["A Small BIRD with 2 red wings!", "petals: 5; (pink) [x] {y} ~z~ `q` \"w\" 'e' a/b\\c|d_e@#$%^&*+=<>",
           "caf\u00e9 \u2014 \U0001F33C tab\there", "1" * 250, "-"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small convolutions on a shared 2-core machine run far faster on one thread (no OpenMP spinning)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fixture(name):
    t = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    return ({k[6:]: v for k, v in t.items() if k.startswith("state/")},
            {k[6:]: v for k, v in t.items() if k.startswith("input/")},
            {k[7:]: v for k, v in t.items() if k.startswith("output/")},
            json.loads((PARITY_DIR / f"{name}.json").read_text()))


# ------------------------------------------------------------------------------- tokenizer


def test_alphabet_and_the_duplicated_dash():
    assert len(REED_ALPHABET) == 70 and REED_ALPHABET.index("-") == 36 and REED_ALPHABET.rindex("-") == 59
    tok = CharTokenizer()
    assert tok.encode("a-z ") == [1, 60, 26, 70]  # the later '-' wins, as in every original encoder
    assert CharTokenizer(duplicates="first").encode("-") == [37]
    ids, lengths = tok(["ab", "c"])
    assert ids.shape == (2, 201) and ids.dtype == torch.long and lengths.tolist() == [2, 1]
    assert ids[0, :3].tolist() == [1, 2, 0] and int(ids[1, 1:].abs().sum()) == 0
    onehot = tok.one_hot(ids)
    assert onehot.shape == (2, 70, 201) and onehot[0, :, 2].sum() == 0 and onehot[0, 1, 1] == 1
    assert tok.decode(ids[0]) == "ab"


def test_case_unknown_characters_and_length_options():
    text = "Bird \u00e9!"
    assert CharTokenizer().encode(text) == [2, 9, 18, 4, 70, 0, 41]  # lower-cased; é → zero column
    assert CharTokenizer(lowercase=False).encode(text) == [0, 9, 18, 4, 70, 0, 41]  # capitals unknown (Lua demo)
    assert CharTokenizer(unknown="space").encode(text) == [2, 9, 18, 4, 70, 70, 41]  # the port
    assert CharTokenizer.lua_demo().encode(text) == [0, 9, 18, 4, 70, 0, 0, 41]  # é is two UTF-8 bytes in Lua
    assert len(CharTokenizer().encode("x" * 300)) == 201 and CharTokenizer(max_length=7).encode("x" * 300) == [24] * 7
    with pytest.raises(EmptyPromptError):
        CharTokenizer()("")
    with pytest.raises(TypeError):
        CharTokenizer().encode(3)
    with pytest.raises(ValueError, match="unknown"):
        CharTokenizer(unknown="drop")


@pytest.mark.parametrize("name", ["charcnnrnn_cvpr", "charcnnrnn_icml_birds"])
def test_pytorch_port_preset_reproduces_the_fixture_labels(name):
    _, inputs, _, meta = _fixture(name)
    ids, _ = CharTokenizer.pytorch_port()(meta["inputs"]["texts (not stored as tensor)"])
    assert torch.equal(ids, inputs["labels"])
    assert torch.equal(CharTokenizer().one_hot(ids), inputs["onehot"])


def test_tokenizer_save_and_load(tmp_path):
    tok = CharTokenizer(lowercase=False, unknown="space", utf8_bytes=True, max_length=50)
    entry = tok.save_pretrained(tmp_path)
    assert entry["type"] == "chars" and entry["files"] == [] and TOKENIZER_TYPES["chars"] is CharTokenizer
    back = CharTokenizer.from_pretrained(tmp_path, entry)
    assert back.save_pretrained(tmp_path) == entry and back.encode("Ab\u00e9") == tok.encode("Ab\u00e9")


# ------------------------------------------------------------------------------- encoder


@pytest.mark.parametrize("rnn_type,pool3", [("rnn", True), ("gru", False)])
def test_batches_give_the_per_sample_results(rnn_type, pool3):
    torch.manual_seed(0)
    enc = CharCNNRNN(conv1_dim=12, conv2_dim=10, cnn_dim=8, emb_dim=6, rnn_type=rnn_type, pool3=pool3).eval()
    ids, lengths = CharTokenizer()(STRINGS)
    with torch.no_grad():
        states, emb = enc(ids, lengths)
        single = torch.cat([enc(ids[i:i + 1])[1] for i in range(len(STRINGS))])
        shuffled = enc(ids.flip(0))[1].flip(0)
        short = enc(ids[:, :60])[1]  # fewer than 201 columns: padded with empty ones, as after a text's end
    assert states.shape == (5, 8, 8 if pool3 else 18) and emb.shape == (5, 6)
    torch.testing.assert_close(emb, single, atol=1e-6, rtol=0)
    torch.testing.assert_close(emb, shuffled, atol=1e-6, rtol=0)
    torch.testing.assert_close(short, enc(torch.nn.functional.pad(ids[:, :60], (0, 141)))[1], atol=0, rtol=0)
    torch.testing.assert_close(emb, enc(CharTokenizer().one_hot(ids))[1], atol=0, rtol=0)


def test_batched_gru_matches_the_ports_per_sample_output():
    state, inputs, outputs, _ = _fixture("charcnnrnn_icml_birds")
    enc = textgan.convert.from_official("char_cnn_rnn", state)
    emb = enc(inputs["labels"])[1]
    torch.testing.assert_close(emb, outputs["embedding_per_sample"], atol=1e-5, rtol=1e-4)
    assert (emb - outputs["embedding"]).abs().max() > 1e-3  # the port's batched GRU mixes samples; textgan does not


def test_bad_inputs():
    enc = CharCNNRNN(conv1_dim=4, conv2_dim=4, cnn_dim=4, emb_dim=4)
    with pytest.raises(ValueError, match="201"):
        enc(torch.zeros(1, 202, dtype=torch.long))
    with pytest.raises(ValueError, match="transpose"):
        enc(torch.zeros(1, 201, 70))
    with pytest.raises(ValueError, match="always averages"):
        CharCNNRNN(rnn_type="rnn", average=False)
    with pytest.raises(ValueError, match="rnn_type"):
        CharCNNRNN(rnn_type="lstm")


def test_released_variants_have_the_ports_keys_and_sizes():
    assert (cnn_steps(201, True), cnn_steps(201, False)) == (8, 18)
    for variant, keys_file, params in (("cvpr", "charcnnrnn_cvpr", 1_814_144),
                                       ("icml_flowers", "charcnnrnn_icml_flowers", 2_994_560),
                                       ("icml_birds", "charcnnrnn_icml_birds", 4_045_184)):
        with torch.device("meta"):
            enc = char_cnn_rnn_variant(variant)
        keys = json.loads((PARITY_DIR / f"{keys_file}.keys.json").read_text())["keys"]
        assert {k: v["shape"] for k, v in keys.items()} == {k: list(v.shape) for k, v in enc.state_dict().items()}
        assert sum(p.numel() for p in enc.parameters()) == params
    assert VARIANTS["icml_coco"] == VARIANTS["icml_birds"]


# ------------------------------------------------------------------------------- Reed's .t7 files


def _small(rnn_type, pool3, average=True, seed=0):
    torch.manual_seed(seed)
    enc = CharCNNRNN(conv1_dim=10, conv2_dim=9, cnn_dim=7, emb_dim=11, rnn_type=rnn_type, pool3=pool3,
                     average=average).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.uniform_(-0.3, 0.3)
    return enc


@pytest.mark.parametrize("variant", ["cvpr", "icml_birds", "icml_birds_last", "coco_gmodule"])
def test_t7_encoders_convert_through_the_cli(tmp_path, variant):
    gru = variant != "cvpr"
    enc = _small("gru" if gru else "rnn", pool3=not gru, average=variant != "icml_birds_last")
    enc_doc = w.char_cnn_rnn_from_state(enc.state_dict(), pool3=not gru, gru=gru, avg=enc.config["average"])
    # lm_sje_*.t7: {protos = {enc_doc, enc_image}, opt, ...}; ICML COCO: the bare gModule
    w.write(enc_doc if variant == "coco_gmodule" else w.sje_checkpoint(enc_doc), tmp_path / "enc.t7")
    assert main(["convert", "char-cnn-rnn", str(tmp_path / "enc.t7"), "-o", str(tmp_path / "out")]) == 0
    loaded = textgan.create_model("char_cnn_rnn", pretrained=str(tmp_path / "out"))
    assert loaded.config == enc.config
    ids, _ = CharTokenizer()(STRINGS)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids)[1], enc(ids)[1], atol=1e-6, rtol=1e-5)
        # the same file run node by node as Lua would (generic nngraph executor), on Lua's (B, 201, 70) layout
        raw = read_torch7(tmp_path / "enc.t7")
        lua = from_lua_module(raw if variant == "coco_gmodule" else raw["protos"]["enc_doc"])
        torch.testing.assert_close(lua(CharTokenizer().one_hot(ids).transpose(1, 2)), enc(ids)[1], atol=1e-6, rtol=1e-5)


def test_t7_encoder_parity_with_the_port():
    state, inputs, outputs, _ = _fixture("charcnnrnn_icml_birds")
    obj = w.sje_checkpoint(w.char_cnn_rnn_from_state(state, pool3=False, gru=True))
    enc = char_cnn_rnn_from_torch7(read_torch7_bytes(obj))
    torch.testing.assert_close(enc(inputs["onehot"])[1], outputs["embedding_per_sample"], atol=1e-5, rtol=1e-4)


def read_torch7_bytes(obj):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        w.write(obj, Path(tmp) / "x.t7")
        return read_torch7(Path(tmp) / "x.t7")


def test_t7_encoders_that_are_not_reeds_are_refused():
    enc = _small("gru", pool3=False)
    sd = enc.state_dict()
    enc_doc = w.char_cnn_rnn_from_state(sd, pool3=False, gru=True, flatten=False)
    rnn = enc_doc.fields["modules"][3]
    lin = [m for m in rnn.fields["modules"] if m.typename == "nn.Sequential"][-1].fields["modules"][0]
    lin.fields["weight"] = w.tensor(torch.zeros(7, 7))  # one unrolled copy no longer shares the weights
    with pytest.raises(ArchitectureMismatchError, match="differ"):
        char_cnn_rnn_from_torch7(read_torch7_bytes(w.sje_checkpoint(enc_doc)))
    ckpt = w.sje_checkpoint(w.char_cnn_rnn_from_state(sd, pool3=False, gru=True), doc_length=150)
    with pytest.raises(ArchitectureMismatchError, match="18 steps but 150 characters"):
        char_cnn_rnn_from_torch7(read_torch7_bytes(ckpt))
    with pytest.raises(ArchitectureMismatchError, match="protos.enc_doc"):
        char_cnn_rnn_from_torch7(read_torch7_bytes(w.Table(protos=w.Table(enc_image=w.simple("Identity")))))


def test_port_state_dict_converts_through_the_cli(tmp_path):
    state, inputs, outputs, _ = _fixture("charcnnrnn_cvpr")  # what the port's extract_char_cnn_rnn_weights saves
    torch.save(state, tmp_path / "flowers_cvpr.pth")
    assert main(["convert", "char-cnn-rnn", str(tmp_path / "flowers_cvpr.pth"), "-o", str(tmp_path / "out")]) == 0
    enc = textgan.create_model("char_cnn_rnn", pretrained=str(tmp_path / "out"))
    assert (enc.config["rnn_type"], enc.config["pool3"]) == ("rnn", True)
    torch.testing.assert_close(enc(inputs["labels"])[1], outputs["embedding_per_sample"], atol=1e-5, rtol=1e-4)
