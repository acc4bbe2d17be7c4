"""One file per family; importing this package registers every model and pretrained tag."""
from . import charcnnrnn, damsm, dfgan, gan_int_cls  # noqa: F401
from . import sema, ssagan  # noqa: F401
from . import attngan, inception  # noqa: F401
from . import sisgan  # noqa: F401
from . import stackgan, stackgan_pipeline, stackgan_tf  # noqa: F401
from . import stackgan_v2  # noqa: F401
