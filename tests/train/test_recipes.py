"""Every packaged recipe runs a few tiny steps on Shapes with finite losses; overrides and the CLI."""
from __future__ import annotations

import csv
import math

import pytest
import torch

from textgan.cli import main
from textgan.train import apply_overrides, list_recipes, load_recipe, run_recipe

TINY = {
    "shapes-text-encoder": {"model.embedding_dim": 8, "model.hidden_dim": 8, "data.length": 16},
    "dfgan": {"model.ngf": 2, "model.ndf": 2, "model.nz": 4, "model.imsize": 32, "data.length": 8},
    "dfgan2020": {"model.ngf": 1, "model.ndf": 1, "model.nz": 4, "data.length": 4},
    "damsm": {"model.embedding_dim": 8, "model.hidden_dim": 8, "model.width_divisor": 16, "model.input_size": 75,
              "data.size": 32, "data.length": 8},
    "attngan": {"model.ngf": 2, "model.ndf": 2, "model.nz": 4, "model.ca_dim": 4, "model.r_num": 1,
                "model.branch_num": 2, "model.encoder_dim": 8, "model.encoder_width_divisor": 16,
                "model.encoder_input_size": 75, "data.size": 128,
                "data.length": 8},
    "ssagan": {"model.ngf": 1, "model.ndf": 1, "model.nz": 4, "model.encoder_dim": 8,
               "model.encoder_width_divisor": 16, "model.encoder_input_size": 75, "data.length": 4},
    "gan-int-cls": {"model.ngf": 4, "model.ndf": 4, "model.nz": 4, "model.nt": 4, "model.encoder_dim": 8,
                    "data.length": 8},
    # fc 64: with fewer fc7 units dropout can zero a whole image feature, and the ranking loss (no epsilon,
    # as the original) is then NaN
    "sisgan-embedding": {"model.embed_dim": 8, "model.vgg_widths": [2, 2, 2, 2, 4], "model.fc_dim": 64,
                         "data.size": 32, "data.length": 8},
    "sisgan": {"model.use_vgg": False, "model.channels": [4, 4, 8], "model.ndf_channels": [4, 4, 4, 8],
               "model.embed_dim": 8, "model.cond_dim": 4, "model.num_residual": 1, "data.length": 8},
    "stackgan-stage1": {"model.gf_dim": 4, "model.df_dim": 2, "model.cond_dim": 4, "model.z_dim": 4,
                        "model.encoder_dim": 8, "data.length": 8},
    "stackgan-stage2": {"model.gf_dim": 4, "model.df_dim": 1, "model.cond_dim": 4, "model.z_dim": 4, "model.r_num": 1,
                        "model.stage1_gf_dim": 4, "model.encoder_dim": 8, "data.length": 4},
}
#: the pipeline's image size of each generator recipe (the others write no pipeline)
PIPELINE_SIZE = {"dfgan": 32, "dfgan2020": 256, "attngan": 128, "ssagan": 256, "gan-int-cls": 64}
COMMON = {"trainer.steps": 2, "trainer.batch_size": 4, "trainer.log_every": 1, "trainer.checkpoint_every": 2,
          "trainer.num_workers": 0}


