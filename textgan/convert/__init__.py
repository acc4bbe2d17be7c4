"""Converters from the authors' original releases.

Examples:
    Each reads a file as its authors released it (or the object it holds) and infers every size from the weights:

    >>> G = textgan.dfgan(ngf=8, imsize=64)
    >>> checkpoint = {"model": {"netG": G.state_dict()}}   # the layout of DF-GAN's state_epoch_*.pth
    >>> textgan.convert.from_official("dfgan", checkpoint).config == G.config
    True
"""
from .official import from_official, load_official_state_dict, official_kinds, pipeline_from_official

__all__ = ["from_official", "load_official_state_dict", "official_kinds", "pipeline_from_official"]
from .npz import read_tensorlayer_npz, read_tensorlayer_params  # noqa: E402
from .tf import ChecksumError, TFCheckpoint, read_tf_checkpoint  # noqa: E402
__all__ += ["ChecksumError", "TFCheckpoint", "read_tf_checkpoint", "read_tensorlayer_npz", "read_tensorlayer_params"]
from .torch7 import char_cnn_rnn_from_torch7, from_lua_module, gan_int_cls_from_torch7, read_torch7  # noqa: E402
from ..models.gan_int_cls import gan_int_cls_pipeline  # noqa: E402
__all__ += ["read_torch7", "from_lua_module", "char_cnn_rnn_from_torch7", "gan_int_cls_from_torch7", "gan_int_cls_pipeline"]
