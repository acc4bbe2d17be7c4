"""The originals' per-epoch learning-rate schedules, as the recipes run them."""
from __future__ import annotations

import csv
import math

import pytest
import torch

from textgan.train import run_recipe
from textgan.train.tasks_attngan import DAMSMTask
from textgan.train.tasks_reed import step_decay


def test_damsm_lr_decays_by_0_98_until_a_tenth():
    task = DAMSMTask(embedding_dim=4, hidden_dim=4, width_divisor=16, input_size=75)
    assert task.epoch_lr(0) == pytest.approx(2e-3) and task.epoch_lr(1) == pytest.approx(2e-3 * 0.98)
    # pretrain_DAMSM.py: lr *= 0.98 after an epoch while lr > ENCODER_LR / 10 -> 114 decays, then constant
    k = math.ceil(math.log(0.1) / math.log(0.98))
    assert task.epoch_lr(k) == pytest.approx(2e-3 * 0.98 ** k) and task.epoch_lr(k + 50) == task.epoch_lr(k)
    assert task.epoch_lr(k) <= 2e-4 < task.epoch_lr(k - 1)


def test_lua_and_steplr_schedules_halve_at_the_hundredth_epoch():
    # main_cls_int.lua: `if epoch % 100 == 0 then lr *= 0.5` at the start of (1-based) epoch 100
    assert step_decay(98, 100, 0.5) == 1.0 and step_decay(99, 100, 0.5) == 0.5 and step_decay(199, 100, 0.5) == 0.25


def test_damsm_run_rebuilds_adam_and_decays_per_epoch(tmp_path):
    over = {"trainer.steps": 4, "trainer.batch_size": 4, "trainer.log_every": 1, "trainer.checkpoint_every": 0,
            "trainer.num_workers": 0, "model.embedding_dim": 4, "model.hidden_dim": 4, "model.width_divisor": 16,
            "model.input_size": 75, "data.size": 32, "data.length": 8}  # 2 steps an epoch
    trainer = run_recipe("damsm", tmp_path, data="shapes", overrides=over, progress=False)
    with open(tmp_path / "metrics.csv", newline="") as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == pytest.approx([2e-3, 2e-3, 2e-3 * 0.98, 2e-3 * 0.98])
    # a new Adam each epoch: after epoch 1's two steps the moments have seen two steps, not four
    state = next(iter(trainer.task.optimizers["all"].state.values()))
    assert int(state["step"]) == 2


def test_stackgan_halves_every_20_epochs():
    from textgan.train.tasks_stackgan import StackGANStage1Task

    task = StackGANStage1Task(gf_dim=4, df_dim=2, cond_dim=4, z_dim=4, encoder_dim=4)

    class Ctx:
        batch_in_epoch = 0

    for epoch, want in ((0, 2e-4), (19, 2e-4), (20, 1e-4), (40, 5e-5)):
        Ctx.epoch = epoch
        task._epoch_lr(Ctx)
        assert task.optimizers["g"].param_groups[0]["lr"] == pytest.approx(want)


def test_gan_int_cls_wrong_images_come_from_another_class():
    from textgan.train.tasks_reed import _wrong_images

    real = torch.arange(6.0).view(6, 1, 1, 1)
    classes = torch.tensor([0, 0, 1, 1, 2, 2])
    for seed in range(5):
        picked = _wrong_images(real, classes, torch.Generator().manual_seed(seed)).view(-1).long()
        assert (classes[picked] != classes).all()
    same = _wrong_images(real, torch.zeros(6, dtype=torch.long), torch.Generator().manual_seed(0)).view(-1)
    assert same.tolist() == torch.roll(real.view(-1), 1).tolist()  # no other class in the batch: rolled
    assert _wrong_images(real, None, None).view(-1).tolist() == torch.roll(real.view(-1), 1).tolist()
