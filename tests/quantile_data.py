"""Test data shared by the quantile tests: exact Gaussian quantile sets and GARCH-like
closes (independent of the code under test)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from lstmfc.quantiles.levels import DEFAULT_LEVELS

LV = DEFAULT_LEVELS


def gaussian_set(mu, sigma, levels=LV):
    """Exact Gaussian quantiles, computed with scipy (independent of lstmfc.quantiles)."""
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float))
    return mu[:, None] + sigma[:, None] * stats.norm.ppf(np.asarray(levels))[None, :]


def closes_series(n: int = 600, seed: int = 0) -> np.ndarray:
    """GARCH-like closes: volatility clusters so that GARCH fits are well posed."""
    rng = np.random.default_rng(seed)
    r, s2 = np.empty(n), 1e-4
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_t(6) / math.sqrt(1.5)
        s2 = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    return 100.0 * np.exp(np.cumsum(r))
