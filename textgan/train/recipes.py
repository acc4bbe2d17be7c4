"""Recipes: training configurations as JSON files (``textgan/train/configs/<name>.json``).

A recipe has four sections: ``data`` (dataset options), ``model`` (the task's constructor arguments),
``optim`` (learning rates and betas, also passed to the task) and ``trainer`` (:class:`~textgan.train.Trainer`
arguments), plus ``task`` (a key of :data:`textgan.train.tasks.TASKS`). Defaults are the papers'
hyperparameters. ``textgan train RECIPE --data shapes --out DIR [--key value ...]`` runs one; an override
key is ``section.name`` (``--trainer.steps 10``) or a bare name found in exactly one section (``--steps 10``);
values are read as JSON (``16``, ``0.5``, ``null``, ``[0, 0.9]``), else as a string.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = ["CONFIG_DIR", "list_recipes", "load_recipe", "apply_overrides", "build_dataset", "run_recipe"]

CONFIG_DIR = Path(__file__).with_name("configs")
_SECTIONS = ("data", "model", "optim", "trainer")


def list_recipes() -> List[str]:
    """Names of the packaged recipes."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_recipe(name_or_path: Union[str, Path]) -> Dict[str, Any]:
    """A packaged recipe by name, or a recipe JSON file."""
    path = Path(name_or_path)
    if not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(f"recipe {str(name_or_path)!r}: not a file and not one of the packaged recipes "
                                f"({', '.join(list_recipes())})")
    with open(path) as f:
        recipe = json.load(f)
    for s in _SECTIONS:
        recipe.setdefault(s, {})
    from .tasks import TASKS

    if recipe.get("task") not in TASKS:
        raise ValueError(f"{path}: 'task' must be one of {', '.join(TASKS)}, got {recipe.get('task')!r}")
    return recipe


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(recipe: Mapping[str, Any], overrides: Union[Mapping[str, Any], Sequence[str]]) -> Dict[str, Any]:
    """A copy of ``recipe`` with overrides: a mapping ``{"trainer.steps": 10}`` or CLI words
    ``["--steps", "10", "--model.ngf", "16"]``."""
    out = copy.deepcopy(dict(recipe))
    if not isinstance(overrides, Mapping):
        words, pairs = list(overrides), {}
        i = 0
        while i < len(words):
            key = words[i]
            if not key.startswith("--"):
                raise ValueError(f"override {key!r}: expected --key value")
            key = key[2:].replace("-", "_")
            if "=" in key:
                key, value = key.split("=", 1)
                i += 1
            else:
                if i + 1 >= len(words):
                    raise ValueError(f"override --{key} has no value")
                value, i = words[i + 1], i + 2
            pairs[key] = _parse_value(value)
        overrides = pairs
    for key, value in overrides.items():
        if "." in key:
            section, name = key.split(".", 1)
            if section not in _SECTIONS:
                raise ValueError(f"override {key!r}: the section must be one of {', '.join(_SECTIONS)}")
        else:
            found = [s for s in _SECTIONS if key in out[s]]
            if len(found) != 1:
                raise ValueError(
                    f"override --{key}: " + ("no recipe section has it" if not found else f"ambiguous ({found})")
                    + "; write it as --SECTION.NAME, SECTION one of " + ", ".join(_SECTIONS))
            section, name = found[0], key
        out[section][name] = value
    return out


def build_dataset(data: Mapping[str, Any], task: str, image_size: Optional[int] = None):
    """The training dataset of a recipe's ``data`` section (``name``: ``"shapes"``)."""
    from .tasks import ShapesCaptions, ShapesImages

    opts = dict(data)
    name = opts.pop("name", "shapes")
    if name in _FOLDER_DATASETS:
        return _folder_dataset(name, opts, task, image_size)
    if name != "shapes":
        raise ValueError(f"data {name!r}: expected 'shapes' (built in, synthetic) or one of "
                         f"{', '.join(_FOLDER_DATASETS)} with a folder: --data cub:PATH")
    if task == "shapes-text-encoder":
        return ShapesCaptions(opts.get("split", "train"), opts.get("length"), opts.get("seed", 0),
                              opts.get("shuffle_prob", 0.5), opts.get("positions"))
    return ShapesImages(opts.get("split", "train"), image_size or opts.get("size", 64), opts.get("length"),
                        opts.get("seed", 0), opts.get("positions"))


