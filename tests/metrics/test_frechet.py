"""The eigenvalue Fréchet distance against scipy's sqrtm (values stored by benchmarks/metrics_peers.py) and
against closed forms; singular covariances."""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from textgan.metrics import SingularCovarianceWarning, frechet_distance, trace_sqrt_product

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from metrics_peers import random_statistics  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"


def test_agrees_with_scipy_sqrtm_on_random_2048d_statistics():
    ref = json.loads((DATA / "peer_reference.json").read_text())["frechet_2048"]
    stats = random_statistics()
    assert np.trace(stats[1]) == pytest.approx(ref["sigma1_trace"], rel=1e-12), "numpy's random stream changed"
    t = time.perf_counter()
    value = frechet_distance(*stats)
    elapsed = time.perf_counter() - t
    assert abs(value - ref["scipy"]) / abs(ref["scipy"]) <= 1e-6
    assert elapsed < 10  # < 1 s measured in benchmarks/README.md; loose here for a loaded CI machine


def test_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 8))
    s = a.T @ a / 50
    mu = rng.standard_normal(8)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0, abs=1e-9)
    # commuting diagonal covariances: sum (sqrt(a) - sqrt(b))^2
    d1, d2 = rng.random(8) + 0.1, rng.random(8) + 0.1
    expected = np.sum((mu - 1) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(mu, np.diag(d1), np.ones(8), np.diag(d2)) == pytest.approx(expected, rel=1e-12)
    # 1-d
    assert frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9 + 4 + 1 - 2 * 2)
    assert trace_sqrt_product(np.diag(d1), np.diag(d2)) == pytest.approx(np.sum(np.sqrt(d1 * d2)))


def test_singular_covariance_warns_and_is_exact():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 16)), rng.standard_normal((40, 16))  # 5 samples in 16 dimensions: rank 4
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    with pytest.warns(SingularCovarianceWarning, match="singular"):
        value = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    # exact: the eigenvalues of s1 s2 (real, >= 0) give Tr sqrt(s1 s2)
    lam = np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(lam).sum()
    assert value == pytest.approx(expected, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance(x.mean(0), s1, y.mean(0), s2, warn_singular=False)


def test_bad_statistics():
    with pytest.raises(ValueError, match="different sizes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="not finite|NaN"):
        frechet_distance(np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2))
