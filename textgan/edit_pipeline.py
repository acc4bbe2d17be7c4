"""Text-guided image editing (SISGAN): ``pipe(image, "this bird has a red head").images[0]``.

:class:`TextGuidedEditPipeline` chains the parts of SISGAN (Dong et al., ICCV 2017, in woozzu/dong_iccv_2017):
tokenizer (lower-case, ``\\w+`` runs) → fastText word vectors (:class:`textgan.text.WordVectors`) → GRU text
encoder (final hidden state) → generator (image encoder, conditioning augmentation, residual blocks,
decoder). It follows diffusers' conventions (``generator=``, ``output_type=``, lists of inputs).

Images go in and come out at their own size. Inside, the model sees ``image_size`` px (64, the released
models' training size; the generator is fully convolutional, so e.g. 128 works too):

* ``resize_mode="crop"`` (default), the original ``test.py``: the shorter side is scaled to
  ``image_size · 74 / 64`` px (bilinear, ``Scale(74)``) and the centre ``image_size``² is cropped
  (``CenterCrop(64)``, with Python 2's rounding); the edited crop is scaled back (bicubic) onto the region
  it came from, and the rest of the picture is kept as it was.
* ``resize_mode="stretch"``: the whole image is resized to ``image_size``² (bilinear) and the edit resized
  back to the input's size (bicubic); nothing is cropped, the aspect ratio is distorted inside.

Every input is converted to RGB first (grayscale, palette, CMYK, RGBA: alpha is dropped), so outputs are
RGB. Images smaller than ``image_size`` are scaled up for the model and the edit scaled back down. A
sentence without any word (``\\w``) raises :class:`textgan.errors.EmptyPromptError`; there is no length
limit (the original trained on up to 50 words).

The conditioning noise of edit ``i`` comes from row ``i`` of uniforms drawn from ``generator``, so an edit
depends only on the seed, its position, its image and its sentence, never on ``batch_size``.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from . import _serialization as ser
from ._download import file_record
from . import _validate as V
from ._noise import normal_from_uniform, uniform
from .errors import ArchitectureMismatchError, CheckpointError, EmptyPromptError
from .pipelines import PIPELINE_LOADERS, PipelineMixin
from .text.vse import sisgan_tokenize
from .text.word_vectors import WordVectors

__all__ = ["TextGuidedEditPipeline", "EditOutput", "RESIZE_MODES"]

RESIZE_MODES = ("crop", "stretch")
WORD_VECTORS_FILE = "word_vectors.safetensors"
_LOAD_RATIO = 74 / 64  # test.py: Scale(74) before CenterCrop(64)

ImageInput = Union["PIL.Image.Image", str, os.PathLike]  # noqa: F821


@dataclass
class EditOutput:
    """``images``: the edits at their inputs' sizes, as PIL images, (H, W, 3) float arrays in [0, 1] or
    (3, H, W) tensors in [0, 1] (a list: sizes may differ); ``prompts``: the sentence of each edit;
    ``noise``: the (N, cond_dim) conditioning noise used; ``model_images``: the generator's outputs at
    model size, (N, 3, S, S) in [0, 1], before any resizing or rounding."""

    images: List[Any]
    prompts: List[str]
    noise: torch.Tensor
    model_images: torch.Tensor


class TextGuidedEditPipeline(PipelineMixin):
    """SISGAN image editing from a sentence.

    Args:
        word_vectors: the fastText vectors the text encoder was trained on (``wiki.en.bin``).
        text_encoder: :class:`textgan.text.SISGANTextEncoder`, ``(word vectors, lengths) → (B, 300)``.
        generator: :class:`textgan.models.sisgan.SISGANGenerator`.
        image_size: model-side size in px (64).
        resize_mode: ``"crop"`` (the original's, default) or ``"stretch"``; see the module docstring.
        discriminator: optional, kept so that ``save_pretrained`` writes it too.
        tag, source: the pretrained tag and the files these weights were converted from.

    Examples:
        A tiny pipeline from random weights (``textgan.load_pretrained("sisgan-birds")`` gives the converted one):

        >>> import numpy as np
        >>> from PIL import Image
        >>> vectors = textgan.text.WordVectors(["a", "red", "bird"], np.ones((3, 5), np.float32))
        >>> encoder = textgan.sisgan(part="text_encoder", embed_dim=5, hidden_dim=6)
        >>> G = textgan.sisgan(channels=(3, 4, 5), vgg_widths=(2, 3, 4, 5), text_dim=6, cond_dim=4, num_residual=2)
        >>> pipe = textgan.TextGuidedEditPipeline(vectors, encoder, G, image_size=16)
        >>> out = pipe(Image.new("RGB", (40, 30)), "a red bird", generator=torch.Generator().manual_seed(0))
        >>> out.images[0].size, tuple(out.model_images.shape)   # back at the input's size; the model's own output
        ((40, 30), (1, 3, 16, 16))
    """

    def __init__(self, word_vectors: WordVectors, text_encoder: nn.Module, generator: nn.Module, *,
                 image_size: int = 64, resize_mode: str = "crop", discriminator: Optional[nn.Module] = None,
                 tag: Optional[str] = None, source: Optional[Dict[str, Any]] = None) -> None:
        _check_mode(resize_mode)
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a positive multiple of 4 (the generator's stride), got {image_size}")
        embed = getattr(text_encoder, "embed_dim", word_vectors.dim)
        if embed != word_vectors.dim:
            raise ArchitectureMismatchError(
                f"the text encoder reads {embed}-d word vectors but {word_vectors.source} has {word_vectors.dim}-d "
                "ones: use the fastText model it was trained with (wiki.en.bin, 300-d)")
        hidden = getattr(text_encoder, "hidden_dim", None)
        if hidden is not None and hidden != generator.text_dim:
            raise ArchitectureMismatchError(f"the generator expects {generator.text_dim}-d sentence features but the "
                                            f"text encoder gives {hidden}-d ones: these files do not belong together")
        self.word_vectors = word_vectors
        self.text_encoder = text_encoder.eval()
        self.generator = generator.eval()
        self.discriminator = discriminator.eval() if discriminator is not None else None
        self.image_size, self.resize_mode = int(image_size), resize_mode
        self.family, self.tag, self.source = "sisgan", tag, dict(source or {})
        self._progress_disabled = False

    # ------------------------------------------------------------------ device handling
    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.generator.parameters()).dtype

    def to(self, device=None, dtype: Optional[torch.dtype] = None) -> "TextGuidedEditPipeline":
        self.generator.to(device=device, dtype=dtype)
        self.text_encoder.to(device=device)
        if self.discriminator is not None:
            self.discriminator.to(device=device, dtype=dtype)
        return self


    # ------------------------------------------------------------------ text
    @staticmethod
    def tokenize(prompt: str) -> List[str]:
        """SISGAN's words of ``prompt`` (lower-cased ``\\w+`` runs)."""
        return sisgan_tokenize(prompt)

    def encode_prompt(self, prompt: Union[str, Sequence[str]], batch_size: int = 64) -> torch.Tensor:
        """Sentence features (B, 300), one per prompt: the GRU's state after each sentence's last word."""
        prompts = _as_list(prompt, "prompt", str)
        tokens = [self.tokenize(p) for p in prompts]
        empty = [i for i, t in enumerate(tokens) if not t]
        if empty:
            raise EmptyPromptError(
                f"prompt {empty[0]} ({prompts[empty[0]]!r}) has no words: SISGAN reads runs of letters, digits and "
                "'_' (punctuation is dropped); describe the edit in words")
        device = next(self.text_encoder.parameters()).device
        out = []
        with torch.inference_mode():
            for s in range(0, len(tokens), batch_size):
                vectors, lengths = self.word_vectors.lookup(tokens[s:s + batch_size])
                out.append(self.text_encoder(torch.from_numpy(vectors).to(device), torch.from_numpy(lengths)))
        return torch.cat(out)

    # ------------------------------------------------------------------ images
    def preprocess(self, images: Union[ImageInput, Sequence[ImageInput]],
                   resize_mode: Optional[str] = None) -> Tuple[torch.Tensor, List[Dict[str, Any]]]:
        """Model inputs (N, 3, S, S) in [0, 1] and, per image, what :meth:`postprocess` needs to put it back."""
        mode = _check_mode(resize_mode or self.resize_mode)
        tensors, places = [], []
        for i, item in enumerate(_as_list(images, "image", None)):
            rgb = _open_rgb(item, i)
            small, place = (_scale_center_crop if mode == "crop" else _stretch)(rgb, self.image_size)
            place["original"] = rgb
            array = np.asarray(small, dtype=np.uint8)
            tensors.append(torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0))
            places.append(place)
        return torch.stack(tensors), places

    @staticmethod
    def postprocess(model_images: torch.Tensor, places: Sequence[Dict[str, Any]], output_type: str = "pil") -> list:
        """Model outputs in [0, 1] → edits at the inputs' sizes (see the module docstring)."""
        from PIL import Image

        pixels = np.rint(model_images.permute(0, 2, 3, 1).cpu().numpy() * 255.0).clip(0, 255).astype(np.uint8)
        out = []
        for edit, place in zip(pixels, places):
            original = place["original"]
            crop = Image.fromarray(edit)
            if place["box"] is None:
                result = crop.resize(original.size, Image.BICUBIC)
            else:
                x0, y0, x1, y1 = place["box"]
                result = original.copy()
                result.paste(crop.resize((x1 - x0, y1 - y0), Image.BICUBIC), (x0, y0))
            if output_type == "pil":
                out.append(result)
            else:
                array = np.asarray(result, dtype=np.float32) / 255.0
                out.append(array if output_type == "np" else torch.from_numpy(array).permute(2, 0, 1).contiguous())
        return out

    # ------------------------------------------------------------------ editing
    def sample_noise(self, num: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """(num, cond_dim) standard normal noise; row i depends only on the seed and i."""
        return normal_from_uniform(uniform((num, self.generator.cond_dim), generator))

    def __call__(self, image: Union[ImageInput, Sequence[ImageInput]], prompt: Union[str, Sequence[str]], *,
                 generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None,
                 output_type: str = "pil", batch_size: int = 16, resize_mode: Optional[str] = None,
                 progress: Optional[bool] = None) -> EditOutput:
        """Edit each image to match its sentence.

        Args:
            image: a PIL image or a path, or a list of them.
            prompt: a sentence or a list. One image with several sentences gives one edit per sentence; several
                images with one sentence edit each image with it; two lists are paired and must be as long.
            generator: the ``torch.Generator`` the conditioning noise is drawn from (a seed reproduces every
                edit); ``None`` draws from PyTorch's global generator.
            noise: explicit (N, cond_dim) noise instead of drawing it.
            output_type: ``"pil"``, ``"np"`` ((H, W, 3) float in [0, 1]) or ``"pt"`` ((3, H, W) in [0, 1]).
            batch_size: edits per generator call; it changes speed and memory, not the edits.
            resize_mode: ``"crop"`` or ``"stretch"`` for this call (default: the pipeline's).
            progress: show a progress bar (default: when there is more than one batch).
        """
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        V.check_int(batch_size, "batch_size")
        V.check_generator(generator)
        images = _as_list(image, "image", None)
        prompts = V.check_prompts(prompt)
        total = max(len(images), len(prompts))
        if len(images) not in (1, total) or len(prompts) not in (1, total):
            raise ValueError(f"got {len(images)} images and {len(prompts)} prompts: pass one of either, or lists "
                             "of the same length (paired in order)")
        unique = list(dict.fromkeys(prompts))
        features = self.encode_prompt(unique)
        which = [unique.index(p) for p in prompts]
        sentences = features[[which[i if len(prompts) > 1 else 0] for i in range(total)]]
        pixels, places = self.preprocess(images, resize_mode)
        if noise is None:
            noise = self.sample_noise(total, generator)
        else:
            V.check_noise(noise, (total, self.generator.cond_dim))
        device, dtype = self.device, self.dtype
        batches = self._batches(total, batch_size, progress, "textgan edit")
        chunks = []
        with torch.inference_mode():
            for s in batches:
                index = [i if len(images) > 1 else 0 for i in range(s, min(s + batch_size, total))]
                x = self.generator.normalize_input(pixels[index].to(device, dtype))
                out = self.generator(x, sentences[s:s + batch_size].to(device, dtype), noise[s:s + batch_size])
                chunks.append(out.image.float().cpu())
        model_images = torch.cat(chunks).add_(1.0).mul_(0.5).clamp_(0.0, 1.0)
        full_places = [places[i if len(images) > 1 else 0] for i in range(total)]
        return EditOutput(self.postprocess(model_images, full_places, output_type), prompts, noise, model_images)

    # ------------------------------------------------------------------ saving and loading
    def save_pretrained(self, folder: Union[str, os.PathLike], *, model_card: bool = True) -> Path:
        """Write config.json, model.safetensors, text_encoder.safetensors, word_vectors.safetensors (and a card)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        components = {"generator": ser.save_component(self.generator, folder, "generator"),
                      "text_encoder": ser.save_component(self.text_encoder, folder, "text_encoder")}
        if self.discriminator is not None:
            components["discriminator"] = ser.save_component(self.discriminator, folder, "discriminator")
        self.word_vectors.save(folder / WORD_VECTORS_FILE)
        files = [c["file"] for c in components.values()] + [WORD_VECTORS_FILE]
        if model_card:
            _write_model_card(folder, self)
            files.append("README.md")
        ser.write_config(folder, {
            "pipeline": type(self).__name__, "family": self.family, "tag": self.tag, "components": components,
            "word_vectors": {"file": WORD_VECTORS_FILE, "dim": self.word_vectors.dim,
                             "words": len(self.word_vectors), "subwords": self.word_vectors.has_subwords},
            "tokenizer": {"type": "sisgan", "lowercase": True, "pattern": "\\w+"},
            "image": {"size": self.image_size, "resize_mode": self.resize_mode},
            "source": self.source, "files": files,
        })
        return folder

    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], revision: Optional[str] = None, device=None,
                        dtype: Optional[torch.dtype] = None) -> "TextGuidedEditPipeline":
        from .pipelines import load_pretrained

        pipe = load_pretrained(name_or_path, revision=revision, device=device, dtype=dtype)
        if not isinstance(pipe, cls):
            raise CheckpointError(f"{name_or_path} holds a {type(pipe).__name__}, not a {cls.__name__}")
        return pipe

    @classmethod
    def _from_folder(cls, folder: Path, config: Dict[str, Any], *, device=None, dtype: Optional[torch.dtype] = None,
                     with_discriminator: bool = False) -> "TextGuidedEditPipeline":
        components = config.get("components", {})
        for needed in ("generator", "text_encoder"):
            if needed not in components:
                raise CheckpointError(f"{folder / 'config.json'}: no {needed!r} component; convert the model again")
        modules = {name: ser.load_component(folder, entry, name, dtype if name != "text_encoder" else None)
                   for name, entry in components.items()
                   if name in ("generator", "text_encoder") or with_discriminator}
        vectors_file = folder / config.get("word_vectors", {}).get("file", WORD_VECTORS_FILE)
        image = config.get("image", {})
        pipe = cls(WordVectors.load(vectors_file), modules["text_encoder"], modules["generator"],
                   image_size=int(image.get("size", 64)), resize_mode=image.get("resize_mode", "crop"),
                   discriminator=modules.get("discriminator"), tag=config.get("tag"), source=config.get("source"))
        return pipe.to(device) if device is not None else pipe

    @classmethod
    def from_official(cls, generator: Union[str, os.PathLike], *, text_embedding: Union[str, os.PathLike],
                      word_vectors: Union[str, os.PathLike, WordVectors], discriminator: Union[str, os.PathLike] = None,
                      tag: Optional[str] = None, image_size: int = 64, resize_mode: str = "crop") -> "TextGuidedEditPipeline":
        """A pipeline from the released files.

        Args:
            generator: ``models/{birds,flowers}.pth`` (``Generator`` state dict).
            text_embedding: ``models/text_embedding_{birds,flowers}.pth`` (the visual-semantic embedding; its
                GRU is kept), or a file with only the GRU's ``txt_encoder.*`` entries.
            word_vectors: the fastText model (``wiki.en.bin``), a ``.vec`` file or textgan word vectors.
            discriminator: optional ``Discriminator`` state dict of a training run.
            tag: the pretrained tag these files are (``"sisgan-birds"``), recorded in config.json.
        """
        from .convert import from_official

        modules = {"generator": from_official("sisgan", generator),
                   "text_encoder": from_official("sisgan_text_encoder", text_embedding)}
        if discriminator is not None:
            modules["discriminator"] = from_official("sisgan_discriminator", discriminator)
        vectors = word_vectors if isinstance(word_vectors, WordVectors) else WordVectors.load(word_vectors)
        files = {"generator": generator, "text_embedding": text_embedding, "discriminator": discriminator}
        if not isinstance(word_vectors, WordVectors):
            files["word_vectors"] = word_vectors
        source = {name: file_record(p)
                  for name, p in files.items() if p is not None}
        source["converter"] = "textgan.TextGuidedEditPipeline.from_official"
        return cls(vectors, modules["text_encoder"], modules["generator"], image_size=image_size,
                   resize_mode=resize_mode, discriminator=modules.get("discriminator"), tag=tag, source=source)


PIPELINE_LOADERS[TextGuidedEditPipeline.__name__] = TextGuidedEditPipeline._from_folder


# ---------------------------------------------------------------------------------------------- helpers


def _check_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {mode!r}")
    return mode


def _as_list(value, name: str, kind) -> list:
    items = [value] if isinstance(value, (str, os.PathLike)) or not isinstance(value, (list, tuple)) else list(value)
    if not items:
        raise (EmptyPromptError if name == "prompt" else ValueError)(f"{name}: got an empty list")
    if kind is not None:
        bad = [i for i, v in enumerate(items) if not isinstance(v, kind)]
        if bad:
            raise TypeError(f"{name}: entries {bad} are not {kind.__name__}s")
    return items


def _open_rgb(item, index: int):
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"image {index}: no such file {path}")
        try:
            # from memory: PIL skips chunks with file.read(claimed length), which on a real file reserves
            # whatever a corrupt length claims; BytesIO.read never returns (or reserves) more than there is
            with Image.open(io.BytesIO(path.read_bytes())) as opened:
                limit = Image.MAX_IMAGE_PIXELS  # PIL warns above it and refuses above twice it; we refuse above it
                if limit and opened.size[0] * opened.size[1] > limit:
                    raise Image.DecompressionBombError(f"{opened.size[0]} x {opened.size[1]} pixels")
                opened.load()
                item = opened.copy() if opened.mode == "RGB" else opened.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, EOFError) as e:  # PIL's plugins use all of them
            raise ValueError(f"image {index}: {path} is not an image PIL can read ({e})") from e
        except Image.DecompressionBombError as e:  # a header claiming billions of pixels: refused before decoding
            raise ValueError(f"image {index}: {path} claims more pixels than PIL's limit "
                             f"(PIL.Image.MAX_IMAGE_PIXELS; {e}); resize it first") from e
        return item
    if not isinstance(item, Image.Image):
        raise TypeError(f"image {index}: expected a PIL image or a path, got {type(item).__name__} (for an array "
                        "use PIL.Image.fromarray)")
    if item.mode == "RGB":
        return item
    try:  # grayscale, palette, CMYK, RGBA (alpha dropped), 16-bit, ...: what the models read is RGB
        return item.convert("RGB")
    except (ValueError, OSError) as e:
        raise ValueError(f"image {index}: PIL cannot convert mode {item.mode!r} to RGB ({e}); convert it first") from e


def _scale_center_crop(img, size: int):
    """test.py's ``Scale(74)`` + ``CenterCrop(64)`` (torchvision 0.1.9 under Python 2), for ``size`` px."""
    from PIL import Image

    load = int(round(size * _LOAD_RATIO))
    w, h = img.size
    if (w <= h and w == load) or (h <= w and h == load):
        ow, oh, scaled = w, h, img
    else:
        ow, oh = (load, load * h // w) if w < h else (load * w // h, load)  # py2 integer division
        scaled = img.resize((ow, oh), Image.BILINEAR)
    left = int(math.floor((ow - size) / 2.0 + 0.5))  # Python 2 round(): halves away from zero
    top = int(math.floor((oh - size) / 2.0 + 0.5))
    crop = scaled.crop((left, top, left + size, top + size))
    box = (round(left * w / ow), round(top * h / oh), round((left + size) * w / ow), round((top + size) * h / oh))
    x0, y0, x1, y1 = box
    return crop, {"box": (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))}


def _stretch(img, size: int):
    from PIL import Image

    return img.resize((size, size), Image.BILINEAR), {"box": None}


def _write_model_card(folder: Path, pipe: TextGuidedEditPipeline) -> None:
    from ._registry import _PRETRAINED

    tag = _PRETRAINED.get(pipe.tag) if pipe.tag else None
    gen = pipe.generator
    lines = [
        "---", "library_name: textgan", "pipeline_tag: image-to-image",
        "tags: [textgan, gan, text-guided-image-editing, sisgan]", "license: other", "---",
        f"# {pipe.tag or 'sisgan'}", "",
        f"A textgan `TextGuidedEditPipeline` (SISGAN): generator `{gen.registry_name}` "
        f"({sum(p.numel() for p in gen.parameters()) / 1e6:.2f} M parameters, config {gen.config}), GRU text "
        f"encoder over {len(pipe.word_vectors)} fastText word vectors ({pipe.word_vectors.dim}-d"
        f"{', with subword n-grams' if pipe.word_vectors.has_subwords else ''}); {pipe.image_size} px, "
        f"resize mode `{pipe.resize_mode}`.", "",
        "```python", "import torch, textgan", "from PIL import Image",
        f"pipe = textgan.load_pretrained(\"{'hf-hub:' + tag.hub_id if tag else 'PATH_OR_HUB_ID'}\")",
        "edit = pipe(Image.open(\"bird.jpg\"), \"this bird has a red head\", "
        "generator=torch.Generator().manual_seed(0)).images[0]", "```",
    ]
    if tag is not None:
        lines += ["", f"- Paper: {tag.paper}", f"- Dataset: {tag.dataset}, {tag.resolution} px",
                  f"- Licence: {tag.license}",
                  f"- Original release: {tag.original_url} (`{tag.original_filename}`, {tag.file_format})",
                  f"- Notes: {tag.notes}"]
    if pipe.source:
        lines += ["", "Converted from:"] + [f"- {k}: `{v}`" for k, v in pipe.source.items()]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
