"""DAMSM word and sentence losses and the CA KL term (AttnGAN ``miscc/losses.py``).

The parity fixtures attngan_damsm_losses* (tests/parity) hold the authors' outputs; these tests check the
definitions, the class masking and the argument handling.
"""
import math

import numpy as np
import pytest
import torch

from textgan.losses import damsm_sentence_loss, damsm_words_loss, kl_loss
from textgan.nn import damsm_attention


def _inputs(batch=4, nef=6, lengths=(5, 3, 2, 1), seed=0):
    g = torch.Generator().manual_seed(seed)
    words = torch.randn(batch, nef, max(lengths), generator=g)
    return (torch.randn(batch, nef, 17, 17, generator=g), words, torch.tensor(lengths),
            torch.randn(batch, nef, generator=g), torch.randn(batch, nef, generator=g))


def _reference_words_similarity(regions, words, lengths, g1, g2):
    batch = regions.shape[0]
    sim = torch.zeros(batch, batch)
    for i, n in enumerate(lengths.tolist()):
        for b in range(batch):
            context, _ = damsm_attention(words[i:i + 1, :, :n], regions[b:b + 1], g1)
            cos = torch.nn.functional.cosine_similarity(words[i, :, :n], context[0], dim=0, eps=1e-8)
            sim[b, i] = torch.log(torch.exp(g2 * cos).sum())
    return sim


def test_words_loss_is_cross_entropy_of_the_region_word_similarities():
    regions, words, lengths, _, _ = _inputs()
    loss0, loss1, maps = damsm_words_loss(regions, words, lengths, gamma1=4.0, gamma2=5.0, gamma3=10.0)
    sim = 10.0 * _reference_words_similarity(regions, words, lengths, 4.0, 5.0)
    labels = torch.arange(4)
    torch.testing.assert_close(loss0, torch.nn.functional.cross_entropy(sim, labels), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss1, torch.nn.functional.cross_entropy(sim.t(), labels), atol=1e-5, rtol=1e-5)
    assert [tuple(m.shape) for m in maps] == [(1, n, 17, 17) for n in (5, 3, 2, 1)]
    # words beyond each caption's length are never read
    padded = words.clone()
    padded[1, :, 3:] = 99.0
    assert torch.equal(damsm_words_loss(regions, padded, lengths)[0], damsm_words_loss(regions, words, lengths)[0])


def test_sentence_loss_is_cross_entropy_of_scaled_cosines():
    *_, cnn, rnn = _inputs()
    loss0, loss1 = damsm_sentence_loss(cnn, rnn)
    cos = torch.nn.functional.cosine_similarity(cnn[:, None], rnn[None], dim=2) * 10.0
    torch.testing.assert_close(loss0, torch.nn.functional.cross_entropy(cos, torch.arange(4)))
    torch.testing.assert_close(loss1, torch.nn.functional.cross_entropy(cos.t(), torch.arange(4)))


def test_same_class_pairs_are_left_out_and_class_ids_may_be_numpy():
    regions, words, lengths, cnn, rnn = _inputs()
    classes = [3, 7, 3, 5]
    with_tensor = damsm_sentence_loss(cnn, rnn, class_ids=torch.tensor(classes))
    with_numpy = damsm_sentence_loss(cnn, rnn, class_ids=np.array(classes))
    assert torch.equal(with_tensor[0], with_numpy[0])
    cos = torch.nn.functional.cosine_similarity(cnn[:, None], rnn[None], dim=2) * 10.0
    cos[0, 2] = cos[2, 0] = -math.inf
    torch.testing.assert_close(with_tensor[0], torch.nn.functional.cross_entropy(cos, torch.arange(4)))
    # all classes distinct: the same as no class ids
    distinct = damsm_words_loss(regions, words, lengths, class_ids=[0, 1, 2, 3])[0]
    torch.testing.assert_close(distinct, damsm_words_loss(regions, words, lengths)[0])


def test_losses_give_gradients_to_both_encoders():
    regions, words, lengths, cnn, rnn = (t.requires_grad_() if t.is_floating_point() else t for t in _inputs())
    w0, w1, _ = damsm_words_loss(regions, words, lengths)
    s0, s1 = damsm_sentence_loss(cnn, rnn)
    (w0 + w1 + s0 + s1).backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (regions, words, cnn, rnn))


def test_kl_loss():
    assert kl_loss(torch.zeros(3, 4), torch.zeros(3, 4)) == 0
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    ref = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).mean()
    torch.testing.assert_close(kl_loss(mu, logvar), ref)


def test_bad_arguments_name_the_problem():
    regions, words, lengths, cnn, rnn = _inputs()
    with pytest.raises(ValueError, match="cap_lens must lie in"):
        damsm_words_loss(regions, words, torch.tensor([9, 3, 2, 1]))
    with pytest.raises(ValueError, match="same batch size"):
        damsm_words_loss(regions, words, lengths[:3])
    with pytest.raises(ValueError, match="class_ids has 3 entries"):
        damsm_sentence_loss(cnn, rnn, class_ids=[1, 2, 3])
