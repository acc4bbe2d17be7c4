"""Converters from the authors' original releases."""
from .official import from_official, load_official_state_dict, official_kinds, pipeline_from_official

__all__ = ["from_official", "load_official_state_dict", "official_kinds", "pipeline_from_official"]
