"""StackGAN++ / StackGAN-v2 (Zhang et al., StackGAN++: Realistic Image Synthesis with Stacked Generative
Adversarial Networks, TPAMI 2018, arXiv:1710.10916).

Original code: hanzhanggit/StackGAN-v2@6228e34 (``code/model.py``: ``G_NET``, ``CA_NET``, ``INIT_STAGE_G``,
``NEXT_STAGE_G``, ``GET_IMAGE_G``, ``D_NET64/128/256``); code and released weights under the MIT licence.

The generator is a tree: an optional GLU conditioning augmentation of the 1024-d char-CNN-RNN embedding
(birds; the dog / cat / bedroom / church releases are unconditional and have no ``ca_net``) → a first stage
(``cat(c, z)`` → fc → four GLU up blocks, 64 px) → next stages, each ``cat(tiled c, h)`` → conv3×3 + BN + GLU
(``jointConv``) → GLU residual blocks → GLU up block ×2 (128, 256 px); every stage has a conv3×3 + tanh image
head. The stage count (``TREE.BRANCH_NUM``) and every width are read off the weights. The blocks are AttnGAN's
(:mod:`textgan.models.attngan`: same ``upBlock`` / ``ResBlock`` / ``INIT_STAGE_G`` / ``GET_IMAGE_G``), the
module names are the authors', so a ``module.``-stripped state dict loads with no key map (the releases were
saved from ``DataParallel``: :func:`textgan.convert.from_official` strips the prefix).

Faithful quirks: the condition goes *first* in every concatenation (``cat(c, z)``, ``cat(c, h)``); without text
(unconditional models) the noise z is the "condition" the next stages tile (``ef_dim = Z_DIM``); the CA ε is
drawn on every call, eval mode too (here from ``eps=`` or a ``torch.Generator``); the discriminators'
``logits`` head is the conditional one (on the joint code) and ``uncond_logits`` the unconditional one, both
ending in a sigmoid; a conditional discriminator called without a condition puts its *conditional* head on
the image code, as the original does.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._registry import Metric, PretrainedTag, register_model, register_pretrained
from ..errors import ArchitectureMismatchError
from ..nn.conditioning import ConditioningAugmentation
from ..nn.masks import fill_batchnorm_counters
from .attngan import (_IMAGE_CODE_LAYERS, GLU, ImageHead, InitStage, ResBlock, UpBlock, _add_image_code,
                      _block3x3_lrelu, _conv3x3, _Derived, _fold, _image_code)

__all__ = ["G_NET", "NEXT_STAGE_G", "D_NET", "config_from_state_dict", "convert_official_state_dict",
           "reject_v2_file", "OFFICIAL_KINDS", "stackgan_v2_pipeline"]


class NEXT_STAGE_G(nn.Module):  # noqa: N801 (the authors' class name)
    """``NEXT_STAGE_G``: ``cat(tiled c, h)`` → conv3×3 (ngf + ef → 2·ngf) + BN + GLU (``jointConv``) →
    ``r_num`` GLU residual blocks → GLU up block to ngf/2 channels at twice the size."""

    def __init__(self, ngf: int, ef_dim: int, r_num: int) -> None:
        super().__init__()
        self.gf_dim, self.ef_dim = ngf, ef_dim
        self.jointConv = nn.Sequential(_conv3x3(ngf + ef_dim, 2 * ngf), nn.BatchNorm2d(2 * ngf), GLU())
        self.residual = nn.Sequential(*[ResBlock(ngf) for _ in range(r_num)])
        self.upsample = UpBlock(ngf, ngf // 2)
        self._derived = _Derived()

    def forward(self, h_code: torch.Tensor, c_code: torch.Tensor) -> torch.Tensor:
        c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, h_code.shape[2], h_code.shape[3])
        return self.upsample(self.residual(self.jointConv(torch.cat((c, h_code), 1))))

    def fused(self, h_code: torch.Tensor, c_code: torch.Tensor, memory_format, phases: bool = False) -> torch.Tensor:
        """Eval-mode equivalent with BatchNorms folded and AttnGAN's phase up-sampling (see :class:`G_NET`)."""
        conv, bn = self.jointConv[0], self.jointConv[1]
        w, b = self._derived.get((conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var),
                                 lambda: _fold(conv.weight, bn), memory_format)
        c = c_code.view(-1, self.ef_dim, 1, 1).expand(-1, -1, h_code.shape[2], h_code.shape[3])
        out = F.glu(F.conv2d(torch.cat((c, h_code), 1).contiguous(memory_format=memory_format), w, b, padding=1), 1)
        for block in self.residual:
            out = block.fused(out, memory_format)
        return (self.upsample.fused_phases if phases else self.upsample.fused)(out, memory_format)


