"""Inception Score: the split formula, the COCO protocol (1008 logits without bias) and the StackGAN fine-tuned
Inception read from a synthetic TF checkpoint with the real variable names (inception/slim)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from textgan.errors import ArchitectureMismatchError
from textgan.metrics import StackGANInceptionV3, inception_score, inception_score_from_probs
from textgan.metrics.inception import FIDInceptionE_1, FIDInceptionE_2, random_inception

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))
import tf_writer as W  # noqa: E402


def _original_split_scores(preds, splits):
    # the formula of StackGAN-inception-model's get_inception_score, for comparison
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return np.mean(scores), np.std(scores)


def test_split_formula():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((103, 20)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert inception_score_from_probs(probs, 10) == pytest.approx(_original_split_scores(probs, 10), rel=1e-12)
    assert inception_score_from_probs(np.full((40, 7), 1 / 7), 4)[0] == pytest.approx(1.0)
    assert inception_score_from_probs(np.eye(5)[np.arange(50) % 5], 10) == pytest.approx((5.0, 0.0))
    with pytest.raises(ValueError, match="at least splits=10"):
        inception_score_from_probs(probs[:5], 10)


def test_coco_protocol_uses_the_logits_without_bias(fid_weights, tmp_path):
    images = torch.rand(10, 3, 32, 32)
    r = inception_score(images, splits=2, inception_weights=fid_weights)
    assert r.metric == "IS" and r.protocol == "coco" and r.n == 10 and 1.0 <= r.value <= 1008
    state = torch.load(fid_weights)
    state["fc.bias"] = torch.randn_like(state["fc.bias"]) * 10
    torch.save(state, tmp_path / "biased.pth")
    r2 = inception_score(images, splits=2, inception_weights=tmp_path / "biased.pth")
    assert r2.value == pytest.approx(r.value, rel=1e-6)


# --------------------------------------------------------------- the StackGAN checkpoint (inception/slim names)

def _conv(n):
    return [f"Conv_{i}" if i else "Conv" for i in range(n)]


def _slim_scopes():
    """Scopes of the slim inception_v3 convolutions in creation order (inception/slim/inception_model.py)."""
    out = ["conv0", "conv1", "conv2", "conv3", "conv4"]
    a = [("branch1x1", 1), ("branch5x5", 2), ("branch3x3dbl", 3), ("branch_pool", 1)]
    c = [("branch1x1", 1), ("branch7x7", 3), ("branch7x7dbl", 5), ("branch_pool", 1)]
    e = [("branch1x1", 1), ("branch3x3", 3), ("branch3x3dbl", 4), ("branch_pool", 1)]
    blocks = [("mixed_35x35x256a", a), ("mixed_35x35x288a", a), ("mixed_35x35x288b", a),
              ("mixed_17x17x768a", [("branch3x3", 1), ("branch3x3dbl", 3)]),
              ("mixed_17x17x768b", c), ("mixed_17x17x768c", c), ("mixed_17x17x768d", c), ("mixed_17x17x768e", c),
              ("mixed_17x17x1280a", [("branch3x3", 2), ("branch7x7x3", 4)]),
              ("mixed_8x8x2048a", e), ("mixed_8x8x2048b", e)]
    for block, branches in blocks:
        for branch, count in branches:
            out += [f"{block}/{branch}/{conv}" for conv in _conv(count)]
    return out


def _write_stackgan_checkpoint(prefix: Path, model: StackGANInceptionV3) -> None:
    convs = [m for m in model.modules() if type(m).__name__ == "BasicConv2d"]
    scopes = _slim_scopes()
    assert len(convs) == len(scopes) == 94
    ema = "/ExponentialMovingAverage"
    t = {"global_step": np.array(5000, np.int64),
         "aux_logits/FC/weights": np.zeros((3, 51), np.float32)}
    for scope, m in zip(scopes, convs):
        w = m.conv.weight.detach().permute(2, 3, 1, 0).numpy()
        t[f"{scope}/weights{ema}"] = w
        t[f"{scope}/weights"] = w + 1  # the raw variable: the EMA shadow must win
        t[f"{scope}/BatchNorm/beta{ema}"] = m.bn.bias.detach().numpy()
        t[f"{scope}/BatchNorm/beta"] = m.bn.bias.detach().numpy() - 1
        t[f"{scope}/BatchNorm/moving_mean"] = m.bn.running_mean.numpy()
        t[f"{scope}/BatchNorm/moving_variance"] = m.bn.running_var.numpy()
        t[f"{scope}/weights/Momentum"] = w * 0
    t[f"logits/logits/weights{ema}"] = model.fc.weight.detach().T.numpy()
    t["logits/logits/weights"] = model.fc.weight.detach().T.numpy() * 0
    t["logits/logits/biases"] = model.fc.bias.detach().numpy()
    W.write_v2(prefix, {k: np.ascontiguousarray(v, np.float32) if v.dtype != np.int64 else v for k, v in t.items()})


@pytest.fixture(scope="module")
def stackgan_ckpt(tmp_path_factory):
    model = random_inception(StackGANInceptionV3, width_divisor=16, seed=3, num_classes=51)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.weight.data.fill_(1.0)  # slim batch_norm has no gamma
    prefix = tmp_path_factory.mktemp("stackgan") / "model.ckpt-5000"
    _write_stackgan_checkpoint(prefix, model)
    return prefix, model


def test_stackgan_checkpoint_loads_the_moving_averages(stackgan_ckpt):
    prefix, ref = stackgan_ckpt
    model = StackGANInceptionV3.from_tf_checkpoint(prefix)
    assert model.config == {"num_classes": 51, "width_divisor": 16}
    for k, v in ref.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            torch.testing.assert_close(model.state_dict()[k], v, msg=k, rtol=0, atol=0)
    assert type(model.Mixed_7c) is FIDInceptionE_1  # slim's last block averages (the FID graph max-pools)
    x = torch.rand(2, 3, 299, 299) * 2 - 1
    torch.testing.assert_close(model(x), ref.eval()(x))


def test_birds_inception_score(stackgan_ckpt):
    prefix, _ = stackgan_ckpt
    images = torch.rand(70, 3, 32, 32)
    r = inception_score(images, protocol="birds", inception_weights=prefix)
    assert r.n == 64 and r.details["images_given"] == 70  # whole batches of 64, as the original
    assert 1.0 <= r.value <= 50 and r.std >= 0
    r_all = inception_score(images, protocol="birds", inception_weights=prefix, drop_last=False)
    assert r_all.n == 70
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        inception_score(images[:10], protocol="birds", inception_weights=prefix)
    with pytest.raises(ValueError, match="model.ckpt-5000"):
        inception_score(images, protocol="birds")


def test_wrong_checkpoint_is_named(tmp_path, fid_weights):
    W.write_v2(tmp_path / "other.ckpt", {"g_net/w": np.zeros((2, 2), np.float32)})
    with pytest.raises(ArchitectureMismatchError, match="conv0/weights"):
        StackGANInceptionV3.from_tf_checkpoint(tmp_path / "other.ckpt")


def test_pool_branches_follow_tensorflow():
    x = torch.ones(1, 2, 5, 5)
    e1 = FIDInceptionE_1(2048 // 16, 16)
    torch.testing.assert_close(e1._pool(x), x)  # TF average excludes the padding: ones stay ones at the border
    ramp = torch.arange(25.0).view(1, 1, 5, 5)
    assert FIDInceptionE_2._pool(ramp)[0, 0, 0, 0] == 6.0  # max pool in the FID graph's last block
