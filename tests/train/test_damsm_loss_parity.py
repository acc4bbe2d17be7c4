"""The training losses against the authors' outputs: AttnGAN ``words_loss``, ``sent_loss`` and ``KL_loss`` as
stored in the attngan_damsm_losses fixtures (the shared one, γ1 4, and the extra one made with γ1 5, batch 6,
18 words), through :mod:`textgan.losses` directly, plus the G-side DAMSM term the AttnGAN and SSA-GAN
recipes add (λ·(w0 + w1 + s0 + s1) of the same tensors)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import PARITY_DIR  # noqa: E402

from textgan import losses as L  # noqa: E402

EXTRA = Path(__file__).resolve().parents[1] / "data" / "parity_extra"
FIXTURES = [PARITY_DIR / "attngan_damsm_losses", EXTRA / "attngan_damsm_losses.b6_nef8_len18_g5"]
TOL = dict(atol=1e-5, rtol=1e-4)


def _load(stem: Path):
    if not Path(f"{stem}.safetensors").exists():
        pytest.skip(f"fixture {stem} not available")
    tensors = load_file(f"{stem}.safetensors")
    meta = json.loads(Path(f"{stem}.json").read_text())
    cfg = meta.get("config_model_relevant", {})
    gammas = tuple(float(cfg.get(f"TRAIN.SMOOTH.GAMMA{i}", d)) for i, d in ((1, 4.0), (2, 5.0), (3, 10.0)))
    inputs = {k[len("input/"):]: v for k, v in tensors.items() if k.startswith("input/")}
    outputs = {k[len("output/"):]: v for k, v in tensors.items() if k.startswith("output/")}
    return inputs, outputs, gammas


@pytest.mark.parametrize("stem", FIXTURES, ids=lambda p: p.name)
def test_damsm_word_sentence_and_kl_losses_match_the_authors(stem):
    x, want, (g1, g2, g3) = _load(stem)
    for tag, class_ids in (("no_class_ids", None), ("with_class_ids", x["class_ids"])):
        w0, w1, maps = L.damsm_words_loss(x["img_features"], x["words_emb"], x["cap_lens"], x["labels"], class_ids,
                                          gamma1=g1, gamma2=g2, gamma3=g3)
        s0, s1 = L.damsm_sentence_loss(x["cnn_code"], x["sent_emb"], x["labels"], class_ids, gamma3=g3)
        for name, got in (("w_loss0", w0), ("w_loss1", w1), ("s_loss0", s0), ("s_loss1", s1)):
            torch.testing.assert_close(got, want[f"{tag}/{name}"], **TOL, msg=f"{tag}/{name}")
        for i, m in enumerate(maps):
            torch.testing.assert_close(m, want[f"att_maps/{i}"], **TOL)
        # the generator term of the GAN recipes is λ times the sum of the same four losses
        term = L.damsm_generator_term(x["img_features"], x["cnn_code"], x["words_emb"], x["sent_emb"], x["cap_lens"],
                                      class_ids=class_ids, weight=5.0, gamma1=g1, gamma2=g2, gamma3=g3)
        ref = 5.0 * sum(want[f"{tag}/{n}"] for n in ("w_loss0", "w_loss1", "s_loss0", "s_loss1"))
        torch.testing.assert_close(term, ref, **TOL)
    torch.testing.assert_close(L.kl_loss(x["mu"], x["logvar"]), want["kl_loss"], **TOL)


def test_damsm_losses_train_the_encoders():
    """The losses are differentiable in both features (what DAMSM pretraining needs)."""
    x, _, (g1, g2, g3) = _load(FIXTURES[0])
    regions = x["img_features"].clone().requires_grad_(True)
    words = x["words_emb"].clone().requires_grad_(True)
    w0, w1, _ = L.damsm_words_loss(regions, words, x["cap_lens"], gamma1=g1, gamma2=g2, gamma3=g3)
    (w0 + w1).backward()
    assert regions.grad.abs().sum() > 0 and words.grad.abs().sum() > 0
    assert torch.isfinite(regions.grad).all() and torch.isfinite(words.grad).all()
