"""textgan: the classic text-to-image GANs from their original released weights.

>>> import torch, textgan
>>> pipe = textgan.load_pretrained("path/made/by/textgan-convert")          # doctest: +SKIP
>>> pipe("a small red bird", generator=torch.Generator().manual_seed(0)).images[0]  # doctest: +SKIP
"""
__version__ = "0.1.0"

from . import errors, nn  # noqa: F401
from . import models  # noqa: F401  (registers every model and pretrained tag)
from ._registry import create_model, get_pretrained, list_models, list_pretrained, model_info
from .factories import damsm_text_encoder, dfgan, dfgan2020
from ._serialization import save_model
from .pipelines import PipelineOutput, TextToImagePipeline, load_pretrained
from . import convert  # noqa: E402,F401

__all__ = [
    "__version__", "create_model", "list_models", "list_pretrained", "get_pretrained", "model_info",
    "load_pretrained", "save_model", "TextToImagePipeline", "PipelineOutput", "dfgan", "dfgan2020", "damsm_text_encoder",
    "convert", "errors", "nn",
]
from .edit_pipeline import TextGuidedEditPipeline; __all__ += ["TextGuidedEditPipeline"]  # noqa: E402,E702
