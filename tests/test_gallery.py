"""The README gallery is made by scripts/make_gallery.py from the embedded model, and its images fit their prompts."""
import importlib.util
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "scripts" / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_script_makes_a_sheet_whose_images_fit_their_prompts(tmp_path):
    script = _script()
    assert script.main(["-o", str(tmp_path / "g.png"), "--per-prompt", "2"]) == 0
    sheet, fitting, total = script.make_gallery(per_prompt=2)
    assert total == 2 * len(script.PROMPTS) and fitting == total
    assert Image.open(tmp_path / "g.png").size == sheet.size


def test_the_committed_gallery_has_the_scripts_layout():
    script = _script()
    committed = Image.open(ROOT / "docs" / "assets" / "gallery.png")
    size, pad = 64, 4
    assert committed.size == (250 + 6 * (size + pad), len(script.PROMPTS) * (size + pad))
    assert "docs/assets/gallery.png" in (ROOT / "README.md").read_text()
