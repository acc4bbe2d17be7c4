"""The documentation builds with MkDocs in strict mode (warnings are errors) and renders every public docstring.

Needs the ``docs`` extra (``pip install -e ".[docs]"``); CI installs it (see README's install command).
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import textgan
import textgan.nn

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs", reason='the docs extra is not installed: pip install -e ".[docs]"')
pytest.importorskip("mkdocstrings_handlers.python", reason='the docs extra is not installed: pip install -e ".[docs]"')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def _sections(site):
    """Rendered object id -> its HTML up to the next object of the page that is not one of its members."""
    sections = {}
    for page in (site / "api").rglob("index.html"):
        html = page.read_text()
        spots = [(m.start(), m.group(1)) for m in re.finditer(r'id="(textgan[\w.]*)"', html)]
        for i, (start, name) in enumerate(spots):
            end = next((s for s, other in spots[i + 1:] if not other.startswith(name + ".")), len(html))
            sections[name] = html[start:end]
    return sections


def test_docs_build_strict_and_every_public_name_is_rendered_with_an_example(site):
    sections = _sections(site)
    public = [f"textgan.{n}" for n in textgan.__all__ if n != "__version__"]
    public += [f"textgan.nn.{n}" for n in textgan.nn.__all__]
    missing = [n for n in public if n not in sections]
    assert not missing, f"not rendered in docs/api: {missing}"
    without = [n for n in public if "&gt;&gt;&gt;" not in sections[n]]
    assert not without, f"rendered without an example: {without}"


def test_every_page_is_in_the_navigation(site):
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))["nav"]
    listed = set(re.findall(r"[\w/.-]+\.md", str(nav)))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert pages <= listed, f"pages missing from mkdocs.yml's nav: {sorted(pages - listed)}"


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    targets = [t.split("#")[0] for t in links if "://" not in t and not t.startswith("#")]
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert targets and not missing, f"README.md links to missing files: {missing}"


def test_every_error_class_is_in_the_errors_page():
    import inspect

    import textgan.errors as E

    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    names = [n for n, c in vars(E).items() if inspect.isclass(c) and issubclass(c, E.TextganError)
             and c is not E.TextganError]
    missing = [n for n in names if f"`{n}`" not in page]
    assert not missing, f"docs/errors.md lacks rows for {missing}"
