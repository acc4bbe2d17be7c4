"""Reading weight files safely and loading them strictly.

Legacy ``.pth`` files go through ``torch.load(weights_only=True)``: PyTorch's restricted unpickler, which
builds tensors and containers and refuses every other global, so no code from the file runs.
"""
from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Type, Union

import torch
import torch.nn as nn

from .errors import CheckpointError, StateDictMismatchError, UnsafePickleError

PathLike = Union[str, os.PathLike]

__all__ = ["load_torch_file", "load_trainer_checkpoint", "strip_prefix", "check_state_dict", "load_strict", "build_from_state_dict"]


def load_torch_file(path: PathLike) -> Any:
    """``torch.load`` of an untrusted file with ``weights_only=True`` and errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file (check the path)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty; download it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            raise UnsafePickleError(
                f"{path}: refused to load, the file asks to run code or build objects other than tensors "
                f"({text.splitlines()[0] if text else 'unsupported global'}). Nothing was executed. If you trust "
                "the file, load it yourself and pass the state dict."
            ) from e
        raise CheckpointError(f"{path}: not a PyTorch checkpoint or truncated ({e}); download it again") from e
    except Exception as e:  # the unpickler fails in many ways on garbage (IndexError, KeyError, ...)
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch checkpoint, it is truncated or of another format "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); download it again"
        ) from e


def load_trainer_checkpoint(path: PathLike) -> Any:
    """A textgan trainer checkpoint (tensors, state dicts, RNG states) with ``weights_only=True`` too.

    Resumed runs may use checkpoints someone else shared, so they get the same restricted unpickler; numpy's
    RNG state (a tuple holding a uint32 array) needs four numpy globals, allowed here and nowhere else.
    """
    import numpy as np

    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    allowed = [multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]  # MT19937's key array
    with torch.serialization.safe_globals(allowed):
        return load_torch_file(path)


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str = "module.") -> Dict[str, torch.Tensor]:
    """Remove a DataParallel/DDP ``module.`` prefix when every key carries it."""
    keys = list(state_dict)
    if keys and all(k.startswith(prefix) for k in keys):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def as_state_dict(obj: Any, source: str, what: str) -> Dict[str, torch.Tensor]:
    """Check that ``obj`` is a flat {name: tensor} mapping, else explain what was found."""
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{source}: expected a state dict for {what}, found {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{source}: expected a state dict of tensors for {what}, but {', '.join(map(str, bad[:5]))} "
            "are not tensors (is this a training checkpoint of another layout?)"
        )
    return dict(obj)


def check_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str, hint: str = "") -> None:
    """Raise :class:`StateDictMismatchError` listing missing, unexpected and wrongly shaped keys."""
    expected = module.state_dict(keep_vars=True)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise StateDictMismatchError(what, missing, unexpected, mismatched, hint)


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str, hint: str = "") -> nn.Module:
    check_state_dict(module, state_dict, what, hint)
    module.load_state_dict(state_dict, strict=True)
    return module


@contextlib.contextmanager
def _skip_init():
    """Make ``torch.nn.init`` functions no-ops: a module built only to receive loaded tensors need not draw
    random weights first (on the meta device that work is pure Python overhead)."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for n in names:
            setattr(nn.init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, fn in saved.items():
            setattr(nn.init, n, fn)


def build_from_state_dict(
    cls: Type[nn.Module], config: Mapping[str, Any], state_dict: Mapping[str, torch.Tensor], what: str,
    hint: str = "", dtype: Optional[torch.dtype] = None,
) -> nn.Module:
    """Build ``cls(**config)`` without initialising parameters (meta device) and take the tensors as they are.

    Skipping the random initialisation of weights that are overwritten anyway is what makes loading fast.
    """
    with _skip_init(), torch.device("meta"):
        module = cls(**config)
    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in state_dict.items()}
    try:
        module.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError:
        check_state_dict(module, state_dict, what, hint)  # names every missing/unexpected/mis-shaped key
        raise
    return module.eval()
