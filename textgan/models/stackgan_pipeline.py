"""StackGAN pipelines: char-CNN-RNN text encoder → Stage-I → Stage-II, 256 px, from sentences or from the
precomputed embeddings the authors evaluate with (``char-CNN-RNN-embeddings.pickle``, (N, 10, 1024)).

Noise per image, all from one row of uniforms of the caller's ``torch.Generator`` (so an image depends only
on the seed, its position and its text): z ~ N(0, 1), then the Stage-I ε and the Stage-II ε, in the order the
authors' code draws them. The TensorFlow release draws ε from a normal truncated to ±2 (``tf.truncated_normal``),
the PyTorch release from N(0, 1); this pipeline does the same for each.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch
import torch.nn as nn

from .. import _serialization as ser
from .._download import file_record
from .._noise import normal_from_uniform, truncated_from_uniform, uniform
from ..errors import ArchitectureMismatchError
from ..pipelines import PIPELINE_LOADERS, PipelineOutput, TextToImagePipeline, _convert

__all__ = ["StackGANPipeline", "stackgan_pipeline", "load_stackgan_generator"]


class _Sampler(nn.Module):
    """``(sentence, noise, extra_noise)`` → the final image: the call the base pipeline makes."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.inner = generator

    def forward(self, sentence, noise, extra_noise):
        return self.inner.sample(sentence, noise, extra_noise)


def _is_tf(generator: nn.Module) -> bool:
    return getattr(generator, "ca_variant", "relu") == "tf"


class StackGANPipeline(TextToImagePipeline):
    """A :class:`~textgan.pipelines.TextToImagePipeline` for StackGAN (family ``"stackgan"``).

    ``pipe(prompts, generator=...)`` as every pipeline; :meth:`from_embeddings` generates from precomputed
    char-CNN-RNN embeddings. ``pipe.generator`` is the Stage-II generator (its Stage-I is ``.STAGE1_G``).
    """

    @property
    def noise_dim(self) -> int:
        return int(self._plain_generator.z_dim)

    def _draw(self, num_images: int, generator: Optional[torch.Generator], truncation):
        rate = self._truncation(truncation)
        nz, extra = self.noise_dim, int(self._plain_generator.extra_noise_dim)
        u = uniform((num_images, nz + extra), generator)
        noise = normal_from_uniform(u[:, :nz]) if rate is None else truncated_from_uniform(u[:, :nz], scale=rate)
        eps = truncated_from_uniform(u[:, nz:]) if _is_tf(self._plain_generator) else normal_from_uniform(u[:, nz:])
        return noise, eps

    def __call__(self, *args, **kwargs) -> PipelineOutput:
        model = self.generator
        self.generator = _Sampler(model)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.generator = model

    def from_embeddings(self, embeddings: Union[torch.Tensor, np.ndarray], caption_index: Optional[int] = None,
                        num_images_per_embedding: int = 1, generator: Optional[torch.Generator] = None,
                        batch_size: int = 16, output_type: str = "pil", noise: Optional[torch.Tensor] = None,
                        progress: Optional[bool] = None) -> PipelineOutput:
        """Images from precomputed text embeddings, as the authors' evaluation runs.

        Args:
            embeddings: (N, D) sentence embeddings, or (N, K, D) as in ``char-CNN-RNN-embeddings.pickle``
                (K = 10 captions per image); D must be the generator's ``text_dim`` (1024).
            caption_index: with (N, K, D), use caption ``k`` of every image; ``None`` uses all N·K in order.
            Other arguments as :meth:`__call__`; ``prompts`` of the output are ``"embedding i"`` (``"i/k"``).
        """
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        if num_images_per_embedding < 1 or batch_size < 1:
            raise ValueError("num_images_per_embedding and batch_size must be at least 1")
        emb = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor) else embeddings)
        width = int(self._plain_generator.config["text_dim"])
        if emb.dim() not in (2, 3) or emb.shape[-1] != width:
            raise ValueError(f"embeddings must be (N, {width}) or (N, K, {width}), got {tuple(emb.shape)}")
        if emb.dim() == 3:
            if caption_index is not None:
                if not 0 <= caption_index < emb.shape[1]:
                    raise ValueError(f"caption_index must be in [0, {emb.shape[1]}), got {caption_index}")
                labels = [f"embedding {i}/{caption_index}" for i in range(emb.shape[0])]
                emb = emb[:, caption_index]
            else:
                labels = [f"embedding {i}/{k}" for i in range(emb.shape[0]) for k in range(emb.shape[1])]
                emb = emb.reshape(-1, width)
        else:
            labels = [f"embedding {i}" for i in range(emb.shape[0])]
        sentences = emb.float().repeat_interleave(num_images_per_embedding, 0)
        total = sentences.shape[0]
        drawn, extra = self._draw(total, generator, None)
        if noise is None:
            noise = drawn
        elif tuple(noise.shape) != (total, self.noise_dim):
            raise ValueError(f"noise must have shape ({total}, {self.noise_dim}), got {tuple(noise.shape)}")
        sampler, device, dtype = _Sampler(self.generator), self.device, self.dtype
        chunks = []
        with torch.inference_mode():
            for s in self._batches(total, batch_size, progress, "textgan"):
                sl = slice(s, s + batch_size)
                args = [t[sl].to(device, dtype) for t in (sentences, noise, extra)]
                chunks.append(sampler(*args).float().cpu())
        images = torch.cat(chunks).add_(1.0).mul_(0.5).clamp_(0.0, 1.0)
        return PipelineOutput(_convert(images, output_type),
                              [label for label in labels for _ in range(num_images_per_embedding)], noise)