class G_NET(nn.Module):  # noqa: N801
    """StackGAN-v2 generator: noise (+ text embedding) → one image per branch (64, 128, 256 px, ...).

    Args:
        gf_dim: ``GAN.GF_DIM`` (64 in every release); stage k works at ``gf_dim / 2^(k-1)`` channels.
        z_dim: ``GAN.Z_DIM`` (100).
        emb_dim: ``GAN.EMBEDDING_DIM`` (128), the CA condition width; ignored when ``b_condition`` is False.
        text_dim: ``TEXT.DIMENSION`` (1024, char-CNN-RNN); ignored when ``b_condition`` is False.
        r_num: ``GAN.R_NUM`` residual blocks of stages 2 and 3 (2); a 4th stage has 1, as the original.
        branch_num: ``TREE.BRANCH_NUM`` (3: 64/128/256 px), 1 to 4.
        b_condition: ``GAN.B_CONDITION``: True for the text-conditional birds model (has ``ca_net``).

    Forward: ``(z_code (B, z_dim), text_embedding=None (B, text_dim), eps=None (B, emb_dim), generator=None)``
    → ``(fake_imgs, mu, logvar)``: the authors' tuple, ``fake_imgs`` one (B, 3, S, S) image per branch; ``mu``
    and ``logvar`` are None for unconditional models. ε is ``eps`` or drawn from ``generator``.

    Inference speed: :meth:`for_inference` (or ``fused_inference = True``) makes ``eval()`` calls without
    gradients run AttnGAN's algebraically equivalent path (:mod:`textgan.models.attngan`: BatchNorm folded,
    each nearest ×2 + conv3×3 as a 4-phase 2×2 convolution, the last stage kept in phase form, NHWC); outputs
    differ from the default op-by-op path (the one that reproduces the authors to 1e-5) by float32 rounding.
    """

    registry_name = "stackgan_v2"
    pipeline_inputs = ("sentence", "noise", "extra_noise")
    ca_variant = "glu"

    def __init__(self, gf_dim: int = 64, z_dim: int = 100, emb_dim: int = 128, text_dim: int = 1024, r_num: int = 2,
                 branch_num: int = 3, b_condition: bool = True) -> None:
        super().__init__()
        if not 1 <= branch_num <= 4:
            raise ValueError(f"branch_num must be 1 to 4 (TREE.BRANCH_NUM: 64 to 512 px), got {branch_num}")
        if gf_dim < 2 ** (branch_num - 1):
            raise ValueError(f"gf_dim {gf_dim} is too small for {branch_num} branches (each halves the width)")
        b_condition = bool(b_condition)
        self.config = dict(gf_dim=gf_dim, z_dim=z_dim, emb_dim=emb_dim if b_condition else 0,
                           text_dim=text_dim if b_condition else 0, r_num=r_num, branch_num=branch_num,
                           b_condition=b_condition)
        self.gf_dim, self.z_dim, self.b_condition, self.branch_num = gf_dim, z_dim, b_condition, branch_num
        self.fused_inference, self.channels_last = False, True  # opt-in fast eval path; not part of the config
        self.ef_dim = emb_dim if b_condition else z_dim  # what the next stages tile: c, or z without text
        if b_condition:
            self.ca_net = ConditioningAugmentation(text_dim, emb_dim, variant=self.ca_variant)
        self.h_net1 = InitStage(gf_dim * 16, z_dim, emb_dim if b_condition else 0)
        self.img_net1 = ImageHead(gf_dim)
        for k in range(2, branch_num + 1):
            ngf = gf_dim // 2 ** (k - 2)
            setattr(self, f"h_net{k}", NEXT_STAGE_G(ngf, self.ef_dim, r_num if k < 4 else 1))
            setattr(self, f"img_net{k}", ImageHead(ngf // 2))

    @property
    def extra_noise_dim(self) -> int:
        """Width of the pipeline's ``extra_noise``: the CA ε (0 without text)."""
        return self.config["emb_dim"]

    @property
    def nz(self) -> int:
        return self.z_dim

    def for_inference(self, channels_last: bool = True) -> "G_NET":
        """A copy in eval mode with the fused inference path on (same weights and keys); this one is unchanged."""
        import copy

        fast = copy.deepcopy(self).eval()
        fast.fused_inference, fast.channels_last = True, channels_last
        return fast

    def optimize_for_inference(self) -> "G_NET":
        """:meth:`for_inference`, under the name ``pipe.optimize()`` / :func:`textgan.optimize_for_inference` call."""
        return self.for_inference()

    def forward(self, z_code: torch.Tensor, text_embedding: Optional[torch.Tensor] = None,
                eps: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None):
        if z_code.dim() != 2 or z_code.shape[1] != self.z_dim:
            raise ValueError(f"z_code must be (batch, {self.z_dim}), got {tuple(z_code.shape)}")
        if self.b_condition:
            if text_embedding is None:
                raise ValueError("this StackGAN-v2 generator is text-conditional (b_condition=True): pass "
                                 f"text_embedding (batch, {self.config['text_dim']})")
            c_code, mu, logvar = self.ca_net(text_embedding, eps, generator)
        else:
            if text_embedding is not None:
                raise ValueError("this StackGAN-v2 generator is unconditional (b_condition=False, no ca_net): "
                                 "call it with the noise only")
            c_code, mu, logvar = z_code, None, None
        init_c = c_code if self.b_condition else z_code[:, :0]
        if self.fused_inference and not self.training and not torch.is_grad_enabled():
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            last = self.branch_num  # the last stage's features only feed its image head: kept as phases
            h_code = self.h_net1.fused(z_code, init_c, fmt, phases=last == 1)
            fake_imgs = [self.img_net1.fused_from_phases(h_code) if last == 1 else self.img_net1.fused(h_code)]
            for k in range(2, last + 1):
                h_code = getattr(self, f"h_net{k}").fused(h_code, c_code, fmt, phases=k == last)
                head = getattr(self, f"img_net{k}")
                fake_imgs.append(head.fused_from_phases(h_code) if k == last else head.fused(h_code))
            return fake_imgs, mu, logvar
        h_code = self.h_net1(z_code, init_c)
        fake_imgs: List[torch.Tensor] = [self.img_net1(h_code)]
        for k in range(2, self.branch_num + 1):
            h_code = getattr(self, f"h_net{k}")(h_code, c_code)
            fake_imgs.append(getattr(self, f"img_net{k}")(h_code))
        return fake_imgs, mu, logvar

    def sample(self, sentence: Optional[torch.Tensor], noise: torch.Tensor,
               extra_noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The largest image only, ε from ``extra_noise`` (the pipeline's call)."""
        return self(noise, sentence, extra_noise)[0][-1]


class D_NET(nn.Module):  # noqa: N801
    """StackGAN-v2 discriminator ``D_NET64`` / ``D_NET128`` / ``D_NET256`` (``imsize``).

    Args:
        df_dim: ``GAN.DF_DIM`` (64).
        emb_dim: ``GAN.EMBEDDING_DIM`` (128), width of the condition (the generator's μ, detached, in training).
        imsize: 64, 128 or 256.
        b_condition: ``GAN.B_CONDITION``: a conditional ``jointConv`` + ``logits`` head and an unconditional
            ``uncond_logits`` head; without it, ``logits`` alone on the image code.

    Forward: ``(x_var (B, 3, S, S), c_code=None (B, emb_dim))`` → ``[cond, uncond]`` sigmoid probabilities (B,)
    each, or ``[logits]`` for an unconditional D, as the original.
    """

    registry_name = "stackgan_v2_discriminator"
    def __init__(self, df_dim: int = 64, emb_dim: int = 128, imsize: int = 64, b_condition: bool = True) -> None:
        super().__init__()
        if imsize not in _IMAGE_CODE_LAYERS:
            raise ValueError(f"imsize must be 64, 128 or 256 (D_NET64/128/256), got {imsize}")
        b_condition = bool(b_condition)
        self.config = dict(df_dim=df_dim, emb_dim=emb_dim if b_condition else 0, imsize=imsize,
                           b_condition=b_condition)
        self.df_dim, self.ef_dim, self.b_condition = df_dim, emb_dim, b_condition
        ndf = df_dim
        _add_image_code(self, ndf, imsize)
        self.logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), nn.Sigmoid())
        if b_condition:
            self.jointConv = _block3x3_lrelu(ndf * 8 + emb_dim, ndf * 8)
            self.uncond_logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), nn.Sigmoid())

    def encode(self, x_var: torch.Tensor) -> torch.Tensor:
        """The (B, 8·df_dim, 4, 4) image code."""
        size = self.config["imsize"]
        if x_var.dim() != 4 or tuple(x_var.shape[1:]) != (3, size, size):
            raise ValueError(f"x_var must be (batch, 3, {size}, {size}) images, got {tuple(x_var.shape)}")
        return _image_code(self, x_var, size)

    def forward(self, x_var: torch.Tensor, c_code: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        x_code = self.encode(x_var)
        h_c_code = x_code
        if self.b_condition and c_code is not None:
            if tuple(c_code.shape) != (x_var.shape[0], self.ef_dim):
                raise ValueError(f"c_code must be (batch, {self.ef_dim}) (the generator's mu), "
                                 f"got {tuple(c_code.shape)}")
            c = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 4, 4)
            h_c_code = self.jointConv(torch.cat((c, x_code), 1))
        output = self.logits(h_c_code).view(-1)
        if self.b_condition:
            return [output, self.uncond_logits(x_code).view(-1)]
        return [output]


