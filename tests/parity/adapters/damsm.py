"""Parity adapters for the DAMSM encoders (attngan_rnn_encoder)."""
from textgan.convert import from_official


def _damsm_text(state, inputs, meta):
    net = from_official("damsm_text_encoder", state)
    hidden = (inputs["hidden_h0"], inputs["hidden_c0"]) if "hidden_h0" in inputs else None
    words, sent = net(inputs["captions"], inputs["cap_lens"], hidden)
    return {"words_emb": words, "sent_emb": sent}


ADAPTERS = {"attngan_rnn_encoder": _damsm_text}
