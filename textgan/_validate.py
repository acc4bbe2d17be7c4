"""Argument checks shared by the public entry points (pipelines, load_pretrained, create_model, converters).

Each check raises the built-in exception that fits (TypeError for a wrong type, ValueError for a wrong value)
with a message naming the argument, what it got and what to pass instead, before any work or allocation.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch

from .errors import EmptyPromptError

__all__ = ["MAX_PROMPT_CHARS", "MAX_IMAGES_PER_CALL", "check_int", "check_prompts", "check_generator",
           "check_noise", "check_truncation", "as_device", "as_dtype"]

#: longest prompt accepted, in characters: the text encoders read at most a few hundred (18 words for
#: AttnGAN's, 201 characters for Reed's), so anything far longer is a mistake (a file's content, say)
MAX_PROMPT_CHARS = 10_000
#: most images one pipeline call may make: the noise for all of them is drawn up front
MAX_IMAGES_PER_CALL = 100_000


def check_int(value: Any, name: str, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; bools and floats are refused (``2.5`` images?)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_prompts(prompt: Union[str, Sequence[str]], name: str = "prompt") -> List[str]:
    """A list of prompt strings: a str, or a non-empty list/tuple of str, each at most MAX_PROMPT_CHARS long."""
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, (list, tuple)):
        prompts = list(prompt)
        if not prompts:
            raise EmptyPromptError(f"{name}: got an empty list of prompts; pass at least one sentence")
        bad = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
        if bad:
            raise TypeError(f"{name}: entries {bad} are not strings (e.g. {type(prompts[bad[0]]).__name__})")
    else:
        raise TypeError(f"{name} must be a string or a list of strings, got {type(prompt).__name__}")
    long = [i for i, p in enumerate(prompts) if len(p) > MAX_PROMPT_CHARS]
    if long:
        raise ValueError(f"{name} {long[0]} has {len(prompts[long[0]])} characters, more than the "
                         f"{MAX_PROMPT_CHARS} accepted; the text encoders read only the first words of a caption")
    return prompts


def check_generator(generator: Any, name: str = "generator") -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or None, got "
                        f"{type(generator).__name__}")


def check_noise(noise: Any, shape: Tuple[int, ...], name: str = "noise") -> torch.Tensor:
    """A finite floating tensor of ``shape`` holding data (any device: it is moved to the model's)."""
    if not isinstance(noise, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(noise).__name__} (for a "
                        "numpy array use torch.from_numpy)")
    if noise.device.type == "meta":
        raise ValueError(f"{name} is on the meta device and holds no values; pass a real tensor")
    if not noise.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {noise.dtype}")
    if tuple(noise.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(noise.shape)}")
    if not bool(torch.isfinite(noise).all()):
        raise ValueError(f"{name} contains NaN or infinite values; the images would be meaningless")
    return noise


def check_truncation(truncation: Any) -> None:
    if truncation is None or isinstance(truncation, bool):
        return
    if not isinstance(truncation, (int, float)) or not math.isfinite(float(truncation)) or truncation <= 0:
        raise ValueError(f"truncation must be a positive finite scale, None or False, got {truncation!r}")


def as_device(device: Any, name: str = "device") -> Optional[torch.device]:
    if device is None:
        return None
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{name}={device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1', 'mps'): "
                         f"{e}") from None


def as_dtype(dtype: Any, name: str = "dtype") -> Optional[torch.dtype]:
    """A floating torch dtype; its name (``"float16"``, ``"torch.bfloat16"``) is accepted too."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype.replace("torch.", ""), dtype)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch dtype (torch.float32, torch.float16, torch.bfloat16), "
                        f"got {dtype!r}")
    return dtype

