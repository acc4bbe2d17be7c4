"""VGG-16 (Simonyan & Zisserman, 2015) defined here, with the parameter names of torchvision's ``vgg16`` /
``vgg16_bn`` so their ImageNet state dicts load with no key map (``features.N``, ``classifier.N``).

torchvision is not needed (nor imported). The layer list is torchvision's ``make_layers`` for configuration
"D": per stage 2, 2, 3, 3, 3 convolutions (3×3, padding 1), each optionally followed by BatchNorm, then an
in-place ReLU, and a 2×2 max-pool closing each stage. Widths are arguments so that reduced test models can
be built; the defaults are the ImageNet network.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

import torch
import torch.nn as nn

__all__ = ["VGG16", "VGG16_WIDTHS", "VGG16_STAGE_DEPTHS", "vgg16_layers", "vgg16_widths_from_state_dict"]

#: Output width of each of the five stages of VGG-16.
VGG16_WIDTHS: Tuple[int, ...] = (64, 128, 256, 512, 512)
#: Convolutions per stage (configuration "D").
VGG16_STAGE_DEPTHS: Tuple[int, ...] = (2, 2, 3, 3, 3)


def vgg16_layers(widths: Sequence[int] = VGG16_WIDTHS, batch_norm: bool = False, in_channels: int = 3,
                 stages: int = 5) -> List[nn.Module]:
    """The modules of ``torchvision.models.vgg16(_bn)().features`` in order (first ``stages`` stages).

    Index ``k`` of the returned list is ``features.k`` of torchvision's model.
    """
    if len(widths) < stages:
        raise ValueError(f"widths needs {stages} entries (one per stage), got {list(widths)}")
    layers: List[nn.Module] = []
    channels = in_channels
    for width, depth in zip(list(widths)[:stages], VGG16_STAGE_DEPTHS):
        for _ in range(depth):
            layers.append(nn.Conv2d(channels, int(width), kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(int(width)))
            layers.append(nn.ReLU(inplace=True))
            channels = int(width)
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return layers


class VGG16(nn.Module):
    """VGG-16 with torchvision's module names: ``features``, ``avgpool`` (adaptive, 7×7), ``classifier``.

    Args:
        widths: the five stage widths (64, 128, 256, 512, 512).
        batch_norm: ``vgg16_bn`` (BatchNorm after every convolution) instead of ``vgg16``.
        fc_dim: width of fc6 and fc7 (4096).
        num_classes: outputs of fc8 (1000); 0 leaves fc8 out (the classifier then ends after fc7's dropout).
        dropout: dropout of the classifier (0.5; active in training mode only).

    ``forward(images)`` is torchvision's: features → avgpool → flatten → classifier (ImageNet logits).
    ``load_state_dict`` accepts torchvision's ``vgg16-397923af.pth`` / ``vgg16_bn-6c64b313.pth`` as they are.

    Examples:
        >>> from textgan.nn import VGG16
        >>> vgg = VGG16(widths=(4, 4, 8, 8, 8), fc_dim=16, num_classes=10)   # VGG16() is the full-size network
        >>> vgg(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 10])
    """

    def __init__(self, widths: Sequence[int] = VGG16_WIDTHS, batch_norm: bool = False, fc_dim: int = 4096,
                 num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.widths, self.batch_norm, self.fc_dim = tuple(int(w) for w in widths), batch_norm, fc_dim
        self.features = nn.Sequential(*vgg16_layers(self.widths, batch_norm))
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(self.widths[-1] * 7 * 7, fc_dim), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(True), nn.Dropout(p=dropout),
            *([nn.Linear(fc_dim, num_classes)] if num_classes else []),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(images))
        return self.classifier(torch.flatten(x, 1))

    @staticmethod
    def config_from_state_dict(state_dict: Mapping[str, torch.Tensor], prefix: str = "") -> Dict[str, object]:
        """Constructor arguments (widths, batch_norm, fc_dim, num_classes) read off a torchvision-style state dict."""
        batch_norm = f"{prefix}features.1.running_mean" in state_dict
        widths = vgg16_widths_from_state_dict(state_dict, prefix + "features.", batch_norm)
        fc6 = state_dict[f"{prefix}classifier.0.weight"].shape
        fc8 = state_dict.get(f"{prefix}classifier.6.weight")
        return dict(widths=widths, batch_norm=batch_norm, fc_dim=int(fc6[0]),
                    num_classes=int(fc8.shape[0]) if fc8 is not None else 0)


def vgg16_widths_from_state_dict(state_dict: Mapping[str, torch.Tensor], prefix: str, batch_norm: bool,
                                 stages: int = 5, skip: Sequence[int] = ()) -> Tuple[int, ...]:
    """Stage widths of ``stages`` VGG-16 stages whose layers sit at ``prefix + index``.

    ``skip`` lists torchvision indices that were removed from the sequence (later indices shift down by one
    for each), as in SISGAN's encoder, which drops ``features.23``.
    """
    per_conv = 3 if batch_norm else 2
    widths, index = [], 0
    for depth in VGG16_STAGE_DEPTHS[:stages]:
        first = index
        index += depth * per_conv + 1  # the convolutions of the stage, then its max-pool
        shifted = first - sum(1 for s in skip if s < first)
        key = f"{prefix}{shifted}.weight"
        if key not in state_dict:
            raise KeyError(key)
        widths.append(int(state_dict[key].shape[0]))
    return tuple(widths)
