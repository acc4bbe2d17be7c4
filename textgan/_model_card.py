"""README.md model cards for saved pipelines (the Hub shows them on the repository page)."""
from __future__ import annotations

from pathlib import Path


def write_model_card(folder: Path, pipe) -> None:
    from ._registry import _PRETRAINED

    tag = _PRETRAINED.get(pipe.tag) if pipe.tag else None
    gen = pipe._plain_generator
    lines = [
        "---",
        "library_name: textgan",
        "pipeline_tag: text-to-image",
        "tags: [textgan, gan, text-to-image, " + pipe.family + "]",
        f"license: {'other' if tag is None else 'mit' if tag.license.startswith('MIT') else 'other'}",
        "---",
        f"# {pipe.tag or pipe.family}",
        "",
        f"A textgan `{type(pipe).__name__}` of family `{pipe.family}`: generator `{gen.registry_name}` "
        f"({sum(p.numel() for p in gen.parameters()) / 1e6:.2f} M parameters, config {gen.config}), "
        f"text encoder `{getattr(pipe.text_encoder, 'registry_name', type(pipe.text_encoder).__name__)}` "
        f"(tokenizer `{type(pipe.tokenizer).__name__}`, {getattr(pipe.tokenizer, 'vocab_size', '?')} symbols).",
        "",
        "```python",
        "import torch, textgan",
        f"pipe = textgan.load_pretrained(\"{'hf-hub:' + tag.hub_id if tag else 'PATH_OR_HUB_ID'}\")",
        "image = pipe(\"a small red bird with black wings\", generator=torch.Generator().manual_seed(0)).images[0]",
        "```",
    ]
    if tag is not None:
        lines += ["", f"- Paper: {tag.paper}", f"- Dataset: {tag.dataset}, {tag.resolution} px",
                  f"- Licence of the weights: {tag.license}",
                  f"- Original release: {tag.original_url} (`{tag.original_filename}`, {tag.file_format})"]
        for m in tag.metrics:
            lines.append(f"- {m.name} {m.value} ({m.source}; protocol: {m.protocol})")
    if pipe.source:
        lines += ["", "Converted from:"] + [f"- {k}: `{v}`" for k, v in pipe.source.items()]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
