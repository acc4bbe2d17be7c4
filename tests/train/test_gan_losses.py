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