# ------------------------------------------------------------------------------------ conversion

OFFICIAL_KINDS = ("stackgan_v2", "stackgan_v2_discriminator")
_CLASSES = {"stackgan_v2": G_NET, "stackgan_v2_discriminator": D_NET}
_WHAT = {"stackgan_v2": "StackGAN-v2 generator (G_NET)",
         "stackgan_v2_discriminator": "StackGAN-v2 discriminator (D_NET64/128/256)"}
_HINT = ("StackGAN-v2 files were saved from DataParallel ('module.' keys): netG_*.pth is the generator (kind "
         "'stackgan_v2'), netD0.pth / netD1.pth / netD2.pth the 64/128/256 px discriminators (kind "
         "'stackgan_v2_discriminator'); StackGAN v1 files need kinds 'stackgan' / 'stackgan_stage1'")


def _need(sd: Mapping[str, torch.Tensor], key: str, what: str) -> torch.Size:
    if key not in sd:
        raise ArchitectureMismatchError(f"key {key!r} is missing, so these weights are not a {what} "
                                        f"(first keys: {', '.join(list(sd)[:5])})")
    return sd[key].shape


def reject_v2_file(kind: str, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """The error for a StackGAN-v2 file given to a StackGAN v1 kind (``stackgan``, ``stackgan_stage1``, ...)."""
    if "h_net1.fc.0.weight" in sd or "img_code_s16.0.weight" in sd:
        right = "stackgan_v2" if "h_net1.fc.0.weight" in sd else "stackgan_v2_discriminator"
        raise ArchitectureMismatchError(f"{source}: this is a StackGAN-v2 (StackGAN++) file ('h_net*' / 'img_code_*' "
                                        f"keys), not StackGAN v1 ({kind!r}); use kind {right!r}")


def convert_official_state_dict(kind: str, sd: Mapping[str, torch.Tensor], source: str) -> Dict[str, torch.Tensor]:
    """The authors' (prefix-stripped) state dict, checked for generator vs discriminator, with the
    ``num_batches_tracked`` counters that PyTorch < 0.4.1 files (the 2017 releases) lack filled with 0."""
    generator = "h_net1.fc.0.weight" in sd
    if kind == "stackgan_v2" and not generator:
        if "img_code_s16.0.weight" in sd:
            raise ArchitectureMismatchError(f"{source}: this is a StackGAN-v2 discriminator (netD*.pth), not the "
                                            "generator; use kind 'stackgan_v2_discriminator'")
        if "STAGE1_G.fc.0.weight" in sd or "fc.0.weight" in sd:
            raise ArchitectureMismatchError(f"{source}: this is a StackGAN v1 generator; use kind 'stackgan' "
                                            "(Stage-II) or 'stackgan_stage1'")
    if kind == "stackgan_v2_discriminator" and generator:
        raise ArchitectureMismatchError(f"{source}: this is a StackGAN-v2 generator (netG_*.pth); use kind "
                                        "'stackgan_v2'")
    if kind == "stackgan_v2_discriminator" and "encode_img.0.weight" in sd:
        raise ArchitectureMismatchError(f"{source}: this is a StackGAN v1 discriminator; use kind "
                                        "'stackgan_discriminator' or 'stackgan_stage1_discriminator'")
    return fill_batchnorm_counters(dict(sd))


def config_from_state_dict(kind: str, sd: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """Constructor arguments of StackGAN-v2 model ``kind`` read off a (prefix-free) state dict."""
    what = _WHAT.get(kind)
    if kind == "stackgan_v2":
        fc = _need(sd, "h_net1.fc.0.weight", what)
        b_condition = "ca_net.fc.weight" in sd
        text_dim, emb_dim = (ConditioningAugmentation.infer_sizes(sd["ca_net.fc.weight"].shape, "glu")
                             if b_condition else (0, 0))
        if fc[0] % 512 or fc[1] <= emb_dim:
            raise ArchitectureMismatchError(f"h_net1.fc.0.weight has shape {tuple(fc)}: not (512·gf_dim, z_dim + "
                                            f"{emb_dim})")
        branch_num = 1
        while f"h_net{branch_num + 1}.jointConv.0.weight" in sd:
            branch_num += 1
        r_num = len({k.split(".")[2] for k in sd if k.startswith("h_net2.residual.")}) if branch_num > 1 else 2
        return dict(gf_dim=fc[0] // 512, z_dim=fc[1] - emb_dim, emb_dim=emb_dim, text_dim=text_dim, r_num=r_num,
                    branch_num=branch_num, b_condition=b_condition)
    if kind == "stackgan_v2_discriminator":
        ndf = _need(sd, "img_code_s16.0.weight", what)[0]
        b_condition = "jointConv.0.weight" in sd
        imsize = 256 if "img_code_s64.0.weight" in sd else 128 if "img_code_s32_1.0.weight" in sd else 64
        emb_dim = sd["jointConv.0.weight"].shape[1] - 8 * ndf if b_condition else 0
        return dict(df_dim=ndf, emb_dim=emb_dim, imsize=imsize, b_condition=b_condition)
    raise KeyError(kind)


def stackgan_v2_pipeline(generator, text_encoder, *, tag: Optional[str] = None, tokenizer=None):
    """A :class:`~textgan.models.stackgan_pipeline.StackGANPipeline` for the text-conditional birds model.

    Args:
        generator: ``netG_210000.pth`` (``module.`` keys) or a :class:`G_NET` with ``b_condition=True``.
        text_encoder: Reed's char-CNN-RNN (``.t7``, a port's state dict or a module) giving ``text_dim``-d
            embeddings (the birds encoder of StackGAN's ``char-CNN-RNN-embeddings.pickle``).
        tag: the pretrained tag (``"stackgan-v2-birds"``), recorded in config.json.
        tokenizer: a :class:`~textgan.text.charcnnrnn.CharTokenizer` (default: the encoder's length).

    ``pipe(prompts, generator=...)`` and ``pipe.from_embeddings(embeddings)`` give the 256 px images; the draws
    per image are z ~ N(0, 1) then the CA ε ~ N(0, 1).
    """
    from ..convert.official import from_official
    from ..text.charcnnrnn import CharCNNRNN, CharTokenizer
    from .gan_int_cls import load_reed_module
    from .stackgan_pipeline import StackGANPipeline

    gen = generator if isinstance(generator, nn.Module) else from_official("stackgan_v2", generator)
    if not isinstance(gen, G_NET) or not gen.b_condition:
        raise ArchitectureMismatchError(f"{generator}: an unconditional StackGAN-v2 generator (no ca_net) cannot "
                                        "make images from text; call it with noise only")
    enc = load_reed_module(text_encoder, "text_encoder")
    if not isinstance(enc, CharCNNRNN):
        raise ArchitectureMismatchError(f"{text_encoder}: not a char-CNN-RNN text encoder")
    if enc.config["emb_dim"] != gen.config["text_dim"]:
        raise ArchitectureMismatchError(f"{generator} expects {gen.config['text_dim']}-d text embeddings but "
                                        f"{text_encoder} gives {enc.config['emb_dim']}-d ones")
    tokenizer = tokenizer or CharTokenizer(max_length=enc.doc_length)
    source = {"converter": "textgan.models.stackgan_v2.stackgan_v2_pipeline"}
    return StackGANPipeline(tokenizer, enc, gen, family="stackgan-v2", truncation=None, tag=tag, source=source)


# ------------------------------------------------------------------------------- registered models


@register_model("stackgan-v2")
def stackgan_v2(*, gf_dim: int = 64, z_dim: int = 100, emb_dim: int = 128, text_dim: int = 1024, r_num: int = 2,
                branch_num: int = 3, b_condition: bool = True) -> G_NET:
    """StackGAN-v2 generator (defaults: ``birds_3stages.yml``; ``b_condition=False`` for dog/cat/bedroom/church)."""
    return G_NET(gf_dim, z_dim, emb_dim, text_dim, r_num, branch_num, b_condition)


@register_model("stackgan-v2")
def stackgan_v2_discriminator(*, df_dim: int = 64, emb_dim: int = 128, imsize: int = 64,
                              b_condition: bool = True) -> D_NET:
    """StackGAN-v2 discriminator D_NET64/128/256 (``imsize``), ``[cond, uncond]`` (or ``[logits]``) outputs."""
    return D_NET(df_dim, emb_dim, imsize, b_condition)


_LICENSE = "MIT (hanzhanggit/StackGAN-v2)"
_PAPER = ("Zhang et al., StackGAN++: Realistic Image Synthesis with Stacked Generative Adversarial Networks, "
          "TPAMI 2018 (arXiv:1710.10916)")
_FORMAT = ("torch.save(netG.state_dict()) of a DataParallel G_NET: 'module.'-prefixed keys, EMA-averaged "
           "parameters, PyTorch 0.2/0.3 era (no num_batches_tracked)")
_DRIVE = "https://drive.google.com/open?id="

register_pretrained(PretrainedTag(
    tag="stackgan-v2-birds", family="stackgan-v2", dataset="CUB-200-2011", resolution=256,
    text_encoder="char-CNN-RNN 1024-d (reedscot/icml2016 birds encoder; the release ships precomputed embeddings)",
    license=_LICENSE, paper=_PAPER, original_url=_DRIVE + "1s5Yf3nFiXx0lltMFOiJWB6s1LP24RcwH",
    original_filename="netG_210000.pth", file_format=_FORMAT, converter="stackgan_v2",
    hub_id="textgan/stackgan-v2-birds", parts={"stackgan_v2": "model.safetensors"},
    text_encoder_url=_DRIVE + "0B3y_msrWZaXLT1BZdVdycDY5TEE (char-CNN-RNN embeddings, birds)",
    metrics=(Metric("IS", 4.04, "StackGAN-inception-model (fine-tuned Inception-v3 on CUB), README claim; ±0.05",
                    "hanzhanggit/StackGAN-v2 README"),),
    notes="eval_birds.yml: GF 64, Z 100, EMBEDDING_DIM 128, R_NUM 2, 3 branches, B_CONDITION True.",
))
for _name, _id, _file, _dataset, _metrics in (
        ("dog", "1zcwYfvhsKqb8svQDecTbx_mdYy3TG3F0", "netG_600000.pth", "ImageNet dog subset",
         (Metric("IS", 9.55, "openai/improved-gan inception_score (ImageNet Inception), README claim; ±0.11",
                 "hanzhanggit/StackGAN-v2 README"),)),
        ("cat", "1yPX62c-eCLCNxpziGX9qF_V6Verom3v9", "netG_200000.pth", "ImageNet cat subset", ()),
        ("bedroom", "1Kqowg0ZLZbN1ek5N-YqEw9TlZeI3XV-K", "netG_364000.pth", "LSUN bedroom", ()),
        ("church", "13Pw4PZOkiAM5y_KoOwBzlXK9eQ2hHLfT", "netG_270000.pth", "LSUN church_outdoor", ())):
    register_pretrained(PretrainedTag(
        tag=f"stackgan-v2-{_name}", family="stackgan-v2", dataset=_dataset, resolution=256,
        text_encoder="none (unconditional)", license=_LICENSE, paper=_PAPER, original_url=_DRIVE + _id,
        original_filename=_file, file_format=_FORMAT, converter="stackgan_v2", hub_id=f"textgan/stackgan-v2-{_name}",
        parts={"stackgan_v2": "model.safetensors"}, metrics=_metrics,
        notes=(f"{_name}_3stages_color.yml: GF 64, Z 100, R_NUM 2, 3 branches, B_CONDITION False; the file name is "
               "the one eval_dog.yml points at (the Drive folder's name may differ). Unconditional: "
               "G(noise)[0][-1] is the 256 px image."),
    ))
