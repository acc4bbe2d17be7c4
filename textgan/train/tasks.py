"""Training tasks of the recipes: what is trained, on what batches, with which losses.

* :class:`ShapesTextEncoderTask` (recipe ``shapes-text-encoder``): a DAMSM text encoder trained on
  :class:`textgan.data.Shapes` captions to predict their attributes from the sentence embedding (see
  :mod:`textgan.train.embedded` for why this replaces DAMSM matching on this synthetic domain).
* :class:`DFGANTask` (recipes ``dfgan`` and ``dfgan2020``): DF-GAN's hinge loss with mismatched pairs and
  MA-GP, in the 2022 form (one D step, rolled mismatches, separate condition head) or the 2020 form (hinge
  step with B − 1 shifted mismatches, then a separate MA-GP step; the head inside D), a frozen text encoder.
* DAMSM pretraining, AttnGAN and SSA-GAN: :mod:`textgan.train.tasks_attngan`; GAN-INT-CLS and SISGAN:
  :mod:`textgan.train.tasks_reed`; StackGAN: :mod:`textgan.train.tasks_stackgan`. :data:`TASKS` maps every
  recipe ``task`` to its class.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import losses as L
from .trainer import StepContext, Task, adam, frozen

__all__ = ["ATTRIBUTE_HEADS", "ShapesCaptions", "ShapesImages", "ShapesTextEncoderTask", "DFGANTask", "TASKS",
           "load_text_encoder"]

#: attribute → its classes (position has "none" for captions that do not say it)
ATTRIBUTE_HEADS = {
    "colour": ("red", "green", "blue", "yellow"), "shape": ("circle", "square", "triangle"),
    "size": ("small", "large"), "background": ("white", "black"),
    "position": ("none", "center", "left", "right", "top", "bottom"),
}


def _shapes_tokenizer():
    from ..data.shapes import vocabulary
    from ..text import Tokenizer

    return Tokenizer(vocabulary(), max_words=18)


class ShapesCaptions(torch.utils.data.Dataset):
    """Shapes captions only (no image drawn): ``{"ids" (18,), "length", "labels" (5,)}``.

    With ``shuffle_prob`` an item's words are put in a random order (fixed per item: seeded by its index),
    so the encoder cannot rely on the train templates' word order.
    """

    def __init__(self, split: str = "train", length: Optional[int] = None, seed: int = 0, shuffle_prob: float = 0.5,
                 positions=None) -> None:
        from ..data.shapes import POSITIONS, Shapes

        self.shapes = Shapes(split, length=length, seed=seed, positions=tuple(positions or POSITIONS))
        self.tokenizer, self.shuffle_prob, self.seed = _shapes_tokenizer(), shuffle_prob, seed

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        from ..data.shapes import parse_caption

        caption = self.shapes.describe(i)[1]
        ids, lengths = self.tokenizer([caption], pad_to_max=True)
        ids, n = ids[0].clone(), int(lengths[0])
        rng = random.Random(int.from_bytes(hashlib.sha256(f"{self.seed}/{i}".encode()).digest()[:8], "little"))
        if rng.random() < self.shuffle_prob:
            order = list(range(n))
            rng.shuffle(order)
            ids[:n] = ids[:n][torch.tensor(order)]
        parsed = parse_caption(caption)
        labels = torch.tensor([ATTRIBUTE_HEADS[k].index(parsed.get(k, "none")) for k in ATTRIBUTE_HEADS])
        return {"ids": ids, "length": n, "labels": labels}


class ShapesImages(torch.utils.data.Dataset):
    """Shapes images with tokenised captions: ``{"image" [-1, 1], "ids", "length"}`` (no PIL objects, so
    items batch and cross worker processes cheaply)."""

    def __init__(self, split: str = "train", size: int = 64, length: Optional[int] = None, seed: int = 0,
                 positions=None) -> None:
        from ..data.shapes import POSITIONS, Shapes

        self.shapes = Shapes(split, size=size, length=length, seed=seed, tokenizer=_shapes_tokenizer(),
                             positions=tuple(positions or POSITIONS))

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        item = self.shapes[i]
        return {"image": item["image"], "ids": item["ids"], "length": int(item["length"])}


class ShapesTextEncoderTask(Task):
    """A :class:`textgan.text.DAMSMTextEncoder` with one linear head per attribute, cross-entropy summed."""

    ema_module = None

    def __init__(self, *, embedding_dim: int = 64, hidden_dim: int = 64, dropout: float = 0.1, lr: float = 2e-3,
                 seed: int = 0) -> None:
        from ..text import DAMSMTextEncoder

        torch.manual_seed(seed)
        vocab = _shapes_tokenizer().vocab
        self.encoder = DAMSMTextEncoder(len(vocab), embedding_dim, hidden_dim, dropout=dropout)
        self.heads = nn.ModuleList(nn.Linear(hidden_dim, len(v)) for v in ATTRIBUTE_HEADS.values())
        self.modules = {"text_encoder": self.encoder, "heads": self.heads}
        self.optimizers = {"all": adam(list(self.encoder.parameters()) + list(self.heads.parameters()), lr=lr)}
        self.schedulers = {}

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        with ctx.autocast():
            _, sent = self.encoder(batch["ids"], batch["length"])
            parts = {f"ce_{k}": F.cross_entropy(h(sent).float(), batch["labels"][:, i])
                     for i, (k, h) in enumerate(zip(ATTRIBUTE_HEADS, self.heads))}
        loss = sum(parts.values())
        ctx.backward_step(loss, "all")
        return {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}}


def load_text_encoder(source: Optional[str], **fallback: Any) -> nn.Module:
    """A frozen text encoder from ``source``: a ``shapes-text-encoder`` run folder (its
    ``checkpoints/last.pt``), a checkpoint file, or a pretrained pipeline folder; ``None`` builds a randomly
    initialised :class:`~textgan.text.DAMSMTextEncoder` from ``fallback`` (for smoke tests only)."""
    from ..text import DAMSMTextEncoder

    if source is None:
        return DAMSMTextEncoder(**fallback).eval().requires_grad_(False)
    path = Path(source)
    if path.is_dir() and (path / "config.json").exists():
        from .. import _serialization as ser

        config = ser.read_config(path)
        return ser.load_component(path, config["components"]["text_encoder"], "text_encoder").eval().requires_grad_(False)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"text_encoder {source!r}: no such checkpoint or folder; train one with "
                                "`textgan train shapes-text-encoder --data shapes --out DIR` and pass --text_encoder DIR")
    from .._weights import load_trainer_checkpoint

    state = load_trainer_checkpoint(path)  # restricted unpickler: a shared checkpoint runs no code
    sd = state["modules"]["text_encoder"]
    vocab, emb = sd["encoder.weight"].shape
    hidden = sd["rnn.weight_hh_l0"].shape[1] * 2
    enc = DAMSMTextEncoder(vocab, emb, hidden)
    enc.load_state_dict(sd)
    return enc.eval().requires_grad_(False)


class DFGANTask(Task):
    """DF-GAN 2022 (``form="2022"``) or 2020 (``form="2020"``) on tokenised captions and images in [-1, 1].

    2022 (code/lib/modules.py ``train``): errD = hinge_real + (hinge_fake + hinge_mismatch)/2 + MA-GP in one
    step, mismatches rolled by one; G: −mean(C(D(G(z, s)), s)). 2020 (code/main.py): the hinge step with
    B − 1 shifted mismatches, then a separate MA-GP step. Adam (0, 0.9), G 1e-4, D(+C) 4e-4; z ~ N(0, I).
    """

    ema_module = "generator"

    def __init__(self, *, form: str = "2022", ngf: int = 32, ndf: int = 32, nz: int = 100, imsize: int = 256,
                 text_encoder: Optional[str] = None, lr_g: float = 1e-4, lr_d: float = 4e-4, betas=(0.0, 0.9),
                 gp_weight: float = 2.0, gp_power: float = 6.0, seed: int = 0, vocab_size: Optional[int] = None,
                 encoder_dim: int = 64, channels_last: bool = True) -> None:
        from ..models.dfgan import (DFGAN2020Discriminator, DFGAN2020Generator, DFGANConditionHead,
                                    DFGANDiscriminator, DFGANGenerator)

        if form not in ("2022", "2020"):
            raise ValueError(f"form must be '2022' or '2020', got {form!r}")
        torch.manual_seed(seed)
        vocab_size = vocab_size or len(_shapes_tokenizer().vocab)
        self.text_encoder = load_text_encoder(text_encoder, vocab_size=vocab_size, embedding_dim=encoder_dim,
                                              hidden_dim=encoder_dim)
        cond = self.text_encoder.hidden_dim
        self.form, self.nz, self.gp_weight, self.gp_power = form, nz, gp_weight, gp_power
        if form == "2022":
            self.netG = DFGANGenerator(ngf, nz, cond, imsize)
            self.netD = DFGANDiscriminator(ndf, imsize)
            self.netC = DFGANConditionHead(ndf, cond)
            d_params = list(self.netD.parameters()) + list(self.netC.parameters())
            self.modules = {"generator": self.netG, "discriminator": self.netD, "condition_head": self.netC,
                            "text_encoder": self.text_encoder}
        else:
            if imsize != 256:
                raise ValueError("DF-GAN 2020 is a 256 px model (seven fixed blocks); use imsize 256 or form 2022")
            self.netG = DFGAN2020Generator(ngf, nz, cond)
            self.netD = DFGAN2020Discriminator(ndf, cond)
            self.netC = self.netD.COND_DNET
            d_params = list(self.netD.parameters())
            self.modules = {"generator": self.netG, "discriminator": self.netD, "text_encoder": self.text_encoder}
        # channels_last: the convolutions (forward, backward and MA-GP's double backward) run about 15 % faster
        # on CPU in NHWC (benchmarks/README.md, Training); the same numbers up to float rounding
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for m in (self.netG, self.netD, self.netC):
            m.to(memory_format=self.memory_format)
        self.optimizers = {"g": adam(self.netG.parameters(), lr=lr_g, betas=betas),
                           "d": adam(d_params, lr=lr_d, betas=betas)}
        self.schedulers = {}

    def _encode(self, batch: Mapping[str, Any]) -> torch.Tensor:
        self.text_encoder.eval()  # frozen, dropout off (the authors set eval too)
        with torch.no_grad():
            return self.text_encoder(batch["ids"], batch["length"])[1].detach()

    def train_step(self, batch: Mapping[str, Any], ctx: StepContext) -> Dict[str, torch.Tensor]:
        real, sent = batch["image"].contiguous(memory_format=self.memory_format), self._encode(batch)
        b = real.shape[0]
        noise = torch.randn(b, self.nz, generator=ctx.generator).to(real.device)
        with ctx.autocast():
            fake = self.netG(noise, sent)
        out: Dict[str, torch.Tensor] = {}
        # D step
        real_in = real.detach().clone().requires_grad_(True)
        sent_in = sent.clone().requires_grad_(True)
        with ctx.autocast():
            feats = self.netD(real_in)
            real_logits = self.netC(feats, sent_in)
            mis_f, mis_s = L.mismatched_pairs(feats, sent_in, self.form)
            mis_logits = self.netC(mis_f, mis_s)
            fake_logits = self.netC(self.netD(fake.detach()), sent_in)
        err_d, parts = L.hinge_discriminator_loss(real_logits.float(), fake_logits.float(), mis_logits.float())
        if self.form == "2022":
            gp = L.matching_aware_gradient_penalty(real_in, sent_in, real_logits.float(), self.gp_weight, self.gp_power)
            ctx.backward_step(err_d + gp, "d")
        else:
            ctx.backward_step(err_d, "d")
            real_gp = real.detach().clone().requires_grad_(True)
            sent_gp = sent.clone().requires_grad_(True)
            with ctx.autocast():
                logits = self.netC(self.netD(real_gp), sent_gp)
            gp = L.matching_aware_gradient_penalty(real_gp, sent_gp, logits.float(), self.gp_weight, self.gp_power)
            ctx.backward_step(gp, "d")
        # G step: D and C frozen, so the backward skips their weight gradients (the authors compute and discard them)
        with ctx.autocast(), frozen(self.netD, self.netC):
            err_g = L.hinge_generator_loss(self.netC(self.netD(fake), sent).float())
            ctx.backward_step(err_g, "g")
        out.update(d_loss=err_d.detach(), gp=gp.detach(), g_loss=err_g.detach(),
                   **{f"d_{k}": v for k, v in parts.items()})
        return out

    def sample(self, batch: Mapping[str, Any], modules: Mapping[str, nn.Module]) -> torch.Tensor:
        sent = self._encode(batch)
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

        family = "dfgan" if self.form == "2022" else "dfgan2020"
        gen = copy.deepcopy(ema if ema is not None else self.netG).cpu().eval()
        gen.to(memory_format=torch.contiguous_format)  # safetensors stores contiguous tensors
        tokenizer = getattr(self, "tokenizer", None) or _shapes_tokenizer()  # run_recipe sets the dataset's
        return TextToImagePipeline(tokenizer, copy.deepcopy(self.text_encoder).cpu(), gen, family=family,
                                   truncation=FAMILY_TRUNCATION[family])


TASKS = {"shapes-text-encoder": ShapesTextEncoderTask, "dfgan": DFGANTask}

# the other families' tasks import this module's helpers, so they are added after it is complete
from .tasks_attngan import AttnGANTask, DAMSMTask, SSAGANTask  # noqa: E402
from .tasks_reed import GANINTCLSTask, SISGANEmbeddingTask, SISGANTask  # noqa: E402
from .tasks_stackgan import StackGANStage1Task, StackGANStage2Task  # noqa: E402

TASKS.update({"damsm": DAMSMTask, "attngan": AttnGANTask, "ssagan": SSAGANTask, "gan-int-cls": GANINTCLSTask,
              "sisgan-embedding": SISGANEmbeddingTask, "sisgan": SISGANTask,
              "stackgan-stage1": StackGANStage1Task, "stackgan-stage2": StackGANStage2Task})
