"""Every packaged recipe runs a few tiny steps on Shapes with finite losses; overrides and the CLI."""
from __future__ import annotations

import csv
import math

import pytest

from textgan.cli import main
from textgan.train import apply_overrides, list_recipes, load_recipe, run_recipe

TINY = {
    "shapes-text-encoder": {"model.embedding_dim": 8, "model.hidden_dim": 8, "data.length": 16},
    "dfgan": {"model.ngf": 2, "model.ndf": 2, "model.nz": 4, "model.imsize": 32, "data.length": 8},
    "dfgan2020": {"model.ngf": 1, "model.ndf": 1, "model.nz": 4, "data.length": 4},
}
COMMON = {"trainer.steps": 2, "trainer.batch_size": 4, "trainer.log_every": 1, "trainer.checkpoint_every": 2,
          "trainer.num_workers": 0}


def _rows(folder):
    with open(folder / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_recipe_is_covered():
    assert set(list_recipes()) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_recipe_runs_with_finite_losses(name, tmp_path):
    trainer = run_recipe(name, tmp_path, data="shapes", overrides={**COMMON, **TINY[name]}, progress=False)
    assert trainer.step == 2
    rows = _rows(tmp_path)
    assert [int(r["step"]) for r in rows] == [1, 2]
    for r in rows:
        for k, v in r.items():
            assert math.isfinite(float(v)), (name, k, v)
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    if name != "shapes-text-encoder":
        import textgan

        pipe = textgan.load_pretrained(str(tmp_path / "pipeline"))
        assert pipe("a red circle on white", output_type="pt").images.shape[-1] == (32 if name == "dfgan" else 256)


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
    assert "only the built-in" in capsys.readouterr().err
