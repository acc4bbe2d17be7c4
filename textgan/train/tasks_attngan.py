"""Training tasks of the DAMSM family: DAMSM pretraining, AttnGAN and SSA-GAN.

* :class:`DAMSMTask` (recipe ``damsm``): AttnGAN ``code/pretrain_DAMSM.py``: the bi-LSTM text encoder and
  the two heads of the Inception-v3 image encoder (trunk frozen, but in train mode, so its BatchNorm
  statistics move, as in the authors' run) trained with the DAMSM word + sentence losses (γ 4/5/10),
  Adam (0.5, 0.999) lr 2e-3, a new Adam every epoch with lr × 0.98 while lr > 2e-4, RNN gradients clipped
  to 0.25.
* :class:`AttnGANTask` (recipe ``attngan``): AttnGAN ``code/trainer.py``: one D per stage (BCE on the
  conditional + unconditional heads, mismatches ``real[:-1]`` vs ``sent[1:]``), then G: adversarial terms of
  every stage + KL + LAMBDA · DAMSM(256 px fake) with the frozen DAMSM encoders; Adam (0.5, 0.999) lr 2e-4
  for G and each D; EMA of G (0.999).
* :class:`SSAGANTask` (recipe ``ssagan``): wtliao/text2image ``main.py``: DF-GAN 2020's hinge step with
  B − 1 shifted mismatches, a separate MA-GP step (k 2, p 6), then G: hinge + 0.05 · DAMSM(fake) (γ1 5).

Without ``text_encoder`` / ``image_encoder`` the frozen encoders are randomly initialised (smoke tests only; the
``encoder_*`` arguments size them); pass a ``damsm`` run folder (``textgan train damsm ... --out DIR``) or the
released ``*_encoder*.pth`` files.
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

__all__ = ["DAMSMTask", "AttnGANTask", "SSAGANTask", "load_image_encoder", "shapes_class_ids"]


def load_image_encoder(source: Optional[str], **fallback: Any) -> nn.Module:
    """A frozen DAMSM image encoder (eval mode) from ``source``: a ``damsm`` run folder (its
    ``checkpoints/last.pt``), such a checkpoint, or an authors' ``image_encoder*.pth``; ``None`` builds a
    randomly initialised :class:`~textgan.models.inception.DAMSMImageEncoder` from ``fallback`` (smoke tests)."""
    from ..models.inception import DAMSMImageEncoder, image_encoder_config_from_state_dict

    if source is None:
        return DAMSMImageEncoder(**fallback).eval().requires_grad_(False)
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"image_encoder {source!r}: no such checkpoint or folder; train one with "
                                "`textgan train damsm --data shapes --out DIR` and pass --image_encoder DIR")
    try:  # a trainer checkpoint
        from .._weights import load_trainer_checkpoint

        state = load_trainer_checkpoint(path)  # restricted unpickler: runs no code from the file
    except Exception:
        state = None
    if isinstance(state, dict) and "modules" in state and "image_encoder" in state["modules"]:
        sd = state["modules"]["image_encoder"]
        enc = DAMSMImageEncoder(**image_encoder_config_from_state_dict(sd))
        enc.load_state_dict(sd)
    else:
        from ..convert.official import from_official

        enc = from_official("damsm_image_encoder", str(path))
    return enc.eval().requires_grad_(False)


def shapes_class_ids(batch: Mapping[str, Any]) -> Optional[torch.Tensor]:
    """The batch's ``class_ids`` when the dataset gives them (DAMSM masks same-class pairs), else ``None``."""
    ids = batch.get("class_id")
    return None if ids is None else torch.as_tensor(ids)


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _word_mask(ids: torch.Tensor, length: int) -> torch.Tensor:
    """AttnGAN's mask: ``captions == 0`` cropped to the RNN output length (True at padding)."""
    return (ids == 0)[:, :length]


