"""Converters from the authors' released PyTorch files to textgan modules.

Each converter reads the file in the layout it was released in, finds the sub-state-dict of the module
asked for, removes DataParallel prefixes, infers every size from the weights and loads strictly.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Mapping, Union

import torch
import torch.nn as nn

from .._weights import as_state_dict, build_from_state_dict, load_torch_file, strip_prefix
from ..errors import ArchitectureMismatchError, CheckpointError
from ..models import dfgan as _dfgan
from ..models import sema as _sema, ssagan as _ssagan
from ..models import attngan as _attngan, inception as _inception
from ..models import sisgan as _sisgan
from ..models import charcnnrnn as _charcnnrnn, gan_int_cls as _gan_int_cls
from ..models import stackgan as _stackgan, stackgan_tf as _stackgan_tf
from ..models import stackgan_v2 as _stackgan_v2
from ..models.damsm import text_encoder_config_from_state_dict
from ..text.damsm import DAMSMTextEncoder

__all__ = ["from_official", "official_kinds", "load_official_state_dict", "pipeline_from_official",
           "attngan_pipeline_from_official"]

Checkpoint = Union[str, os.PathLike, Mapping[str, Any]]

# DF-GAN 2022 training checkpoints: {'model': {'netG', 'netD', 'netC'}, 'optimizers': ..., 'epoch': ...}
_DFGAN_PART = {"dfgan": "netG", "dfgan_discriminator": "netD", "dfgan_condition_head": "netC"}
_CLASSES: Dict[str, Callable[..., nn.Module]] = {
    "dfgan": _dfgan.DFGANGenerator,
    "dfgan_discriminator": _dfgan.DFGANDiscriminator,
    "dfgan_condition_head": _dfgan.DFGANConditionHead,
    "dfgan2020": _dfgan.DFGAN2020Generator,
    "dfgan2020_discriminator": _dfgan.DFGAN2020Discriminator,
    "damsm_text_encoder": DAMSMTextEncoder,
    "ssagan": _ssagan.SSAGANGenerator,
    "ssagan_discriminator": _ssagan.SSAGANDiscriminator,
    "sema": _sema.SEMAGenerator,
    "attngan": _attngan.AttnGANGenerator,
    "attngan_discriminator": _attngan.AttnGANDiscriminator,
    "damsm_image_encoder": _inception.DAMSMImageEncoder,
}
_CLASSES.update(_sisgan._CLASSES)  # sisgan, sisgan_discriminator, sisgan_text_encoder, sisgan_vse
_WHAT = {
    "dfgan": "DF-GAN 2022 generator (NetG)",
    "dfgan_discriminator": "DF-GAN 2022 discriminator (NetD)",
    "dfgan_condition_head": "DF-GAN 2022 condition head (NetC)",
    "dfgan2020": "DF-GAN 2020 generator (NetG)",
    "dfgan2020_discriminator": "DF-GAN 2020 discriminator (NetD with COND_DNET)",
    "damsm_text_encoder": "DAMSM text encoder (RNN_ENCODER)",
    "ssagan": "SSA-GAN generator (NetG)",
    "ssagan_discriminator": "SSA-GAN discriminator (NetD with COND_DNET)",
    "sema": "SEMA generator (NetG)",
    "attngan": "AttnGAN generator (G_NET)",
    "attngan_discriminator": "AttnGAN discriminator (D_NET64/128/256)",
    "damsm_image_encoder": "DAMSM image encoder (CNN_ENCODER)",
}
_WHAT.update(_sisgan._WHAT)
_HINTS = {
    "dfgan": "DF-GAN 2022 files are code/saved_models/*/state_epoch_*.pth; a 2020 netG.pth needs kind 'dfgan2020'",
    "dfgan2020": "DF-GAN 2020 files are models/*/netG.pth; a 2022 state_epoch_*.pth needs kind 'dfgan'",
    "damsm_text_encoder": "the DAMSM files are text_encoder200.pth (birds) and text_encoder100.pth (coco)",
    "ssagan": ("SSA-GAN files are models/netG_XXX.pth / netD_XXX.pth ('module.'-prefixed keys); a DF-GAN 2020 "
               "netG.pth needs kind 'dfgan2020', SEMA's netG.pth kind 'sema'"),
    "sema": "SEMA's file is a bare netG.pth; DF-GAN 2020 and SSA-GAN generators need kinds 'dfgan2020' / 'ssagan'",
    "attngan": ("AttnGAN generators are models/bird_AttnGAN2.pth and models/coco_AttnGAN2.pth; the DAMSM encoders "
                "need kinds 'damsm_text_encoder' / 'damsm_image_encoder'"),
    "attngan_discriminator": "AttnGAN discriminators are netD0.pth .. netD2.pth of a training run (never released)",
    "damsm_image_encoder": "the DAMSM image encoders are image_encoder200.pth (birds) and image_encoder100.pth (coco)",
}
# families with their own size inference (the others are DF-GAN's)
_CONFIG_FROM_STATE_DICT = {"ssagan": _ssagan.config_from_state_dict, "ssagan_discriminator": _ssagan.config_from_state_dict,
                           "sema": _sema.config_from_state_dict}
_CONFIG_FROM_STATE_DICT.update(attngan=_attngan.config_from_state_dict,
                               attngan_discriminator=_attngan.config_from_state_dict,
                               damsm_image_encoder=lambda kind, sd: _inception.image_encoder_config_from_state_dict(sd))
_CONFIG_FROM_STATE_DICT.update({kind: _sisgan.config_from_state_dict for kind in _sisgan.OFFICIAL_KINDS})
_HINTS.update({kind: _sisgan._HINT for kind in _sisgan.OFFICIAL_KINDS})
# GAN-INT-CLS PyTorch ports (aelnouby/bojito) and the char-CNN-RNN port (martinduartemore); Lua .t7 files: torch7.py
_CLASSES.update(_gan_int_cls._CLASSES, char_cnn_rnn=_charcnnrnn.CharCNNRNN)
_WHAT.update(_gan_int_cls._WHAT, char_cnn_rnn="char-CNN-RNN text encoder (martinduartemore/char_cnn_rnn_pytorch)")
_CONFIG_FROM_STATE_DICT.update({k: _gan_int_cls.config_from_state_dict for k in _gan_int_cls.OFFICIAL_KINDS},
                               char_cnn_rnn=lambda kind, sd: _charcnnrnn.config_from_state_dict(sd))
_HINTS.update({k: _gan_int_cls._HINT for k in _gan_int_cls.OFFICIAL_KINDS}, char_cnn_rnn=_charcnnrnn.HINT)
# StackGAN-Pytorch (COCO); the TensorFlow release (birds, flowers) is read by stackgan_tf_from_checkpoint
_CLASSES.update(_stackgan._CLASSES, stackgan_tf=_stackgan_tf.StackGANTFStage2G,
                stackgan_tf_stage1=_stackgan_tf.StackGANTFStage1G)
_WHAT.update(_stackgan._WHAT, stackgan_tf="StackGAN TensorFlow Stage-II generator (hr_g_net + g_net)",
             stackgan_tf_stage1="StackGAN TensorFlow Stage-I generator (g_net)")
_CONFIG_FROM_STATE_DICT.update({k: _stackgan.config_from_state_dict for k in _stackgan.OFFICIAL_KINDS})
_HINTS.update({k: _stackgan._HINT for k in _stackgan.OFFICIAL_KINDS + _stackgan_tf.TF_KINDS})
# StackGAN-v2 / StackGAN++ (DataParallel 'module.' prefixes stripped below, like every kind)
_CLASSES.update(_stackgan_v2._CLASSES)
_WHAT.update(_stackgan_v2._WHAT)
_CONFIG_FROM_STATE_DICT.update({k: _stackgan_v2.config_from_state_dict for k in _stackgan_v2.OFFICIAL_KINDS})
_HINTS.update({k: _stackgan_v2._HINT for k in _stackgan_v2.OFFICIAL_KINDS})


def official_kinds() -> list:
    """The ``kind`` values :func:`from_official` accepts (registered model names)."""
    return sorted(_CLASSES)


def _source(checkpoint: Checkpoint, source: str = None) -> str:
    if source is not None:
        return source
    return "<state dict>" if isinstance(checkpoint, Mapping) else os.fspath(checkpoint)


def load_official_state_dict(kind: str, checkpoint: Checkpoint, *, source: str = None) -> Dict[str, torch.Tensor]:
    """The prefix-free state dict of module ``kind`` inside an official file (or an already loaded object;
    ``source`` then names it in error messages)."""
    if kind not in _CLASSES:
        raise ValueError(f"unknown kind {kind!r}; textgan.convert.official_kinds() lists: {', '.join(official_kinds())}")
    if not isinstance(checkpoint, (Mapping, str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path or a loaded state dict, got {type(checkpoint).__name__}")
    if kind in _stackgan.OFFICIAL_KINDS and _stackgan_tf.is_tf_checkpoint(checkpoint):
        raise ArchitectureMismatchError(
            f"{_source(checkpoint, source)}: a TensorFlow checkpoint (the StackGAN TF release for birds/flowers), "
            f"whose network differs from the PyTorch COCO release asked for ({_WHAT[kind]}); use kind "
            "'stackgan_tf' / 'stackgan_tf_stage1' (textgan.models.stackgan_tf.stackgan_tf_from_checkpoint, "
            "`textgan convert stackgan-tf`)")
    if kind in _stackgan_tf.TF_KINDS:
        raise ValueError(f"kind {kind!r} is read from a TensorFlow checkpoint: use from_official({kind!r}, path) "
                         "or textgan.models.stackgan_tf.stackgan_tf_from_checkpoint")
    obj = checkpoint if isinstance(checkpoint, Mapping) else load_torch_file(checkpoint)
    source = _source(checkpoint, source)
    what = _WHAT[kind]
    if kind in _DFGAN_PART:
        part = _DFGAN_PART[kind]
        if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
            models = obj["model"]
            if part not in models:
                raise CheckpointError(f"{source}: the checkpoint's 'model' entry has {sorted(models)}, not {part!r} for the {what}")
            obj = models[part]
        elif isinstance(obj, Mapping) and part in obj and isinstance(obj[part], Mapping):
            obj = obj[part]
    elif isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    sd = strip_prefix(as_state_dict(obj, source, what))
    if kind in _stackgan.OFFICIAL_KINDS:  # the right stage, BatchNorm counters of the 2017 files
        _stackgan_v2.reject_v2_file(kind, sd, source)  # a StackGAN-v2 file asked for as v1
        return _stackgan.convert_official_state_dict(kind, sd, source)
    if kind in _stackgan_v2.OFFICIAL_KINDS:  # generator vs discriminator, BatchNorm counters of the 2017 files
        return _stackgan_v2.convert_official_state_dict(kind, sd, source)
    if kind in _sisgan.OFFICIAL_KINDS:  # BatchNorm counters, the VSE's txt_encoder / duplicate feat_extractor keys
        return _sisgan.convert_official_state_dict(kind, sd, source)
    # SSA-GAN has BatchNorms: files from PyTorch < 0.4.1 lack their num_batches_tracked (unused in eval)
    legacy = kind.startswith(("ssagan", "attngan", "damsm_image"))  # AttnGAN's files are torch 0.3 era too
    return _ssagan.fill_batchnorm_counters(sd) if legacy else sd


def from_official(kind: str, checkpoint: Checkpoint, *, dtype: torch.dtype = None, source: str = None) -> nn.Module:
    """Build the textgan module for ``kind`` from an authors' file, sizes inferred from the weights.

    Args:
        kind: a registered model name: ``"dfgan"`` (2022 generator), ``"dfgan_discriminator"``,
            ``"dfgan_condition_head"`` (all three read from the same ``state_epoch_*.pth``), ``"dfgan2020"``,
            ``"dfgan2020_discriminator"``, ``"damsm_text_encoder"``.
        checkpoint: path of the file as released (read with ``torch.load(weights_only=True)``), or the
            object it holds (a state dict or the 2022 training dict).
        dtype: cast floating-point weights (default: as stored).
        source: the name error messages give an already loaded ``checkpoint``.

    Returns the module in eval mode. A file of another architecture raises
    :class:`textgan.errors.ArchitectureMismatchError` naming the keys at fault.
    """
    if not isinstance(checkpoint, (Mapping, str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path or a loaded state dict, got {type(checkpoint).__name__}")
    source = _source(checkpoint, source)
    if kind in _stackgan_tf.TF_KINDS:  # a TensorFlow checkpoint (path or {name: tensor}), matched by name pattern
        return _stackgan_tf.stackgan_tf_from_checkpoint(checkpoint, 2 if kind == "stackgan_tf" else 1, dtype=dtype)
    sd = load_official_state_dict(kind, checkpoint, source=source)
    what = f"{source} as {_WHAT[kind]}"
    hint = _HINTS.get(kind, _HINTS.get(kind.split("_")[0], ""))
    try:
        config = (text_encoder_config_from_state_dict(sd) if kind == "damsm_text_encoder"
                  else _CONFIG_FROM_STATE_DICT.get(kind, _dfgan.config_from_state_dict)(kind, sd))
        cls = _CLASSES[kind]
        return build_from_state_dict(cls, config, sd, what, hint, dtype)
    except ArchitectureMismatchError as e:
        if str(e).startswith(source):
            raise
        raise type(e)(f"{source}: {e}" + (f"\n  {hint}" if hint and hint not in str(e) else "")) from None
    except ValueError as e:  # sizes that no model of this kind can have
        raise ArchitectureMismatchError(f"{what}: {e}. {hint}") from e


# families whose pipelines can be converted, with the modules that may sit in the generator's file
_PIPELINE_PARTS = {
    "dfgan": {"generator": "dfgan", "discriminator": "dfgan_discriminator", "condition_head": "dfgan_condition_head"},
    "dfgan2020": {"generator": "dfgan2020"},
    "ssagan": {"generator": "ssagan"},
    "sema": {"generator": "sema"},
    "attngan": {"generator": "attngan"},  # see attngan_pipeline_from_official
}


def pipeline_from_official(family: str, checkpoint: Union[str, os.PathLike], *, text_encoder: Union[str, os.PathLike],
                           captions: Union[str, os.PathLike], tag: str = None, max_words: int = 18):
    """A :class:`~textgan.pipelines.TextToImagePipeline` from the authors' files.

    Args:
        family: ``"dfgan"`` (2022 ``state_epoch_*.pth``) or ``"dfgan2020"`` (bare ``netG.pth``).
        checkpoint: the generator's file as released.
        text_encoder: the DAMSM ``text_encoder*.pth`` it was trained with.
        captions: the ``captions.pickle`` / ``captions_DAMSM.pickle`` (or a ``vocab.json``) whose vocabulary
            that text encoder uses.
        tag: the pretrained tag these files are (``"dfgan-birds"``), recorded in config.json.
    """
    from .._download import file_record

    from ..pipelines import FAMILY_TRUNCATION, TextToImagePipeline
    from ..text import Tokenizer, Vocabulary

    if family not in _PIPELINE_PARTS:
        raise ValueError(f"family must be one of {sorted(_PIPELINE_PARTS)}, got {family!r}")
    obj = load_torch_file(checkpoint)
    name = os.fspath(checkpoint)
    modules = {"generator": from_official(_PIPELINE_PARTS[family]["generator"], obj, source=name)}
    for part, kind in _PIPELINE_PARTS[family].items():
        if part != "generator" and isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping) \
                and _DFGAN_PART[kind] in obj["model"]:
            modules[part] = from_official(kind, obj, source=name)
    encoder = from_official("damsm_text_encoder", text_encoder)
    vocab = Vocabulary.from_file(captions)
    if len(vocab) != encoder.vocab_size:
        from ..errors import VocabularyError

        raise VocabularyError(
            f"{captions} has {len(vocab)} words but {text_encoder} was trained with {encoder.vocab_size}: "
            "pass the captions.pickle of the dataset this text encoder belongs to")
    if modules["generator"].config.get("cond_dim") != encoder.hidden_dim:
        raise ArchitectureMismatchError(
            f"{checkpoint} expects {modules['generator'].config['cond_dim']}-d sentences but {text_encoder} gives "
            f"{encoder.hidden_dim}-d ones: these files do not belong together")

    source = {name: file_record(p)
              for name, p in (("checkpoint", checkpoint), ("text_encoder", text_encoder), ("captions", captions))}
    source["converter"] = f"textgan.convert.pipeline_from_official({family!r})"
    return TextToImagePipeline(
        Tokenizer(vocab, max_words=max_words), encoder, modules["generator"], family=family,
        truncation=FAMILY_TRUNCATION[family], discriminator=modules.get("discriminator"),
        condition_head=modules.get("condition_head"), tag=tag, source=source)


def attngan_pipeline_from_official(checkpoint: Union[str, os.PathLike], *, text_encoder: Union[str, os.PathLike],
                                   captions: Union[str, os.PathLike], tag: str = None, max_words: int = 18,
                                   mask_broadcast: str = "per_sample"):
    """An AttnGAN :class:`~textgan.pipelines.TextToImagePipeline` from ``bird_AttnGAN2.pth`` / ``coco_AttnGAN2.pth``.

    As :func:`pipeline_from_official` (``"attngan"``), with two differences that ``textgan convert attngan``
    records in config.json:

    * ``mask_broadcast="per_sample"``: each prompt's word attention is masked with its own padding. With the
      authors' broadcast (``"official"``) an image would depend on the other prompts of its batch (their
      lengths), which breaks the pipeline's promise that ``batch_size`` never changes an image. The two modes
      agree for a batch of one and for prompts of equal length, so a pipeline image equals the authors' output
      for the same caption generated on its own.
    * the tokenizer warns when a prompt has more than ``max_words`` known words (the first 18 are kept).
    """
    pipe = pipeline_from_official("attngan", checkpoint, text_encoder=text_encoder, captions=captions, tag=tag,
                                  max_words=max_words)
    pipe.generator.mask_broadcast = mask_broadcast
    pipe.tokenizer = _attngan.AttnGANTokenizer(pipe.tokenizer.vocab, max_words=max_words)
    pipe.source["converter"] = f"textgan.convert.attngan_pipeline_from_official(mask_broadcast={mask_broadcast!r})"
    return pipe
