"""Parity adapters for Reed's lineage: char-CNN-RNN (charcnnrnn_*) and the GAN-INT-CLS PyTorch ports (ganintcls_*).

The char-CNN-RNN fixtures come from the PyTorch port (martinduartemore/char_cnn_rnn_pytorch). textgan encodes every
sample on its own, so its batched results are the port's *per-sample* ones. For the GRU (icml birds) the port's
batched call mixes the samples of a batch (see textgan.text.charcnnrnn); its batched numbers (``embedding``,
``rnn_output``) are checked here by replaying that broadcasting on textgan's weights, in this test file only.
"""
import torch

from textgan.convert import from_official
from textgan.text.charcnnrnn import CharTokenizer


def _port_batched_gru(rnn, x):
    """The port's batched ``fixed_gru``: its first state is (B, 1, D), so later states broadcast to (B, B, D)
    (state [a, b] combines sample a's history with sample b's input) and the mean runs over 1 + (T-1)·B slots."""
    prev = torch.tanh(rnn.i2h(x[:, 0]))[:, None]
    states = [prev]
    for t in range(1, x.shape[1]):
        u = torch.sigmoid(rnn.i2h_update(x[:, t]) + rnn.h2h_update(prev))
        r = torch.sigmoid(rnn.i2h_reset(x[:, t]) + rnn.h2h_reset(prev))
        c = torch.tanh(rnn.i2h(x[:, t]) + rnn.h2h(r * prev))
        prev = u * c + (1 - u) * prev
        states.append(prev)
    return torch.cat(states, 1).mean(1)


def _charcnnrnn(state, inputs, meta):
    net = from_official("char_cnn_rnn", state)
    texts = meta.get("inputs", {}).get("texts (not stored as tensor)")
    if texts is not None:  # the port's text front-end is the tokenizer's "pytorch_port" preset
        ids, _ = CharTokenizer.pytorch_port()(texts)
        assert torch.equal(ids, inputs["labels"]), "CharTokenizer.pytorch_port() differs from str_to_labelvec"
    assert torch.equal(CharTokenizer().one_hot(inputs["labels"]), inputs["onehot"])
    _, emb = net(inputs["labels"])
    _, emb_onehot = net(inputs["onehot"])
    torch.testing.assert_close(emb, emb_onehot, atol=0, rtol=0)
    per = torch.cat([net(inputs["labels"][i:i + 1])[1] for i in range(len(inputs["labels"]))])
    torch.testing.assert_close(emb, per, atol=1e-6, rtol=0)  # batch-invariant
    feats = net.features(inputs["onehot"])
    rnn_out = net.rnn(feats)[1]
    out = {"embedding_per_sample": emb, "rnn_output_per_sample": rnn_out, "rnn_input": feats,
           "rnn_output": rnn_out, "embedding": emb}
    if net.config["rnn_type"] == "gru" and feats.shape[0] > 1:
        out["rnn_output"] = _port_batched_gru(net.rnn, feats)
        out["embedding"] = net.emb_proj(out["rnn_output"])
    return out


def _ganintcls_G(state, inputs, meta):
    return {"image": from_official("gan_int_cls", state)(inputs["embed"], inputs["z"])}


def _ganintcls_D(state, inputs, meta):
    score, features = from_official("gan_int_cls_discriminator", state)(inputs["image"], inputs["embed"])
    return {"score": score, "features": features}


ADAPTERS = {
    "charcnnrnn_cvpr": _charcnnrnn,
    "charcnnrnn_icml_birds": _charcnnrnn,
    "charcnnrnn_icml_flowers": _charcnnrnn,
    "ganintcls_G": _ganintcls_G,
    "ganintcls_D": _ganintcls_D,
}
