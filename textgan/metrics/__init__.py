"""Evaluation metrics that say which protocol they follow: FID, Inception Score, R-precision.

``textgan.metrics.fid(images, reference=..., protocol="tf" | "legacy-t2i" | "clean")``,
``inception_score(images, protocol="coco" | "birds" | "flowers")``, ``r_precision(...)``; each returns a
:class:`MetricResult` (value, std, protocol, n, reference). The protocols, and which paper used which, are in
docs/metrics.md. No weights are bundled: the Inception files are downloaded from their original locations with
their checksums, or given as a path.
"""
from ._frechet import SingularCovarianceWarning, frechet_distance, trace_sqrt_product
from .features import FeatureExtractor, Statistics, feature_statistics, fold_batch_norm, load_statistics
from .fid import PROTOCOLS, MetricResult, fid, fid_statistics
from .inception import FIDInceptionV3, StackGANInceptionV3, load_inception
from .inception_score import IS_PROTOCOLS, inception_score, inception_score_from_probs
from .r_precision import draw_mismatched, r_precision, r_precision_from_embeddings
from ._resize import clean_resize

__all__ = [
    "fid", "fid_statistics", "inception_score", "inception_score_from_probs", "r_precision",
    "r_precision_from_embeddings", "draw_mismatched", "frechet_distance", "trace_sqrt_product",
    "MetricResult", "Statistics", "load_statistics", "feature_statistics", "FeatureExtractor", "fold_batch_norm",
    "FIDInceptionV3", "StackGANInceptionV3", "load_inception", "clean_resize", "SingularCovarianceWarning",
    "PROTOCOLS", "IS_PROTOCOLS",
]
