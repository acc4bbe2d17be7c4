"""The model-zoo table, generated from the registry (never written by hand).

``python scripts/make_zoo_table.py`` writes it into README.md and docs/zoo.md between the markers
``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->``; tests/test_zoo_table.py fails when either file and the
registry disagree.

Parameter counts are those of the tag's main network (its first part, the generator) built at the size of the
authors' released file, on the ``meta`` device (no memory, no weights needed). :data:`RELEASE_SIZES` holds those
sizes: the constructor arguments that ``textgan.convert.from_official`` infers from the released file's full-size
key list (tests/test_zoo_table.py re-derives them from ../shared/parity where it is present). A tag missing from it
is built with the constructor's defaults, which are the authors' configuration.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import torch

from ._registry import PretrainedTag, create_model, get_pretrained, list_pretrained

__all__ = ["RELEASE_SIZES", "main_part", "parameter_count", "zoo_rows", "zoo_table", "metrics_table",
           "replace_between_markers", "update_metrics_sections"]

START, END = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"
# family pages: <!-- zoo-metrics:start dfgan,dfgan2020 --> ... <!-- zoo-metrics:end -->
METRICS_SECTION = re.compile(r"(<!-- zoo-metrics:start ([\w,-]+) -->\n)(.*?)(<!-- zoo-metrics:end -->)", re.S)

# constructor arguments of each release's main network, as inferred from the authors' files
RELEASE_SIZES: Dict[str, Dict[str, object]] = {
    "attngan-birds": dict(ngf=32, nz=100, cond_dim=256, ca_dim=100, r_num=2, branch_num=3),
    "attngan-coco": dict(ngf=48, nz=100, cond_dim=256, ca_dim=100, r_num=3, branch_num=3),
    "dfgan-birds": dict(ngf=32, nz=100, cond_dim=256, imsize=256),
    "dfgan-coco": dict(ngf=32, nz=100, cond_dim=256, imsize=256),
    "dfgan2020-birds": dict(ngf=32, nz=100, cond_dim=256, affine_hidden=256),
    "dfgan2020-coco": dict(ngf=32, nz=100, cond_dim=256, affine_hidden=256),
    "ssagan-birds": dict(ngf=64, nz=100, cond_dim=256, affine_hidden=256, mask_hidden=100),
    "ssagan-coco": dict(ngf=64, nz=100, cond_dim=256, affine_hidden=256, mask_hidden=100),
    "sema-coco": dict(ngf=32, nz=100, cond_dim=256, affine_hidden=256),
    "gan-int-cls-birds": dict(ngf=128, nz=100, txt_dim=1024, nt=128),  # ..._ngf128_ndf64_600_net_G.t7
    "gan-int-cls-flowers": dict(ngf=128, nz=100, txt_dim=1024, nt=128),  # ..._ngf128_ndf128_200_net_G.t7
    # StackGAN-v2's unconditional releases (eval_dog.yml etc.): no conditioning augmentation, no text input
    **{f"stackgan-v2-{_name}": dict(b_condition=False) for _name in ("dog", "cat", "bedroom", "church")},
}


def main_part(tag: PretrainedTag) -> str:
    """The registered model name of the tag's main network (the first of its parts)."""
    return next(iter(tag.parts))


def parameter_count(tag: PretrainedTag) -> int:
    """Parameters of the tag's main network at the released size (built on the meta device)."""
    with torch.device("meta"):
        model = create_model(main_part(tag), **RELEASE_SIZES.get(tag.tag, {}))
    return sum(p.numel() for p in model.parameters())


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _source(tag: PretrainedTag) -> str:
    repo = re.search(r"\(([\w.-]+/[\w.-]+)", tag.license)
    where = f"[`{tag.original_filename}`]({tag.original_url})"
    return f"{where} ({repo.group(1)})" if repo else where


def zoo_rows(tags: Optional[List[str]] = None) -> List[Dict[str, str]]:
    """One dict per pretrained tag with the table's columns (and the metric protocols)."""
    rows = []
    for name in tags if tags is not None else list_pretrained():
        tag = get_pretrained(name)
        rows.append({
            "tag": tag.tag, "family": tag.family, "dataset": tag.dataset, "resolution": f"{tag.resolution} px",
            "parameters": _millions(parameter_count(tag)), "licence": tag.license, "source": _source(tag),
            "metrics": [(m.name, m.value, m.source, m.protocol) for m in tag.metrics],
        })
    return rows


def zoo_table(tags: Optional[List[str]] = None) -> str:
    """The Markdown table (and its numbered list of metric protocols) for every registered pretrained tag."""
    protocols: List[str] = []
    lines = ["| tag | family | dataset | resolution | parameters (G) | licence | original release | "
             "published metrics |", "|---|---|---|---|---|---|---|---|"]
    for row in zoo_rows(tags):
        cells = []
        for name, value, source, protocol in row["metrics"]:
            if protocol not in protocols:
                protocols.append(protocol)
            cells.append(f"{name} {value:g} ({_cell(source)}) [P{protocols.index(protocol) + 1}]")
        metrics = "<br>".join(cells) or "none published"
        lines.append("| " + " | ".join([f"`{row['tag']}`", row["family"], _cell(row["dataset"]), row["resolution"],
                                         row["parameters"], _cell(row["licence"]), _cell(row["source"]), metrics])
                     + " |")
    lines.append("")
    lines.append("Metric protocols (numbers measured under different protocols are not comparable):")
    lines.append("")
    lines += [f"- **P{i}**: {_cell(p)}" for i, p in enumerate(protocols, 1)]
    lines.append("")
    lines.append("Generated from `textgan.list_pretrained()` by `python scripts/make_zoo_table.py`; parameters of "
                 "the main network at the released size.")
    return "\n".join(lines)


def replace_between_markers(text: str, table: str, what: str = "text") -> str:
    """``text`` with everything between the zoo-table markers replaced by ``table``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"{what} needs exactly one {START} ... {END} pair, in that order")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def metrics_table(families: List[str]) -> str:
    """Published metrics of the tags of ``families``, one row per number, with its source and protocol."""
    lines = ["| tag | metric | value | source | protocol |", "|---|---|---|---|---|"]
    for name in list_pretrained():
        tag = get_pretrained(name)
        if tag.family in families:
            lines += [f"| `{tag.tag}` | {m.name} | {m.value:g} | {_cell(m.source)} | {_cell(m.protocol)} |"
                      for m in tag.metrics]
            if not tag.metrics:
                lines.append(f"| `{tag.tag}` | none published | | | |")
    return "\n".join(lines) + "\n\n(Generated from the registry by `python scripts/make_zoo_table.py`.)\n"


def update_metrics_sections(text: str) -> str:
    """``text`` with each ``zoo-metrics`` section regenerated for the families its start marker names."""
    return METRICS_SECTION.sub(lambda m: m.group(1) + metrics_table(m.group(2).split(",")) + m.group(4), text)
