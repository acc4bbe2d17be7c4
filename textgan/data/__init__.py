"""Datasets: the synthetic captioned shapes (:mod:`textgan.data.shapes`) and its pixel judge."""
from .shapes import Shapes, judge, judge_image

__all__ = ["Shapes", "judge", "judge_image"]
