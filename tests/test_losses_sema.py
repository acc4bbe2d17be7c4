"""SEMA's semantic-distance adversarial loss (textgan.losses): values, gradients and the documented choices."""
import pytest
import torch

from textgan.losses import semantic_distance, semantic_distance_adversarial_loss


def _batch(seed=0, b=4, d=6):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, d, generator=g) for _ in range(3)]


def test_semantic_distance_values():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 3.0], [2.0, 2.0], [-1.0, 0.0]])
    torch.testing.assert_close(semantic_distance(a, b), torch.tensor([1.0, 0.0, 2.0]))
    torch.testing.assert_close(semantic_distance(a, b, "euclidean"), torch.tensor([10 ** 0.5, 2 ** 0.5, 3.0]))
    # per-sample flattening: feature maps compare like vectors
    x, y = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    torch.testing.assert_close(semantic_distance(x, y), semantic_distance(x.flatten(1), y.flatten(1)))
    with pytest.raises(ValueError, match="kind"):
        semantic_distance(a, b, "manhattan")
    with pytest.raises(ValueError, match="differ"):
        semantic_distance(a, b[:, :1])


def test_generator_loss_is_the_distance_to_the_sentence_plus_the_feature_term():
    text, fake_r, _ = _batch()
    fake_f, real_f = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    want = semantic_distance(fake_r, text).mean()
    torch.testing.assert_close(semantic_distance_adversarial_loss(text, fake_r), want)
    got = semantic_distance_adversarial_loss(text, fake_r, fake_features=fake_f, real_features=real_f,
                                             feature_weight=0.5)
    torch.testing.assert_close(got, want + 0.5 * semantic_distance(fake_f, real_f).mean())
    # perfect redescriptions and features cost nothing
    assert semantic_distance_adversarial_loss(text, 2 * text, fake_features=real_f, real_features=real_f) < 1e-6
    with pytest.raises(ValueError, match="both"):
        semantic_distance_adversarial_loss(text, fake_r, fake_features=fake_f)


def test_generator_gradients_reach_the_fake_side_only():
    text, fake_r, _ = _batch(1)
    fake_r.requires_grad_(True)
    real_f = torch.randn(4, 5, requires_grad=True)
    fake_f = torch.randn(4, 5, requires_grad=True)
    semantic_distance_adversarial_loss(text, fake_r, fake_features=fake_f, real_features=real_f).backward()
    assert fake_r.grad.abs().sum() > 0 and fake_f.grad.abs().sum() > 0
    assert real_f.grad is None  # the real features are the target, detached


def test_redescriber_pulls_real_and_pushes_fake():
    text, fake_r, real_r = _batch(2)
    pull, push = semantic_distance(real_r, text), semantic_distance(fake_r, text)
    got = semantic_distance_adversarial_loss(text, fake_r, real_r, role="redescriber")
    torch.testing.assert_close(got, (pull - push).mean())
    hinge = semantic_distance_adversarial_loss(text, fake_r, real_r, role="redescriber", margin=0.7)
    torch.testing.assert_close(hinge, (pull + torch.relu(0.7 - push)).mean())
    # gradient descent on R's loss moves the real redescription towards the sentence, the fake one away
    fake_r.requires_grad_(True), real_r.requires_grad_(True)
    semantic_distance_adversarial_loss(text, fake_r, real_r, role="redescriber").backward()
    with torch.no_grad():
        assert (semantic_distance(real_r - 0.01 * real_r.grad, text) < pull).all()
        assert (semantic_distance(fake_r - 0.01 * fake_r.grad, text) > push).all()
    with pytest.raises(ValueError, match="real_redescription"):
        semantic_distance_adversarial_loss(text, fake_r, role="redescriber")
    with pytest.raises(ValueError, match="role"):
        semantic_distance_adversarial_loss(text, fake_r, real_r, role="discriminator")
