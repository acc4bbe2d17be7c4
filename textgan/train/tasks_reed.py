"""Training tasks of GAN-INT-CLS and SISGAN (and StackGAN when its models exist).

* :class:`GANINTCLSTask` (recipe ``gan-int-cls``): Reed et al. ``main_cls_int.lua`` (``variant="lua"``, the
  paper): D: ``BCE(D(x, t), 1) + 0.5·BCE(D(x̂, t), 0) + 0.5·BCE(D(G(z, t), t), 0)`` with x̂ a mismatched real
  image (of another class when the batch has ``class_id``, as the original; else the batch rolled by one),
  three separate D passes; G: BCE on a 1.5·B batch, the B texts then
  B/2 midpoints of the two halves (GAN-INT, weight ``interp_weight``); every conv bias zeroed before each
  step; Adam (0.5, 0.999) lr 2e-4, lr × 0.5 every 100 epochs. ``variant="port"``: the aelnouby PyTorch port
  (label 0.9, unweighted mismatch term, + 100·feature matching + 50·L1, no interpolation).
* :class:`SISGANEmbeddingTask` (recipe ``sisgan-embedding``): woozzu/dong_iccv_2017
  ``train_text_embedding.py``: the visual-semantic embedding (frozen VGG-16 + ``W``, GRU over word vectors)
  trained with the pairwise ranking loss (margin 0.2), Adam lr 2e-4.
* :class:`SISGANTask` (recipe ``sisgan``): its ``train.py``: the frozen GRU of the embedding; D:
  ``BCEwL(D(x, t), 1) + 0.5·BCEwL(D(x, t_mis), 0) + 0.5·BCEwL(D(G(x, t_rel), t_rel), 0)`` (t_mis = t rolled
  by one, t_rel = the first half rolled by −1); G: ``BCEwL(D(G(x, t_rel), t_rel), 1) + KL`` with a second
  G pass (new CA noise); Adam (0.5, 0.999) lr 2e-4, lr × 0.5 every 100 epochs.

Text features: GAN-INT-CLS takes precomputed ``embedding`` vectors from the batch when the dataset has them
(the authors' char-CNN-RNN files), else a frozen DAMSM text encoder's sentence vector (``text_encoder``: a
``shapes-text-encoder`` or ``damsm`` run). SISGAN's GRU reads word vectors; on Shapes (no fastText offline)
they are a fixed random table kept in the checkpoint (``word_vectors``), which the ``sisgan`` recipe takes
from the ``sisgan-embedding`` run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses as L
from .trainer import StepContext, Task, adam, frozen


# textgan.train.tasks imports this module to fill TASKS, so its helpers are looked up when called
def _shapes_tokenizer():
    from .tasks import _shapes_tokenizer as tok

    return tok()


def load_text_encoder(source: Optional[str], **fallback: Any) -> nn.Module:
    """:func:`textgan.train.tasks.load_text_encoder`."""
    from .tasks import load_text_encoder as load

    return load(source, **fallback)

__all__ = ["GANINTCLSTask", "SISGANEmbeddingTask", "SISGANTask", "step_decay", "set_epoch_lr"]


def step_decay(epoch: int, every: int, factor: float) -> float:
    """The Lua / old-StepLR schedule: the lr factor of 0-based ``epoch`` when it is multiplied by ``factor`` at
    the start of every ``every``-th epoch (1-based), i.e. ``factor ** ((epoch + 1) // every)``."""
    return factor ** ((epoch + 1) // every) if every else 1.0


def set_epoch_lr(ctx: StepContext, optimizers: Mapping[str, torch.optim.Optimizer], base: Mapping[str, float],
                 every: int, factor: float) -> None:
    """At the first step of an epoch set every optimiser's lr from :func:`step_decay` (resume-safe: the lr
    also lives in the optimiser state)."""
    if ctx.batch_in_epoch != 0:
        return
    scale = step_decay(ctx.epoch, every, factor)
    for name, opt in optimizers.items():
        for g in opt.param_groups:
            g["lr"] = base[name] * scale


def _zero_conv_biases(*modules: nn.Module) -> None:
    # main_cls_int.lua zeroes every convolution's bias before each D and G evaluation
    with torch.no_grad():
        for m in modules:
            for sub in m.modules():
                if isinstance(sub, (nn.Conv2d, nn.ConvTranspose2d)) and sub.bias is not None:
                    sub.bias.zero_()


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class GANINTCLSTask(Task):
    """GAN-INT-CLS on 64 px images, the Lua original (``variant="lua"``) or the PyTorch port (``"port"``)."""

    ema_module = "generator"

    def __init__(self, *, variant: str = "lua", ngf: int = 128, ndf: int = 64, nz: int = 100, nt: int = 128,
                 txt_dim: Optional[int] = None, text_encoder: Optional[str] = None, lr: float = 2e-4,
                 betas=(0.5, 0.999), cls_weight: float = 0.5, interp_weight: float = 1.0, interp: bool = True,
                 lr_decay: float = 0.5, decay_every: int = 100, zero_conv_bias: bool = True,
                 real_label: float = 0.9, l1_coef: float = 50.0, l2_coef: float = 100.0, seed: int = 0,
                 vocab_size: Optional[int] = None, encoder_dim: int = 64) -> None:
        from ..models.gan_int_cls import (GANINTCLSDiscriminator, GANINTCLSGenerator, GANINTCLSLuaDiscriminator,
                                          GANINTCLSLuaGenerator)

        if variant not in ("lua", "port"):
            raise ValueError(f"variant must be 'lua' (Reed's main_cls_int.lua) or 'port' (aelnouby), got {variant!r}")
        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder = load_text_encoder(text_encoder, vocab_size=vocab_size, embedding_dim=encoder_dim,
                                              hidden_dim=encoder_dim)
        txt_dim = txt_dim or self.text_encoder.hidden_dim
        self.variant, self.nz = variant, nz
        if variant == "lua":
            self.netG = GANINTCLSLuaGenerator(ngf, nz, txt_dim, nt)
            self.netD = GANINTCLSLuaDiscriminator(ndf, txt_dim, nt)
        else:
            self.netG = GANINTCLSGenerator(ngf, nz, txt_dim, nt)
            self.netD = GANINTCLSDiscriminator(ndf, txt_dim, nt)
        self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder}
        self.base_lr = {"g": lr, "d": lr}
        self.optimizers = {"g": adam(self.netG.parameters(), lr=lr, betas=betas),
                           "d": adam(self.netD.parameters(), lr=lr, betas=betas)}
        self.schedulers = {}
        self.cls_weight, self.interp_weight, self.interp = cls_weight, interp_weight, interp
        self.lr_decay, self.decay_every, self.zero_conv_bias = lr_decay, decay_every, zero_conv_bias
        self.real_label, self.l1_coef, self.l2_coef = real_label, l1_coef, l2_coef

    def _text(self, batch: Mapping[str, Any]) -> torch.Tensor:
        if "embedding" in batch:  # precomputed char-CNN-RNN vectors (B, D) or (B, k, D): k captions averaged
            e = batch["embedding"].float()
            return e.mean(1) if e.dim() == 3 else e
        self.text_encoder.eval()
        with torch.no_grad():
            return self.text_encoder(batch["ids"], batch["length"])[1].detach()

    def _generate(self, noise, text):
        return self.netG(noise, text) if self.variant == "lua" else self.netG(text, noise)

    def _score(self, images, text):
        out = self.netD(images, text)
        return out if self.variant == "lua" else out[0]

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        set_epoch_lr(ctx, self.optimizers, self.base_lr, self.decay_every, self.lr_decay)
        real, text = batch["image"], self._text(batch)
        b = real.shape[0]
        wrong = _wrong_images(real, batch.get("class_id"), ctx.generator)
        if self.variant == "lua":
            if self.zero_conv_bias:
                _zero_conv_biases(self.netG, self.netD)
            noise = torch.randn(b, self.nz, generator=ctx.generator).to(real.device)
            with ctx.autocast():
                fake = self._generate(noise, text)
                s_real, s_wrong = self._score(real, text), self._score(wrong, text)
                s_fake = self._score(fake.detach(), text)
            err_d = L.matching_aware_bce_loss(s_real.float(), s_wrong.float(), s_fake.float(),
                                              wrong_weight=self.cls_weight, fake_weight=1 - self.cls_weight)
            ctx.backward_step(err_d, "d")
            if self.zero_conv_bias:
                _zero_conv_biases(self.netG, self.netD)
            from ..models.gan_int_cls import gan_int_batch

            text_g = gan_int_batch(text) if self.interp else text
            noise_g = torch.randn(text_g.shape[0], self.nz, generator=ctx.generator).to(real.device)
            with ctx.autocast(), frozen(self.netD):
                scores = self._score(self._generate(noise_g, text_g), text_g).float()
                weights = torch.ones_like(scores)
                weights[b:] = self.interp_weight
                # Lua's BCECriterion(weights): sum of weighted terms over the number of elements
                err_g = (weights * F.binary_cross_entropy(scores, torch.ones_like(scores), reduction="none")).mean()
                ctx.backward_step(err_g, "g")
        else:
            noise = torch.randn(b, self.nz, generator=ctx.generator).to(real.device)
            with ctx.autocast():
                fake = self._generate(noise, text)
                s_real, s_wrong = self._score(real, text), self._score(wrong, text)
                s_fake = self._score(fake.detach(), text)
            err_d = L.matching_aware_bce_loss(s_real.float(), s_wrong.float(), s_fake.float(), wrong_weight=1.0,
                                              fake_weight=1.0, real_label=self.real_label)
            ctx.backward_step(err_d, "d")
            noise = torch.randn(b, self.nz, generator=ctx.generator).to(real.device)
            with ctx.autocast(), frozen(self.netD):
                fake = self._generate(noise, text)
                score, f_fake = self.netD(fake, text)
                _, f_real = self.netD(real, text)
                err_g = (F.binary_cross_entropy(score.float(), torch.ones_like(score.float()))
                         + self.l2_coef * L.feature_matching_loss(f_fake.float(), f_real.float())
                         + self.l1_coef * L.l1_loss(fake.float(), real))
                ctx.backward_step(err_g, "g")
        return {"d_loss": err_d.detach(), "g_loss": err_g.detach()}

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        text = self._text(batch)
        noise = torch.randn(text.shape[0], self.nz, generator=torch.Generator().manual_seed(0)).to(text.device)
        g = modules["generator"]
        was = g.training
        g.eval()
        images = g(noise, text) if self.variant == "lua" else g(text, noise)
        g.train(was)
        return images

    def pipeline(self, ema: Optional[nn.Module] = None):
        """A :class:`textgan.TextToImagePipeline` (Lua variant: the generator takes (noise, sentence))."""
        if self.variant != "lua":
            return None
        import copy

        from ..pipelines import FAMILY_TRUNCATION, TextToImagePipeline

        gen = copy.deepcopy(ema if ema is not None else self.netG).cpu().eval()
        tokenizer = getattr(self, "tokenizer", None) or _shapes_tokenizer()  # run_recipe sets the dataset's
        return TextToImagePipeline(tokenizer, copy.deepcopy(self.text_encoder).cpu(), gen,
                                   family="gan-int-cls", truncation=FAMILY_TRUNCATION["gan-int-cls"])


class ShapesWordVectors(nn.Module):
    """A fixed table of random word vectors for the Shapes vocabulary (the stand-in for fastText, which the
    authors' SISGAN reads and which cannot be downloaded offline). Frozen; saved with the checkpoint."""

    def __init__(self, vocab_size: int, dim: int = 300, seed: int = 1234) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(vocab_size, dim, generator=g) / dim ** 0.5, requires_grad=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


def _imagenet(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → ImageNet-normalised, as the authors' ``transforms.Normalize`` after ``ToTensor``."""
    from ..models.sisgan import IMAGENET_MEAN, IMAGENET_STD

    x = (images + 1) / 2
    return (x - x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)


class SISGANEmbeddingTask(Task):
    """SISGAN's visual-semantic embedding trained with the pairwise ranking loss."""

    ema_module = None

    def __init__(self, *, embed_dim: int = 300, vgg_widths=(64, 128, 256, 512, 512), fc_dim: int = 4096,
                 vgg_weights: Optional[str] = None, image_size: int = 224, margin: float = 0.2, lr: float = 2e-4,
                 seed: int = 0, vocab_size: Optional[int] = None) -> None:
        from ..text.vse import VisualSemanticEmbedding

        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.vse = VisualSemanticEmbedding(embed_dim, vgg_widths, fc_dim, num_classes=0)
        if vgg_weights is not None:  # the authors' trunk: torchvision's ImageNet vgg16 (fc8 not used)
            from .._weights import load_torch_file

            sd = {k: v for k, v in load_torch_file(vgg_weights).items() if not k.startswith("classifier.6.")}
            self.vse.img_encoder.load_state_dict(sd)
        self.vse.img_encoder.requires_grad_(False)  # frozen, but its dropout is active (model.train())
        self.word_vectors = ShapesWordVectors(vocab_size, embed_dim)
        self.modules = {"vse": self.vse, "word_vectors": self.word_vectors}
        self.optimizers = {"all": adam([p for p in self.vse.parameters() if p.requires_grad], lr=lr)}
        self.schedulers = {}
        self.margin, self.image_size = margin, image_size

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        images = _imagenet(_resize(batch["image"], self.image_size))
        with ctx.autocast():
            img_feat, txt_feat = self.vse(images, self.word_vectors(batch["ids"]), batch["length"])
        loss = L.pairwise_ranking_loss(img_feat.float(), txt_feat.float(), self.margin)
        ctx.backward_step(loss, "all")
        return {"loss": loss.detach()}


def _load_sisgan_embedding(source: Optional[str], vocab_size: int, embed_dim: int):
    """(frozen GRU text encoder, word vectors) from a ``sisgan-embedding`` run folder or checkpoint; ``None``
    gives random ones (smoke tests)."""
    from ..text.vse import SISGANTextEncoder

    if source is None:
        torch.manual_seed(0)
        enc, words = SISGANTextEncoder(embed_dim), ShapesWordVectors(vocab_size, embed_dim)
    else:
        path = Path(source)
        if path.is_dir():
            path = path / "checkpoints" / "last.pt"
        if not path.exists():
            raise FileNotFoundError(f"text_embedding {source!r}: no such checkpoint or folder; train one with "
                                    "`textgan train sisgan-embedding --data shapes --out DIR` and pass "
                                    "--text_embedding DIR")
        from .._weights import load_trainer_checkpoint

        state = load_trainer_checkpoint(path)  # our own trainer checkpoint, read without running code
        vse, wv = state["modules"]["vse"], state["modules"]["word_vectors"]["weight"]
        embed_dim = wv.shape[1]
        enc = SISGANTextEncoder(embed_dim)
        enc.txt_encoder.load_state_dict({k[len("txt_encoder."):]: v for k, v in vse.items()
                                         if k.startswith("txt_encoder.")})
        words = ShapesWordVectors(wv.shape[0], embed_dim)
        words.weight.data.copy_(wv)
    return enc.eval().requires_grad_(False), words


class SISGANTask(Task):
    """SISGAN: text-guided image editing with a frozen embedding GRU (woozzu/dong_iccv_2017 ``train.py``)."""

    ema_module = "generator"

    def __init__(self, *, use_vgg: bool = True, channels=(128, 256, 512), vgg_widths=(64, 128, 256, 512),
                 vgg_weights: Optional[str] = None, ndf_channels=(64, 128, 256, 512), embed_dim: int = 300,
                 cond_dim: int = 128, num_residual: int = 4, text_embedding: Optional[str] = None,
                 lr: float = 2e-4, betas=(0.5, 0.999), lr_decay: float = 0.5, decay_every: int = 100,
                 imsize: int = 64, seed: int = 0, vocab_size: Optional[int] = None) -> None:
        from ..models.sisgan import SISGANDiscriminator, SISGANGenerator

        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder, self.word_vectors = _load_sisgan_embedding(text_embedding, vocab_size, embed_dim)
        embed_dim = self.text_encoder.hidden_dim
        torch.manual_seed(seed)
        self.netG = SISGANGenerator(use_vgg, channels, vgg_widths, embed_dim, cond_dim, num_residual)
        if vgg_weights is not None:  # torchvision's vgg16_bn, what the authors' generator starts from
            from .._weights import load_torch_file

            self.netG.load_vgg16_bn(load_torch_file(vgg_weights))
        if use_vgg:
            self.netG.encoder.requires_grad_(False)
        self.netD = SISGANDiscriminator(ndf_channels, text_dim=embed_dim, cond_dim=cond_dim)
        self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder,
                        "word_vectors": self.word_vectors}
        self.base_lr = {"g": lr, "d": lr}
        self.optimizers = {
            "g": adam([p for p in self.netG.parameters() if p.requires_grad], lr=lr, betas=betas),
            "d": adam(self.netD.parameters(), lr=lr, betas=betas)}
        self.schedulers = {}
        self.lr_decay, self.decay_every, self.imsize = lr_decay, decay_every, imsize

    def _text(self, batch: Mapping[str, Any]) -> torch.Tensor:
        self.text_encoder.eval()
        with torch.no_grad():
            return self.text_encoder(self.word_vectors(batch["ids"]), batch["length"]).detach()

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        set_epoch_lr(ctx, self.optimizers, self.base_lr, self.decay_every, self.lr_decay)
        real = _resize(batch["image"], self.imsize)
        t = self._text(batch)
        half = t.shape[0] // 2
        t_mis = torch.roll(t, 1, 0)
        t_rel = torch.cat([torch.roll(t[:half], -1, 0), t[half:]])
        img_g = self.netG.normalize_input((real + 1) / 2)
        with ctx.autocast():
            s_real, s_mis = self.netD(real, t), self.netD(real, t_mis)
            fake = self.netG(img_g, t_rel, generator=ctx.generator).image
            s_fake = self.netD(fake.detach(), t_rel)
        err_d = L.matching_aware_bce_loss(s_real.float(), s_mis.float(), s_fake.float(), from_logits=True)
        ctx.backward_step(err_d, "d")
        with frozen(self.netD):
            with ctx.autocast():  # a second G pass: the original draws new CA noise inside forward
                out = self.netG(img_g, t_rel, generator=ctx.generator)
                adv = F.binary_cross_entropy_with_logits(self.netD(out.image, t_rel).float(),
                                                         torch.ones(real.shape[0], device=real.device))
            # the authors' mean(−log σ + ½(σ² + μ² − 1)) is kl_loss with logvar = 2·log σ
            kl = L.kl_loss(out.z_mean.float(), 2 * out.z_log_stddev.float())
            err_g = adv + kl
            ctx.backward_step(err_g, "g")
        return {"d_loss": err_d.detach(), "g_loss": err_g.detach(), "kl": kl.detach()}

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        real = _resize(batch["image"], self.imsize)
        t = torch.roll(self._text(batch), 1, 0)  # edit each image towards another caption
        g = modules["generator"]
        was = g.training
        g.eval()
        images = g(g.normalize_input((real + 1) / 2), t, generator=torch.Generator().manual_seed(0)).image
        g.train(was)
        return torch.cat([real, images])


def _wrong_images(real: torch.Tensor, class_ids: Any, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Each image's mismatched real image: a random batch-mate of another class (the original's "wrong" image
    is a random image of a different class); the batch rolled by one where classes are unknown or all equal."""
    b = real.shape[0]
    fallback = torch.roll(torch.arange(b), 1)
    if class_ids is None or b < 2:
        return real[fallback.to(real.device)]
    cls = torch.as_tensor(class_ids).reshape(-1).cpu()
    other = cls[None, :] != cls[:, None]
    score = torch.where(other, torch.rand(b, b, generator=generator), torch.full((b, b), -1.0))
    pick = torch.where(other.any(1), score.argmax(1), fallback)
    return real[pick.to(real.device)]
