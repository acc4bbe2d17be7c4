"""Text-to-image pipelines: tokenizer → text encoder → generator, with reproducible noise.

Follows diffusers' call conventions (``generator=``, ``num_images_per_prompt=``, ``output_type=``). The parts
are plain attributes (``pipe.tokenizer``, ``pipe.text_encoder``, ``pipe.generator``) and keep the authors'
call order, e.g. ``pipe.generator(noise, sentence_embedding)`` → images in [-1, 1].

How a family's generator is called is declared on its class, so new families need no pipeline code:

* ``pipeline_inputs``: names of the positional arguments, from ``"noise"`` (N, nz), ``"sentence"`` (N, D),
  ``"words"`` (N, D, T) word features padded to the longest prompt of the batch, ``"word_mask"`` (N, T),
  True at padding, and ``"extra_noise"`` (N, extra_noise_dim) standard normal draws (e.g. the
  conditioning-augmentation ε). Default ``("noise", "sentence")``.
* ``extra_noise_dim``: width of ``"extra_noise"`` (default 0).
* The output is the image batch, or a tuple/list whose first item is; if that item is itself a list
  (multi-stage generators) its last entry, the largest image, is used.

All draws for image i come from one row of uniforms taken from the caller's ``torch.Generator`` at row i, so
an image depends only on the seed, its position and its prompt.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from . import _serialization as ser
from . import _validate as V
from ._noise import normal_from_uniform, truncated_from_uniform, uniform
from .errors import PretrainedNotFoundError, VocabularyError

__all__ = ["TextToImagePipeline", "PipelineOutput", "load_pretrained"]

# each family's noise: DF-GAN 2022 samples 0.88 × truncnorm(−2, 2); DF-GAN 2020 samples randn
FAMILY_TRUNCATION = {"dfgan": 0.88, "dfgan2020": None}
FAMILY_TRUNCATION.update(ssagan=None, sema=0.8)  # SSA-GAN samples randn; SEMA 0.8 × truncnorm(−2, 2)
FAMILY_TRUNCATION.update(attngan=None)  # AttnGAN: z ~ randn, CA ε ~ randn ("extra_noise")
FAMILY_TRUNCATION["gan-int-cls"] = None  # GAN-INT-CLS (Lua demo): noise ~ randn
# loaders of other pipeline kinds by config.json "pipeline" (e.g. textgan.edit_pipeline registers SISGAN's)
PIPELINE_LOADERS: Dict[str, Any] = {}


@dataclass
class PipelineOutput:
    """``images``: PIL images, an (N, H, W, C) float array in [0, 1], or an (N, C, H, W) tensor in [0, 1];
    ``prompts``: the prompt of each image; ``noise``: the (N, nz) noise each image was made from.

    Examples:
        >>> out = textgan.load_pretrained()("a red circle", output_type="np", generator=torch.Generator().manual_seed(0))
        >>> out.images.shape, out.prompts, tuple(out.noise.shape)
        ((1, 64, 64, 3), ['a red circle'], (1, 64))
    """

    images: Any
    prompts: List[str]
    noise: torch.Tensor


class PipelineMixin:
    """``push_to_hub`` for any pipeline that has ``save_pretrained(folder)``, and the batching with a progress
    bar that every pipeline's ``__call__`` uses."""

    _progress_disabled = False

    def set_progress_bar_config(self, disable: bool = False) -> None:
        self._progress_disabled = disable

    def _batches(self, total: int, batch_size: int, progress: Optional[bool], desc: str):
        """Start indices of the batches; a progress bar by default when there is more than one."""
        batches = range(0, total, batch_size)
        show = (len(batches) > 1) if progress is None else progress
        if show and not self._progress_disabled:
            from tqdm.auto import tqdm

            return tqdm(batches, desc=desc, unit="batch")
        return batches

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """Save to a temporary folder and upload it (``textgan.hub.push_to_hub`` arguments)."""
        import tempfile

        from .hub import push_to_hub

        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp)
            return push_to_hub(tmp, repo_id, **kwargs)


