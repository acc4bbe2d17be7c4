"""Every script in examples/ runs in its fast mode (``--fast``), as a user would run it: a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
# scripts that predate the --fast convention, with the arguments that make them quick and offline
ARGS = {"generate.py": ["--model", str(ROOT / "textgan" / "weights" / "shapes-dfgan64"), "-n", "1",
                        "a large red circle on a white background"]}
# what each fast run must print (a line that only a complete run reaches)
EXPECT = {
    "generate_from_sentence.py": "seeded and batch-independent: True",
    "edit_image_sisgan.py": "model-side edits: (1, 3, 64, 64)",
    "convert_legacy_formats.py": "pipeline folder  ->",
    "new_gan_from_blocks.py": "samples judged faithful",
    "visualise_attention_and_masks.py": "masks.png",
    "evaluate_metrics.py": "R-precision",
    "train_dfgan_cub_torchrun.py": "pipeline written to",
}


def test_every_example_has_a_fast_mode():
    for name in EXAMPLES:
        text = (ROOT / "examples" / name).read_text()
        assert name in ARGS or "--fast" in text, f"examples/{name} has no --fast mode"
        assert text.startswith('"""'), f"examples/{name} needs a docstring saying how to run it"


def _run(name, tmp):
    args = ARGS.get(name, ["--fast"])
    if name == "generate.py":
        args = args + ["-o", str(tmp)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp / "hub-cache"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every example's fast run, two at a time (each is single-threaded; CI has two cores)."""
    from concurrent.futures import ThreadPoolExecutor

    names = [n for n in EXAMPLES if n != "train_dfgan_cub_torchrun.py" or _replica().is_dir()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {n: pool.submit(_run, n, tmp_path_factory.mktemp(n.replace(".py", ""))) for n in names}
        return {n: f.result() for n, f in futures.items()}


def _replica():
    return Path(os.environ.get("TEXTGAN_DATASETS_DIR", ROOT.parent / "shared" / "datasets")) / "cub" / "train"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_in_fast_mode(name, runs):
    if name not in runs:
        pytest.skip(f"no CUB replica at {_replica().parent}")
    result = runs[name]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert EXPECT.get(name, "") in result.stdout, result.stdout[-2000:]
