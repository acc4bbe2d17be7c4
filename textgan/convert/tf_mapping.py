"""From TensorFlow variables to PyTorch parameters: layouts, batch-norm names, moving averages, name patterns.

The rules (``../shared/notes/tf_formats.md`` §5.4, verified numerically there):

* ``Conv2d``: TF HWIO ``[kh, kw, in, out]`` -> OIHW, ``permute(3, 2, 0, 1)``;
* ``ConvTranspose2d``: TF ``[kh, kw, out, in]`` (``conv2d_transpose``, Keras ``Conv2DTranspose``, TensorLayer
  ``DeConv2d``, StackGAN ``custom_deconv2d``) -> ``[in, out, kh, kw]``, also ``permute(3, 2, 0, 1)``, no flip;
* ``Linear``: TF ``[in, out]`` -> ``[out, in]``;
* a dense layer reshaped to NHWC ``(h, w, c)`` orders its features ``(h * w_size + w) * c_size + c``; PyTorch
  views them as ``(c, h, w)``, so its output rows (and the following BatchNorm1d) are permuted once.

Batch norm: TF/Keras/slim ``gamma, beta, moving_mean, moving_variance``; prettytensor ``gamma, beta, mean,
variance``; slim ``scale=False`` has no gamma (use ones). Checkpoints restored through
``ExponentialMovingAverage.variables_to_restore()`` (StackGAN-inception-model) hold the weights that were used
as ``<name>/ExponentialMovingAverage`` shadows: :func:`prefer_moving_average` picks those.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch

from ..errors import CheckpointError

__all__ = ["conv2d_kernel", "conv2d_transpose_kernel", "dense_kernel", "nhwc_features_to_nchw",
           "BATCH_NORM_NAMES", "batch_norm", "EMA_SUFFIX", "moving_average_names", "prefer_moving_average",
           "TRAINING_STATE", "drop_training_state", "match_names", "numbered_scopes", "lookup"]


def _check_rank(w: torch.Tensor, rank: int, what: str) -> None:
    if not isinstance(w, torch.Tensor) or w.dim() != rank:
        shape = list(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise CheckpointError(f"{what}: expected a {rank}-d TensorFlow kernel, got {shape}")


def conv2d_kernel(w: torch.Tensor) -> torch.Tensor:
    """TF ``Conv2D`` kernel ``[kh, kw, in, out]`` (HWIO) -> ``nn.Conv2d.weight`` ``[out, in, kh, kw]``."""
    _check_rank(w, 4, "conv2d_kernel")
    return w.permute(3, 2, 0, 1).contiguous()


def conv2d_transpose_kernel(w: torch.Tensor) -> torch.Tensor:
    """TF ``conv2d_transpose`` filter ``[kh, kw, out, in]`` -> ``nn.ConvTranspose2d.weight`` ``[in, out, kh, kw]``."""
    _check_rank(w, 4, "conv2d_transpose_kernel")
    return w.permute(3, 2, 0, 1).contiguous()


def dense_kernel(w: torch.Tensor) -> torch.Tensor:
    """TF dense ``[in, out]`` -> ``nn.Linear.weight`` ``[out, in]``."""
    _check_rank(w, 2, "dense_kernel")
    return w.t().contiguous()


def nhwc_features_to_nchw(t: torch.Tensor, height: int, width: int, channels: int, dim: int = 0) -> torch.Tensor:
    """Reorder axis ``dim`` (length ``h*w*c``, TF's NHWC reshape order) into PyTorch's ``(c, h, w)`` order.

    Use it on the ``[out, in]`` weight (``dim=0``) and bias of a dense layer whose output is reshaped to a
    feature map, and on the BatchNorm1d parameters that follow it.
    """
    if t.shape[dim] != height * width * channels:
        raise CheckpointError(f"nhwc_features_to_nchw: axis {dim} has {t.shape[dim]} features, "
                              f"not {height}*{width}*{channels}")
    moved = t.movedim(dim, 0)
    rest = moved.shape[1:]
    out = moved.reshape(height, width, channels, *rest).permute(2, 0, 1, *range(3, 3 + len(rest)))
    return out.reshape(height * width * channels, *rest).movedim(0, dim).contiguous()


# TF name -> nn.BatchNorm*d name (Keras/slim/TensorLayer use moving_*, prettytensor mean/variance)
BATCH_NORM_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                    "moving_variance": "running_var", "mean": "running_mean", "variance": "running_var"}


def batch_norm(tensors: Mapping[str, torch.Tensor], scope: str, prefix: str = "") -> Dict[str, torch.Tensor]:
    """The ``nn.BatchNorm*d`` state (``prefix`` + weight, bias, running_mean, running_var, num_batches_tracked)
    of the TF batch norm under ``scope`` (e.g. ``conv0/BatchNorm`` or
    ``g_net/conv_batch_norm_3/conv_batch_norm_3``); a missing gamma (slim ``scale=False``) becomes ones and a
    missing beta (``center=False``) zeros."""
    found = {}
    for tf_name, torch_name in BATCH_NORM_NAMES.items():
        key = f"{scope}/{tf_name}"
        if key in tensors:
            if torch_name in found:
                raise CheckpointError(f"batch norm {scope!r} has both moving_* and mean/variance statistics")
            found[torch_name] = tensors[key]
    for needed in ("running_mean", "running_var"):
        if needed not in found:
            raise CheckpointError(f"no batch norm statistics under {scope!r} (looked for {scope}/moving_mean and "
                                  f"{scope}/mean); check the scope name with `textgan convert tf-inspect`")
    mean = found["running_mean"]
    found.setdefault("weight", torch.ones_like(mean))
    found.setdefault("bias", torch.zeros_like(mean))
    shapes = {k: tuple(v.shape) for k, v in found.items()}
    if len(set(shapes.values())) != 1:
        raise CheckpointError(f"batch norm {scope!r}: parameters of different shapes {shapes}")
    out = {prefix + k: found[k] for k in ("weight", "bias", "running_mean", "running_var")}
    out[prefix + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


EMA_SUFFIX = "ExponentialMovingAverage"


def moving_average_names(names: Iterable[str], suffix: str = EMA_SUFFIX) -> Dict[str, str]:
    """``{variable: the name to read it from}``: its ``<name>/<suffix>`` shadow where one exists, else itself.
    The shadows themselves are not keys."""
    names = list(names)
    present = set(names)
    tail = "/" + suffix
    return {n: (n + tail if n + tail in present else n) for n in names if not n.endswith(tail)}


def prefer_moving_average(tensors: Mapping[str, torch.Tensor], suffix: str = EMA_SUFFIX) -> Dict[str, torch.Tensor]:
    """``{variable: value}`` with every variable that has an ``ExponentialMovingAverage`` shadow replaced by it
    (what ``ema.variables_to_restore()`` restores); reads only the tensors it returns."""
    return {name: tensors[source] for name, source in moving_average_names(tensors.keys(), suffix).items()}


# Optimizer slots, step counters and moving-average helpers: in training checkpoints, never weights.
TRAINING_STATE = re.compile(
    r"(^|/)(Adam(_\d+)?|Momentum|RMSProp(_\d+)?|Adagrad|Ftrl(_\d+)?|biased|local_step)$"
    r"|(^|/)(beta1_power|beta2_power|global_step|save_counter)(/|$)"
    r"|^optimizer/|/\.OPTIMIZER_SLOT/|^_CHECKPOINTABLE_OBJECT_GRAPH$")


def drop_training_state(names: Iterable[str]) -> List[str]:
    """The names that are not optimizer state, step counters or EMA helpers (see :data:`TRAINING_STATE`)."""
    return [n for n in names if not TRAINING_STATE.search(n)]


def _number_key(m: "re.Match[str]") -> Tuple:
    return tuple(int(g) if g is not None and g.isdigit() else -1 for g in m.groups())


def match_names(names: Iterable[str], pattern: str) -> List[Tuple[str, "re.Match[str]"]]:
    """The names that fully match ``pattern``, sorted by its numeric groups (an absent group counts as the
    lowest), so ``conv``, ``conv_1``, ``conv_2``, ..., ``conv_10`` come out in construction order."""
    rx = re.compile(pattern)
    hits = [(n, m) for n in names for m in [rx.fullmatch(n)] if m]
    return sorted(hits, key=lambda h: (_number_key(h[1]), h[0]))


def numbered_scopes(names: Iterable[str], outer: str, method: str) -> List[str]:
    """Scopes of the layers prettytensor/TF-slim created with ``method`` inside ``outer``, in creation order.

    TF uniquifies scopes as ``method``, ``method_1``, ``method_2``, ...; prettytensor opens the scope again
    inside itself for methods with a ``name`` argument, so ``g_net/custom_conv2d_3/custom_conv2d_3/w``.
    Returns the full scope up to the variable (``g_net/custom_conv2d_3/custom_conv2d_3``, or
    ``g_net/fc_batch_norm`` when not doubled). ``outer`` is matched exactly, so ``g_net`` does not match
    ``hr_g_net``.
    """
    rx = re.compile(rf"^{re.escape(outer)}/(?P<scope>{re.escape(method)}(?:_(?P<n>\d+))?)/(?:(?P=scope)/)?")
    roots: Dict[int, str] = {}
    for name in names:
        m = rx.match(name)
        if not m:
            continue
        index = int(m.group("n")) if m.group("n") else 0
        root = m.group(0)[:-1]
        if roots.setdefault(index, root) != root:
            longer, shorter = sorted((roots[index], root), key=len, reverse=True)
            if not longer.startswith(shorter + "/"):
                raise CheckpointError(f"two scopes for {method!r} #{index} in {outer!r}: {roots[index]!r}, {root!r}")
            roots[index] = longer  # prefer the doubled scope when both spellings occur
    return [roots[i] for i in sorted(roots)]


def lookup(tensors: Mapping[str, torch.Tensor], name: str, shape: Optional[Tuple[int, ...]] = None) -> torch.Tensor:
    """``tensors[name]`` with an error that says what is missing (and a shape check when ``shape`` is given)."""
    if name not in tensors:
        raise CheckpointError(f"the checkpoint has no variable {name!r}; list its names with "
                              f"`textgan convert tf-inspect CHECKPOINT`")
    t = tensors[name]
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise CheckpointError(f"variable {name!r} has shape {list(t.shape)}, expected {list(shape)}")
    return t

