"""The papers' training objectives, as plain functions of tensors.

Each function says which paper and which original file it follows, and which quirks it keeps.
"""
from __future__ import annotations

import torch

__all__: list = []
