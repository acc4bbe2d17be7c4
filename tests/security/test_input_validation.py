"""Bad arguments to the public entry points give clear errors (type or value, naming the argument) before any
work: pipelines' __call__ (text-to-image and SISGAN edit), load_pretrained, create_model, from_official, the CLI.
"""
import numpy as np
import pytest
import torch

import textgan
from textgan import cli
from textgan._validate import MAX_IMAGES_PER_CALL, MAX_PROMPT_CHARS
from textgan.errors import EmptyPromptError, TextganError


@pytest.fixture(scope="module")
def pipe():
    return textgan.load_pretrained()


def _gen():
    return torch.Generator().manual_seed(0)


@pytest.mark.parametrize("prompt,error,match", [
    ("", EmptyPromptError, "empty"),
    ("   \t", EmptyPromptError, "empty"),
    ("zzzz qqqq", EmptyPromptError, "no word the vocabulary"),
    ([], EmptyPromptError, "empty list"),
    (5, TypeError, "string or a list of strings, got int"),
    (None, TypeError, "got NoneType"),
    (b"a red circle", TypeError, "got bytes"),
    (["a red circle", 3], TypeError, r"entries \[1\] are not strings"),
    ("a red circle " * (MAX_PROMPT_CHARS // 10), ValueError, "characters, more than"),
])
def test_bad_prompts(pipe, prompt, error, match):
    with pytest.raises(error, match=match):
        pipe(prompt, generator=_gen())


@pytest.mark.parametrize("kwargs,error,match", [
    ({"num_images_per_prompt": 0}, ValueError, "num_images_per_prompt must be between 1"),
    ({"num_images_per_prompt": -3}, ValueError, "num_images_per_prompt"),
    ({"num_images_per_prompt": 2.5}, TypeError, "num_images_per_prompt must be an integer"),
    ({"num_images_per_prompt": True}, TypeError, "must be an integer"),
    ({"num_images_per_prompt": 10 ** 9}, ValueError, str(MAX_IMAGES_PER_CALL)),
    ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
    ({"batch_size": "4"}, TypeError, "batch_size must be an integer"),
    ({"output_type": "jpeg"}, ValueError, "output_type"),
    ({"generator": 5}, TypeError, "torch.Generator"),
    ({"generator": np.random.default_rng(0)}, TypeError, "torch.Generator"),
    ({"truncation": float("nan")}, ValueError, "finite"),
    ({"truncation": float("inf")}, ValueError, "finite"),
    ({"truncation": -1.0}, ValueError, "positive"),
    ({"truncation": "0.5"}, ValueError, "truncation"),
    ({"noise": torch.full((1, 64), float("nan"))}, ValueError, "NaN or infinite"),
    ({"noise": torch.full((1, 64), float("-inf"))}, ValueError, "NaN or infinite"),
    ({"noise": torch.zeros(1, 3)}, ValueError, r"shape \(1, 64\)"),
    ({"noise": torch.zeros(1, 64, dtype=torch.int64)}, TypeError, "floating-point"),
    ({"noise": torch.zeros(1, 64, device="meta")}, ValueError, "meta device"),
    ({"noise": np.zeros((1, 64), np.float32)}, TypeError, "torch.from_numpy"),
])
def test_bad_call_arguments(pipe, kwargs, error, match):
    with pytest.raises(error, match=match):
        pipe("a red circle", **{"generator": _gen(), **kwargs})


def test_good_edge_cases_still_work(pipe):
    out = pipe("a red circle", noise=torch.zeros(1, 64, dtype=torch.float64), output_type="pt")  # cast, fine
    assert out.images.shape == (1, 3, 64, 64) and torch.isfinite(out.images).all()
    out = pipe(("a red circle", "a blue square"), generator=_gen(), truncation=0.5, output_type="np")
    assert out.images.shape[0] == 2
    assert pipe("A RED CIRCLE!!! " * 20, generator=_gen(), output_type="pt").images.shape == (1, 3, 64, 64)


def test_load_pretrained_arguments():
    with pytest.raises(TypeError, match="name_or_path"):
        textgan.load_pretrained(5)
    with pytest.raises(ValueError, match="not a torch device"):
        textgan.load_pretrained(device="tpu9")
    with pytest.raises(TypeError, match="floating torch dtype"):
        textgan.load_pretrained(dtype=torch.int8)
    with pytest.raises(TypeError, match="floating torch dtype"):
        textgan.load_pretrained(dtype="complex")
    assert textgan.load_pretrained(dtype="float64").dtype == torch.float64  # a dtype's name is accepted
    with pytest.raises(TextganError):
        textgan.load_pretrained("")


def test_create_model_arguments():
    with pytest.raises(TextganError, match="unknown model"):
        textgan.create_model("nope")
    with pytest.raises(ValueError, match=r"create_model\('dfgan', ngf=-3\) cannot build the model"):
        textgan.create_model("dfgan", ngf=-3)
    with pytest.raises(TypeError, match=r"create_model\('dfgan', ngf='8'\)"):
        textgan.create_model("dfgan", ngf="8")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        textgan.create_model("dfgan", bogus=1)


def test_from_official_arguments(tmp_path):
    from textgan.convert import from_official

    with pytest.raises(TypeError, match="file path or a loaded state dict"):
        from_official("dfgan", 5)
    with pytest.raises(ValueError, match="unknown kind"):
        from_official("nope", tmp_path / "x.pth")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        from_official("dfgan", tmp_path / "missing.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(TextganError, match="empty"):
        from_official("dfgan", tmp_path / "empty.pth")


@pytest.mark.parametrize("argv,match", [
    (["generate", "", "-o", "OUT"], "empty"),
    (["generate", "a red circle", "-n", "0", "-o", "OUT"], "between 1"),
    (["generate", "a red circle", "--batch-size", "0", "-o", "OUT"], "batch_size"),
    (["generate", "a red circle", "--device", "tpu9", "-o", "OUT"], "not a torch device"),
    (["generate", "x" * (MAX_PROMPT_CHARS + 1), "-o", "OUT"], "characters"),
])
def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys, argv, match):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert pytest.importorskip("re").search(match, err), err


def test_edit_pipeline_arguments():
    """SISGAN's edit pipeline takes the same checks; they run before the pipeline touches its models, so a bare
    instance shows them."""
    from PIL import Image

    from textgan.edit_pipeline import TextGuidedEditPipeline

    bare = object.__new__(TextGuidedEditPipeline)
    image = Image.new("RGB", (8, 8))
    for kwargs, error, match in (({"batch_size": 0}, ValueError, "batch_size"),
                                 ({"batch_size": 1.5}, TypeError, "integer"),
                                 ({"generator": 3}, TypeError, "torch.Generator"),
                                 ({"output_type": "gif"}, ValueError, "output_type")):
        with pytest.raises(error, match=match):
            TextGuidedEditPipeline.__call__(bare, image, "a red bird", **kwargs)
    for prompt, error in ((5, TypeError), ([], EmptyPromptError), ("x" * (MAX_PROMPT_CHARS + 1), ValueError)):
        with pytest.raises(error):
            TextGuidedEditPipeline.__call__(bare, image, prompt)