class TextToImagePipeline(PipelineMixin):
    """A ready text-to-image model: ``pipe("a red bird", generator=torch.Generator().manual_seed(0)).images``.

    Args:
        tokenizer: a :class:`textgan.text.Tokenizer` (vocabulary and the authors' tokenisation rules).
        text_encoder: module ``(ids, lengths) → (words, sentence)`` (the DAMSM encoder).
        generator: module ``(noise, sentence) → images in [-1, 1]``.
        family: registry family (``"dfgan"``, ``"dfgan2020"``), which fixes the default noise.
        truncation: default noise: a float ``t`` samples ``t × truncnorm(−2, 2)``; ``None`` samples N(0, 1).
        discriminator, condition_head: optional, kept so that ``save_pretrained`` writes them too.
        tag: the pretrained tag this pipeline was converted for, if any.

    Examples:
        >>> pipe = textgan.load_pretrained()   # a TextToImagePipeline (the embedded Shapes model)
        >>> out = pipe(["a red circle", "a blue square"], num_images_per_prompt=2, output_type="pt",
        ...            generator=torch.Generator().manual_seed(0))
        >>> tuple(out.images.shape), out.prompts
        ((4, 3, 64, 64), ['a red circle', 'a red circle', 'a blue square', 'a blue square'])
    """

    def __init__(self, tokenizer, text_encoder: nn.Module, generator: nn.Module, *, family: str,
                 truncation: Optional[float] = None, discriminator: Optional[nn.Module] = None,
                 condition_head: Optional[nn.Module] = None, tag: Optional[str] = None,
                 source: Optional[Dict[str, Any]] = None) -> None:
        vocab_size = getattr(text_encoder, "vocab_size", None)
        tokens = getattr(tokenizer, "vocab_size", None)
        if vocab_size is not None and tokens is not None and tokens != vocab_size:
            raise VocabularyError(
                f"the vocabulary has {tokens} words but the text encoder was trained with "
                f"{vocab_size}: use the captions.pickle / vocab.json that belongs to this text encoder"
            )
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval()
        self.generator = generator.eval()
        self._plain_generator = self.generator
        self.discriminator, self.condition_head = discriminator, condition_head
        self.family, self.truncation, self.tag, self.source = family, truncation, tag, dict(source or {})
        self._progress_disabled = False

    # ------------------------------------------------------------------ properties and device handling
    @property
    def device(self) -> torch.device:
        return next(self._plain_generator.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self._plain_generator.parameters()).dtype

    @property
    def noise_dim(self) -> int:
        return int(self._plain_generator.config["nz"])

    def to(self, device=None, dtype: Optional[torch.dtype] = None) -> "TextToImagePipeline":
        for name in ("text_encoder", "_plain_generator", "discriminator", "condition_head"):
            module = getattr(self, name)
            if module is not None:
                module.to(device=device, dtype=dtype if name != "text_encoder" else None)
        if self.generator is not self._plain_generator:  # an optimised copy is rebuilt for the new device
            self.generator = self._plain_generator
        return self

    def optimize(self) -> "TextToImagePipeline":
        """Replace ``pipe.generator`` by a faster inference-only equivalent (see textgan.optimize).

        Families without an inference rewrite keep their generator, with a warning saying so.
        """
        import warnings

        from .optimize import optimize_for_inference

        try:
            self.generator = optimize_for_inference(self._plain_generator)
        except TypeError as e:
            warnings.warn(f"pipe.optimize(): no inference rewrite for {type(self._plain_generator).__name__}, "
                          f"the generator is used as it is ({e})", stacklevel=2)
        return self

    # ------------------------------------------------------------------ the three steps
    def encode_prompt(self, prompts: Union[str, Sequence[str]], batch_size: int = 64) -> torch.Tensor:
        """Sentence embeddings (B, D), one per prompt, in the prompts' order."""
        return self._encode(_as_prompt_list(prompts), batch_size, with_words=False)[0]

    def _encode(self, prompts: List[str], batch_size: int, with_words: bool):
        ids, lengths = self.tokenizer(prompts)
        device = next(self.text_encoder.parameters()).device
        sentences, words = [], []
        with torch.inference_mode():
            for s in range(0, len(prompts), batch_size):
                w, sent = self.text_encoder(ids[s:s + batch_size].to(device), lengths[s:s + batch_size])
                sentences.append(sent)
                if with_words:  # each prompt's own words, trimmed to its length
                    words += [w[i, :, : int(n)] for i, n in enumerate(lengths[s:s + batch_size])]
        return torch.cat(sentences), words

    def sample_noise(self, num_images: int, generator: Optional[torch.Generator] = None,
                     truncation: Union[float, bool, None] = None) -> torch.Tensor:
        """(num_images, nz) noise: row i depends only on the seed and i (never on batching or prompts)."""
        return self._draw(num_images, generator, truncation)[0]

    def _draw(self, num_images: int, generator: Optional[torch.Generator], truncation):
        rate = self._truncation(truncation)
        nz, extra = self.noise_dim, int(getattr(self._plain_generator, "extra_noise_dim", 0))
        u = uniform((num_images, nz + extra), generator)  # one row of uniforms per image
        noise = normal_from_uniform(u[:, :nz]) if rate is None else truncated_from_uniform(u[:, :nz], scale=rate)
        return noise, normal_from_uniform(u[:, nz:])

    def __call__(self, prompt: Union[str, Sequence[str]], num_images_per_prompt: int = 1,
                 generator: Optional[torch.Generator] = None, truncation: Union[float, bool, None] = None,
                 batch_size: int = 16, output_type: str = "pil", noise: Optional[torch.Tensor] = None,
                 progress: Optional[bool] = None) -> PipelineOutput:
        """Generate ``num_images_per_prompt`` images for each prompt.

        Args:
            prompt: a sentence or a list of sentences.
            generator: the ``torch.Generator`` all noise is drawn from (a seed reproduces every image).
            truncation: ``None``: the family's default; a float ``t``: ``t × truncnorm(−2, 2)``;
                ``False``: untruncated N(0, 1).
            batch_size: images per generator call; it changes speed and memory, never the images.
            output_type: ``"pil"``, ``"np"`` (N, H, W, C) in [0, 1] or ``"pt"`` (N, C, H, W) in [0, 1].
            noise: explicit (N, nz) noise instead of drawing it; N = prompts × num_images_per_prompt.
            progress: show a progress bar (default: when there is more than one batch).
        """
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        V.check_int(num_images_per_prompt, "num_images_per_prompt", maximum=V.MAX_IMAGES_PER_CALL)
        V.check_int(batch_size, "batch_size")
        V.check_generator(generator)
        V.check_truncation(truncation)
        prompts = _as_prompt_list(prompt)
        if len(prompts) * num_images_per_prompt > V.MAX_IMAGES_PER_CALL:
            raise ValueError(f"{len(prompts)} prompts x {num_images_per_prompt} images is more than "
                             f"{V.MAX_IMAGES_PER_CALL} images in one call; call the pipeline in chunks")
        inputs = getattr(self._plain_generator, "pipeline_inputs", ("noise", "sentence"))
        with_words = "words" in inputs or "word_mask" in inputs
        sentences, words = self._encode(prompts, 64, with_words)
        sentences = sentences.repeat_interleave(num_images_per_prompt, 0)
        owner = [i for i in range(len(prompts)) for _ in range(num_images_per_prompt)]
        total = sentences.shape[0]
        drawn, extra = self._draw(total, generator, truncation)
        if noise is None:
            noise = drawn
        else:
            V.check_noise(noise, (total, self.noise_dim))
        device, dtype = self.device, self.dtype
        batches = self._batches(total, batch_size, progress, "textgan")
        chunks = []
        with torch.inference_mode():
            for s in batches:
                sl = slice(s, s + batch_size)
                args = self._generator_args(inputs, noise[sl], sentences[sl], [words[i] for i in owner[sl]]
                                            if with_words else None, extra[sl], device, dtype)
                chunks.append(_image_output(self.generator(*args)).float().cpu())
        images = torch.cat(chunks).add_(1.0).mul_(0.5).clamp_(0.0, 1.0)
        return PipelineOutput(_convert(images, output_type),
                              [p for p in prompts for _ in range(num_images_per_prompt)], noise)

    @staticmethod
    def _generator_args(inputs, noise, sentences, words, extra, device, dtype) -> list:
        available = {"noise": noise, "sentence": sentences, "extra_noise": extra}
        if words is not None:
            longest = max(w.shape[-1] for w in words)
            padded = sentences.new_zeros(len(words), words[0].shape[0], longest)
            mask = torch.ones(len(words), longest, dtype=torch.bool)
            for i, w in enumerate(words):
                padded[i, :, : w.shape[-1]] = w
                mask[i, : w.shape[-1]] = False
            available.update(words=padded, word_mask=mask)
        unknown = [name for name in inputs if name not in available]
        if unknown:
            raise TypeError(f"generator declares pipeline_inputs {unknown} that the pipeline does not provide")
        return [available[name].to(device, dtype if available[name].is_floating_point() else None) for name in inputs]

    def _truncation(self, truncation: Union[float, bool, None]) -> Optional[float]:
        if truncation is None:
            return self.truncation
        if truncation is False:
            return None
        if truncation is True:
            return self.truncation if self.truncation is not None else 1.0
        rate = float(truncation)
        if rate <= 0:
            raise ValueError(f"truncation must be a positive scale (or False for plain normal noise), got {truncation}")
        return rate

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, folder: Union[str, os.PathLike], *, model_card: bool = True) -> Path:
        """Write config.json, model.safetensors, text_encoder.safetensors, vocab.json (and a model card)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        components = {"generator": ser.save_component(self._plain_generator, folder, "generator"),
                      "text_encoder": ser.save_component(self.text_encoder, folder, "text_encoder")}
        for name in ("discriminator", "condition_head"):
            module = getattr(self, name)
            if module is not None:
                components[name] = ser.save_component(module, folder, name)
        tokenizer = self.tokenizer.save_pretrained(folder)
        files = [c["file"] for c in components.values()] + list(tokenizer.pop("files", []))
        if model_card:
            from ._model_card import write_model_card

            write_model_card(folder, self)
            files.append("README.md")
        ser.write_config(folder, {
            "pipeline": type(self).__name__, "family": self.family, "tag": self.tag, "components": components,
            "tokenizer": tokenizer,
            "sampling": {"truncation": self.truncation}, "source": self.source, "files": files,
        })
        return folder

    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], revision: Optional[str] = None,
                        device=None, dtype: Optional[torch.dtype] = None) -> "TextToImagePipeline":
        return load_pretrained(name_or_path, revision=revision, device=device, dtype=dtype)


def load_pretrained(name_or_path: Union[str, os.PathLike] = "shapes-dfgan64", revision: Optional[str] = None,
                    device=None, dtype: Optional[torch.dtype] = None, *,
                    with_discriminator: bool = False) -> TextToImagePipeline:
    """A ready pipeline from a pretrained tag (``"dfgan-birds"``), a local folder or ``"hf-hub:org/name"``.

    Without a name: the embedded ``"shapes-dfgan64"`` model (64 px, textgan.data.Shapes), shipped inside the
    package, so it loads offline.

    Loading is strict: a missing or unexpected key, or a vocabulary of the wrong size, is an error.

    Examples:
        >>> pipe = textgan.load_pretrained()   # the embedded 64 px Shapes model: offline, no download
        >>> pipe("a large red circle", generator=torch.Generator().manual_seed(0)).images[0].size
        (64, 64)
    """
    from .hub import resolve_pretrained_dir

    device, dtype = V.as_device(device), V.as_dtype(dtype)  # before any download
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a tag, a folder or 'hf-hub:org/name', got {type(name_or_path).__name__}")
    folder = resolve_pretrained_dir(name_or_path, revision=revision)
    config = ser.read_config(folder)
    with ser.malformed_config(folder):  # a corrupt config.json gives a CheckpointError, whatever it breaks
        return _load_folder(folder, config, device, dtype, with_discriminator)


def _load_folder(folder, config, device, dtype, with_discriminator: bool) -> TextToImagePipeline:
    from .text import TOKENIZER_TYPES

    if config.get("pipeline") in PIPELINE_LOADERS:
        return PIPELINE_LOADERS[config["pipeline"]](folder, config, device=device, dtype=dtype,
                                                    with_discriminator=with_discriminator)
    components = config.get("components", {})
    for needed in ("generator", "text_encoder"):
        if needed not in components:
            raise ser.CheckpointError(f"{folder / 'config.json'}: no {needed!r} component; convert the model again")
    modules = {name: ser.load_component(folder, entry, name, dtype if name != "text_encoder" else None)
               for name, entry in components.items()
               if name in ("generator", "text_encoder") or with_discriminator}
    tok_cfg = config.get("tokenizer", {})
    kind = tok_cfg.get("type", "words")
    if kind not in TOKENIZER_TYPES:
        raise ser.CheckpointError(f"{folder / 'config.json'}: unknown tokenizer type {kind!r}; upgrade textgan")
    ser.check_relative(folder, tok_cfg.get("vocab", "vocab.json"), "tokenizer vocab")
    try:
        tokenizer = TOKENIZER_TYPES[kind].from_pretrained(folder, tok_cfg)
    except FileNotFoundError as e:  # config.json names a vocabulary the folder does not have
        raise PretrainedNotFoundError(f"{folder / 'config.json'}: the tokenizer's file is missing ({e}); download or "
                                      "convert the folder again") from e
    encoder_words = getattr(modules["text_encoder"], "vocab_size", None)
    if encoder_words is not None and getattr(tokenizer, "vocab_size", encoder_words) != encoder_words:
        raise VocabularyError(
            f"{folder / tok_cfg.get('vocab', 'vocab.json')} has {tokenizer.vocab_size} words but "
            f"{folder / components['text_encoder']['file']} was trained with {encoder_words}: the vocabulary "
            "does not match the text encoder")
    family = config.get("family", components["generator"]["model"])
    pipe = TextToImagePipeline(
        tokenizer, modules["text_encoder"],
        modules["generator"], family=family, truncation=config.get("sampling", {}).get("truncation"),
        discriminator=modules.get("discriminator"), condition_head=modules.get("condition_head"),
        tag=config.get("tag"), source=config.get("source"),
    )
    return pipe.to(device) if device is not None else pipe


def _as_prompt_list(prompt: Union[str, Sequence[str]]) -> List[str]:
    return V.check_prompts(prompt)


def _image_output(out):
    if isinstance(out, (tuple, list)):
        out = out[0]
        if isinstance(out, (tuple, list)):
            out = out[-1]
    return out


def _convert(images: torch.Tensor, output_type: str):
    if output_type == "pt":
        return images
    array = images.permute(0, 2, 3, 1).numpy()
    if output_type == "np":
        return array
    from PIL import Image

    # rounding (the 2020 code and SSA-GAN truncate with astype(uint8); DF-GAN 2022's save_image rounds)
    pixels = np.rint(array * 255.0).astype(np.uint8)
    return [Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p) for p in pixels]
