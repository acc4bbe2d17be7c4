"""The model-zoo tables of README.md and docs/zoo.md are the ones the registry generates."""
import ast
import json
import sys
from pathlib import Path

import pytest
import torch

import textgan
from textgan._zoo_table import END, RELEASE_SIZES, START, main_part, replace_between_markers, zoo_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import PARITY_DIR  # noqa: E402


def _between_markers(path):
    text = path.read_text()
    return text.split(START)[1].split(END)[0].strip("\n")


@pytest.mark.parametrize("name", ["README.md", "docs/zoo.md"])
def test_the_committed_table_is_the_generated_one(name):
    assert _between_markers(ROOT / name) == zoo_table(), (
        f"{name}'s model table differs from the registry: run `python scripts/make_zoo_table.py`")


def test_every_tag_is_a_row_with_its_metrics():
    table = zoo_table()
    for tag in textgan.list_pretrained():
        info = textgan.get_pretrained(tag)
        assert f"| `{tag}` |" in table
        assert info.original_filename in table
        for metric in info.metrics:
            assert metric.protocol.replace("|", "\\|") in table


def test_the_check_mode_notices_a_stale_table(tmp_path):
    stale = replace_between_markers(f"# x\n{START}\nold\n{END}\n", "| made up |")
    assert "| made up |" in stale and zoo_table() not in stale
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_zoo_table", ROOT / "scripts" / "make_zoo_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check"]) == 0  # the committed files are current


def test_markers_are_required():
    with pytest.raises(ValueError, match="zoo-table:start"):
        replace_between_markers("no markers here", "table", what="README.md")


# where ../shared/parity has the full-size key list of a release's main network
KEY_LISTS = {"dfgan-birds": "dfgan_G.keys-birds.json", "dfgan-coco": "dfgan_G.keys-coco.json",
             "dfgan2020-birds": "dfgan2020_G.keys-birds.json", "dfgan2020-coco": "dfgan2020_G.keys-coco.json",
             "attngan-birds": "attngan_G.keys-birds.json", "attngan-coco": "attngan_G.keys-coco.json",
             "ssagan-birds": "ssagan_G.keys-birds.json", "ssagan-coco": "ssagan_G.keys-coco.json",
             "sema-coco": "sema_G.keys-coco.json", "stackgan-coco": "stackgan_stage2_G.keys-coco.json"}


@pytest.mark.parametrize("tag", sorted(KEY_LISTS))
def test_release_sizes_are_the_ones_the_converter_reads_off_the_released_keys(tag):
    path = PARITY_DIR / KEY_LISTS[tag]
    if not path.exists():
        pytest.skip(f"{path} is not here")
    keys = json.loads(path.read_text())
    keys = keys.get("keys", keys)
    keys = ast.literal_eval(keys) if isinstance(keys, str) else keys
    state = {k: torch.empty(tuple(v), device="meta") for k, v in keys.items()}
    kind = main_part(textgan.get_pretrained(tag))
    config = textgan.convert.from_official(kind, state).config
    with torch.device("meta"):
        default = textgan.create_model(kind).config
    want = {k: v for k, v in config.items() if k in RELEASE_SIZES.get(tag, {}) or v != default.get(k)}
    assert {k: config[k] for k in RELEASE_SIZES.get(tag, {})} == RELEASE_SIZES.get(tag, {})
    assert all(RELEASE_SIZES.get(tag, {}).get(k, default[k]) == v for k, v in want.items())


def test_family_pages_metrics_sections_are_the_generated_ones():
    from textgan._zoo_table import METRICS_SECTION, update_metrics_sections

    pages = [p for p in sorted((ROOT / "docs" / "families").glob("*.md")) if METRICS_SECTION.search(p.read_text())]
    assert len(pages) >= 5
    for page in pages:
        text = page.read_text()
        assert update_metrics_sections(text) == text, (
            f"{page.name}'s metrics differ from the registry: run `python scripts/make_zoo_table.py`")
