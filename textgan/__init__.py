"""textgan: the classic text-to-image GANs from their original released weights.

>>> import torch, textgan
>>> pipe = textgan.load_pretrained("path/made/by/textgan-convert")          # doctest: +SKIP
>>> pipe("a small red bird", generator=torch.Generator().manual_seed(0)).images[0]  # doctest: +SKIP
"""
__version__ = "0.1.0"

from . import errors, nn  # noqa: F401
from . import models  # noqa: F401  (registers every model and pretrained tag)
from ._registry import create_model, get_pretrained, list_models, list_pretrained, model_info
from ._serialization import save_model
from .factories import (attngan, char_cnn_rnn, damsm_text_encoder, dfgan, dfgan2020, gan_int_cls, sema, sisgan,
                        ssagan, stackgan, stackgan_v2)
from .pipelines import PipelineOutput, TextToImagePipeline, load_pretrained
from .edit_pipeline import TextGuidedEditPipeline  # noqa: E402  (registers its loader with load_pretrained)
from . import convert  # noqa: E402,F401
from . import metrics  # noqa: E402,F401  (textgan.metrics.fid / inception_score / r_precision)

__all__ = [
    "__version__", "create_model", "list_models", "list_pretrained", "get_pretrained", "model_info",
    "load_pretrained", "save_model", "TextToImagePipeline", "TextGuidedEditPipeline", "PipelineOutput",
    "dfgan", "dfgan2020", "attngan", "ssagan", "sema", "gan_int_cls", "sisgan", "char_cnn_rnn",
    "damsm_text_encoder", "convert", "errors", "nn", "stackgan", "stackgan_v2",
]
