"""One file per family; importing this package registers every model and pretrained tag."""
from . import damsm, dfgan  # noqa: F401
