"""The README's quick start is what CI runs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()
            if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_install_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    commands = _bash_blocks(readme)
    install, test = commands[0], commands[1]
    assert install.startswith("pip install -e") and "torch==2.13.0" in install
    assert "docs" in install  # CI builds the documentation (tests/test_docs.py) with the docs extra
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)


def test_import_needs_no_torchvision():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torchvision'] = None; import textgan; "
            "assert 'torchvision' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_readme_generate_command_runs_offline_on_the_embedded_model(tmp_path):
    import os
    import shlex
    import subprocess
    import sys

    from PIL import Image

    generate = _bash_blocks((ROOT / "README.md").read_text())[2]
    args = shlex.split(generate)
    assert args[0] == "textgan" and "--model" not in args
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty-cache"))
    result = subprocess.run([sys.executable, "-m", "textgan"] + args[1:], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = tmp_path / args[args.index("-o") + 1]
    assert Image.open(out).size == (64, 64)
