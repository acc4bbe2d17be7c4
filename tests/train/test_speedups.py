"""DF-GAN's training speed-ups (channels_last, D frozen during G's step, fused Adam) do not change what a step
computes. Each is checked on its own: Adam normalises every gradient element, so rounding-level differences
of near-zero gradients become lr-sized steps, and comparing weights after Adam says nothing about the step."""
from __future__ import annotations

import contextlib

import pytest
import torch

import textgan.train.tasks as tasks_mod
from textgan.train.tasks import DFGANTask, ShapesImages
from textgan.train.trainer import StepContext, adam, frozen


class _Trainer:  # what a StepContext reads
    device = torch.device("cpu")
    world_size = 1
    steps_per_epoch = 2
    scalers: dict = {}

    def __init__(self, task):
        self.optimizers = task.optimizers
        self.task_generator = torch.Generator().manual_seed(5)

    @staticmethod
    def _autocast():
        return contextlib.nullcontext()


def _two_steps(monkeypatch, *, channels_last: bool, freeze: bool, optimizer: str):
    task = DFGANTask(form="2022", ngf=4, ndf=4, nz=8, imsize=32, encoder_dim=8, seed=0, channels_last=channels_last)
    monkeypatch.setattr(tasks_mod, "frozen", frozen if freeze else (lambda *m: contextlib.nullcontext()))
    d_params = list(task.netD.parameters()) + list(task.netC.parameters())
    if optimizer == "sgd":
        task.optimizers = {"g": torch.optim.SGD(task.netG.parameters(), lr=1e-2),
                           "d": torch.optim.SGD(d_params, lr=1e-2)}
    elif optimizer == "adam-loop":
        task.optimizers = {"g": torch.optim.Adam(task.netG.parameters(), lr=1e-4, betas=(0.0, 0.9)),
                           "d": torch.optim.Adam(d_params, lr=4e-4, betas=(0.0, 0.9))}
    ctx = StepContext(_Trainer(task))
    data = ShapesImages("train", size=32, length=4, seed=0)
    batch = task.collate([data[i] for i in range(4)])
    losses = []
    for step in range(2):
        ctx.step, ctx.batch_in_epoch = step, step
        task.optimizers["d"].zero_grad(set_to_none=True)  # without the freeze G's step leaves D gradients
        losses.append(task.train_step(batch, ctx))
    return task, losses


def _compare(a, b, exact: bool):
    (ta, la), (tb, lb) = a, b
    check = (lambda x, y, m: torch.testing.assert_close(x, y, rtol=0, atol=0, msg=m)) if exact else \
        (lambda x, y, m: torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=m))
    for x, y in zip(la, lb):
        for k in x:
            check(x[k], y[k], k)
    for name in ("generator", "discriminator", "condition_head"):
        sa, sb = ta.modules[name].state_dict(), tb.modules[name].state_dict()
        for k in sa:
            check(sa[k], sb[k], f"{name}.{k}")


def test_freezing_d_in_gs_step_changes_nothing(monkeypatch):
    kw = dict(channels_last=False, optimizer="adam-loop")
    _compare(_two_steps(monkeypatch, freeze=True, **kw), _two_steps(monkeypatch, freeze=False, **kw), exact=True)


def test_channels_last_matches_contiguous(monkeypatch):
    kw = dict(freeze=True, optimizer="sgd")
    _compare(_two_steps(monkeypatch, channels_last=True, **kw), _two_steps(monkeypatch, channels_last=False, **kw),
             exact=False)
    task, _ = _two_steps(monkeypatch, channels_last=True, **kw)
    assert task.netD.conv_img.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("betas", [(0.0, 0.9), (0.5, 0.999)])
def test_fused_adam_matches_the_for_loop_adam(betas):
    torch.manual_seed(0)
    a = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    b = [p.detach().clone().requires_grad_(True) for p in a]
    oa, ob = adam(a, lr=1e-3, betas=betas), torch.optim.Adam(b, lr=1e-3, betas=betas)
    assert oa.defaults.get("fused")
    for _ in range(5):
        grads = [torch.randn_like(p) for p in a]
        for p, q, g in zip(a, b, grads):
            p.grad, q.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
