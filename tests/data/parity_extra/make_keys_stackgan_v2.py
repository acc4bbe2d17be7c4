#!/usr/bin/env python
"""Dump {state_dict key: shape} of the AUTHORS' StackGAN-v2 modules at full size to tests/data/stackgan_v2_keys_*.json.

The official code is NOT part of this repository and is never imported from it (nor at test time). Extract it:

    git -C <mirror of hanzhanggit/StackGAN-v2> show 6228e34:code/model.py > /work/official/stackgan2/code/model.py

    python tests/data/parity_extra/make_keys_stackgan_v2.py --code /work/official/stackgan2/code

``model.py`` must be unmodified (its git blob id is checked). It reads the module-global ``cfg`` of
``miscc.config`` (and ``NEXT_STAGE_G``'s default ``num_residual=cfg.GAN.R_NUM`` is evaluated at import), so this
script puts a module with a plain ``cfg`` object into ``sys.modules['miscc.config']`` and (re)imports
``model.py`` after setting the values of each config; ``torchvision`` (imported at the top for the unused
``INCEPTION_V3``) is a stub. Configs: ``birds_3stages.yml`` (B_CONDITION True) and ``dog_3stages_color.yml``
(B_CONDITION False; cat/bedroom/church have the same GAN section). The keys are those of the bare modules; the
released files add DataParallel's ``module.`` prefix.
"""
import argparse
import hashlib
import importlib
import json
import sys
import types
from pathlib import Path

import torch

REPO = ("hanzhanggit/StackGAN-v2", "6228e347007198940898c3d0679d9698235d3c00")
BLOB = {"code/model.py": "a698bb1dfd91ea87baa3b59770f5dc6a53fea956"}
# GAN / TREE / TEXT values of the two kinds of release (code/cfg/*.yml over miscc/config.py defaults)
CONFIGS = {
    "birds": dict(EMBEDDING_DIM=128, DF_DIM=64, GF_DIM=64, Z_DIM=100, R_NUM=2, B_CONDITION=True, BRANCH_NUM=3,
                  TEXT=1024),
    "uncond": dict(EMBEDDING_DIM=128, DF_DIM=64, GF_DIM=64, Z_DIM=100, R_NUM=2, B_CONDITION=False, BRANCH_NUM=3,
                   TEXT=1024),
}


class _Cfg(dict):
    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def blob(path) -> str:
    data = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_official(code: Path, c: dict):
    """The authors' ``model`` module imported afresh under the config ``c`` (see CONFIGS for the names)."""
    assert blob(code / "model.py") == BLOB["code/model.py"], f"{code / 'model.py'} is not the official file"
    cfg = _Cfg(CUDA=False, TREE=_Cfg(BRANCH_NUM=c["BRANCH_NUM"], BASE_SIZE=64),
               GAN=_Cfg(EMBEDDING_DIM=c["EMBEDDING_DIM"], DF_DIM=c["DF_DIM"], GF_DIM=c["GF_DIM"], Z_DIM=c["Z_DIM"],
                        NETWORK_TYPE="default", R_NUM=c["R_NUM"], B_CONDITION=c["B_CONDITION"]),
               TEXT=_Cfg(DIMENSION=c["TEXT"]))
    pkg = types.ModuleType("miscc")
    pkg.__path__ = []
    conf = types.ModuleType("miscc.config")
    conf.cfg = cfg
    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")  # only INCEPTION_V3 (unused) needs it
    sys.modules.update({"miscc": pkg, "miscc.config": conf, "torchvision": tv, "torchvision.models": tv.models})
    if str(code) not in sys.path:
        sys.path.insert(0, str(code))
    sys.modules.pop("model", None)
    return importlib.import_module("model"), cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=Path, required=True, help="folder holding the authors' code/model.py")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1])
    args = ap.parse_args()
    for name, c in CONFIGS.items():
        model, _ = load_official(args.code, c)
        with torch.device("meta"):  # shapes only: no memory, no init time
            nets = {"G_NET": model.G_NET(), "D_NET64": model.D_NET64(), "D_NET128": model.D_NET128(),
                    "D_NET256": model.D_NET256()}
        out = {"_source": f"{REPO[0]}@{REPO[1]}:code/model.py", "_config": c,
               "_made_by": "tests/data/parity_extra/make_keys_stackgan_v2.py", "_official_files_git_blob_sha1": BLOB,
               "_torch_version": torch.__version__}
        for net_name, net in nets.items():
            out[net_name] = {k: list(v.shape) for k, v in net.state_dict().items()}
        path = args.out / f"stackgan_v2_keys_{name}.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(path, {k: len(v) for k, v in out.items() if not k.startswith("_")})


if __name__ == "__main__":
    main()
