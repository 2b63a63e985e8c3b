"""Multiple testing across a universe of tickers: p-values adjusted by Holm's method.

Testing the network on many tickers, some "beat the benchmark" by chance; the adjusted
p-values (:func:`adjust_p_values`, ``statsmodels.stats.multitest.multipletests``)
control the family-wise error rate (:data:`MULTIPLE_TESTING_METHOD`).
"""

from __future__ import annotations

import numpy as np

MULTIPLE_TESTING_METHOD = "holm"
"""Adjustment of p-values over a universe of tickers: Holm (1979), "A simple sequentially
rejective multiple test procedure", Scand. J. Statist. 6(2) 65-70. It controls the
family-wise error rate under any dependence between the tickers' tests (the same market
moves them together), which Benjamini-Hochberg's false discovery rate does not without
positive dependence."""


def adjust_p_values(p_values, method: str = MULTIPLE_TESTING_METHOD) -> list[float | None]:
    """Multiple-testing adjusted p-values (``statsmodels.stats.multitest.multipletests``).

    Parameters
    ----------
    p_values : sequence of float or None
        One p-value per ticker; ``None`` (an undefined test) stays ``None`` and is left
        out of the family.
    method : str, default "holm"
        Any ``multipletests`` method (``"holm"``, ``"fdr_bh"`` ...).

    Returns
    -------
    list of float or None
        Adjusted p-values in the input order.

    Raises
    ------
    ValueError
        Unknown method, or a p-value outside [0, 1].
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not idx:  # nothing to adjust: skip importing statsmodels (0.5 s)
        return out
    from statsmodels.stats.multitest import multipletests

    vals = np.array([float(p_values[i]) for i in idx])
    if np.any((vals < 0) | (vals > 1)) or not np.all(np.isfinite(vals)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = multipletests(vals, method=method)[1]
    for i, a in zip(idx, adjusted, strict=True):
        out[i] = float(a)
    return out
