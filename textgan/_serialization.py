"""The on-disk form of textgan models and pipelines: ``config.json`` + one safetensors file per module.

``config.json``::

    {"format": "textgan-pipeline", "format_version": 1, "textgan_version": ..., "family": "dfgan",
     "tag": "dfgan-birds" | null,
     "components": {"generator": {"model": "dfgan", "config": {...}, "file": "model.safetensors"},
                    "text_encoder": {...}, "discriminator": {...}?, "condition_head": {...}?},
     "tokenizer": {"vocab": "vocab.json", "max_words": 18},
     "sampling": {"truncation": 0.88 | null},
     "source": {...}, "files": [every other file in the folder]}
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from ._registry import get_model_entrypoint
from ._weights import build_from_state_dict
from .errors import (ArchitectureMismatchError, CheckpointError, PretrainedNotFoundError, StateDictMismatchError,
                     TextganError)

FORMAT = "textgan-pipeline"
FORMAT_VERSION = 1
COMPONENT_FILES = {
    "generator": "model.safetensors",
    "text_encoder": "text_encoder.safetensors",
    "discriminator": "discriminator.safetensors",
    "condition_head": "condition_head.safetensors",
    "model": "model.safetensors",  # a folder holding a single model (save_model)
}

__all__ = ["read_config", "write_config", "save_component", "load_component", "load_model_weights", "save_model"]


def registry_name(module: nn.Module) -> str:
    name = getattr(module, "registry_name", None)
    if name is None or not hasattr(module, "config"):
        raise TypeError(f"{type(module).__name__} is not a registered textgan model and cannot be saved")
    return name


def save_component(module: nn.Module, folder: Path, component: str) -> Dict[str, Any]:
    """Write ``module``'s weights to ``folder/<file>`` and return its config.json entry."""
    filename = COMPONENT_FILES[component]
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    _atomic(folder / filename, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    return {"model": registry_name(module), "config": dict(module.config), "file": filename}


def load_component(folder: Path, entry: Mapping[str, Any], component: str,
                   dtype: Optional[torch.dtype] = None) -> nn.Module:
    """Build the module described by a config.json entry and load its safetensors file strictly."""
    source = folder / "config.json"
    file = entry.get("file") if isinstance(entry, Mapping) else None
    config = entry.get("config", {}) if isinstance(entry, Mapping) else None
    if not isinstance(file, str) or not isinstance(entry.get("model"), str) or not isinstance(config, Mapping):
        raise CheckpointError(f"{source}: component {component!r} must be {{\"model\": name, \"file\": name, "
                              f"\"config\": {{...}}}}, got {str(entry)[:200]}; convert the model again")
    path = folder / check_relative(folder, file, f"component {component!r}")
    state = read_safetensors(path)
    entrypoint = get_model_entrypoint(entry["model"])
    what = f"{path} ({component}, model {entry['model']!r})"
    hint = "config.json and the weights disagree: re-run `textgan convert` or download the folder again"
    _check_config_values(config, state, source, component)
    try:
        return build_from_state_dict(lambda **cfg: entrypoint(**cfg), config, state, what, hint, dtype)
    except TextganError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError, KeyError, IndexError, ZeroDivisionError) as e:
        raise ArchitectureMismatchError(f"{what}: the sizes in {source} cannot build the model "
                                        f"({type(e).__name__}: {str(e)[:300]}); {hint}") from e


def check_relative(folder: Path, name: Any, what: str) -> str:
    """``name`` if it is a relative file name inside ``folder``; config.json comes from a download, so a name
    in it must never point elsewhere (``/etc/...``, ``../..``)."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts \
            or "\\" in name:
        raise CheckpointError(f"{folder / 'config.json'}: {what} names the file {name!r}; file names must be "
                              "relative paths inside the folder")
    return name


@contextlib.contextmanager
def malformed_config(folder: Path) -> Iterator[None]:
    """Turn what a malformed config.json breaks (a list where a dict belongs, a missing key, a size a model
    refuses) into a CheckpointError that names the file; textgan's own errors pass through."""
    try:
        yield
    except TextganError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as e:
        raise CheckpointError(f"{folder / 'config.json'} is malformed ({type(e).__name__}: {str(e)[:300]}); "
                              "download or convert the folder again") from e