def _load(folder: Path, config: Dict[str, Any], *, device=None, dtype=None, with_discriminator=False):
    from ..text import TOKENIZER_TYPES

    components = config.get("components", {})
    for needed in ("generator", "text_encoder"):
        if needed not in components:
            raise ser.CheckpointError(f"{folder / 'config.json'}: no {needed!r} component; convert the model again")
    modules = {name: ser.load_component(folder, entry, name, dtype if name != "text_encoder" else None)
               for name, entry in components.items() if name in ("generator", "text_encoder") or with_discriminator}
    tok_cfg = config.get("tokenizer", {})
    kind = tok_cfg.get("type", "chars")
    if kind not in TOKENIZER_TYPES:
        raise ser.CheckpointError(f"{folder / 'config.json'}: unknown tokenizer type {kind!r}; upgrade textgan")
    pipe = StackGANPipeline(TOKENIZER_TYPES[kind].from_pretrained(folder, tok_cfg), modules["text_encoder"],
                            modules["generator"], family=config.get("family", "stackgan"),
                            truncation=config.get("sampling", {}).get("truncation"),
                            discriminator=modules.get("discriminator"), tag=config.get("tag"),
                            source=config.get("source"))
    return pipe.to(device) if device is not None else pipe


PIPELINE_LOADERS["StackGANPipeline"] = _load


def load_stackgan_generator(checkpoint, *, variant: str = "pytorch") -> nn.Module:
    """The Stage-II generator of an authors' file: ``variant="pytorch"`` (``netG_epoch_90.pth``, COCO) or
    ``"tf"`` (``birds_model_164000.ckpt`` / ``flowers_model_130000.ckpt``); modules pass through."""
    from ..convert.official import from_official

    if isinstance(checkpoint, nn.Module):
        return checkpoint
    if variant not in ("pytorch", "tf"):
        raise ValueError(f"variant must be 'pytorch' or 'tf', got {variant!r}")
    return from_official("stackgan" if variant == "pytorch" else "stackgan_tf", checkpoint)


def stackgan_pipeline(generator, text_encoder, *, variant: str = "pytorch", tag: Optional[str] = None,
                      tokenizer: Union[str, Any] = "default", discriminator=None) -> StackGANPipeline:
    """A :class:`StackGANPipeline` from the authors' files.

    Args:
        generator: ``netG_epoch_90.pth`` (a whole STAGE2_G, ``variant="pytorch"``) or a TF checkpoint
            (``variant="tf"``), or a module.
        text_encoder: Reed's char-CNN-RNN ``.t7`` (``lm_sje_*.t7``, COCO ``*_net_T.t7``), a port's state dict
            or a module; it must give ``text_dim``-d (1024) embeddings.
        tag: the pretrained tag these files are (``"stackgan-coco"``), recorded in config.json.
        tokenizer: a :class:`~textgan.text.charcnnrnn.CharTokenizer` or a preset name as
            :func:`textgan.models.gan_int_cls.gan_int_cls_pipeline`.
        discriminator: the matching ``netD_epoch_last.pth`` (PyTorch release; optional, saved alongside).
    """
    from ..convert.official import from_official
    from ..text.charcnnrnn import CharCNNRNN, CharTokenizer
    from .gan_int_cls import load_reed_module

    gen = load_stackgan_generator(generator, variant=variant)
    if not hasattr(gen, "STAGE1_G"):
        raise ArchitectureMismatchError(f"{generator}: a Stage-I generator; the pipeline needs the Stage-II one")
    enc = load_reed_module(text_encoder, "text_encoder")
    if not isinstance(enc, CharCNNRNN):
        raise ArchitectureMismatchError(f"{text_encoder}: not a char-CNN-RNN text encoder")
    if enc.config["emb_dim"] != gen.config["text_dim"]:
        raise ArchitectureMismatchError(f"{generator} expects {gen.config['text_dim']}-d text embeddings but "
                                        f"{text_encoder} gives {enc.config['emb_dim']}-d ones: these files do not "
                                        "belong together")
    disc = None
    if discriminator is not None:
        disc = discriminator if isinstance(discriminator, nn.Module) else \
            from_official("stackgan_discriminator", discriminator)
    presets = {"default": {}, "lua-demo": dict(lowercase=False, unknown="zero", utf8_bytes=True),
               "pytorch-port": dict(lowercase=True, unknown="space", utf8_bytes=False)}
    if isinstance(tokenizer, str):
        if tokenizer not in presets:
            raise ValueError(f"tokenizer must be a CharTokenizer or one of {sorted(presets)}, got {tokenizer!r}")
        tokenizer = CharTokenizer(max_length=enc.doc_length, **presets[tokenizer])

    source: Dict[str, Any] = {}
    for name, p in (("generator", generator), ("text_encoder", text_encoder), ("discriminator", discriminator)):
        if isinstance(p, (str, os.PathLike)) and Path(p).is_file():
            source[name] = file_record(p)
    source["converter"] = f"textgan.models.stackgan_pipeline.stackgan_pipeline(variant={variant!r})"
    return StackGANPipeline(tokenizer, enc, gen, family="stackgan", truncation=None, discriminator=disc, tag=tag,
                            source=source)