#: dataset name -> textgan.data class name, for ``--data NAME:FOLDER``
_FOLDER_DATASETS = {"cub": "CUB200", "flowers": "Oxford102", "coco": "COCO2014"}
_FOLDER_OPTIONS = ("layout", "resize", "bbox_crop", "augment", "captions", "words_num", "seed", "embeddings",
                   "captions_pickle", "image_root", "on_error")


def _folder_dataset(name: str, opts: Mapping[str, Any], task: str, image_size: Optional[int]):
    """A :mod:`textgan.data` dataset (CUB-200, Oxford-102, COCO) from its folder ``opts["root"]``."""
    from .. import data as tdata

    root = opts.get("root")
    if not root:
        raise ValueError(f"data {name!r} needs its folder: --data {name}:PATH (or data.root in the recipe)")
    if task == "shapes-text-encoder":
        raise ValueError(f"the shapes-text-encoder recipe trains on Shapes captions only; use the damsm recipe "
                         f"for {name}")
    kwargs = {k: opts[k] for k in _FOLDER_OPTIONS if opts.get(k) is not None}
    return getattr(tdata, _FOLDER_DATASETS[name])(root, opts.get("split", "train"),
                                                   image_size=image_size or opts.get("size"), **kwargs)


def _parse_data(spec: Optional[str]) -> Dict[str, Any]:
    """``--data shapes``, ``shapes:center`` (centred shapes only) or ``cub:PATH`` / ``flowers:PATH`` /
    ``coco:PATH`` (a dataset folder in any layout :mod:`textgan.data` reads)."""
    if spec is None:
        return {}
    name, _, rest = str(spec).partition(":")
    out: Dict[str, Any] = {"name": name}
    if name in _FOLDER_DATASETS:
        if not rest:
            raise ValueError(f"--data {spec!r}: give the folder, --data {name}:PATH")
        out["root"] = rest
    elif rest == "center":
        out["positions"] = ["center"]
    elif rest:
        raise ValueError(f"--data {spec!r}: the only variant is 'shapes:center'")
    return out


def run_recipe(recipe: Union[str, Mapping[str, Any]], out_dir: Union[str, Path], *, data: Optional[str] = None,
               overrides: Union[Mapping[str, Any], Sequence[str]] = (), progress: bool = True):
    """Build the recipe's task, dataset and trainer, train, and (for generator tasks, on rank 0) write a
    pipeline folder ``out_dir/pipeline`` that :func:`textgan.load_pretrained` reads. Returns the trainer."""
    from .tasks import TASKS
    from .trainer import Trainer

    r = load_recipe(recipe) if isinstance(recipe, (str, Path)) else copy.deepcopy(dict(recipe))
    r["data"].update(_parse_data(data))
    r = apply_overrides(r, overrides)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = dict(r["trainer"])
    seed = t.pop("seed", 0)
    dataset = build_dataset(r["data"], r["task"], r["model"].get("imsize"))
    model = dict(r["model"])
    vocab = getattr(dataset, "vocab", None)
    if vocab is not None and "vocab_size" not in model:  # the text encoder reads the dataset's word ids
        model["vocab_size"] = len(vocab)
    if "txt_dim" in model and model["txt_dim"] is None:  # precomputed text embeddings (GAN-INT-CLS): their width
        emb = dataset[0].get("embedding")
        if emb is not None:
            model["txt_dim"] = int(emb.shape[-1])
    task = TASKS[r["task"]](**model, **r["optim"], seed=seed)
    if vocab is not None:  # the pipeline tokenises prompts with the dataset's vocabulary
        from ..text import Tokenizer

        task.tokenizer = Tokenizer(vocab, max_words=getattr(dataset, "words_num", 18))
    trainer = Trainer(task, dataset, out_dir, seed=seed, progress=progress, **t)
    if trainer.rank == 0:
        with open(out_dir / "recipe.json", "w") as f:
            json.dump(r, f, indent=2)
    trainer.fit()
    if trainer.rank == 0 and hasattr(task, "pipeline"):
        pipe = task.pipeline(trainer.ema)
        if pipe is not None:  # None: the task's generator does not fit TextToImagePipeline
            pipe.save_pretrained(out_dir / "pipeline")
    import torch.distributed as dist

    if trainer.world_size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return trainer
