"""Reusable building blocks, documented and usable on their own (no global config)."""
from .blocks import ConditionalLogitHead, FusionUpBlock, ResidualDownBlock
from .attention import WordAttention, damsm_attention
from .conditioning import ConditioningAugmentation
from .fusion import Affine, DFBlock
from .masks import MaskedBatchNormAffine, SemanticMaskPredictor, fusion_mask
from .vgg import VGG16

AffineFusion = Affine  # the name used in the design notes

__all__ = ["Affine", "AffineFusion", "DFBlock", "FusionUpBlock", "ResidualDownBlock", "ConditionalLogitHead",
           "SemanticMaskPredictor", "MaskedBatchNormAffine", "fusion_mask"]
__all__ += ["WordAttention", "damsm_attention", "ConditioningAugmentation"]
__all__ += ["VGG16"]