def _rows(folder):
    with open(folder / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_recipe_is_covered():
    assert set(list_recipes()) == set(TINY)


def _initial_task(name, overrides):
    """The recipe's task as run_recipe builds it, before training (same seed, so the same initial weights)."""
    from textgan.train.tasks import TASKS

    r = apply_overrides(load_recipe(name), overrides)
    return TASKS[r["task"]](**r["model"], **r["optim"], seed=r["trainer"].get("seed", 0))


def _trainable(task):
    """Every parameter an optimiser updates, by optimiser: {name: [tensors]}."""
    return {k: [p for g in o.param_groups for p in g["params"]] for k, o in task.optimizers.items()}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_recipe_runs_with_finite_losses(name, tmp_path):
    overrides = {**COMMON, **TINY[name]}
    before = {k: [p.detach().clone() for p in ps] for k, ps in _trainable(_initial_task(name, overrides)).items()}
    trainer = run_recipe(name, tmp_path, data="shapes", overrides=overrides, progress=False)
    assert trainer.step == 2
    rows = _rows(tmp_path)
    assert [int(r["step"]) for r in rows] == [1, 2]
    for r in rows:
        for k, v in r.items():
            assert math.isfinite(float(v)), (name, k, v)
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    after = _trainable(trainer.task)
    for opt, params in before.items():  # every optimiser moved its parameters
        assert len(params) == len(after[opt])
        assert any(not torch.equal(a, b.detach()) for a, b in zip(params, after[opt])), f"{name}: {opt} did not train"
        assert all(torch.isfinite(p).all() for p in after[opt]), f"{name}: {opt} has non-finite parameters"
    if name in PIPELINE_SIZE:
        import textgan

        pipe = textgan.load_pretrained(str(tmp_path / "pipeline"))
        assert pipe("a red circle on white", output_type="pt").images.shape[-1] == PIPELINE_SIZE[name]
    else:
        assert not (tmp_path / "pipeline").exists()


def test_overrides():
    r = load_recipe("dfgan")
    assert r["optim"]["lr_g"] == 1e-4 and r["optim"]["lr_d"] == 4e-4 and r["trainer"]["batch_size"] == 32
    o = apply_overrides(r, ["--steps", "7", "--model.ngf", "8", "--betas", "[0.5, 0.99]", "--text_encoder=runs/te"])
    assert o["trainer"]["steps"] == 7 and o["model"]["ngf"] == 8 and o["optim"]["betas"] == [0.5, 0.99]
    assert o["model"]["text_encoder"] == "runs/te" and r["trainer"]["steps"] != 7
    with pytest.raises(ValueError, match="no recipe section"):
        apply_overrides(r, ["--nonsense", "1"])
    with pytest.raises(FileNotFoundError, match="packaged recipes"):
        load_recipe("no-such-recipe")


def test_cli_train(tmp_path, capsys):
    rc = main(["train", "shapes-text-encoder", "--data", "shapes", "--out", str(tmp_path), "-q", "--steps", "2",
               "--batch_size", "4", "--length", "8", "--embedding_dim", "4", "--hidden_dim", "4", "--log_every", "1"])
    assert rc == 0 and len(_rows(tmp_path)) == 2
    assert main(["train", "dfgan", "--data", "cub", "--out", str(tmp_path / "x"), "-q"]) == 2
    assert "give the folder" in capsys.readouterr().err


def _run(name, out, **extra):
    return run_recipe(name, out, data="shapes", overrides={**COMMON, **TINY[name], **extra}, progress=False)


def test_two_step_recipes_hand_their_frozen_parts_on(tmp_path):
    """damsm → attngan, sisgan-embedding → sisgan, stackgan-stage1 → stackgan-stage2: the second run loads the
    first run's parts and keeps them frozen."""
    damsm = _run("damsm", tmp_path / "damsm")
    attn = _run("attngan", tmp_path / "attngan", **{"model.text_encoder": str(tmp_path / "damsm"),
                                                     "model.image_encoder": str(tmp_path / "damsm")})
    for part in ("text_encoder", "image_encoder"):
        want, got = damsm.task.modules[part].state_dict(), attn.task.modules[part].state_dict()
        assert all(torch.equal(want[k], got[k]) for k in want), f"attngan changed or did not load the DAMSM {part}"
    vse = _run("sisgan-embedding", tmp_path / "vse")
    sis = _run("sisgan", tmp_path / "sisgan", **{"model.text_embedding": str(tmp_path / "vse")})
    gru = {k[len("txt_encoder."):]: v for k, v in vse.task.vse.state_dict().items() if k.startswith("txt_encoder.")}
    got = sis.task.text_encoder.txt_encoder.state_dict()
    assert all(torch.equal(gru[k], got[k]) for k in gru)
    assert torch.equal(sis.task.word_vectors.weight, vse.task.word_vectors.weight)
    s1 = _run("stackgan-stage1", tmp_path / "s1")
    s2 = _run("stackgan-stage2", tmp_path / "s2", **{"model.stage1": str(tmp_path / "s1"), "data.length": 4})
    want = {k: v for k, v in s1.task.netG.state_dict().items() if "running" not in k and "num_batches" not in k}
    got = s2.task.netG.STAGE1_G.state_dict()
    assert all(torch.equal(want[k], got[k]) for k in want), "Stage-II changed the frozen Stage-I weights"
