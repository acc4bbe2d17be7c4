"""Datasets: CUB-200-2011, Oxford-102 and COCO 2014 in the original repositories' layouts, their downloads, and
the synthetic captioned shapes (:mod:`textgan.data.shapes`) with its pixel judge."""
from ._archive import safe_extract
from .coco import COCO2014, load_val_captions_t7
from .cub import CUB200
from .download import DATASET_FILES, download
from .flowers import Oxford102
from .shapes import Shapes, judge, judge_image

__all__ = ["Shapes", "judge", "judge_image", "CUB200", "Oxford102", "COCO2014", "load_val_captions_t7",
           "download", "DATASET_FILES", "safe_extract"]