class DAMSMTask(Task):
    """DAMSM pretraining: text encoder + image-encoder heads, the word and sentence losses."""

    ema_module = None

    def __init__(self, *, embedding_dim: int = 300, hidden_dim: int = 256, dropout: float = 0.5,
                 width_divisor: int = 1, input_size: int = 299, inception_weights: Optional[str] = None,
                 lr: float = 2e-3, betas=(0.5, 0.999), lr_decay: float = 0.98, lr_floor: float = 0.1,
                 rnn_grad_clip: float = 0.25, gamma1: float = 4.0, gamma2: float = 5.0, gamma3: float = 10.0,
                 reset_optimizer_each_epoch: bool = True, seed: int = 0, vocab_size: Optional[int] = None) -> None:
        from ..models.inception import DAMSMImageEncoder
        from ..text import DAMSMTextEncoder

        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder = DAMSMTextEncoder(vocab_size, embedding_dim, hidden_dim, dropout=dropout)
        if inception_weights is not None:  # the authors start from ImageNet's Inception-v3 (torchvision file)
            from .._weights import load_torch_file

            self.image_encoder = DAMSMImageEncoder.from_torchvision(load_torch_file(inception_weights),
                                                                    nef=hidden_dim, input_size=input_size)
        else:
            self.image_encoder = DAMSMImageEncoder(hidden_dim, width_divisor, input_size=input_size)
        heads = ("emb_features.", "emb_cnn_code.")
        for name, p in self.image_encoder.named_parameters():  # the trunk is frozen
            p.requires_grad_(name.startswith(heads))
        params = list(self.text_encoder.parameters()) + [p for p in self.image_encoder.parameters() if p.requires_grad]
        self.modules = {"text_encoder": self.text_encoder, "image_encoder": self.image_encoder}
        self.optimizers = {"all": adam(params, lr=lr, betas=betas)}
        self.schedulers = {}
        self.lr, self.lr_decay, self.lr_floor, self.rnn_grad_clip = lr, lr_decay, lr_floor, rnn_grad_clip
        self.gammas, self.reset = (gamma1, gamma2, gamma3), reset_optimizer_each_epoch

    def epoch_lr(self, epoch: int) -> float:
        """The authors' schedule: ``lr *= 0.98`` after each epoch while ``lr > ENCODER_LR / 10``."""
        lr = self.lr
        for _ in range(epoch):
            if lr > self.lr * self.lr_floor:
                lr *= self.lr_decay
        return lr

    def _start_epoch(self, epoch: int) -> None:
        opt = self.optimizers["all"]
        if self.reset:  # pretrain_DAMSM.py builds a new Adam at every epoch (its moments start from zero)
            opt.state.clear()
        for g in opt.param_groups:
            g["lr"] = self.epoch_lr(epoch)

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        if ctx.batch_in_epoch == 0:
            self._start_epoch(ctx.epoch)
        g1, g2, g3 = self.gammas
        class_ids = shapes_class_ids(batch)
        with ctx.autocast():
            regions, code = self.image_encoder(batch["image"])
            words, sent = self.text_encoder(batch["ids"], batch["length"])
        w0, w1, _ = L.damsm_words_loss(regions.float(), words.float(), batch["length"], class_ids=class_ids,
                                       gamma1=g1, gamma2=g2, gamma3=g3)
        s0, s1 = L.damsm_sentence_loss(code.float(), sent.float(), class_ids=class_ids, gamma3=g3)
        loss = w0 + w1 + s0 + s1
        ctx.backward_step(loss, "all", clip_grad_norm=self.rnn_grad_clip,
                          clip_params=list(self.text_encoder.parameters()))
        return {"loss": loss.detach(), "w_loss0": w0.detach(), "w_loss1": w1.detach(), "s_loss0": s0.detach(),
                "s_loss1": s1.detach(), "lr": torch.tensor(self.optimizers["all"].param_groups[0]["lr"])}


