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


# An adapter is ``fn(state, inputs, meta) -> {output name: tensor}``: it builds the module from ``state`` (the
# official state dict) through textgan's public converters and runs it on ``inputs``; ``meta`` is the
# fixture's JSON, for configuration the weights cannot tell (e.g. whether a block up-samples).

# prefixes of families whose issues are still open: expected to fail (with NotImplementedError) until they land
NOT_YET_IMPLEMENTED = {}


def _load_adapters():
    """Every ``ADAPTERS`` dict of the modules in ``adapters/`` (one module per family), merged."""
    import importlib
    import pkgutil

    folder = Path(__file__).resolve().parent / "adapters"
    found = {}
    for info in pkgutil.iter_modules([str(folder)]):
        spec = importlib.util.spec_from_file_location(f"parity_adapters_{info.name}", folder / f"{info.name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        clash = set(found) & set(module.ADAPTERS)
        assert not clash, f"adapters defined twice: {clash}"
        found.update(module.ADAPTERS)
    return found


ADAPTERS = _load_adapters()


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
