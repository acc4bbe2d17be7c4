"""Reusable building blocks, documented and usable on their own (no global config).

Examples:
    >>> from textgan.nn import DFBlock, FusionUpBlock
    >>> block = FusionUpBlock(cond_dim=16, in_channels=32, out_channels=8)   # nearest x2, then two DF blocks
    >>> block(torch.randn(2, 32, 8, 8), torch.randn(2, 16)).shape
    torch.Size([2, 8, 16, 16])
"""
from .blocks import ConditionalLogitHead, FusionUpBlock, ResidualDownBlock
from .attention import WordAttention, damsm_attention
from .conditioning import ConditioningAugmentation
from .fusion import Affine, DFBlock
from .masks import MaskedBatchNormAffine, SemanticMaskPredictor, fusion_mask
from .vgg import VGG16

AffineFusion = Affine  # the name used in the design notes
"""Another name of :class:`Affine` (the one the design notes use).

Examples:
    >>> textgan.nn.AffineFusion is textgan.nn.Affine
    True
"""

__all__ = ["Affine", "AffineFusion", "DFBlock", "FusionUpBlock", "ResidualDownBlock", "ConditionalLogitHead",
           "SemanticMaskPredictor", "MaskedBatchNormAffine", "fusion_mask"]
__all__ += ["WordAttention", "damsm_attention", "ConditioningAugmentation"]
__all__ += ["VGG16"]
