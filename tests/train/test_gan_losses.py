"""DF-GAN / SSA-GAN hinge loss, mismatched pairs and MA-GP against values computed by hand."""
from __future__ import annotations

import pytest
import torch

from textgan import losses as L


def test_mismatched_pairs_2022_rolls_and_2020_shifts():
    f, s = torch.arange(4.0)[:, None], torch.arange(10.0, 14.0)[:, None]
    mf, ms = L.mismatched_pairs(f, s, "2022")
    assert mf.flatten().tolist() == [1, 2, 3, 0] and ms.flatten().tolist() == [10, 11, 12, 13]
    mf, ms = L.mismatched_pairs(f, s, "2020")
    assert mf.flatten().tolist() == [0, 1, 2] and ms.flatten().tolist() == [11, 12, 13]
    with pytest.raises(ValueError, match="form"):
        L.mismatched_pairs(f, s, "2019")


def test_hinge_losses_by_hand():
    real = torch.tensor([0.5, 2.0, -1.0])      # relu(1 - x): 0.5, 0, 2   -> mean 2.5/3
    fake = torch.tensor([-2.0, 0.0, 1.0])      # relu(1 + x): 0, 1, 2     -> mean 1
    mis = torch.tensor([-0.5, -3.0])           # relu(1 + x): 0.5, 0      -> mean 0.25
    loss, parts = L.hinge_discriminator_loss(real, fake, mis)
    assert loss.item() == pytest.approx(2.5 / 3 + (1.0 + 0.25) / 2)
    assert parts["mismatch"].item() == pytest.approx(0.25)
    plain, _ = L.hinge_discriminator_loss(real, fake)
    assert plain.item() == pytest.approx(2.5 / 3 + 1.0)
    assert L.hinge_generator_loss(fake).item() == pytest.approx(1.0 / 3)


def test_ma_gp_by_hand():
    # D(x, s) = sum(w * x) + sum(v * s): gradients are w and v for every sample, so the norm is known
    w = torch.tensor([[1.0, 2.0], [2.0, 0.0]])  # |w|^2 = 9
    v = torch.tensor([0.0, 4.0])                # |v|^2 = 16 -> norm 5
    x = torch.randn(3, 2, 2, requires_grad=True)
    s = torch.randn(3, 2, requires_grad=True)
    logits = (x * w).flatten(1).sum(1) + (s * v).sum(1)
    gp = L.matching_aware_gradient_penalty(x, s, logits)
    assert gp.item() == pytest.approx(2.0 * 5.0 ** 6)
    assert L.matching_aware_gradient_penalty(x, s, logits, k=1.0, p=2.0).item() == pytest.approx(25.0)
    # it is differentiable (create_graph): a quadratic D gives a penalty gradient
    logits2 = (x ** 2).flatten(1).sum(1) + (s * v).sum(1)
    L.matching_aware_gradient_penalty(x, s, logits2, k=1.0, p=2.0).backward()
    torch.testing.assert_close(x.grad, 8.0 * x.detach() / 3)  # d/dx mean(|2x|^2 + 16) = 8x / B
    with pytest.raises(ValueError, match="requires_grad|require grad"):
        L.matching_aware_gradient_penalty(x.detach(), s, logits)


def _b(p, y):  # BCE of one probability, by hand
    import math
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_matching_aware_bce_by_hand():
    real, wrong, fake = torch.tensor([0.8, 0.6]), torch.tensor([0.3, 0.1]), torch.tensor([0.2, 0.4])
    want = ((_b(.8, 1) + _b(.6, 1)) / 2 + 0.5 * (_b(.3, 0) + _b(.1, 0)) / 2 + 0.5 * (_b(.2, 0) + _b(.4, 0)) / 2)
    assert L.matching_aware_bce_loss(real, wrong, fake).item() == pytest.approx(want, rel=1e-6)
    port = ((_b(.8, .9) + _b(.6, .9)) / 2 + (_b(.3, 0) + _b(.1, 0)) / 2 + (_b(.2, 0) + _b(.4, 0)) / 2)
    got = L.matching_aware_bce_loss(real, wrong, fake, wrong_weight=1, fake_weight=1, real_label=0.9)
    assert got.item() == pytest.approx(port, rel=1e-6)
    logits = torch.logit(real)
    assert L.matching_aware_bce_loss(logits, torch.logit(wrong), torch.logit(fake), from_logits=True).item() == \
        pytest.approx(want, rel=1e-5)


def test_stackgan_attngan_losses_by_hand():
    rc, wc, fc = torch.tensor([0.9]), torch.tensor([0.2]), torch.tensor([0.3])
    ru, fu = torch.tensor([0.7]), torch.tensor([0.4])
    s1 = L.conditional_discriminator_loss(rc, wc, fc)
    assert s1.item() == pytest.approx(_b(.9, 1) + (_b(.3, 0) + _b(.2, 0)) / 2, rel=1e-6)
    s2 = L.conditional_discriminator_loss(rc, wc, fc, ru, fu)
    assert s2.item() == pytest.approx((_b(.9, 1) + _b(.7, 1)) / 2 + (_b(.3, 0) + _b(.2, 0) + _b(.4, 0)) / 3, rel=1e-6)
    assert L.conditional_generator_loss(fc, fu).item() == pytest.approx(_b(.3, 1) + _b(.4, 1), rel=1e-6)
    with pytest.raises(ValueError, match="both"):
        L.conditional_discriminator_loss(rc, wc, fc, ru)


def test_feature_matching_and_l1_by_hand():
    fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]])   # batch mean (2, 3)
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])   # batch mean (1, 1)
    assert L.feature_matching_loss(fake, real).item() == pytest.approx((1 + 4) / 2)
    assert L.l1_loss(fake, real).item() == pytest.approx((1 + 2 + 1 + 2) / 4)


def test_damsm_generator_term_is_the_weighted_sum_of_the_damsm_losses():
    torch.manual_seed(0)
    reg, glob = torch.randn(3, 4, 17, 17), torch.randn(3, 4)
    words, sent, lens = torch.randn(3, 4, 5), torch.randn(3, 4), torch.tensor([5, 3, 2])
    w0, w1, _ = L.damsm_words_loss(reg, words, lens, gamma1=5.0)
    s0, s1 = L.damsm_sentence_loss(glob, sent)
    got = L.damsm_generator_term(reg, glob, words, sent, lens, weight=0.05, gamma1=5.0)
    assert got.item() == pytest.approx(0.05 * float(w0 + w1 + s0 + s1), rel=1e-6)
