"""At full size, the converters rebuild exactly the authors' modules: every official key, every shape.

The ``*.keys-*.json`` files list the keys and shapes of the authors' released modules; we feed shape-only
(meta) tensors through the public converter, which infers the sizes and must accept them strictly.
"""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import PARITY_DIR  # noqa: E402

from textgan.convert import from_official  # noqa: E402

KINDS = {"dfgan_G": "dfgan", "dfgan_D": "dfgan_discriminator", "dfgan_C": "dfgan_condition_head",
         "dfgan2020_G": "dfgan2020", "dfgan2020_D": "dfgan2020_discriminator",
         "attngan_rnn_encoder": "damsm_text_encoder"}


def _key_files():
    files = []
    for prefix in KINDS:
        files += sorted(PARITY_DIR.glob(f"{prefix}.keys*.json"))
    return files


def _shapes(path):
    data = json.loads(path.read_text())
    keys = data.get("keys", data)
    if isinstance(keys, str):  # some listings store the mapping as a Python-literal string
        import ast

        keys = ast.literal_eval(keys)
    return {k: tuple(v) for k, v in keys.items()}


@pytest.mark.parametrize("path", _key_files(), ids=lambda p: p.name)
def test_full_size_module_has_exactly_the_official_keys(path):
    shapes = _shapes(path)
    state = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    module = from_official(KINDS[path.name.split(".")[0]], state)
    got = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert got == shapes


def test_full_size_parameter_counts_match_the_notes():
    # DF-GAN 2022 README/notes: NetG 9.74 M, NetD 6.62 M, NetC 0.30 M at nf=32
    import textgan

    count = lambda m: sum(p.numel() for p in m.parameters()) / 1e6  # noqa: E731
    with torch.device("meta"):
        assert round(count(textgan.create_model("dfgan")), 2) == 9.74
        assert round(count(textgan.create_model("dfgan_discriminator")), 2) == 6.62
        assert round(count(textgan.create_model("dfgan_condition_head")), 2) == 0.30
        assert round(count(textgan.create_model("dfgan2020")), 2) == 12.24
        assert round(count(textgan.create_model("dfgan2020_discriminator")), 2) == 20.17
