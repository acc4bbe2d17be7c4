"""The Inception-v3 networks of the metrics, built from the blocks of :mod:`textgan.models.inception`.

* :class:`FIDInceptionV3`: the TF ``inception-2015-12-05`` graph as ported by pytorch-fid
  (``pt_inception-2015-12-05-6726825d.pth``, Apache-2.0): torchvision's layout with 1008 classes, no
  ``AuxLogits``, and the ported graph's pooling: the pool branches of ``Mixed_5b..6e`` and ``Mixed_7b``
  average without counting the padding (TF's ``avg_pool``), ``Mixed_7c``'s pool branch is a 3×3 max pool.
  Used by the "tf" and "clean" FID protocols and the COCO Inception Score (1008 logits without bias).
* :class:`textgan.models.inception.InceptionV3`: torchvision's ImageNet ``inception_v3`` (the
  "legacy-t2i" FID of DF-GAN / DM-GAN / SEMA; ``inception_v3_google-0cc3c7bd.pth``, BSD-3-Clause).
* :class:`StackGANInceptionV3`: the TF-slim Inception-v3 fine-tuned on CUB / Oxford-102 by the StackGAN
  authors (hanzhanggit/StackGAN-inception-model, Apache-2.0), read from its TensorFlow checkpoint by
  :meth:`StackGANInceptionV3.from_tf_checkpoint`. Every pool branch averages without the padding (TF), BN
  has no scale (γ = 1), the classifier has ``num_classes + 1`` outputs (index 0 is an unused background).

No weights are bundled: :func:`load_inception` takes a path, or downloads the original file with its checksum.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ArchitectureMismatchError, ChecksumError
from ..models.inception import InceptionA, InceptionC, InceptionE, InceptionV3, _InceptionTrunk

__all__ = ["FIDInceptionV3", "StackGANInceptionV3", "InceptionV3", "load_inception", "random_inception", "WEIGHTS"]

PathLike = Union[str, os.PathLike]

# name -> (url, sha256 prefix in the file name, network, licence)
WEIGHTS = {
    "fid": ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth", "6726825d", "FIDInceptionV3", "Apache-2.0"),
    "torchvision": ("https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth", "0cc3c7bd",
                    "InceptionV3", "BSD-3-Clause"),
}


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's SAME average pool divides by the number of real (unpadded) inputs.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    """InceptionA whose pool branch averages like TF (pytorch-fid's ``FIDInceptionA``)."""
    _pool = staticmethod(_tf_avg_pool)


class FIDInceptionC(InceptionC):
    """InceptionC whose pool branch averages like TF (``FIDInceptionC``)."""
    _pool = staticmethod(_tf_avg_pool)


class FIDInceptionE_1(InceptionE):  # noqa: N801 (pytorch-fid's name)
    """InceptionE whose pool branch averages like TF (``FIDInceptionE_1``)."""
    _pool = staticmethod(_tf_avg_pool)


class FIDInceptionE_2(InceptionE):  # noqa: N801
    """InceptionE with the 3×3 max pool of the ported graph's last block (``FIDInceptionE_2``)."""

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


_FID_BLOCKS = {"Mixed_5b": FIDInceptionA, "Mixed_5c": FIDInceptionA, "Mixed_5d": FIDInceptionA,
               "Mixed_6b": FIDInceptionC, "Mixed_6c": FIDInceptionC, "Mixed_6d": FIDInceptionC,
               "Mixed_6e": FIDInceptionC, "Mixed_7b": FIDInceptionE_1, "Mixed_7c": FIDInceptionE_2}
_TF_BLOCKS = dict(_FID_BLOCKS, Mixed_7c=FIDInceptionE_1)  # slim's last block averages too


def _retype(trunk: nn.Module, table: Mapping[str, type]) -> None:
    # The patched blocks differ from torchvision's only in the pool branch (same children, same state), so
    # the already built blocks change class instead of being built twice.
    for name, cls in table.items():
        getattr(trunk, name).__class__ = cls


class _Classifier(_InceptionTrunk):
    def __init__(self, num_classes: int, width_divisor: int, blocks: Mapping[str, type]) -> None:
        super().__init__()
        self.config = dict(num_classes=num_classes, width_divisor=width_divisor)
        self._build_trunk(width_divisor)
        _retype(self, blocks)
        self.fc = nn.Linear(2048 // width_divisor, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``(B, 3, 299, 299)`` input → pooled ``(B, 2048)`` pool3 features."""
        return self._to_pooled(self._to_17x17(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class FIDInceptionV3(_Classifier):
    """pytorch-fid's FID Inception (the TF 2015-12-05 graph); its ``.pth`` loads with no key map.

    Args:
        num_classes: 1008 in the ported file.
        width_divisor: 1 for the real network (narrow copies for tests).

    :meth:`features` gives the 2048-d pool3 vector, :meth:`logits_unbiased` the 1008 logits without the
    bias (improved-gan's Inception Score). Input: ``(B, 3, 299, 299)`` in [-1, 1].
    """

    def __init__(self, num_classes: int = 1008, width_divisor: int = 1) -> None:
        super().__init__(num_classes, width_divisor, _FID_BLOCKS)

    def logits_unbiased(self, pooled: torch.Tensor) -> torch.Tensor:
        """pool3 features → ``pool3 · W`` (the ``softmax/logits/MatMul`` of the TF graph, no bias)."""
        return pooled @ self.fc.weight.T


class StackGANInceptionV3(_Classifier):
    """The fine-tuned TF-slim Inception-v3 of the birds / flowers Inception Score.

    Args:
        num_classes: classifier outputs including the background logit (51 birds, 21 flowers).
        width_divisor: 1 for the released checkpoints.

    Input ``(B, 3, 299, 299)`` in [-1, 1] (``x / 127.5 − 1``) → logits ``(B, num_classes)``.
    """

    def __init__(self, num_classes: int = 51, width_divisor: int = 1) -> None:
        super().__init__(num_classes, width_divisor, _TF_BLOCKS)

    @classmethod
    def from_tf_checkpoint(cls, path: PathLike) -> "StackGANInceptionV3":
        """Read ``model.ckpt-5000`` (V1 or V2) of StackGAN-inception-model; sizes come from the weights."""
        from ..convert import read_tf_checkpoint
        from .._weights import build_from_state_dict

        ckpt = read_tf_checkpoint(path)
        state = stackgan_state_dict(ckpt, str(path))
        config = dict(num_classes=int(state["fc.weight"].shape[0]),
                      width_divisor=32 // int(state["Conv2d_1a_3x3.conv.weight"].shape[0]))
        return build_from_state_dict(cls, config, state, f"{path} (StackGAN fine-tuned Inception)")


# ------------------------------------------------------------------ the TF-slim names (inception/slim)

_STEM = {"Conv2d_1a_3x3": "conv0", "Conv2d_2a_3x3": "conv1", "Conv2d_2b_3x3": "conv2",
         "Conv2d_3b_1x1": "conv3", "Conv2d_4a_3x3": "conv4"}
_MIXED = {"Mixed_5b": "mixed_35x35x256a", "Mixed_5c": "mixed_35x35x288a", "Mixed_5d": "mixed_35x35x288b",
          "Mixed_6a": "mixed_17x17x768a", "Mixed_6b": "mixed_17x17x768b", "Mixed_6c": "mixed_17x17x768c",
          "Mixed_6d": "mixed_17x17x768d", "Mixed_6e": "mixed_17x17x768e", "Mixed_7a": "mixed_17x17x1280a",
          "Mixed_7b": "mixed_8x8x2048a", "Mixed_7c": "mixed_8x8x2048b"}
# torchvision branch conv -> (slim branch scope, index of the unnamed ``Conv`` in it: Conv, Conv_1, ...)
_BRANCHES = {
    "branch1x1": ("branch1x1", 0), "branch5x5_1": ("branch5x5", 0), "branch5x5_2": ("branch5x5", 1),
    "branch3x3dbl_1": ("branch3x3dbl", 0), "branch3x3dbl_2": ("branch3x3dbl", 1),
    "branch3x3dbl_3": ("branch3x3dbl", 2), "branch3x3dbl_3a": ("branch3x3dbl", 2),
    "branch3x3dbl_3b": ("branch3x3dbl", 3), "branch_pool": ("branch_pool", 0), "branch3x3": ("branch3x3", 0),
    "branch7x7_1": ("branch7x7", 0), "branch7x7_2": ("branch7x7", 1), "branch7x7_3": ("branch7x7", 2),
    "branch7x7dbl_1": ("branch7x7dbl", 0), "branch7x7dbl_2": ("branch7x7dbl", 1),
    "branch7x7dbl_3": ("branch7x7dbl", 2), "branch7x7dbl_4": ("branch7x7dbl", 3),
    "branch7x7dbl_5": ("branch7x7dbl", 4), "branch3x3_1": ("branch3x3", 0), "branch3x3_2": ("branch3x3", 1),
    "branch3x3_2a": ("branch3x3", 1), "branch3x3_2b": ("branch3x3", 2),
    "branch7x7x3_1": ("branch7x7x3", 0), "branch7x7x3_2": ("branch7x7x3", 1),
    "branch7x7x3_3": ("branch7x7x3", 2), "branch7x7x3_4": ("branch7x7x3", 3),
}


def slim_scope(module_name: str) -> str:
    """TF-slim scope of a torchvision-named ``BasicConv2d`` (``Mixed_5b.branch5x5_2`` →
    ``mixed_35x35x256a/branch5x5/Conv_1``)."""
    if module_name in _STEM:
        return _STEM[module_name]
    block, branch = module_name.split(".")
    scope, index = _BRANCHES[branch]
    return f"{_MIXED[block]}/{scope}/Conv" + (f"_{index}" if index else "")


def stackgan_state_dict(tensors: Mapping[str, torch.Tensor], source: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """A :class:`StackGANInceptionV3` state dict from the checkpoint's variables (EMA shadows preferred,
    as ``ExponentialMovingAverage(0.9999).variables_to_restore()`` restores them)."""
    from ..convert.tf_mapping import batch_norm, conv2d_kernel, dense_kernel, lookup, moving_average_names

    names = moving_average_names(tensors.keys())
    first = [n for n in names if n.endswith("conv0/weights")]
    if not first:
        raise ArchitectureMismatchError(
            f"{source}: no 'conv0/weights' variable, so not a StackGAN-inception-model (inception/slim) "
            "checkpoint; list its names with `textgan convert tf-inspect`")
    prefix = first[0][: -len("conv0/weights")]  # a tower scope, if the checkpoint has one
    view = _EMAView(tensors, names, prefix)
    probe = InceptionV3(num_classes=1, aux_logits=False,
                        width_divisor=32 // int(view["conv0/weights"].shape[-1]))
    state: Dict[str, torch.Tensor] = {}
    for name, module in probe.named_modules():
        if type(module).__name__ != "BasicConv2d":
            continue
        scope = slim_scope(name)
        state[f"{name}.conv.weight"] = conv2d_kernel(lookup(view, f"{scope}/weights"))
        state.update(batch_norm(view, f"{scope}/BatchNorm", prefix=f"{name}.bn."))
    state["fc.weight"] = dense_kernel(lookup(view, "logits/logits/weights"))
    state["fc.bias"] = lookup(view, "logits/logits/biases")
    return state


class _EMAView(Mapping):
    """``name → tensor`` reading each variable from its moving-average shadow where there is one."""

    def __init__(self, tensors: Mapping[str, torch.Tensor], names: Mapping[str, str], prefix: str) -> None:
        self._t, self._names, self._p = tensors, names, prefix

    def __getitem__(self, key: str) -> torch.Tensor:
        value = self._t[self._names[self._p + key]]
        return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._p + key in self._names

    def __iter__(self):
        n = len(self._p)
        return (k[n:] for k in self._names if k.startswith(self._p))

    def __len__(self) -> int:
        return sum(1 for _ in self)


# ------------------------------------------------------------------ loading


def _sha256_prefix(path: Path) -> str:
    from .._download import sha256_file

    return sha256_file(path)


def _cached_download(kind: str) -> Path:
    from ..hub import download_url

    url, prefix, _, _ = WEIGHTS[kind]
    hub_dir = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    dest = hub_dir / url.rsplit("/", 1)[1]
    if not dest.is_file():
        download_url(url, dest)
    digest = _sha256_prefix(dest)
    if not digest.startswith(prefix):
        raise ChecksumError(f"{dest}: sha256 {digest[:16]}... does not start with {prefix} as the file name "
                            "promises; delete the file and download it again")
    return dest


def _fill_batch_counters(module: nn.Module, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    # Files written before PyTorch 0.4.1 have no BatchNorm ``num_batches_tracked``; they are not weights.
    for key, value in module.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    return state


def load_inception(kind: str, weights: Union[None, PathLike, Mapping[str, torch.Tensor]] = None) -> nn.Module:
    """The metric network ``kind`` ("fid", "torchvision" or "stackgan") in eval mode.

    Args:
        kind: ``"fid"`` (pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``), ``"torchvision"``
            (``inception_v3_google-0cc3c7bd.pth``) or ``"stackgan"`` (a TF checkpoint prefix; required).
        weights: a file path or a state dict; None downloads the original file into the torch hub cache
            (``$TORCH_HOME/hub/checkpoints``) and checks the sha256 prefix its name carries.
    """
    from .._weights import as_state_dict, build_from_state_dict, load_torch_file, strip_prefix
    from ..models.inception import inception_config_from_state_dict

    if kind == "stackgan":
        if weights is None or isinstance(weights, Mapping):
            raise ValueError("the StackGAN fine-tuned Inception has no download location textgan can reach: pass "
                             "inception_weights='.../inception_finetuned_models/birds_valid299/model.ckpt-5000' "
                             "(from hanzhanggit/StackGAN-inception-model's README)")
        return StackGANInceptionV3.from_tf_checkpoint(weights)
    if kind not in WEIGHTS:
        raise ValueError(f"unknown Inception kind {kind!r}; use 'fid', 'torchvision' or 'stackgan'")
    if isinstance(weights, Mapping):
        source, state = "state dict", dict(weights)
    else:
        path = Path(weights) if weights is not None else _cached_download(kind)
        source = str(path)
        state = as_state_dict(load_torch_file(path), source, "Inception-v3 weights")
    state = strip_prefix(state, "module.")
    if "fc.weight" not in state:
        raise ArchitectureMismatchError(f"{source}: no 'fc.weight'; not a torchvision-layout Inception-v3 file "
                                        f"(first keys: {', '.join(list(state)[:5])})")
    config = dict(inception_config_from_state_dict(state), num_classes=int(state["fc.weight"].shape[0]))
    if kind == "fid":
        cls = FIDInceptionV3
        if any(k.startswith("AuxLogits.") for k in state):
            raise ArchitectureMismatchError(
                f"{source}: has AuxLogits, so it is torchvision's ImageNet Inception, not pytorch-fid's FID "
                "Inception; use protocol='legacy-t2i' for it, or pass pt_inception-2015-12-05-6726825d.pth")
    else:
        cls = InceptionV3
        config["aux_logits"] = any(k.startswith("AuxLogits.") for k in state)
    with torch.device("meta"):
        probe = cls(**config)
    state = _fill_batch_counters(probe, state)
    return build_from_state_dict(cls, config, state, f"{source} ({cls.__name__})")



def random_inception(cls: type = None, *, width_divisor: int = 1, seed: int = 0, calibration_size: int = 4,
                     calibration: torch.Tensor = None, **kwargs) -> nn.Module:
    """A randomly initialised metric network whose BatchNorm statistics are calibrated on random images, so
    that activations stay of order one through all 94 layers (with torch's default init they vanish and
    every image gets the same features), and scaled so that the pooled features average 0.4. ``calibration``:
    the normalised network input to calibrate on (default: uniform noise images); use images like the ones
    to be scored, or the features of other images can be far larger. For tests and
    comparisons with the reference implementations on the
    same weights file; never for reported numbers."""
    cls = cls or FIDInceptionV3
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = cls(width_divisor=width_divisor, **kwargs)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5, generator=gen)
            bn.bias.uniform_(-0.1, 0.3, generator=gen)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the statistics of the calibration batch
        net.train()
        x = calibration if calibration is not None else torch.rand(calibration_size, 3, 299, 299, generator=gen) * 2 - 1
        net.features(x)
        for bn in bns:
            bn.momentum = 0.1
        # Scale the BatchNorms that end Mixed_7c's branches (ReLU is positively homogeneous) so that the pooled
        # features average 0.4, as the real networks' pool3 features do; FIDs then have realistic magnitudes.
        scale = 0.4 / float(net.eval().features(x).mean())
        last = net.Mixed_7c
        for name in ("branch1x1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"):
            bn = getattr(last, name).bn
            bn.weight.mul_(scale)
            bn.bias.mul_(scale)
    return net.eval()
