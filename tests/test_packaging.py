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
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci and test in ci
    assert ci.index(install) < ci.index(test)


def test_import_needs_no_torchvision():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torchvision'] = None; import textgan; "
            "assert 'torchvision' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], check=True)
