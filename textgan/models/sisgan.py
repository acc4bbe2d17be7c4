"""SISGAN: text-guided image manipulation (Dong, Yu, Wu & Guo, "Semantic Image Synthesis via Adversarial
Learning", ICCV 2017).

The released weights come from Seonghyeon Nam's PyTorch implementation, woozzu/dong_iccv_2017 at e7f371a
(``model.py``: ``Generator``, ``ResidualBlock``, ``Discriminator``, ``VisualSemanticEmbedding``; MIT licence),
not from the paper's authors. Its generator encodes a 64×64 image, fuses it with a conditioning-augmented
sentence embedding (the text side of :class:`textgan.text.VisualSemanticEmbedding` over fastText vectors),
runs four residual blocks and decodes an edited image of the same size. Module names follow the original, so
its state dicts load with no key map.

Quirks of the original kept here, because the released weights were trained with them:

* ``mu`` and ``log_sigma`` are ``Linear(300, 128, bias=False)`` each followed by ``LeakyReLU(0.2)``: the
  LeakyReLU is applied to log σ too.
* The conditioning noise: the original draws ``torch.randn(B, 128)`` inside ``forward`` (ignoring its ``z``
  argument), in eval mode too. Here it is an explicit ``noise`` argument or is drawn from a given
  ``torch.Generator``; the model never draws hidden random numbers.
* The VGG encoder (``use_vgg=True``, every released model): ``vgg16_bn.features[0:23] + [24:33]`` (the
  max-pool after conv3_3 dropped, so the stride is 4). The code sets ``dilation=2, padding=2`` on
  ``encoder[24]``, ``[27]``, ``[30]``, which after the re-indexing are BatchNorm layers, so no convolution is
  dilated. ``dilate_vgg=False`` (default) computes what the original computes; ``True`` dilates conv4_1..3,
  what the code presumably meant. The VGG part is frozen and stays in eval mode: ``train()`` leaves it so.
* The fusion conv + BN after the concatenation has no ReLU; the decoder is nearest ×2 up-sampling + conv.
* The discriminator returns raw logits (trained with BCE-with-logits). The original squeezes them, which
  gives a 0-d tensor for a batch of one; here the result is always (B,) for 64×64 inputs.
* The generator returns ``(image, (z_mean, z_log_stddev))`` in the original; here a flat named tuple
  :class:`SISGANOutput` ``(image, z_mean, z_log_stddev)``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._noise import standard_normal
from .._registry import PretrainedTag, register_model, register_pretrained
from .._weights import as_state_dict, strip_prefix
from ..errors import ArchitectureMismatchError, CheckpointError
from ..nn.vgg import VGG16_WIDTHS, vgg16_layers, vgg16_widths_from_state_dict
from ..text.vse import SISGANTextEncoder, VisualSemanticEmbedding

__all__ = [
    "SISGANGenerator", "SISGANDiscriminator", "SISGANOutput", "ResidualBlock", "config_from_state_dict",
    "convert_official_state_dict", "OFFICIAL_KINDS", "IMAGENET_MEAN", "IMAGENET_STD",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision vgg16_bn.features index the encoder drops (the max-pool after conv3_3)
_DROPPED_POOL = 23


class SISGANOutput(NamedTuple):
    """What :class:`SISGANGenerator` returns: the edited images in [-1, 1] and the conditioning statistics."""

    image: torch.Tensor
    z_mean: torch.Tensor
    z_log_stddev: torch.Tensor


class ResidualBlock(nn.Module):
    """``relu(x + BN(conv3x3(relu(BN(conv3x3(x))))))``, no biases (the original ``ResidualBlock``)."""

    def __init__(self, channels: int = 512) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.encoder(x))


class SISGANGenerator(nn.Module):
    """SISGAN generator: (image, sentence embedding, noise) → edited image of the same size.

    Args:
        use_vgg: encode the image with the frozen VGG-16-BN trunk (every released model, input ImageNet-normalised)
            instead of the plain three-conv encoder (input in [-1, 1]).
        channels: widths ``(g1, g2, g3)`` (128, 256, 512): the plain encoder's three convs, the residual width
            ``g3`` and the decoder ``g3 → g2 → g1 → 3``.
        vgg_widths: the four VGG-16 stage widths the encoder keeps (64, 128, 256, 512); the last must be ``g3``.
        text_dim: sentence-embedding width (300).
        cond_dim: conditioning width (128), also the noise width.
        num_residual: residual blocks (4).
        dilate_vgg: see the module docstring (default False, as the original runs).

    Forward: ``(image (B, 3, H, W), txt_feat (B, text_dim), noise=None, *, generator=None)`` →
    :class:`SISGANOutput`; H and W multiples of 4 (64 in training). ``noise`` is the (B, cond_dim) standard
    normal draw of the conditioning augmentation; without it pass ``generator`` (a ``torch.Generator``) to
    draw it. :meth:`normalize_input` maps images in [0, 1] to what the encoder expects.
    """

    registry_name = "sisgan"

    def __init__(self, use_vgg: bool = True, channels: Sequence[int] = (128, 256, 512),
                 vgg_widths: Sequence[int] = (64, 128, 256, 512), text_dim: int = 300, cond_dim: int = 128,
                 num_residual: int = 4, dilate_vgg: bool = False) -> None:
        super().__init__()
        g1, g2, g3 = (int(c) for c in channels)
        vgg_widths = [int(w) for w in vgg_widths]
        self.config = dict(use_vgg=use_vgg, channels=[g1, g2, g3], vgg_widths=vgg_widths, text_dim=text_dim,
                           cond_dim=cond_dim, num_residual=num_residual, dilate_vgg=dilate_vgg)
        self.use_vgg, self.cond_dim, self.text_dim = use_vgg, cond_dim, text_dim
        if use_vgg:
            if len(vgg_widths) != 4 or vgg_widths[-1] != g3:
                raise ValueError(f"vgg_widths must be 4 stage widths ending in g3={g3}, got {vgg_widths}")
            layers = vgg16_layers(vgg_widths, batch_norm=True, stages=4)
            self.encoder = nn.Sequential(*(layers[:_DROPPED_POOL] + layers[_DROPPED_POOL + 1:-1]))
            if dilate_vgg:
                for index in (23, 26, 29):  # conv4_1..conv4_3 after the re-indexing
                    self.encoder[index].dilation, self.encoder[index].padding = (2, 2), (2, 2)
            self.encoder.eval()
        else:
            self.encoder = nn.Sequential(
                nn.Conv2d(3, g1, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(g1, g2, 4, 2, padding=1, bias=False), nn.BatchNorm2d(g2), nn.ReLU(inplace=True),
                nn.Conv2d(g2, g3, 4, 2, padding=1, bias=False), nn.BatchNorm2d(g3), nn.ReLU(inplace=True),
            )
        self.residual_blocks = nn.Sequential(
            nn.Conv2d(g3 + cond_dim, g3, 3, padding=1, bias=False), nn.BatchNorm2d(g3),
            *(ResidualBlock(g3) for _ in range(num_residual)),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(g3, g2, 3, padding=1, bias=False), nn.BatchNorm2d(g2), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(g2, g1, 3, padding=1, bias=False), nn.BatchNorm2d(g1), nn.ReLU(inplace=True),
            nn.Conv2d(g1, 3, 3, padding=1), nn.Tanh(),
        )
        self.mu = nn.Sequential(nn.Linear(text_dim, cond_dim, bias=False), nn.LeakyReLU(0.2, inplace=True))
        self.log_sigma = nn.Sequential(nn.Linear(text_dim, cond_dim, bias=False), nn.LeakyReLU(0.2, inplace=True))

    def train(self, mode: bool = True) -> "SISGANGenerator":
        super().train(mode)
        if self.use_vgg:  # frozen ImageNet trunk: its BatchNorm always uses the running statistics
            self.encoder.eval()
        return self

    def normalize_input(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] → the encoder's input: ImageNet normalisation (VGG) or ``2x − 1`` (plain)."""
        if not self.use_vgg:
            return images * 2 - 1
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (images - mean) / std

    def sample_noise(self, batch: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """(batch, cond_dim) standard normal noise from ``generator`` (row i depends only on the seed and i)."""
        return standard_normal((batch, self.cond_dim), generator)

    def forward(self, image: torch.Tensor, txt_feat: torch.Tensor, noise: Optional[torch.Tensor] = None, *,
                generator: Optional[torch.Generator] = None) -> SISGANOutput:
        if noise is None:
            if generator is None:
                raise ValueError(
                    "SISGANGenerator needs its conditioning noise: pass noise=(B, cond_dim) standard normal draws "
                    "or generator=torch.Generator() to draw them (the original drew torch.randn inside forward)")
            noise = self.sample_noise(txt_feat.shape[0], generator)
        if noise.shape != (txt_feat.shape[0], self.cond_dim):
            raise ValueError(f"noise must have shape ({txt_feat.shape[0]}, {self.cond_dim}), got {tuple(noise.shape)}")
        img_feat = self.encoder(image)
        z_mean = self.mu(txt_feat)
        z_log_stddev = self.log_sigma(txt_feat)
        cond = z_mean + z_log_stddev.exp() * noise.to(z_mean.device, z_mean.dtype)
        cond = cond[:, :, None, None].expand(-1, -1, img_feat.shape[2], img_feat.shape[3])
        fusion = self.residual_blocks(torch.cat((img_feat, cond), dim=1))
        return SISGANOutput(self.decoder(fusion), z_mean, z_log_stddev)

    def load_vgg16_bn(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load the ImageNet trunk from torchvision's ``vgg16_bn`` state dict (``features.N`` keys), to train
        from scratch as the original did."""
        if not self.use_vgg:
            raise ValueError("this generator has the plain encoder (use_vgg=False); it holds no VGG trunk")
        mapped = {}
        for index in range(len(self.encoder)):
            source = index if index < _DROPPED_POOL else index + 1
            for name, _ in self.encoder[index].state_dict().items():
                key = f"features.{source}.{name}"
                if key in state_dict:
                    mapped[f"{index}.{name}"] = state_dict[key]
        self.encoder.load_state_dict(mapped, strict=True)


class SISGANDiscriminator(nn.Module):
    """SISGAN discriminator: (image in [-1, 1], sentence embedding) → matching logit.

    Args:
        channels: widths of the four stride-2 convs (64, 128, 256, 512).
        bottleneck: width inside the residual branch (128).
        text_dim, cond_dim: sentence width (300) and its compressed width (128).

    Forward: ``(image (B, 3, 64, 64), txt_feat (B, text_dim))`` → logits (B,) (larger images give
    (B, h, w) maps).
    """

    registry_name = "sisgan_discriminator"

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512), bottleneck: int = 128, text_dim: int = 300,
                 cond_dim: int = 128) -> None:
        super().__init__()
        d1, d2, d3, d4 = (int(c) for c in channels)
        self.config = dict(channels=[d1, d2, d3, d4], bottleneck=bottleneck, text_dim=text_dim, cond_dim=cond_dim)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, d1, 4, 2, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d1, d2, 4, 2, padding=1, bias=False), nn.BatchNorm2d(d2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d2, d3, 4, 2, padding=1, bias=False), nn.BatchNorm2d(d3), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d3, d4, 4, 2, padding=1, bias=False), nn.BatchNorm2d(d4),
        )
        self.residual_branch = nn.Sequential(
            nn.Conv2d(d4, bottleneck, 1, bias=False), nn.BatchNorm2d(bottleneck), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(bottleneck, bottleneck, 3, padding=1, bias=False), nn.BatchNorm2d(bottleneck),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(bottleneck, d4, 3, padding=1, bias=False), nn.BatchNorm2d(d4),
        )
        self.classifier = nn.Sequential(
            nn.Conv2d(d4 + cond_dim, d4, 1, bias=False), nn.BatchNorm2d(d4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(d4, 1, 4),
        )
        self.compression = nn.Sequential(nn.Linear(text_dim, cond_dim), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, image: torch.Tensor, txt_feat: torch.Tensor) -> torch.Tensor:
        img_feat = self.encoder(image)
        img_feat = F.leaky_relu(img_feat + self.residual_branch(img_feat), 0.2)
        cond = self.compression(txt_feat)[:, :, None, None].expand(-1, -1, img_feat.shape[2], img_feat.shape[3])
        out = self.classifier(torch.cat((img_feat, cond), dim=1))[:, 0]
        return out[:, 0, 0] if out.shape[1:] == (1, 1) else out


# ------------------------------------------------------------------------------------ conversion

_WHAT = {
    "sisgan": "SISGAN generator (Generator)",
    "sisgan_discriminator": "SISGAN discriminator (Discriminator)",
    "sisgan_text_encoder": "SISGAN text encoder (VisualSemanticEmbedding.txt_encoder)",
    "sisgan_vse": "SISGAN visual-semantic embedding (VisualSemanticEmbedding)",
}
_CLASSES = {"sisgan": SISGANGenerator, "sisgan_discriminator": SISGANDiscriminator,
            "sisgan_text_encoder": SISGANTextEncoder, "sisgan_vse": VisualSemanticEmbedding}
_HINT = ("SISGAN files: models/{birds,flowers}.pth hold the generator (kind 'sisgan'); "
         "models/text_embedding_{birds,flowers}.pth hold the visual-semantic embedding ('sisgan_vse', or "
         "'sisgan_text_encoder' for its GRU)")
#: ``kind`` values :func:`from_official` accepts.
OFFICIAL_KINDS = tuple(_CLASSES)


def _key(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    if key not in sd:
        raise ArchitectureMismatchError(
            f"{what}: key {key!r} is missing, so these weights are not a {what} (first keys: {', '.join(list(sd)[:5])})")
    return sd[key].shape


def config_from_state_dict(kind: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, Any]:
    """Constructor arguments of SISGAN model ``kind`` read off a (prefix-free) state dict."""
    what = _WHAT[kind]
    if kind == "sisgan":
        mu = _key(sd, "mu.0.weight", what)
        g3 = _key(sd, "residual_blocks.0.weight", what)[0]
        channels = [int(_key(sd, "decoder.5.weight", what)[0]), int(_key(sd, "decoder.1.weight", what)[0]), int(g3)]
        use_vgg = "encoder.1.running_mean" in sd  # the VGG trunk has BatchNorm right after its first conv
        vgg_widths = [64, 128, 256, 512]
        if use_vgg:
            try:
                vgg_widths = list(vgg16_widths_from_state_dict(sd, "encoder.", True, stages=4, skip=(_DROPPED_POOL,)))
            except KeyError as e:
                raise ArchitectureMismatchError(f"{what}: VGG encoder key {e} is missing") from None
        blocks = {k.split(".")[1] for k in sd if k.startswith("residual_blocks.") and ".encoder." in k}
        return dict(use_vgg=use_vgg, channels=channels, vgg_widths=vgg_widths, text_dim=int(mu[1]),
                    cond_dim=int(mu[0]), num_residual=len(blocks))
    if kind == "sisgan_discriminator":
        channels = [int(_key(sd, f"encoder.{i}.weight", what)[0]) for i in (0, 2, 5, 8)]
        comp = _key(sd, "compression.0.weight", what)
        return dict(channels=channels, bottleneck=int(_key(sd, "residual_branch.0.weight", what)[0]),
                    text_dim=int(comp[1]), cond_dim=int(comp[0]))
    if kind == "sisgan_text_encoder":
        w = _key(sd, "txt_encoder.weight_ih_l0", what)
        layers = len({k for k in sd if k.startswith("txt_encoder.weight_ih_l")})
        return dict(embed_dim=int(w[1]), hidden_dim=int(w[0]) // 3, num_layers=layers)
    if kind == "sisgan_vse":
        from ..nn.vgg import VGG16

        vgg = VGG16.config_from_state_dict(sd, "img_encoder.")
        return dict(embed_dim=int(_key(sd, "W.weight", what)[0]), vgg_widths=list(vgg["widths"]),
                    fc_dim=vgg["fc_dim"], num_classes=vgg["num_classes"])
    raise KeyError(kind)


def convert_official_state_dict(kind: str, obj: Any, source: str = "<state dict>") -> Dict[str, torch.Tensor]:
    """The state dict of module ``kind`` in an authors' file (already loaded), in textgan's keys; used by
    :func:`textgan.convert.from_official`, which reads the file and infers the sizes.

    Removes ``module.`` prefixes; fills the BatchNorm ``num_batches_tracked`` counters that PyTorch 0.2 files
    lack (with 0, as PyTorch does on load); for the text encoder takes the ``txt_encoder.*`` entries of a full
    embedding file (or prefixes a bare GRU state dict); for the embedding drops the duplicate
    ``feat_extractor.*`` entries after checking they equal ``img_encoder.classifier.{0,3}``.
    """
    if kind not in _CLASSES:
        raise ValueError(f"unknown SISGAN kind {kind!r}; one of {', '.join(OFFICIAL_KINDS)}")
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    sd = strip_prefix(as_state_dict(obj, source, _WHAT[kind]))
    if kind == "sisgan_text_encoder":
        if any(k.startswith("txt_encoder.") for k in sd):
            sd = {k: v for k, v in sd.items() if k.startswith("txt_encoder.")}
        elif any(k.startswith("weight_ih_l") for k in sd):
            sd = {"txt_encoder." + k: v for k, v in sd.items()}
    if kind == "sisgan_vse":
        for key in [k for k in sd if k.startswith("feat_extractor.")]:
            twin = "img_encoder.classifier." + key[len("feat_extractor."):]
            value = sd.pop(key)
            if twin in sd and sd[twin].device.type != "meta" and not torch.equal(sd[twin], value):
                raise CheckpointError(f"{source}: {key} differs from {twin}; in the original they are one module")
            sd.setdefault(twin, value)
    for key in [k for k in sd if k.endswith(".running_mean")]:
        counter = key[: -len("running_mean")] + "num_batches_tracked"
        if counter not in sd:
            sd[counter] = torch.zeros((), dtype=torch.long, device=sd[key].device)
    return sd


# ------------------------------------------------------------------------------- registered models


@register_model("sisgan")
def sisgan(*, use_vgg: bool = True, channels: Sequence[int] = (128, 256, 512),
           vgg_widths: Sequence[int] = (64, 128, 256, 512), text_dim: int = 300, cond_dim: int = 128,
           num_residual: int = 4, dilate_vgg: bool = False) -> SISGANGenerator:
    """SISGAN generator (released models: VGG encoder, 64 px)."""
    return SISGANGenerator(use_vgg, channels, vgg_widths, text_dim, cond_dim, num_residual, dilate_vgg)


@register_model("sisgan")
def sisgan_discriminator(*, channels: Sequence[int] = (64, 128, 256, 512), bottleneck: int = 128,
                         text_dim: int = 300, cond_dim: int = 128) -> SISGANDiscriminator:
    """SISGAN discriminator (not released by the authors; trained by ``train.py``)."""
    return SISGANDiscriminator(channels, bottleneck, text_dim, cond_dim)


@register_model("sisgan")
def sisgan_text_encoder(*, embed_dim: int = 300, hidden_dim: Optional[int] = None,
                        num_layers: int = 1) -> SISGANTextEncoder:
    """The GRU text encoder of SISGAN's visual-semantic embedding."""
    return SISGANTextEncoder(embed_dim, hidden_dim, num_layers)


@register_model("sisgan")
def sisgan_vse(*, embed_dim: int = 300, vgg_widths: Sequence[int] = VGG16_WIDTHS, fc_dim: int = 4096,
               num_classes: int = 1000) -> VisualSemanticEmbedding:
    """SISGAN's visual-semantic embedding (VGG-16 image side + GRU text side)."""
    return VisualSemanticEmbedding(embed_dim, vgg_widths, fc_dim, num_classes)


_DROPBOX = "https://www.dropbox.com/sh/zr3i7k6xz0z435r/AABHfV5BN5Uz8sIXZuqspHZua?dl=0"
_NOTES = ("Weights of woozzu/dong_iccv_2017, an unofficial PyTorch re-implementation, shared by its author in "
          "issue #15 (the folder's contents were not verified). The pipeline also needs the visual-semantic "
          "embedding text_embedding_{dataset}.pth from the same folder and the fastText wiki.en.bin vectors "
          "(CC BY-SA 3.0, https://fasttext.cc/docs/en/pretrained-vectors.html). The paper reports a user study, "
          "no IS or FID.")
for _short, _dataset in (("birds", "CUB-200-2011"), ("flowers", "Oxford-102")):
    register_pretrained(PretrainedTag(
        tag=f"sisgan-{_short}", family="sisgan", dataset=_dataset, resolution=64,
        text_encoder=f"SISGAN visual-semantic embedding GRU (text_embedding_{_short}.pth) over fastText wiki.en",
        license="MIT (woozzu/dong_iccv_2017 code; no separate licence stated for the weights)",
        paper="Dong, Yu, Wu & Guo, Semantic Image Synthesis via Adversarial Learning, ICCV 2017",
        original_url=_DROPBOX, original_filename=f"{_short}.pth",
        file_format="PyTorch 0.2 state dict of Generator(use_vgg=True) (legacy pickle, no num_batches_tracked)",
        converter="sisgan", hub_id=f"textgan/sisgan-{_short}",
        parts={"sisgan": "model.safetensors", "sisgan_text_encoder": "text_encoder.safetensors"},
        text_encoder_url=f"{_DROPBOX} (text_embedding_{_short}.pth); https://dl.fbaipublicfiles.com/fasttext/"
                         "vectors-wiki/wiki.en.zip (wiki.en.bin)",
        notes=_NOTES,
    ))
