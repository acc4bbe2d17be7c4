"""textgan: the classic text-to-image GANs from their original released weights."""
__version__ = "0.1.0"

from . import errors, nn  # noqa: F401
from . import models  # noqa: F401  (registers every model)
from ._registry import create_model, get_pretrained, list_models, list_pretrained, model_info

__all__ = ["__version__", "create_model", "list_models", "list_pretrained", "get_pretrained", "model_info"]