class AttnGANTask(Task):
    """AttnGAN: a multi-stage attentional generator, one discriminator per stage, frozen DAMSM encoders."""

    ema_module = "generator"

    def __init__(self, *, ngf: int = 32, ndf: int = 64, nz: int = 100, ca_dim: int = 100, r_num: int = 2,
                 branch_num: int = 3, text_encoder: Optional[str] = None, image_encoder: Optional[str] = None,
                 lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999), damsm_lambda: float = 5.0,
                 kl_weight: float = 1.0, gamma1: float = 4.0, gamma2: float = 5.0, gamma3: float = 10.0,
                 seed: int = 0, vocab_size: Optional[int] = None, encoder_dim: int = 64,
                 encoder_width_divisor: int = 16, encoder_input_size: int = 299) -> None:
        from ..models.attngan import AttnGANDiscriminator, AttnGANGenerator

        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder = load_text_encoder(text_encoder, vocab_size=vocab_size, embedding_dim=encoder_dim,
                                              hidden_dim=encoder_dim)
        cond = self.text_encoder.hidden_dim
        self.image_encoder = load_image_encoder(image_encoder, nef=cond, width_divisor=encoder_width_divisor,
                                                input_size=encoder_input_size)
        if self.image_encoder.nef != cond:
            raise ValueError(f"image_encoder: its width {self.image_encoder.nef} differs from the text encoder's "
                             f"{cond}; pass the two encoders of one DAMSM run")
        self.nz, self.branch_num = nz, branch_num
        self.netG = AttnGANGenerator(ngf, nz, cond, ca_dim, r_num, branch_num)
        self.netsD = nn.ModuleList(AttnGANDiscriminator(ndf, cond, 64 * 2 ** i) for i in range(branch_num))
        self.modules = {"generator": self.netG, "discriminators": self.netsD, "text_encoder": self.text_encoder,
                        "image_encoder": self.image_encoder}
        self.optimizers = {"g": adam(self.netG.parameters(), lr=lr_g, betas=betas)}
        for i, d in enumerate(self.netsD):
            self.optimizers[f"d{i}"] = adam(d.parameters(), lr=lr_d, betas=betas)
        self.schedulers = {}
        self.damsm_lambda, self.kl_weight, self.gammas = damsm_lambda, kl_weight, (gamma1, gamma2, gamma3)

    def _encode(self, batch):
        self.text_encoder.eval()
        with torch.no_grad():
            words, sent = self.text_encoder(batch["ids"], batch["length"])
        return words.detach(), sent.detach(), _word_mask(batch["ids"], words.shape[2])

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        words, sent, mask = self._encode(batch)
        self.image_encoder.eval()  # frozen and in eval mode during GAN training (the authors' code)
        real = batch["image"]
        b = real.shape[0]
        top = 64 * 2 ** (self.branch_num - 1)
        reals = [_resize(real, top // 2 ** (self.branch_num - 1 - i)) for i in range(self.branch_num)]
        noise = torch.randn(b, self.nz, generator=ctx.generator).to(real.device)
        with ctx.autocast():
            fakes, _, mu, logvar = self.netG(noise, sent, words, mask, generator=ctx.generator)
        out: Dict[str, torch.Tensor] = {}
        for i, d in enumerate(self.netsD):  # (3) one D step per stage
            with ctx.autocast():
                real_f, fake_f = d(reals[i]), d(fakes[i].detach())
                parts = (d.cond_logits(real_f, sent), d.cond_logits(real_f[:-1], sent[1:]),
                         d.cond_logits(fake_f, sent), d.uncond_logits(real_f), d.uncond_logits(fake_f))
            err_d = L.conditional_discriminator_loss(*(p.float() for p in parts))
            ctx.backward_step(err_d, f"d{i}")
            out[f"d{i}_loss"] = err_d.detach()
        err_g = 0.0
        with frozen(self.netsD):  # (4) G: every stage's adversarial terms (no weight gradients for the Ds)
            for i, d in enumerate(self.netsD):
                with ctx.autocast():
                    f = d(fakes[i])
                    g_i = L.conditional_generator_loss(d.cond_logits(f, sent).float(), d.uncond_logits(f).float())
                out[f"g{i}_loss"] = g_i.detach()
                err_g = err_g + g_i
            with ctx.autocast():
                regions, code = self.image_encoder(fakes[-1])
            g1, g2, g3 = self.gammas
            damsm = L.damsm_generator_term(regions.float(), code.float(), words, sent, batch["length"],
                                           class_ids=None, weight=self.damsm_lambda, gamma1=g1, gamma2=g2, gamma3=g3)
            kl = L.kl_loss(mu.float(), logvar.float())
            total = err_g + damsm + self.kl_weight * kl
            ctx.backward_step(total, "g")
        out.update(g_loss=total.detach(), damsm=damsm.detach(), kl=kl.detach())
        return out

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        words, sent, mask = self._encode(batch)
        gen = torch.Generator().manual_seed(0)
        noise = torch.randn(sent.shape[0], self.nz, generator=gen).to(sent.device)
        g = modules["generator"]
        was = g.training
        g.eval()
        images = g(noise, sent, words, mask, generator=gen)[0][-1]
        g.train(was)
        return images

    def pipeline(self, ema: Optional[nn.Module] = None):
        """A :class:`textgan.TextToImagePipeline` of the trained generator (the EMA one when given)."""
        import copy

        from ..pipelines import FAMILY_TRUNCATION, TextToImagePipeline

        gen = copy.deepcopy(ema if ema is not None else self.netG).cpu().eval()
        tokenizer = getattr(self, "tokenizer", None) or _shapes_tokenizer()  # run_recipe sets the dataset's
        return TextToImagePipeline(tokenizer, copy.deepcopy(self.text_encoder).cpu(), gen, family="attngan",
                                   truncation=FAMILY_TRUNCATION["attngan"])


class SSAGANTask(Task):
    """SSA-GAN: the DF-GAN 2020 objective (hinge + separate MA-GP step) plus 0.05 · DAMSM(fake) for G."""

    ema_module = "generator"

    def __init__(self, *, ngf: int = 64, ndf: int = 64, nz: int = 100, text_encoder: Optional[str] = None,
                 image_encoder: Optional[str] = None, lr_g: float = 1e-4, lr_d: float = 4e-4, betas=(0.0, 0.9),
                 gp_weight: float = 2.0, gp_power: float = 6.0, damsm_weight: float = 0.05, damsm_lambda: float = 1.0,
                 gamma1: float = 5.0, gamma2: float = 5.0, gamma3: float = 10.0, seed: int = 0,
                 vocab_size: Optional[int] = None, encoder_dim: int = 64, encoder_width_divisor: int = 16,
                 encoder_input_size: int = 299) -> None:
        from ..models.ssagan import SSAGANDiscriminator, SSAGANGenerator

        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder = load_text_encoder(text_encoder, vocab_size=vocab_size, embedding_dim=encoder_dim,
                                              hidden_dim=encoder_dim)
        cond = self.text_encoder.hidden_dim
        self.image_encoder = load_image_encoder(image_encoder, nef=cond, width_divisor=encoder_width_divisor,
                                                input_size=encoder_input_size)
        self.nz, self.gp_weight, self.gp_power = nz, gp_weight, gp_power
        # SSA-GAN's DAMSM term: LAMBDA (1) scales the word and sentence losses, then 0.05 the sum
        self.damsm_weight, self.gammas = damsm_weight * damsm_lambda, (gamma1, gamma2, gamma3)
        self.netG = SSAGANGenerator(ngf, nz, cond)
        self.netD = SSAGANDiscriminator(ndf, cond)
        self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder,
                        "image_encoder": self.image_encoder}
        self.optimizers = {"g": adam(self.netG.parameters(), lr=lr_g, betas=betas),
                           "d": adam(self.netD.parameters(), lr=lr_d, betas=betas)}
        self.schedulers = {}

    def _encode(self, batch):
        self.text_encoder.eval()
        with torch.no_grad():
            words, sent = self.text_encoder(batch["ids"], batch["length"])
        return words.detach(), sent.detach()

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        words, sent = self._encode(batch)
        self.image_encoder.eval()
        real = batch["image"]
        noise = torch.randn(real.shape[0], self.nz, generator=ctx.generator).to(real.device)
        d, c = self.netD, self.netD.COND_DNET
        with ctx.autocast():
            fake = self.netG(noise, sent)
            feats = d(real)
            mis_f, mis_s = L.mismatched_pairs(feats, sent, "2020")
            logits = (c(feats, sent), c(d(fake.detach()), sent), c(mis_f, mis_s))
        err_d, parts = L.hinge_discriminator_loss(*(x.float() for x in logits))
        ctx.backward_step(err_d, "d")
        real_gp, sent_gp = real.detach().clone().requires_grad_(True), sent.clone().requires_grad_(True)
        with ctx.autocast():
            gp_logits = c(d(real_gp), sent_gp)
        gp = L.matching_aware_gradient_penalty(real_gp, sent_gp, gp_logits.float(), self.gp_weight, self.gp_power)
        ctx.backward_step(gp, "d")
        with frozen(d):
            with ctx.autocast():
                adv = L.hinge_generator_loss(c(d(fake), sent).float())
                regions, code = self.image_encoder(fake)
            g1, g2, g3 = self.gammas
            damsm = L.damsm_generator_term(regions.float(), code.float(), words, sent, batch["length"],
                                           weight=self.damsm_weight, gamma1=g1, gamma2=g2, gamma3=g3)
            err_g = adv + damsm
            ctx.backward_step(err_g, "g")
        return {"d_loss": err_d.detach(), "gp": gp.detach(), "g_loss": err_g.detach(), "damsm": damsm.detach(),
                **{f"d_{k}": v for k, v in parts.items()}}

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        _, sent = self._encode(batch)
        noise = torch.randn(sent.shape[0], self.nz, generator=torch.Generator().manual_seed(0)).to(sent.device)
        g = modules["generator"]
        was = g.training
        g.eval()
        images = g(noise, sent)
        g.train(was)
        return images

    def pipeline(self, ema: Optional[nn.Module] = None):
        """A :class:`textgan.TextToImagePipeline` of the trained generator (the EMA one when given)."""
        import copy

        from ..pipelines import FAMILY_TRUNCATION, TextToImagePipeline

        gen = copy.deepcopy(ema if ema is not None else self.netG).cpu().eval()
        tokenizer = getattr(self, "tokenizer", None) or _shapes_tokenizer()  # run_recipe sets the dataset's
        return TextToImagePipeline(tokenizer, copy.deepcopy(self.text_encoder).cpu(), gen, family="ssagan",
                                   truncation=FAMILY_TRUNCATION["ssagan"])

