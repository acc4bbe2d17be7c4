"""Model registry and pretrained tags, kept as data (timm's registry, torchvision's weights metadata).

A *model* is a constructor registered with :func:`register_model` (``"dfgan"``, ``"dfgan_discriminator"``,
...). A *pretrained tag* (``"dfgan-birds"``) names released weights for one family: where the authors
published them, in which format, which converter reads them, and the metrics published for them with the
protocol they were measured under. Tags point at a Hub repository holding the converted weights
(``hub_id``); the authors' original file can always be converted locally with ``textgan convert``.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch.nn as nn

from .errors import UnknownModelError

__all__ = [
    "Metric",
    "PretrainedTag",
    "register_model",
    "register_pretrained",
    "list_models",
    "list_pretrained",
    "get_pretrained",
    "get_model_entrypoint",
    "model_info",
    "create_model",
]


@dataclass(frozen=True)
class Metric:
    """A published number and the protocol it was measured under."""

    name: str  # "FID", "IS", "R-precision"
    value: float
    protocol: str  # e.g. "torchvision ImageNet Inception-v3, tensors, 29,120 samples vs bird_val256_FIDK0.npz"
    source: str  # where the number was published


@dataclass(frozen=True)
class PretrainedTag:
    """Released weights of one family, described as data."""

    tag: str
    family: str
    dataset: str
    resolution: int
    text_encoder: str
    license: str
    paper: str
    original_url: str
    original_filename: str
    file_format: str
    converter: str  # the ``kind`` passed to textgan.convert.from_official
    hub_id: str  # Hub repository with the converted pipeline (config.json + safetensors)
    parts: Dict[str, str] = field(default_factory=dict)  # registered model name -> file in the Hub repo
    metrics: Tuple[Metric, ...] = ()
    text_encoder_url: str = ""
    notes: str = ""

    @property
    def short_name(self) -> str:
        """The part after the family, e.g. ``"birds"`` for ``"dfgan-birds"``."""
        return self.tag[len(self.family) + 1:] if self.tag.startswith(self.family + "-") else self.tag


_MODELS: Dict[str, Callable[..., nn.Module]] = {}
_MODEL_FAMILY: Dict[str, str] = {}
_PRETRAINED: Dict[str, PretrainedTag] = {}


def register_model(family: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model constructor under its function name, for ``create_model`` and ``list_models``."""

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = fn
        _MODEL_FAMILY[name] = family
        return fn

    return decorator


def register_pretrained(tag: PretrainedTag) -> PretrainedTag:
    if tag.tag in _PRETRAINED:
        raise ValueError(f"pretrained tag {tag.tag!r} is registered twice")
    _PRETRAINED[tag.tag] = tag
    return tag


def list_models(pattern: Optional[str] = None, pretrained: bool = False) -> List[str]:
    """Registered model names, sorted; ``pattern`` is a shell wildcard (``"dfgan*"``).

    With ``pretrained=True`` only models that some pretrained tag provides weights for are listed.

    Examples:
        >>> textgan.list_models("dfgan*")
        ['dfgan', 'dfgan2020', 'dfgan2020_discriminator', 'dfgan_condition_head', 'dfgan_discriminator']
    """
    names = sorted(_MODELS)
    if pretrained:
        with_weights = {part for t in _PRETRAINED.values() for part in t.parts}
        names = [n for n in names if n in with_weights]
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def list_pretrained(pattern: Optional[str] = None) -> List[str]:
    """Registered pretrained tags (``"dfgan-birds"``, ...), sorted.

    Examples:
        >>> textgan.list_pretrained("dfgan-*")
        ['dfgan-birds', 'dfgan-coco']
    """
    tags = sorted(_PRETRAINED)
    return [t for t in tags if not pattern or fnmatch.fnmatchcase(t, pattern)]