def _check_config_values(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: Path,
                         component: str) -> None:
    """Refuse implausible numbers before any module is built: a corrupt ``"num_layers": 10**20`` would
    otherwise build layers for ever, and NaN or infinite sizes make no model."""
    bound = max(1 << 16, sum(t.numel() for t in state.values()))  # no size exceeds the weights' element count

    def walk(key: str, value: Any) -> None:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return
        if isinstance(value, int) and abs(value) > bound:
            raise CheckpointError(f"{source}: {component} config {key}={value} is implausible for weights of "
                                  f"{bound} elements; the file is corrupt: download or convert it again")
        if isinstance(value, float) and not math.isfinite(value):
            raise CheckpointError(f"{source}: {component} config {key}={value} is not a finite number")
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(f"{key}[{i}]", v)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{key}.{k}", v)

    for k, v in config.items():
        walk(str(k), v)


def read_safetensors(path: Path) -> Dict[str, torch.Tensor]:
    if not path.is_file():
        raise PretrainedNotFoundError(f"{path}: missing; the pretrained folder is incomplete (download or convert it "
                                      "again)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file or truncated ({e}); download it again") from e


def write_config(folder: Path, config: Mapping[str, Any]) -> None:
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "textgan_version": __version__, **config}
    _atomic(folder / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n"))


def read_config(folder: Path) -> Dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no config.json, so this is not a textgan pretrained folder "
                                "(make one with `textgan convert` or save_pretrained)")
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # RecursionError: "[[[[..." nested too deep
        raise CheckpointError(f"{path}: not valid JSON ({str(e)[:200]}); download or convert the folder again") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a textgan config (expected \"format\": \"{FORMAT}\")")
    version = config.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path}: \"format_version\" must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer textgan (format {config['format_version']}); upgrade textgan")
    return config


def load_model_weights(name: str, source: str, filename: Optional[str] = None, **kwargs) -> nn.Module:
    """Load registered model ``name`` from a pretrained folder / Hub repository (``create_model(pretrained=)``)."""
    from .hub import resolve_pretrained_dir

    folder = resolve_pretrained_dir(source, revision=kwargs.pop("revision", None))
    config = read_config(folder)
    for component, entry in config.get("components", {}).items():
        if entry.get("model") == name and (filename is None or entry.get("file") == filename):
            if kwargs:
                overrides = {k: v for k, v in kwargs.items() if entry["config"].get(k) != v}
                if overrides:
                    raise StateDictMismatchError(
                        f"{folder}: model {name!r}", hint=f"the pretrained weights fix these sizes: {overrides} "
                        f"differ from the stored config {entry['config']}; drop them or pretrained=None")
            return load_component(folder, entry, component)
    have = sorted(e.get("model") for e in config.get("components", {}).values())
    raise CheckpointError(f"{folder}: holds no weights for model {name!r} (it has: {', '.join(have)})")


def _atomic(path: Path, write) -> None:
    """Write through a temporary name in the same folder, then rename: a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model(module: nn.Module, folder) -> Path:
    """Write one registered model as ``config.json`` + ``model.safetensors``;
    ``textgan.create_model(name, pretrained=folder)`` loads it back.

    Examples:
        >>> import tempfile
        >>> G = textgan.dfgan(ngf=8, imsize=64)
        >>> folder = textgan.save_model(G, tempfile.mkdtemp())
        >>> sorted(p.name for p in folder.iterdir())
        ['config.json', 'model.safetensors']
        >>> textgan.create_model("dfgan", pretrained=str(folder)).config == G.config
        True
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entry = save_component(module, folder, "model")
    from ._registry import model_info

    write_config(folder, {"family": model_info(entry["model"])["family"], "tag": None,
                          "components": {"model": entry}, "files": [entry["file"]]})
    return folder
