"""A new text-to-image GAN built only from ``textgan.nn`` blocks, trained for a few steps on ``textgan.data.Shapes``.

    python examples/new_gan_from_blocks.py --steps 2000 -o tiny-gan/    # a longer run (minutes on a CPU)
    python examples/new_gan_from_blocks.py --fast                       # CI: a few steps

Generator: ``fc`` → three :class:`textgan.nn.FusionUpBlock` (nearest ×2 + DF blocks conditioned on
``cat(noise, sentence)``) → RGB, 32 px. Discriminator: three :class:`textgan.nn.ResidualDownBlock` →
:class:`textgan.nn.ConditionalLogitHead`. Sentences come from the embedded model's DAMSM text encoder (frozen), the
losses are DF-GAN's (matching-aware hinge + MA-GP, ``textgan.losses``). The run prints the losses and how many
samples ``textgan.data.judge`` finds faithful to their caption (expect ~0 after a few steps; it rises with
``--steps``).
"""
import argparse
import tempfile
from pathlib import Path

import torch
from PIL import Image
from torch import nn

import textgan
from textgan.data import Shapes, judge
from textgan.losses import hinge_discriminator_loss, hinge_generator_loss, matching_aware_gradient_penalty
from textgan.nn import ConditionalLogitHead, FusionUpBlock, ResidualDownBlock


class TinyGenerator(nn.Module):
    """(noise (B, nz), sentence (B, cond_dim)) → 32 px images in [-1, 1]."""

    def __init__(self, nz: int = 32, cond_dim: int = 256, ngf: int = 16) -> None:
        super().__init__()
        self.ngf = ngf
        self.fc = nn.Linear(nz, ngf * 4 * 4 * 4)
        c = nz + cond_dim
        self.blocks = nn.ModuleList([FusionUpBlock(c, ngf * 4, ngf * 2), FusionUpBlock(c, ngf * 2, ngf),
                                     FusionUpBlock(c, ngf, ngf)])  # 4 → 8 → 16 → 32
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(ngf, 3, 3, padding=1), nn.Tanh())

    def forward(self, noise: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([noise, sentence], 1)  # noise first, as DF-GAN 2022
        h = self.fc(noise).view(len(noise), self.ngf * 4, 4, 4)
        for block in self.blocks:
            h = block(h, cond)
        return self.to_rgb(h)


class TinyDiscriminator(nn.Module):
    """images (B, 3, 32, 32) → 4×4 features; ``logits(features, sentence)`` → (B,)."""

    def __init__(self, cond_dim: int = 256, ndf: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, ndf, 3, padding=1)
        self.down = nn.Sequential(ResidualDownBlock(ndf, ndf * 2), ResidualDownBlock(ndf * 2, ndf * 4),
                                  ResidualDownBlock(ndf * 4, ndf * 4))  # 32 → 4
        self.head = ConditionalLogitHead(ndf * 4, cond_dim, ndf * 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.down(self.stem(images))

    def logits(self, features: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        return self.head(features, sentence).view(-1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default="tiny-gan")
    parser.add_argument("--fast", action="store_true", help="a few steps, output in a temporary folder (CI)")
    args = parser.parse_args(argv)
    if args.fast:
        args.steps, args.batch_size, args.output = 3, 8, tempfile.mkdtemp(prefix="textgan-tiny-gan-")
    torch.manual_seed(args.seed)

    encoder_pipe = textgan.load_pretrained()  # only for its frozen DAMSM text encoder and tokenizer
    data = Shapes("train", size=32, length=args.steps * args.batch_size, seed=args.seed)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size, shuffle=True,
                                         collate_fn=lambda items: (torch.stack([i["image"] for i in items]),
                                                                   [i["caption"] for i in items]))
    nz, cond_dim = 32, encoder_pipe.encode_prompt("a red circle").shape[1]  # the encoder's sentence width
    G, D = TinyGenerator(nz=nz, cond_dim=cond_dim), TinyDiscriminator(cond_dim=cond_dim)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))
    count = lambda m: sum(p.numel() for p in m.parameters()) / 1e6  # noqa: E731
    print(f"G {count(G):.2f} M, D {count(D):.2f} M parameters, all from textgan.nn blocks")

    for step, (real, captions) in enumerate(loader, 1):
        with torch.no_grad():
            sentence = encoder_pipe.encode_prompt(captions)
        # D: matching-aware hinge (real/matching, fake, mismatched sentences) + MA-GP on the real pairs
        real = real.requires_grad_()
        sentence_gp = sentence.clone().requires_grad_()
        features = D(real)
        real_logits = D.logits(features, sentence_gp)
        fake = G(torch.randn(len(real), nz), sentence)
        fake_logits = D.logits(D(fake.detach()), sentence)
        mismatch_logits = D.logits(features.roll(1, 0), sentence)
        loss_d, _ = hinge_discriminator_loss(real_logits, fake_logits, mismatch_logits)
        loss_d = loss_d + matching_aware_gradient_penalty(real, sentence_gp, real_logits)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # G
        loss_g = hinge_generator_loss(D.logits(D(fake), sentence))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step == 1 or step % 50 == 0 or step == args.steps:
            print(f"step {step:5d}  D {loss_d.item():.3f}  G {loss_g.item():.3f}")

    G.eval()
    prompts = ["a large red circle on a white background", "a small blue square on a black background"]
    with torch.no_grad():
        images = G(torch.randn(len(prompts), nz, generator=torch.Generator().manual_seed(0)),
                   encoder_pipe.encode_prompt(prompts))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    fitting = 0
    for i, (image, prompt) in enumerate(zip(images, prompts)):
        fitting += bool(judge(image, prompt, value_range=(-1, 1))["ok"])
        pixels = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(out / f"{i:03d}.png")
    torch.save({"G": G.state_dict(), "D": D.state_dict()}, out / "tiny_gan.pt")
    print(f"{args.steps} steps; {fitting}/{len(prompts)} samples judged faithful; images and weights in {out}")


if __name__ == "__main__":
    main()