def get_pretrained(tag: str) -> PretrainedTag:
    """The metadata of a pretrained tag: dataset, licence, the authors' file, published metrics and protocol.

    Examples:
        >>> tag = textgan.get_pretrained("dfgan-birds")
        >>> tag.dataset, tag.resolution, tag.original_filename
        ('CUB-200-2011', 256, 'state_epoch_1220.pth')
        >>> tag.metrics[0].name, tag.metrics[0].value
        ('FID', 12.1)
    """
    try:
        return _PRETRAINED[tag]
    except KeyError:
        raise UnknownModelError(
            f"unknown pretrained tag {tag!r}; known tags: {', '.join(list_pretrained()) or 'none'} "
            "(or pass a local directory or 'hf-hub:org/name')"
        ) from None


def get_model_entrypoint(name: str) -> Callable[..., nn.Module]:
    try:
        return _MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; textgan.list_models() lists the {len(_MODELS)} registered models"
        ) from None


def model_info(name: str) -> Dict[str, object]:
    """Family and the pretrained tags that provide weights for model ``name``.

    Examples:
        >>> textgan.model_info("dfgan")["pretrained"]
        ['dfgan-birds', 'dfgan-coco']
    """
    get_model_entrypoint(name)
    return {
        "name": name,
        "family": _MODEL_FAMILY[name],
        "pretrained": sorted(t.tag for t in _PRETRAINED.values() if name in t.parts),
    }


def _resolve_tag(name: str, pretrained: str) -> PretrainedTag:
    """``pretrained`` may be a full tag (``"dfgan-birds"``) or the short name within the family (``"birds"``)."""
    family = _MODEL_FAMILY[name]
    for candidate in (pretrained, f"{family}-{pretrained}"):
        tag = _PRETRAINED.get(candidate)
        if tag is not None:
            if name not in tag.parts:
                raise UnknownModelError(
                    f"pretrained tag {tag.tag!r} has no weights for model {name!r}; it provides: "
                    f"{', '.join(sorted(tag.parts))}"
                )
            return tag
    options = [t.short_name for t in _PRETRAINED.values() if name in t.parts]
    raise UnknownModelError(
        f"no pretrained weights {pretrained!r} for model {name!r}; available: {', '.join(options) or 'none'}"
    )


def create_model(name: str, pretrained=None, **kwargs) -> nn.Module:
    """Build a registered model; with ``pretrained`` (a tag, a short name, a local directory or
    ``"hf-hub:org/name"``; ``True`` for the first tag that provides it) its weights are loaded strictly and
    the sizes come from the weights' config.

    Examples:
        >>> G = textgan.create_model("dfgan", ngf=8, imsize=64)
        >>> G.config["imsize"], G.config["ngf"]
        (64, 8)
    """
    entry = get_model_entrypoint(name)
    if pretrained is None or pretrained is False:
        try:
            return entry(**kwargs)
        except TypeError as e:  # an unknown keyword or a size of the wrong type
            raise TypeError(f"create_model({name!r}, {_kwargs_text(kwargs)}): {e}; see the model's docstring "
                            f"(help(textgan.{getattr(entry, '__name__', name)})) for its arguments") from e
        except RuntimeError as e:  # torch refusing a size: negative, or more memory than there is
            raise ValueError(f"create_model({name!r}, {_kwargs_text(kwargs)}) cannot build the model: "
                             f"{str(e).splitlines()[0][:300]}; check the sizes") from e
    if pretrained is True:
        tags = [t.tag for t in _PRETRAINED.values() if name in t.parts]
        if not tags:
            raise UnknownModelError(f"model {name!r} has no pretrained weights registered")
        pretrained = tags[0]
    from ._serialization import load_model_weights

    source = pretrained
    filename = None
    if not _looks_like_location(pretrained):
        tag = _resolve_tag(name, pretrained)
        source, filename = tag.tag, tag.parts[name]  # resolved to its Hub repository by textgan.hub
    return load_model_weights(name, source, filename=filename, **kwargs)


def _kwargs_text(kwargs) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())[:300]


def _looks_like_location(value: str) -> bool:
    import os

    return value.startswith("hf-hub:") or os.path.isdir(value)
