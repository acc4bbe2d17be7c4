"""`textgan eval fid|is` end to end on image folders (and sampling a pipeline)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from textgan.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::textgan.metrics.SingularCovarianceWarning")


def test_eval_fid_save_stats_then_compare(image_dirs, fid_weights, tmp_path, capsys):
    a, b = image_dirs
    stats = tmp_path / "b.npz"
    assert main(["eval", "fid", "--images", str(b), "--save-stats", str(stats), "--inception-weights",
                 str(fid_weights), "-q"]) == 0
    with np.load(stats) as f:
        assert f["mu"].shape == (128,) and str(f["protocol"]) == "tf"
    capsys.readouterr()
    assert main(["evaluate", "fid", "--images", str(a), "--reference", str(stats), "--inception-weights",
                 str(fid_weights), "--n", "12", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "FID" and out["protocol"] == "tf" and out["n"] == 12 and out["value"] > 0
    assert out["reference"] == str(stats)


def test_eval_is_and_errors(image_dirs, fid_weights, capsys):
    a, _ = image_dirs
    assert main(["eval", "is", "--images", str(a), "--splits", "2", "--inception-weights", str(fid_weights),
                 "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("IS ") and "protocol coco" in out and "n=16" in out
    with pytest.raises(SystemExit, match="exactly one of --images"):
        main(["eval", "fid", "--reference", "x.npz"])
    with pytest.raises(SystemExit, match="--reference"):
        main(["eval", "fid", "--images", str(a)])


def test_eval_fid_of_pipeline_samples(fid_weights, tmp_path, capsys):
    (tmp_path / "captions.txt").write_text("a red circle\na blue square\n")
    ref = tmp_path / "ref.npz"
    np.savez(ref, mu=np.zeros(128), sigma=np.eye(128))
    assert main(["eval", "fid", "--model", "shapes-dfgan64", "--data", str(tmp_path / "captions.txt"), "--n", "6",
                 "--batch-size", "4", "--reference", str(ref), "--inception-weights", str(fid_weights),
                 "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 6 and np.isfinite(out["value"])


def test_eval_r_precision_of_pipeline_samples(tmp_path, capsys):
    import torch

    import textgan
    from textgan.models.inception import DAMSMImageEncoder

    hidden = textgan.load_pretrained("shapes-dfgan64").text_encoder.hidden_dim
    torch.manual_seed(0)
    torch.save(DAMSMImageEncoder(nef=hidden, width_divisor=16).state_dict(), tmp_path / "image_encoder.pth")
    (tmp_path / "captions.txt").write_text("a red circle\na blue square\na green triangle\na small red square\n")
    assert main(["eval", "r-precision", "--model", "shapes-dfgan64", "--data", str(tmp_path / "captions.txt"),
                 "--n", "8", "--image-encoder", str(tmp_path / "image_encoder.pth"), "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric"] == "R-precision" and out["n"] == 8 and 0 <= out["value"] <= 100
