"""Training: a torchrun-ready :class:`Trainer`, the recipes' tasks and the recipes (JSON configs).

``textgan train RECIPE --data shapes --out DIR [--key value ...]`` on the command line, or
:func:`run_recipe` from Python; :mod:`textgan.train.embedded` trained the embedded default model.
"""
from .recipes import apply_overrides, list_recipes, load_recipe, run_recipe
from .trainer import ResumableSampler, StepContext, Task, Trainer, save_image_grid

__all__ = ["Trainer", "Task", "StepContext", "ResumableSampler", "save_image_grid", "list_recipes", "load_recipe",
           "apply_overrides", "run_recipe"]
