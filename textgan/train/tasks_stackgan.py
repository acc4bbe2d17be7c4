"""Training tasks of StackGAN v1 (hanzhanggit/StackGAN-Pytorch ``code/trainer.py`` and ``miscc/utils.py``).

* :class:`StackGANStage1Task` (recipe ``stackgan-stage1``): ``STAGE1_G`` / ``STAGE1_D`` at 64 px. D (BCE on
  the conditional head, conditioned on the detached μ of G's CA): ``real + (fake + wrong)/2`` with wrong =
  ``real_features[:-1]`` against ``μ[1:]``; G: ``BCE(D(G), 1) + 2·KL``.
* :class:`StackGANStage2Task` (recipe ``stackgan-stage2``): ``STAGE2_G`` around a frozen Stage-I generator
  (``stage1``: a ``stackgan-stage1`` run) and ``STAGE2_D`` at 256 px; D adds the unconditional head:
  ``(real + real_u)/2 + (fake + wrong + fake_u)/3``; G: ``BCE(D_c(G), 1) + BCE(D_u(G), 1) + 2·KL``. As in the
  original, the frozen Stage-I generator stays in training mode (its BatchNorm uses batch statistics).

Both: Adam (0.5, 0.999) lr 2e-4 for G (its trainable parameters) and D, halved every ``LR_DECAY_EPOCH`` (20)
epochs; z ~ N(0, I) and the CA ε from the task's generator. Text: precomputed ``embedding`` vectors from the
batch (the authors' 1024-d char-CNN-RNN files) or the sentence vector of a frozen DAMSM text encoder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses as L
from .trainer import StepContext, Task, adam, frozen

__all__ = ["StackGANStage1Task", "StackGANStage2Task"]


def _tasks():
    from . import tasks  # imports this module to fill TASKS: look its helpers up when called

    return tasks


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class _StackGANTask(Task):
    ema_module = None
    imsize = 64

    def _setup_text(self, text_encoder, vocab_size, encoder_dim, txt_dim) -> int:
        t = _tasks()
        vocab_size = vocab_size or len(t._shapes_tokenizer().vocab)
        self.text_encoder = t.load_text_encoder(text_encoder, vocab_size=vocab_size, embedding_dim=encoder_dim,
                                                hidden_dim=encoder_dim)
        return txt_dim or self.text_encoder.hidden_dim

    def _setup_optim(self, lr_g, lr_d, betas, lr_decay, decay_every) -> None:
        self.base_lr = {"g": lr_g, "d": lr_d}
        self.optimizers = {"g": adam([p for p in self.netG.parameters() if p.requires_grad], lr=lr_g, betas=betas),
                           "d": adam(self.netD.parameters(), lr=lr_d, betas=betas)}
        self.schedulers = {}
        self.lr_decay, self.decay_every = lr_decay, decay_every

    def _text(self, batch: Mapping[str, Any]) -> torch.Tensor:
        if "embedding" in batch:  # the authors' precomputed char-CNN-RNN vectors
            e = batch["embedding"].float()
            return e.mean(1) if e.dim() == 3 else e
        self.text_encoder.eval()
        with torch.no_grad():
            return self.text_encoder(batch["ids"], batch["length"])[1].detach()

    def _epoch_lr(self, ctx: StepContext) -> None:
        # trainer.py: at the start of every epoch e > 0 with e % LR_DECAY_EPOCH == 0, both lrs are halved
        if ctx.batch_in_epoch != 0:
            return
        scale = self.lr_decay ** (ctx.epoch // self.decay_every) if self.decay_every else 1.0
        for name, opt in self.optimizers.items():
            for g in opt.param_groups:
                g["lr"] = self.base_lr[name] * scale

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        self._epoch_lr(ctx)
        real, text = _resize(batch["image"], self.imsize), self._text(batch)
        noise = torch.randn(real.shape[0], self.netG.z_dim, generator=ctx.generator).to(real.device)
        d = self.netD
        with ctx.autocast():
            _, fake, mu, logvar = self.netG(text, noise, generator=ctx.generator)
            cond = mu.detach()  # D is conditioned on μ, not on the sampled code
            real_f, fake_f = d(real), d(fake.detach())
            parts = [d.get_cond_logits(real_f, cond), d.get_cond_logits(real_f[:-1], cond[1:]),
                     d.get_cond_logits(fake_f, cond)]
            if d.get_uncond_logits is not None:
                parts += [d.get_uncond_logits(real_f), d.get_uncond_logits(fake_f)]
        err_d = L.conditional_discriminator_loss(*(p.float() for p in parts))
        ctx.backward_step(err_d, "d")
        with frozen(d):  # G's step: no weight gradients for D
            with ctx.autocast():
                f = d(fake)
                uncond = d.get_uncond_logits(f).float() if d.get_uncond_logits is not None else None
                adv = L.conditional_generator_loss(d.get_cond_logits(f, cond).float(), uncond)
            kl = L.kl_loss(mu.float(), logvar.float())
            err_g = adv + self.kl_coeff * kl
            ctx.backward_step(err_g, "g")
        return {"d_loss": err_d.detach(), "g_loss": adv.detach(), "kl": kl.detach()}

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        text = self._text(batch)
        gen = torch.Generator().manual_seed(0)
        noise = torch.randn(text.shape[0], self.netG.z_dim, generator=gen).to(text.device)
        g = modules["generator"]
        was = g.training
        g.eval()
        images = g(text, noise, generator=gen)[1]
        g.train(was)
        return images


class StackGANStage1Task(_StackGANTask):
    """StackGAN Stage-I (64 px)."""

    imsize = 64

    def __init__(self, *, gf_dim: int = 192, df_dim: int = 96, cond_dim: int = 128, z_dim: int = 100,
                 txt_dim: Optional[int] = None, text_encoder: Optional[str] = None, lr_g: float = 2e-4,
                 lr_d: float = 2e-4, betas=(0.5, 0.999), kl_coeff: float = 2.0, lr_decay: float = 0.5,
                 decay_every: int = 20, seed: int = 0, vocab_size: Optional[int] = None, encoder_dim: int = 64) -> None:
        from ..models.stackgan import STAGE1_D, STAGE1_G

        torch.manual_seed(seed)
        txt_dim = self._setup_text(text_encoder, vocab_size, encoder_dim, txt_dim)
        self.netG = STAGE1_G(gf_dim, cond_dim, z_dim, txt_dim)
        self.netD = STAGE1_D(df_dim, cond_dim)
        self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder}
        self.kl_coeff = kl_coeff
        self._setup_optim(lr_g, lr_d, betas, lr_decay, decay_every)


def _load_stage1(source: str, txt_dim: int):
    from ..models.stackgan import STAGE1_G, config_from_state_dict

    path = Path(source)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"stage1 {source!r}: no such checkpoint or folder; train Stage-I first with "
                                "`textgan train stackgan-stage1 ... --out DIR` and pass --stage1 DIR")
    from .._weights import load_trainer_checkpoint

    state = load_trainer_checkpoint(path)  # our own trainer checkpoint, read without running code
    sd = state["modules"]["generator"]
    g = STAGE1_G(**config_from_state_dict("stackgan_stage1", sd))
    g.load_state_dict(sd)
    if g.config["text_dim"] != txt_dim:
        raise ValueError(f"stage1 {source}: its text width {g.config['text_dim']} differs from this run's {txt_dim}")
    return g, state["modules"].get("text_encoder")


class StackGANStage2Task(_StackGANTask):
    """StackGAN Stage-II (256 px) on a frozen Stage-I generator."""

    imsize = 256

    def __init__(self, *, gf_dim: int = 192, df_dim: int = 96, cond_dim: int = 128, r_num: int = 2,
                 z_dim: int = 100, stage1: Optional[str] = None, stage1_gf_dim: Optional[int] = None,
                 txt_dim: Optional[int] = None, text_encoder: Optional[str] = None, lr_g: float = 2e-4,
                 lr_d: float = 2e-4, betas=(0.5, 0.999), kl_coeff: float = 2.0, lr_decay: float = 0.5,
                 decay_every: int = 20, seed: int = 0, vocab_size: Optional[int] = None, encoder_dim: int = 64) -> None:
        from ..models.stackgan import STAGE2_D, STAGE2_G

        torch.manual_seed(seed)
        # the Stage-I run's frozen text encoder is the default: Stage-II must see the same text features
        txt_dim = self._setup_text(text_encoder or stage1, vocab_size, encoder_dim, txt_dim)
        s1 = None
        if stage1 is not None:
            s1, _ = _load_stage1(stage1, txt_dim)
        self.netG = STAGE2_G(gf_dim, cond_dim, r_num, z_dim, txt_dim, stage1_gf_dim=stage1_gf_dim, stage1=s1)
        self.netD = STAGE2_D(df_dim, cond_dim)
        self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder}
        self.kl_coeff = kl_coeff
        self._setup_optim(lr_g, lr_d, betas, lr_decay, decay_every)
