"""Reusable building blocks, documented and usable on their own (no global config)."""
from .blocks import ConditionalLogitHead, FusionUpBlock, ResidualDownBlock
from .fusion import Affine, DFBlock

AffineFusion = Affine  # the name used in the design notes

__all__ = ["Affine", "AffineFusion", "DFBlock", "FusionUpBlock", "ResidualDownBlock", "ConditionalLogitHead"]
