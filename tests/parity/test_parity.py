"""Official-output parity: every fixture in $TEXTGAN_PARITY_DIR, built through the public converters.

A fixture ``ID.safetensors`` holds ``state/<official key>``, ``input/<name>`` and ``output/<name>``; its
adapter is chosen by the part of the file name before the first dot. Nothing here reads sizes from the
fixture's numbers: modules are built from the weights (or the configuration in ``ID.json``).
"""
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.convert import from_official  # noqa: E402
from textgan.nn import Affine, ConditionalLogitHead, FusionUpBlock  # noqa: E402

# prefixes of families whose issues are still open: expected to fail (with NotImplementedError) until they land
NOT_YET_IMPLEMENTED = {
    "attngan_G": 3, "attngan_D64": 3, "attngan_D128": 3, "attngan_D256": 3, "attngan_cnn_encoder": 3,
    "attngan_global_attention": 3, "attngan_damsm_losses": 9, "ssagan_G": 3, "ssagan_D": 3, "ssagan_block": 3,
    "sema_G": 3, "sema_resD": 3, "charcnnrnn_cvpr": 4, "charcnnrnn_icml_birds": 4, "ganintcls_G": 4,
    "ganintcls_D": 4, "stackgan_ca_net": 5, "stackgan_stage1_G": 5, "stackgan_stage1_D": 5,
    "stackgan_stage2_G": 5, "stackgan_stage2_D": 5, "sisgan_G": 7, "sisgan_G_vgg": 7, "sisgan_D": 7,
    "sisgan_vse_text": 7,
}


def _generator(kind):
    def run(state, inputs, meta):
        net = from_official(kind, state)
        return {"img": net(inputs["noise"], inputs["sent_emb"])}
    return run


def _dfgan_D(state, inputs, meta):
    return {"features": from_official("dfgan_discriminator", state)(inputs["img"])}


def _dfgan_C(state, inputs, meta):
    return {"logits": from_official("dfgan_condition_head", state)(inputs["features"], inputs["sent_emb"])}


def _dfgan2020_D(state, inputs, meta):
    net = from_official("dfgan2020_discriminator", state)
    features = net(inputs["img"])
    return {"features": features, "logits": net.COND_DNET(features, inputs["sent_emb"])}


def _dfgan_affine(state, inputs, meta):
    return {"out": Affine.from_state_dict(state)(inputs["x"], inputs["y"])}


def _dfgan_gblock(state, inputs, meta):
    upsample = bool(meta.get("config_used", {}).get("upsample", True))
    return {"out": FusionUpBlock.from_state_dict(state, upsample=upsample)(inputs["x"], inputs["y"])}


def _damsm_text(state, inputs, meta):
    net = from_official("damsm_text_encoder", state)
    hidden = (inputs["hidden_h0"], inputs["hidden_c0"]) if "hidden_h0" in inputs else None
    words, sent = net(inputs["captions"], inputs["cap_lens"], hidden)
    return {"words_emb": words, "sent_emb": sent}


ADAPTERS = {
    "dfgan_G": _generator("dfgan"),
    "dfgan_D": _dfgan_D,
    "dfgan_C": _dfgan_C,
    "dfgan_affine": _dfgan_affine,
    "dfgan_gblock": _dfgan_gblock,
    "dfgan2020_G": _generator("dfgan2020"),
    "dfgan2020_D": _dfgan2020_D,
    "attngan_rnn_encoder": _damsm_text,
}


# more fixtures made with the authors' code at other widths, sizes and batch sizes (see its README)
EXTRA_DIR = Path(__file__).resolve().parents[1] / "data" / "parity_extra"


def _fixtures(folder=PARITY_DIR):
    return sorted(folder.glob("*.safetensors"))


def _params():
    params = []
    for path in _fixtures() + _fixtures(EXTRA_DIR):
        prefix = path.name.split(".")[0]
        marks = [pytest.mark.parity]
        if prefix not in ADAPTERS and prefix in NOT_YET_IMPLEMENTED:
            marks.append(pytest.mark.xfail(raises=NotImplementedError, strict=True,
                                           reason=f"family not implemented yet (issue {NOT_YET_IMPLEMENTED[prefix]})"))
        stem = path.name[: -len(".safetensors")]
        params.append(pytest.param(path, id=stem if path.parent != EXTRA_DIR else f"extra/{stem}", marks=marks))
    return params


def _split(path):
    tensors = load_file(str(path))
    groups = {"state": {}, "input": {}, "output": {}}
    for key, value in tensors.items():
        group, _, name = key.partition("/")
        groups.setdefault(group, {})[name] = value
    return groups["state"], groups["input"], groups["output"]


def test_fixtures_exist():
    assert _fixtures(), f"no parity fixtures in {PARITY_DIR} (set TEXTGAN_PARITY_DIR)"


@pytest.mark.parametrize("path", _params())
def test_parity(path):
    prefix = path.name.split(".")[0]
    adapter = ADAPTERS.get(prefix)
    if adapter is None:
        if prefix in NOT_YET_IMPLEMENTED:
            raise NotImplementedError(f"{prefix}: issue {NOT_YET_IMPLEMENTED[prefix]}")
        pytest.fail(f"{path.name}: no parity adapter for prefix {prefix!r}")
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        meta_path = path.parent / (prefix + ".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    state, inputs, expected = _split(path)
    torch.manual_seed(0)
    with torch.no_grad():
        got = adapter(state, inputs, meta)
    assert set(got) >= set(expected), f"adapter returned {sorted(got)}, fixture has {sorted(expected)}"
    for name, want in expected.items():
        torch.testing.assert_close(got[name], want, atol=1e-5, rtol=1e-4, msg=lambda m: f"{path.name} {name}: {m}")
